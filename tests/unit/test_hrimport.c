/* Tests of core/hrimport.c on a real SQLite file (fixture.h) with a real gap index: the file
 * variants (BOM, separators, quoting, æøå), every problem kind with its line and column, the
 * changes and their before and after, idempotency, deactivation, moves, managers, and a commit
 * that finds the organisation changed since the snapshot. */
#include "fixture.h"

#include <jansson.h>

#include "app.h"
#include "auth.h"
#include "gap.h"
#include "hrimport.h"

struct t {
    struct fx *fx;
    struct app app;
};

static int setup(void **state)
{
    struct t *t = xcalloc(1, sizeof *t);
    t->fx = fx_new();
    /* what `evne init` makes: a root without a code and an admin with a login */
    FX_SQL(t->fx, "INSERT INTO department (id, name) VALUES (1, 'Organisasjon')");
    FX_SQL(t->fx, "INSERT INTO employee (id, employee_number, name, email, department_id, roles, "
                  "login, created_at) VALUES (1, 'admin', 'Administrator', 'admin@localhost', 1, "
                  "9, 'admin', 1000)");
    t->app.db = t->fx->db;
    char *err = NULL;
    if (gap_build(t->fx->db, &t->app.gap, &err))
        fail_msg("gap_build: %s", err);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    gap_free(t->app.gap);
    fx_free(t->fx);
    free(t);
    return 0;
}

/* One import of the files (name, text pairs, NULL-terminated): its report (owned) and, when
 * commit is set, the commit's result in *rc. */
static json_t *run(struct t *t, int partial, int commit, int *rc, const char *const *files)
{
    struct hrimport *im = hrimport_new(partial);
    assert_int_equal(hrimport_snapshot(im, t->app.db), 0);
    for (size_t i = 0; files[i]; i += 2)
        hrimport_add_file(im, files[i], files[i + 1], strlen(files[i + 1]));
    hrimport_plan(im);
    int status = 0;
    char *err = NULL;
    if (commit) {
        *rc = hrimport_commit(im, &t->app, &status, &err);
        if (*rc)
            *rc = status;
        free(err);
    }
    json_t *rep = hrimport_report(im, 0);
    hrimport_free(im);
    return rep;
}

static json_int_t summary(const json_t *rep, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(rep, "summary"), key));
}

static const json_t *list(const json_t *rep, const char *group, const char *name)
{
    return json_object_get(json_object_get(rep, group), name);
}

/* The problem of that code; fails when there is none. */
static const json_t *problem_of(const json_t *rep, const char *code)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(rep, "problems"), i, p) {
        if (!strcmp(json_string_value(json_object_get(p, "code")), code))
            return p;
    }
    char *dump = json_dumps(json_object_get(rep, "problems"), JSON_INDENT(1));
    fail_msg("no problem %s in %s", code, dump);
    return NULL;
}

static void assert_problem(const json_t *rep, const char *code, int line, const char *column)
{
    const json_t *p = problem_of(rep, code);
    if (line)
        assert_int_equal(json_integer_value(json_object_get(p, "line")), line);
    else
        assert_true(json_is_null(json_object_get(p, "line")));
    if (column)
        assert_string_equal(json_string_value(json_object_get(p, "column")), column);
    else
        assert_true(json_is_null(json_object_get(p, "column")));
    assert_non_null(json_string_value(json_object_get(p, "message")));
}

#define DEPTS_NB "\xEF\xBB\xBF" "Avdelingskode;Navn;Overordnet;Leder\r\n" \
                 "K;Kommunen;;\r\n"                                      \
                 "HO;Helse og omsorg;K;1001\r\n"                         \
                 "SK;\"Skole; oppvekst\";K;\r\n"
#define EMPS_NB "Ansattnummer;Navn;E-post;Avdelingskode;Stilling;Roller;Aktiv\r\n" \
                "1001;Åse Ødegård;ase@k.no;HO;Enhetsleder;leder;ja\r\n"            \
                "1002;\"Per \"\"Pelle\"\" Hansen\";per@k.no;SK;\"Lærer; 80 %\";;1\r\n" \
                "1003;Kari Berg;kari@k.no;HO;;rådgiver, admin;\r\n"

