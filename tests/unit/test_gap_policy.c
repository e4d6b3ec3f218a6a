/* gap: actual levels decided by an effective-level policy instead of "the newest counts". */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#include "gap.h"

/* An employee with one profile demanding 3 of r1 and 2 of r2; r1 has a self 4 then an
 * appraisal 1, r2 a lone self 2, r3 (not demanded) a test 3. */
static struct fx *org(void)
{
    struct fx *f = fx_new();
    fx_department(f, 1, "Kommune", 0);
    fx_employee(f, 1, "Kari", 1);
    fx_system(f, 1, "Gerica");
    fx_requirement(f, 1, 1, 1);
    fx_requirement(f, 2, 1, 2);
    fx_requirement(f, 3, 1, 3);
    fx_profile(f, 1, "Gerica 2", 1);
    fx_level(f, 1, 1, 3);
    fx_level(f, 1, 2, 2);
    fx_assign(f, 1, 1);
    fx_assess(f, 0, 1, 1, 4, "self", 100);
    fx_assess(f, 0, 1, 1, 1, "appraisal", 200);
    fx_assess(f, 0, 1, 2, 2, "self", 150);
    fx_assess(f, 0, 1, 3, 3, "test", 120);
    return f;
}

static int actual_of(struct gap_index *x, int64_t r)
{
    int level;
    int64_t at;
    return gap_actual(x, 1, r, &level, &at) ? -1 : level;
}

/* A policy: a self-assessment counts over anything else; no self-assessment: nothing counts. */
static int self_wins(void *ctx, int64_t e, int64_t r, const struct gap_assessment *h, size_t n,
                     int *level)
{
    (void)ctx;
    (void)e;
    (void)r;
    *level = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(h[i].source, "self"))
            *level = h[i].level;
    return 0;
}

static int failing(void *ctx, int64_t e, int64_t r, const struct gap_assessment *h, size_t n,
                   int *level)
{
    (void)ctx, (void)e, (void)r, (void)h, (void)n, (void)level;
    return -1;
}

static void test_policy_decides_and_newest_comes_back(void **state)
{
    (void)state;
    struct fx *f = org();
    struct gap_index *x;
    char *err = NULL;
    assert_int_equal(gap_build(f->db, &x, &err), 0);
    assert_int_equal(actual_of(x, 1), 1);   /* the newest: the appraisal */

    assert_int_equal(gap_recompute_actuals(x, f->db, self_wins, NULL), 0);
    assert_int_equal(actual_of(x, 1), 4);
    assert_int_equal(actual_of(x, 2), 2);
    assert_int_equal(actual_of(x, 3), -1);  /* only a test: nothing counts */
    struct gap_row *rows;
    size_t n;
    gap_rollup(x, GAP_BY_EMPLOYEE, NULL, &rows, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].gap_sum, 0);   /* r1: 3 - 4 -> 0; r2: 2 - 2 */
    assert_int_equal(rows[0].open_gaps, 0);
    free(rows);

    /* a policy that fails leaves "the newest counts" for each pair */
    assert_int_equal(gap_recompute_actuals(x, f->db, failing, NULL), 0);
    assert_int_equal(actual_of(x, 1), 1);

    /* without a policy again: the same as a fresh build */
    assert_int_equal(gap_recompute_actuals(x, f->db, self_wins, NULL), 0);
    assert_int_equal(gap_recompute_actuals(x, f->db, NULL, NULL), 0);
    struct gap_index *fresh;
    assert_int_equal(gap_build(f->db, &fresh, &err), 0);
    for (int dim = GAP_BY_EMPLOYEE; dim <= GAP_BY_REQUIREMENT; dim++) {
        struct gap_row *a, *b;
        size_t na, nb;
        gap_rollup(x, (enum gap_dim)dim, NULL, &a, &na);
        gap_rollup(fresh, (enum gap_dim)dim, NULL, &b, &nb);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(a[i].gap_sum, b[i].gap_sum);
            assert_int_equal(a[i].open_gaps, b[i].open_gaps);
            assert_int_equal(a[i].unassessed, b[i].unassessed);
            assert_int_equal(a[i].demanded, b[i].demanded);
        }
        free(a);
        free(b);
    }
    gap_free(fresh);
    gap_free(x);
    fx_free(f);
}

static void test_set_actual(void **state)
{
    (void)state;
    struct fx *f = org();
    struct gap_index *x;
    char *err = NULL;
    assert_int_equal(gap_build(f->db, &x, &err), 0);
    gap_set_actual(x, 1, 1, 3, 300);
    assert_int_equal(actual_of(x, 1), 3);
    gap_set_actual(x, 1, 2, -1, 0);          /* nothing counts: unassessed */
    assert_int_equal(actual_of(x, 2), -1);
    struct gap_cell *cells;
    size_t n;
    struct gap_row sum;
    assert_int_equal(gap_employee(x, 1, &cells, &n, &sum), 0);
    assert_int_equal(n, 2);
    assert_int_equal(cells[1].unassessed, 1);
    assert_int_equal(cells[1].gap, 2);
    assert_int_equal(sum.unassessed, 1);
    assert_int_equal(sum.gap_sum, 2);
    free(cells);
    gap_free(x);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_decides_and_newest_comes_back),
        cmocka_unit_test(test_set_actual),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