static void test_first_import_and_idempotency(void **state)
{
    struct t *t = *state;
    int rc = -1;
    const char *files[] = {"avdelinger.csv", DEPTS_NB, "ansatte.csv", EMPS_NB, NULL};
    /* a dry run writes nothing */
    json_t *rep = run(t, 0, 0, &rc, files);
    assert_int_equal(summary(rep, "problems"), 0);
    assert_int_equal(summary(rep, "departments_added"), 3);
    assert_int_equal(summary(rep, "employees_added"), 3);
    assert_int_equal(summary(rep, "employees_kept"), 1);
    assert_int_equal(summary(rep, "changes"), 6);
    assert_true(json_is_true(json_object_get(rep, "dry_run")));
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM employee"), 1);
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM department"), 1);

    rep = run(t, 0, 1, &rc, files);
    assert_int_equal(rc, 0);
    assert_true(json_is_true(json_object_get(rep, "committed")));
    const json_t *f0 = json_array_get(json_object_get(rep, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(f0, "kind")), "departments");
    assert_string_equal(json_string_value(json_object_get(f0, "delimiter")), ";");
    assert_true(json_is_true(json_object_get(f0, "bom")));
    json_decref(rep);
    /* the values as written, quotes and Norwegian letters included */
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM employee WHERE employee_number = '1002' "
                                      "AND name = 'Per \"Pelle\" Hansen' AND position_title = "
                                      "'Lærer; 80 %%'"),
                     1);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE employee_number = '1001'"),
                     ROLE_EMPLOYEE | ROLE_MANAGER);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE employee_number = '1003'"),
                     ROLE_EMPLOYEE | ROLE_ADVISER | ROLE_ADMIN);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM department d JOIN department p ON "
                                      "p.id = d.parent_id JOIN employee m ON m.id = d.manager_id "
                                      "WHERE d.code = 'HO' AND d.name = 'Helse og omsorg' AND "
                                      "p.code = 'K' AND m.employee_number = '1001'"),
                     1);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM department WHERE code = 'SK' AND "
                                      "name = 'Skole; oppvekst'"),
                     1);
    /* the gap index knows the new people and where they work */
    int64_t kari = fx_int(t->fx, 0, "SELECT id FROM employee WHERE employee_number = '1003'");
    int64_t ho = fx_int(t->fx, 0, "SELECT id FROM department WHERE code = 'HO'");
    assert_int_equal(gap_employee_department(t->app.gap, kari), ho);
    int64_t audits = fx_int(t->fx, 0, "SELECT count(*) FROM audit WHERE action = 'import'");
    assert_int_equal(audits, 1);

    /* the same files again: nothing changes */
    int64_t rows_before = fx_int(t->fx, 0, "SELECT count(*) FROM audit WHERE entity IN "
                                           "('employee', 'department')");
    rep = run(t, 0, 1, &rc, files);
    assert_int_equal(rc, 0);
    assert_int_equal(summary(rep, "changes"), 0);
    assert_int_equal(summary(rep, "employees_unchanged"), 3);
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM audit WHERE entity IN "
                                      "('employee', 'department')"),
                     rows_before);
}

/* Commas, tabs and plain files; quoted fields across lines are refused for names but keep line
 * numbers right for what follows. */
static void test_separators(void **state)
{
    struct t *t = *state;
    int rc;
    const char *comma[] = {"deps.csv", "code,name\nA,Alfa\n", "emps.csv",
                           "employee_number,name,email,department_code\n"
                           "1,\"Berg, Kari\",kari@x.no,A\n",
                           NULL};
    json_t *rep = run(t, 1, 1, &rc, comma);
    assert_int_equal(rc, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(rep, "files"), 1),
                                          "delimiter")),
        ",");
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM employee WHERE name = 'Berg, Kari'"), 1);
    const char *tab[] = {"emps.tsv", "employee_number\tname\temail\tdepartment_code\n"
                                     "2\t  Ola Nordmann \tola@x.no\tA\n",
                         NULL};
    rep = run(t, 1, 1, &rc, tab);
    assert_int_equal(rc, 0);
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM employee WHERE name = 'Ola Nordmann'"),
                     1);
    /* a name over two lines is refused on its first line; the next row's line is right */
    const char *multi[] = {"emps.csv", "employee_number;name;email;department_code\n"
                                       "3;\"Tom\nTomsen\";t@x.no;A\n"
                                       "4;Mia;bad-address;A\n",
                           NULL};
    rep = run(t, 1, 0, &rc, multi);
    assert_problem(rep, "bad_text", 2, "name");
    assert_problem(rep, "bad_email", 4, "email");
    assert_string_equal(json_string_value(json_object_get(problem_of(rep, "bad_text"), "message")),
                        "'Tom\\nTomsen' holds a line break or another control character");
    json_decref(rep);
}

/* Every kind of problem, each with its line and column, and nothing written. */
static void test_every_problem(void **state)
{
    struct t *t = *state;
    int rc = 0;
    const char *files[] = {
        "avd.csv",
        "code,name,parent_code,manager_employee_number\n"
        "A,Alfa,B,\n"          /* 2: cycle A > B > A */
        "B,Beta,A,\n"          /* 3: cycle */
        "C,Gamma,X,\n"         /* 4: unknown parent */
        "C,Gamma2,,\n"         /* 5: duplicate code */
        "D,Delta,,9999\n"      /* 6: unknown manager */
        "E,,,\n"               /* 7: missing name */
        "F,Foxtrot,,2006\n",   /* 8: a manager the file makes inactive */
        "ans.csv",
        "employee_number,name,email,department_code,position_title,roles,active\n"
        "2001,Ola,ola@k.no,ZZ,,,\n"          /* 2: unknown department */
        "2001,Ola2,ola2@k.no,D,,,\n"         /* 3: duplicate number */
        "2002,Kari,not-an-email,D,,,\n"      /* 4: malformed e-mail */
        "2003,,x@k.no,D,,,\n"                /* 5: missing name */
        "2004,Nils,n@k.no,D,,boss,\n"        /* 6: bad role */
        "2005,Mia,m@k.no,D,,,maybe\n"        /* 7: bad active */
        "2006,Liv,l@k.no,D,,,nei\n"          /* 8: inactive (and manager of F) */
        "2007,\xe6\xf8,l@k.no,D,,,\n"        /* 9: Latin-1, not UTF-8 */
        "2008,Too,few\n"                     /* 10: too few fields */
        "2009,Ingrid,i@k.no,D,TITLE,,\n", /* 11: too long (TITLE is replaced below) */
        NULL};
    struct buf emps = {0};
    const char *title = strstr(files[3], "TITLE");
    buf_append(&emps, files[3], (size_t)(title - files[3]));
    for (int k = 0; k < 201; k++)
        buf_puts(&emps, "x");
    buf_puts(&emps, title + 5);
    files[3] = emps.data;
    json_t *rep = run(t, 0, 1, &rc, files);
    buf_free(&emps);
    assert_int_equal(rc, 422);
    assert_problem(rep, "department_cycle", 2, "parent_code");
    assert_problem(rep, "unknown_department", 4, "parent_code");
    assert_problem(rep, "duplicate_department_code", 5, "code");
    assert_problem(rep, "unknown_employee", 6, "manager_employee_number");
    assert_problem(rep, "missing_field", 7, "name");
    assert_problem(rep, "inactive_manager", 8, "manager_employee_number");
    const json_t *cycle = problem_of(rep, "department_cycle");
    assert_string_equal(json_string_value(json_object_get(cycle, "message")),
                        "department A would be within itself: A > B > A");
    assert_int_equal(json_integer_value(json_object_get(cycle, "column_number")), 3);
    size_t i;
    json_t *p;
    int seen_employee_unknown = 0;
    json_array_foreach(json_object_get(rep, "problems"), i, p) {
        if (!strcmp(json_string_value(json_object_get(p, "code")), "unknown_department") &&
            !strcmp(json_string_value(json_object_get(p, "file")), "ans.csv")) {
            assert_int_equal(json_integer_value(json_object_get(p, "line")), 2);
            assert_string_equal(json_string_value(json_object_get(p, "column")), "department_code");
            seen_employee_unknown = 1;
        }
    }
    assert_true(seen_employee_unknown);
    assert_problem(rep, "duplicate_employee_number", 3, "employee_number");
    assert_problem(rep, "bad_email", 4, "email");
    assert_problem(rep, "bad_roles", 6, "roles");
    assert_problem(rep, "bad_active", 7, "active");
    assert_problem(rep, "bad_utf8", 9, "name");
    assert_problem(rep, "field_count", 10, NULL);
    assert_problem(rep, "too_long", 11, "position_title");
    /* the problems come in the order of files and lines */
    size_t last_line = 0;
    const char *last_file = "avd.csv";
    json_array_foreach(json_object_get(rep, "problems"), i, p) {
        const char *file = json_string_value(json_object_get(p, "file"));
        size_t line = (size_t)json_integer_value(json_object_get(p, "line"));
        if (!strcmp(file, last_file))
            assert_true(line >= last_line);
        else
            assert_string_equal(file, "ans.csv");
        last_file = file;
        last_line = line;
    }
    json_decref(rep);
    /* nothing was written */
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM employee"), 1);
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM department"), 1);
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM audit WHERE action = 'import'"), 0);
}

static void test_file_level_problems(void **state)
{
    struct t *t = *state;
    int rc;
    const char *unknown[] = {"x.csv", "foo;bar\n1;2\n", NULL};
    json_t *rep = run(t, 0, 0, &rc, unknown);
    assert_problem(rep, "unknown_file", 1, NULL);
    json_decref(rep);
    const char *missing[] = {"x.csv", "ansattnummer;navn\n1;Kari\n", NULL};
    rep = run(t, 0, 0, &rc, missing);
    assert_problem(rep, "missing_column", 1, NULL);
    assert_int_equal(summary(rep, "problems"), 2);     /* epost and avdelingskode */
    assert_int_equal(summary(rep, "employees_deactivated"), 0);
    json_decref(rep);
    /* rows under a header without a required column are not used (the fuzzer's first find: an
     * employee of an existing number without a department column was diffed anyway) */
    const char *nodept[] = {"x.csv", "ansattnr\tnavn\tepost\tav\x98" "eling\nadmin\tKari\tk@k.no\tHO\n",
                            NULL};
    rep = run(t, 0, 0, &rc, nodept);
    assert_problem(rep, "missing_column", 1, NULL);
    assert_int_equal(summary(rep, "problems"), 1);
    assert_int_equal(summary(rep, "changes"), 0);
    json_decref(rep);
    const char *unclosed[] = {"x.csv", "ansattnummer;navn;epost;avdelingskode\n1;\"Kari\n", NULL};
    rep = run(t, 0, 0, &rc, unclosed);
    assert_problem(rep, "unclosed_quote", 2, NULL);
    json_decref(rep);
    const char *quoting[] = {"x.csv", "ansattnummer;navn;epost;avdelingskode\n1;Ka\"ri\";k@x.no;A\n",
                             NULL};
    rep = run(t, 0, 0, &rc, quoting);
    assert_problem(rep, "bad_csv", 2, NULL);
    json_decref(rep);
    const char *empty[] = {"x.csv", "\xEF\xBB\xBF\r\n;;;\r\n", NULL};
    rep = run(t, 0, 0, &rc, empty);
    assert_problem(rep, "empty_file", 0, NULL);
    json_decref(rep);
    const char *two[] = {"a.csv", "code;name\nA;Alfa\n", "b.csv", "kode;navn\nB;Beta\n", NULL};
    rep = run(t, 0, 0, &rc, two);
    assert_problem(rep, "second_file", 0, NULL);
    json_decref(rep);
    const char *dupcol[] = {"a.csv", "code;name;navn\nA;Alfa;Alfa\n", NULL};
    rep = run(t, 0, 0, &rc, dupcol);
    assert_problem(rep, "duplicate_column", 1, "navn");
    json_decref(rep);
    const char *none[] = {NULL};
    rep = run(t, 0, 0, &rc, none);
    assert_problem(rep, "no_file", 0, NULL);
    json_decref(rep);
}

/* Changes with before and after, moves, deactivation (missing or inactive), reactivation, the
 * admin kept, and the gap index and sessions following. */
static void test_changes(void **state)
{
    struct t *t = *state;
    int rc;
    const char *first[] = {"avdelinger.csv", DEPTS_NB, "ansatte.csv", EMPS_NB, NULL};
    json_decref(run(t, 0, 1, &rc, first));
    assert_int_equal(rc, 0);
    int64_t per = fx_int(t->fx, 0, "SELECT id FROM employee WHERE employee_number = '1002'");
    int64_t kari = fx_int(t->fx, 0, "SELECT id FROM employee WHERE employee_number = '1003'");
    FX_SQL(t->fx, "INSERT INTO token (hash, employee_id, created_at, expires_at) VALUES "
                  "(x'01', %lld, 1, 9999999999)", (long long)per);
    uint64_t generation = t->app.generation;
    const char *second[] = {
        "avdelinger.csv",
        "Avdelingskode;Navn;Overordnet;Leder\n"
        "K;Kommunen;;\n"
        "HO;Helse og omsorg;SK;1003\n"       /* moved under SK, new manager */
        "SK;Skole og oppvekst;K;\n",          /* renamed */
        "ansatte.csv",
        "Ansattnummer;Navn;E-post;Avdelingskode;Stilling;Roller;Aktiv\n"
        "1001;Åse Ødegård;ase.odegard@k.no;SK;Rektor;leder;ja\n"   /* e-mail, title, moved */
        "1003;Kari Berg;kari@k.no;HO;;rådgiver admin;ja\n"
        "1004;Nina Ny;nina@k.no;HO;;;nei\n",                       /* added, inactive */
        NULL};
    json_t *rep = run(t, 0, 1, &rc, second);
    assert_int_equal(rc, 0);
    assert_int_equal(summary(rep, "departments_changed"), 2);
    assert_int_equal(summary(rep, "employees_added"), 1);
    assert_int_equal(summary(rep, "employees_changed"), 1);
    assert_int_equal(summary(rep, "employees_moved"), 1);
    assert_int_equal(summary(rep, "employees_deactivated"), 1);   /* Per: not in the file */
    assert_int_equal(summary(rep, "employees_kept"), 1);          /* admin */
    const json_t *ch = json_array_get(list(rep, "employees", "changed"), 0);
    assert_string_equal(json_string_value(json_object_get(ch, "employee_number")), "1001");
    const json_t *c0 = json_array_get(json_object_get(ch, "changes"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "field")), "email");
    assert_string_equal(json_string_value(json_object_get(c0, "before")), "ase@k.no");
    assert_string_equal(json_string_value(json_object_get(c0, "after")), "ase.odegard@k.no");
    const json_t *c1 = json_array_get(json_object_get(ch, "changes"), 1);
    assert_string_equal(json_string_value(json_object_get(c1, "field")), "position_title");
    const json_t *mv = json_array_get(list(rep, "employees", "moved"), 0);
    assert_string_equal(json_string_value(json_object_get(mv, "from")), "HO");
    assert_string_equal(json_string_value(json_object_get(mv, "to")), "SK");
    assert_string_equal(json_string_value(json_object_get(mv, "to_name")), "Skole og oppvekst");
    const json_t *de = json_array_get(list(rep, "employees", "deactivated"), 0);
    assert_string_equal(json_string_value(json_object_get(de, "employee_number")), "1002");
    assert_string_equal(json_string_value(json_object_get(de, "reason")), "missing");
    assert_true(json_is_null(json_object_get(de, "line")));
    const json_t *dch = list(rep, "departments", "changed");
    assert_int_equal(json_array_size(dch), 2);
    const json_t *ho = json_array_get(dch, 0);
    assert_string_equal(json_string_value(json_object_get(ho, "code")), "HO");
    const json_t *hoc = json_array_get(json_object_get(ho, "changes"), 0);
    assert_string_equal(json_string_value(json_object_get(hoc, "field")), "parent_code");
    assert_string_equal(json_string_value(json_object_get(hoc, "before")), "K");
    assert_string_equal(json_string_value(json_object_get(hoc, "after")), "SK");
    json_decref(rep);
    /* in the database */
    assert_int_equal(fx_int(t->fx, -1, "SELECT archived FROM employee WHERE id = %lld", (long long)per), 1);
    assert_int_equal(fx_int(t->fx, -1, "SELECT count(*) FROM token WHERE employee_id = %lld", (long long)per), 0);
    assert_int_equal(fx_int(t->fx, -1, "SELECT archived FROM employee WHERE employee_number = '1004'"), 1);
    assert_int_equal(fx_int(t->fx, -1, "SELECT archived FROM employee WHERE employee_number = 'admin'"), 0);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM department d JOIN department p ON "
                                      "p.id = d.parent_id WHERE d.code = 'HO' AND p.code = 'SK' "
                                      "AND d.manager_id = %lld", (long long)kari),
                     1);
    assert_true(t->app.generation > generation);
    /* the gap index: Per is out, Åse is in SK */
    assert_int_equal(gap_employee(t->app.gap, per, &(struct gap_cell *){0}, &(size_t){0}, NULL), -1);
    int64_t ase = fx_int(t->fx, 0, "SELECT id FROM employee WHERE employee_number = '1001'");
    int64_t sk = fx_int(t->fx, 0, "SELECT id FROM department WHERE code = 'SK'");
    assert_int_equal(gap_employee_department(t->app.gap, ase), sk);
    int64_t ho_id = fx_int(t->fx, 0, "SELECT id FROM department WHERE code = 'HO'");
    assert_true(gap_department_within(t->app.gap, ho_id, sk));

    /* Per back in a partial import: reactivated; nobody else deactivated */
    const char *back[] = {"ansatte.csv",
                          "Ansattnummer;Navn;E-post;Avdelingskode\n1002;\"Per \"\"Pelle\"\" Hansen\";"
                          "per@k.no;SK\n",
                          NULL};
    rep = run(t, 1, 1, &rc, back);
    assert_int_equal(rc, 0);
    assert_int_equal(summary(rep, "employees_reactivated"), 1);
    assert_int_equal(summary(rep, "employees_deactivated"), 0);
    assert_false(json_is_true(json_object_get(rep, "full")));
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, -1, "SELECT archived FROM employee WHERE id = %lld", (long long)per), 0);
    assert_int_equal(fx_int(t->fx, -1, "SELECT archived FROM employee WHERE employee_number = '1001'"), 0);
}

/* A file that moves an existing department below one of its own sub-departments. */
static void test_cycle_through_evne(void **state)
{
    struct t *t = *state;
    FX_SQL(t->fx, "INSERT INTO department (id, name, parent_id, code) VALUES (2, 'Top', 1, 'T'), "
                  "(3, 'Mid', 2, 'M'), (4, 'Low', 3, 'L')");
    int rc;
    const char *files[] = {"a.csv", "code;name;parent_code\nT;Top;L\n", NULL};
    json_t *rep = run(t, 0, 1, &rc, files);
    assert_int_equal(rc, 422);
    assert_problem(rep, "department_cycle", 2, "parent_code");
    assert_string_equal(json_string_value(json_object_get(problem_of(rep, "department_cycle"),
                                                          "message")),
                        "department T would be within itself: T > L > M > T");
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT parent_id FROM department WHERE id = 2"), 1);
}

/* The only admin with a login made an employee by the file: refused. */
static void test_no_admin_left(void **state)
{
    struct t *t = *state;
    FX_SQL(t->fx, "UPDATE department SET code = 'R' WHERE id = 1");
    int rc;
    const char *files[] = {"e.csv",
                           "employee_number;name;email;department_code;roles\n"
                           "admin;Administrator;admin@k.no;R;employee\n",
                           NULL};
    json_t *rep = run(t, 0, 1, &rc, files);
    assert_int_equal(rc, 422);
    assert_problem(rep, "no_admin_left", 0, NULL);
    assert_int_equal(summary(rep, "problems"), 1);
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE id = 1"), 9);
}

/* Someone changes a person between the snapshot and the commit: nothing is written. */
static void test_stale_snapshot(void **state)
{
    struct t *t = *state;
    FX_SQL(t->fx, "UPDATE department SET code = 'R' WHERE id = 1");
    FX_SQL(t->fx, "INSERT INTO employee (id, employee_number, name, email, department_id, "
                  "created_at) VALUES (2, '7', 'Sju', 'sju@x.no', 1, 1)");
    struct hrimport *im = hrimport_new(1);
    assert_int_equal(hrimport_snapshot(im, t->app.db), 0);
    const char *text = "employee_number;name;email;department_code\n7;Syv;sju@x.no;R\n"
                       "8;Åtte;atte@x.no;R\n";
    hrimport_add_file(im, "e.csv", text, strlen(text));
    assert_int_equal(hrimport_plan(im), 0);
    assert_int_equal(hrimport_changes(im), 2);
    FX_SQL(t->fx, "UPDATE employee SET email = 'sju@y.no' WHERE id = 2");
    int status = 0;
    char *err = NULL;
    assert_int_equal(hrimport_commit(im, &t->app, &status, &err), -1);
    assert_int_equal(status, 409);
    assert_non_null(strstr(err, "changed"));
    free(err);
    hrimport_free(im);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM employee"), 2);
    assert_int_equal(fx_int(t->fx, 0, "SELECT count(*) FROM employee WHERE name = 'Sju'"), 1);
}

/* Header names in English and Norwegian, in any case, with spaces; unknown columns ignored and
 * named; roles and active in both languages. */
static void test_header_names_and_values(void **state)
{
    struct t *t = *state;
    FX_SQL(t->fx, "UPDATE department SET code = 'R' WHERE id = 1");
    int rc;
    const char *files[] = {"e.csv",
                           "ANSATTNR; Navn ;E-Post;Avdeling;Stillingstittel;ROLLER;AKTIV;Mobil\n"
                           "1;A;a@x.no;R;;Ansatt + Leder;J;\n"
                           "2;B;b@x.no;R;;RÅDGIVER;yes;\n"
                           "3;C;c@x.no;R;;employee|admin;TRUE;99\n"
                           "4;D;d@x.no;R;;;Nei;\n",
                           NULL};
    json_t *rep = run(t, 1, 1, &rc, files);
    assert_int_equal(rc, 0);
    const json_t *f = json_array_get(json_object_get(rep, "files"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "ignored_columns"), 0)),
                        "Mobil");
    json_decref(rep);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE employee_number = '1'"),
                     ROLE_EMPLOYEE | ROLE_MANAGER);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE employee_number = '2'"),
                     ROLE_EMPLOYEE | ROLE_ADVISER);
    assert_int_equal(fx_int(t->fx, 0, "SELECT roles FROM employee WHERE employee_number = '3'"),
                     ROLE_EMPLOYEE | ROLE_ADMIN);
    assert_int_equal(fx_int(t->fx, 0, "SELECT archived FROM employee WHERE employee_number = '4'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_import_and_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_separators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_level_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_through_evne, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_admin_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_names_and_values, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
