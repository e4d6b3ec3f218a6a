/* hrimport: parse (libcsv), check, diff against a snapshot, write in one transaction.
 *
 * Memory: every string of the files and of the snapshot lives in one arena, freed with the
 * import; rows keep pointers into it. Lookups go through two small open-addressing maps (text
 * keys: codes and employee numbers; integer keys: database ids), so that checking 50,000
 * employees is linear.
 *
 * Line numbers: libcsv says nothing about positions, so each file is fed to it one line at a
 * time; a row starts on the line being fed when libcsv is between rows (pstate 0, which its
 * public struct exposes), which keeps a quoted field over several lines on its first line.
 */
#include "hrimport.h"

#include <csv.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "db.h"
#include "gap.h"
#include "org.h"
#include "util.h"

#define NONE SIZE_MAX
#define PROGRESS_EVERY 10000
#define CSV_ROW_NOT_BEGUN 0     /* libcsv's pstate between rows */

#define NUMBER_MAX 64
#define CODE_MAX 64
#define NAME_MAX_BYTES 200
#define EMAIL_MAX 254
#define TITLE_MAX 200

/* --- an arena of strings ------------------------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
};

struct arena {
    struct chunk *head;
};

static char *arena_alloc(struct arena *a, size_t n)
{
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 60000 ? n : 60000;
        struct chunk *c = xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    char *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s ? s : "", s ? strlen(s) : 0);
}

static void arena_free(struct arena *a)
{
    while (a->head) {
        struct chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* --- maps: text -> index, id -> index ------------------------------------------------------- */

struct smap {
    const char **keys;
    size_t *vals;
    size_t n, cap;     /* cap a power of two, at most half full */
};

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_put(struct smap *m, const char *key, size_t val);

static void smap_grow(struct smap *m)
{
    struct smap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            smap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

/* key is borrowed (arena); a second put of a key replaces its value. */
static void smap_put(struct smap *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        smap_grow(m);
    size_t i = (size_t)hash_text(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static size_t smap_get(const struct smap *m, const char *key)
{
    if (!m->cap || !key)
        return NONE;
    size_t i = (size_t)hash_text(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (!strcmp(m->keys[i], key))
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NONE;
}

static void smap_free(struct smap *m)
{
    free(m->keys);
    free(m->vals);
    *m = (struct smap){0};
}

struct imap {
    int64_t *keys;     /* 0: empty (ids are positive) */
    size_t *vals;
    size_t n, cap;
};

static void imap_put(struct imap *m, int64_t key, size_t val);

static void imap_grow(struct imap *m)
{
    struct imap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            imap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

static void imap_put(struct imap *m, int64_t key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        imap_grow(m);
    size_t i = (size_t)((uint64_t)key * 11400714819323198485ULL >> 20) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static size_t imap_get(const struct imap *m, int64_t key)
{
    if (!m->cap || key <= 0)
        return NONE;
    size_t i = (size_t)((uint64_t)key * 11400714819323198485ULL >> 20) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->keys[i] == key)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NONE;
}

static void imap_free(struct imap *m)
{
    free(m->keys);
    free(m->vals);
    *m = (struct imap){0};
}

/* --- the data ------------------------------------------------------------------------------ */

enum kind { KIND_UNKNOWN, KIND_DEPARTMENTS, KIND_EMPLOYEES };
enum { D_CODE, D_NAME, D_PARENT, D_MANAGER, D_NCOLS };
enum { E_NUMBER, E_NAME, E_EMAIL, E_DEPT, E_TITLE, E_ROLES, E_ACTIVE, E_NCOLS };
#define MAX_COLS E_NCOLS

/* Column names a header may use, normalised (lowercase, '-' and ' ' as '_'): the first of each
 * list is the English name the docs and the export use, the second the Norwegian one. */
static const char *const dept_cols[D_NCOLS][8] = {
    [D_CODE] = {"code", "avdelingskode", "kode", "department_code", "avdelingsnummer", "avdnr"},
    [D_NAME] = {"name", "navn", "avdelingsnavn", "department_name", "avdeling"},
    [D_PARENT] = {"parent_code", "overordnet", "overordnet_kode", "overordnet_avdeling",
                  "overordnet_avdelingskode", "parent"},
    [D_MANAGER] = {"manager_employee_number", "leder", "leders_ansattnummer",
                   "leder_ansattnummer", "manager"},
};
static const char *const emp_cols[E_NCOLS][8] = {
    [E_NUMBER] = {"employee_number", "ansattnummer", "ansattnr", "ansatt_nr"},
    [E_NAME] = {"name", "navn"},
    [E_EMAIL] = {"email", "epost", "e_post", "e_mail", "mail"},
    [E_DEPT] = {"department_code", "avdelingskode", "avdeling", "department", "avdelingsnummer"},
    [E_TITLE] = {"position_title", "stilling", "stillingstittel", "position", "title"},
    [E_ROLES] = {"roles", "roller"},
    [E_ACTIVE] = {"active", "aktiv"},
};

struct file {
    char *name;
    enum kind kind;
    char delim;
    int bom;
    size_t lines, rows;
    char **header;              /* the header's cells as written (arena) */
    size_t nheader;
    int col[MAX_COLS];          /* the file's column of each of ours, -1 when absent */
    int broken;                 /* the CSV itself is malformed: its rows are not used */
    int unusable;               /* broken, or its header lacks a required column */
};

/* One row of a departments file. */
struct drow {
    size_t file, line;
    const char *v[D_NCOLS];     /* trimmed text; NULL when the column is absent */
    int bad;                    /* a problem on this row */
    size_t node;                /* its node in the merged tree */
    unsigned changed;           /* fields that differ from evne's (1 << D_*) */
};

/* One row of an employees file. */
struct erow {
    size_t file, line;
    const char *v[E_NCOLS];
    int bad;
    unsigned roles;
    int active;
    size_t cur;                 /* the employee in evne, or NONE (new) */
    size_t dept_node;
    unsigned changed;           /* 1 << E_NAME, E_EMAIL, E_TITLE, E_ROLES */
    int moved, deactivate, reactivate;
    int64_t id;                 /* after the commit's insert */
};

/* A department as evne holds it. */
struct cur_dept {
    int64_t id, parent_id, manager_id;
    const char *code, *name;    /* code NULL when it has none */
};

/* An employee as evne holds it. */
struct cur_emp {
    int64_t id, dept_id;
    const char *number, *name, *email, *title;
    unsigned roles;
    int archived, has_login;
    size_t row;                 /* its row in the file, or NONE */
};

/* A department of the tree after the import: from evne, from the file, or both. */
struct node {
    size_t cur;                 /* NONE when new */
    size_t row;                 /* NONE when not in the file */
    size_t parent;              /* node, or NONE for a root */
    int64_t id;                 /* evne's id, or the new one after the commit's insert */
    int inserted;
};

struct problem {
    size_t file;                /* NONE: the import as a whole */
    size_t line;                /* 0: not one line */
    int column;                 /* the file's column (0-based), -1 when none */
    const char *code;
    char *message;              /* owned */
    char *args[3];              /* owned, for translated texts */
};

struct hrimport {
    int partial;
    hrimport_progress_fn progress;
    void *progress_ctx;
    struct arena arena;

    struct file *files;
    size_t nfiles;
    struct drow *drows;
    size_t ndrows, capdrows;
    struct erow *erows;
    size_t nerows, caperows;

    int snapshot_taken;
    struct cur_dept *depts;
    size_t ndepts;
    struct cur_emp *emps;
    size_t nemps;
    struct smap dept_by_code, emp_by_number;
    struct imap dept_by_id, emp_by_id;

    struct node *nodes;
    size_t nnodes;
    struct smap node_by_code;
    struct imap node_by_id;
    struct smap row_by_number;  /* the employees file's rows */

    struct problem *problems;
    size_t nproblems, capproblems, problems_total;

    int planned, committed;
    size_t emp_unchanged;
    size_t *missing;            /* employees to deactivate because the file lacks them */
    size_t nmissing;
    size_t *kept;               /* admins the file lacks: kept active */
    size_t nkept;
    int has_departments, has_employees;
};

struct hrimport *hrimport_new(int partial)
{
    struct hrimport *im = xcalloc(1, sizeof *im);
    im->partial = partial;
    return im;
}

void hrimport_set_progress(struct hrimport *im, hrimport_progress_fn fn, void *ctx)
{
    im->progress = fn;
    im->progress_ctx = ctx;
}

void hrimport_free(struct hrimport *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->nfiles; i++) {
        free(im->files[i].name);
        free(im->files[i].header);
    }
    free(im->files);
    free(im->drows);
    free(im->erows);
    free(im->depts);
    free(im->emps);
    smap_free(&im->dept_by_code);
    smap_free(&im->emp_by_number);
    imap_free(&im->dept_by_id);
    imap_free(&im->emp_by_id);
    free(im->nodes);
    smap_free(&im->node_by_code);
    imap_free(&im->node_by_id);
    smap_free(&im->row_by_number);
    for (size_t i = 0; i < im->nproblems; i++) {
        free(im->problems[i].message);
        for (int k = 0; k < 3; k++)
            free(im->problems[i].args[k]);
    }
    free(im->problems);
    free(im->missing);
    free(im->kept);
    arena_free(&im->arena);
    free(im);
}

static void say_progress(struct hrimport *im, const char *what, size_t n)
{
    if (im->progress)
        im->progress(im->progress_ctx, what, n);
}

/* --- problems ------------------------------------------------------------------------------ */

/* A value quoted in a message: at most 40 bytes, cut on a character boundary, and only what is
 * valid UTF-8 (a message is JSON and a page). Owned. */
static char *quoted(const char *s)
{
    size_t n = strlen(s);
    int cut = 0;
    if (n > 40) {
        n = 40;
        while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        cut = 1;
    }
    struct buf b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            buf_puts(&b, "\\n");
        else if (c == '\r')
            buf_puts(&b, "\\r");
        else if (c < 0x20 || c == 0x7f)
            buf_puts(&b, "?");
        else
            buf_append(&b, &s[i], 1);
    }
    buf_puts(&b, cut ? "..." : "");
    return util_utf8_clean(buf_steal(&b));
}

/* Records a problem. args: up to three strings (borrowed; copied), the English message's %s in
 * order, which the page's translations use in the same order. */
static void problem(struct hrimport *im, size_t file, size_t line, int column, const char *code,
                    const char *fmt, const char *a0, const char *a1, const char *a2)
{
    im->problems_total++;
    if (im->nproblems == HRIMPORT_MAX_PROBLEMS)
        return;
    if (im->nproblems == im->capproblems) {
        im->capproblems = im->capproblems ? im->capproblems * 2 : 32;
        im->problems = xrealloc(im->problems, im->capproblems * sizeof *im->problems);
    }
    struct problem *p = &im->problems[im->nproblems++];
    p->file = file;
    p->line = line;
    p->column = column;
    p->code = code;
    const char *a[3] = {a0, a1, a2};
    for (int k = 0; k < 3; k++)
        p->args[k] = a[k] ? util_utf8_clean(xstrdup(a[k])) : NULL;
    /* fmt has as many %s as args given: a fixed text of this file */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    p->message = xasprintf(fmt, p->args[0] ? p->args[0] : "", p->args[1] ? p->args[1] : "",
                           p->args[2] ? p->args[2] : "");
#pragma GCC diagnostic pop
}

/* The column as the file's header names it. */
static const char *column_name(const struct hrimport *im, size_t file, int column)
{
    const struct file *f = &im->files[file];
    return column >= 0 && (size_t)column < f->nheader ? f->header[column] : NULL;
}

/* --- text checks --------------------------------------------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Lowercase, for names and words people type: ASCII, and Æ Ø Å. In place. */
static char *lower(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (unsigned char)(*p + 32);
        else if (p[0] == 0xc3 && (p[1] == 0x86 || p[1] == 0x98 || p[1] == 0x85))
            p[1] = (unsigned char)(p[1] + 0x20);
    }
    return s;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Roles: names separated by spaces, commas, '|', '+', '/' or ';', in English or Norwegian. The
 * employee role is always held. 0, or -1 and *bad (a word of s, owned). */
static int parse_roles(const char *s, unsigned *roles, char **bad)
{
    static const struct {
        const char *word;
        unsigned role;
    } words[] = {{"employee", ROLE_EMPLOYEE}, {"ansatt", ROLE_EMPLOYEE},
                 {"manager", ROLE_MANAGER},   {"leder", ROLE_MANAGER},
                 {"adviser", ROLE_ADVISER},   {"advisor", ROLE_ADVISER},
                 {"rådgiver", ROLE_ADVISER},  {"radgiver", ROLE_ADVISER},
                 {"admin", ROLE_ADMIN},       {"administrator", ROLE_ADMIN}};
    *roles = ROLE_EMPLOYEE;
    char *copy = lower(xstrdup(s));
    int rc = 0;
    for (char *save = NULL, *w = strtok_r(copy, " ,|+/;\t", &save); w;
         w = strtok_r(NULL, " ,|+/;\t", &save)) {
        size_t k = 0;
        while (k < sizeof words / sizeof words[0] && strcmp(words[k].word, w))
            k++;
        if (k == sizeof words / sizeof words[0]) {
            *bad = xstrdup(w);
            rc = -1;
            break;
        }
        *roles |= words[k].role;
    }
    free(copy);
    return rc;
}

/* 1 active, 0 not, -1 not a yes or a no. Empty is active. */
static int parse_active(const char *s)
{
    static const char *const yes[] = {"", "1", "ja", "j", "yes", "y", "true", "sann", "aktiv"};
    static const char *const no[] = {"0", "nei", "n", "no", "false", "usann", "inaktiv"};
    char w[16];
    if (strlen(s) >= sizeof w)
        return -1;
    lower(strcpy(w, s));
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcmp(w, yes[i]))
            return 1;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (!strcmp(w, no[i]))
            return 0;
    return -1;
}

/* --- parsing ------------------------------------------------------------------------------- */

struct parse {
    struct hrimport *im;
    size_t file;
    size_t line;                /* being fed */
    size_t row_line;            /* where the row being parsed began */
    char **fields;              /* of the row being parsed (arena) */
    size_t nfields, capfields;
    int header_done;
};

static void on_field(void *s, size_t len, void *ctx)
{
    struct parse *p = ctx;
    if (p->nfields == p->capfields) {
        p->capfields = p->capfields ? p->capfields * 2 : 16;
        p->fields = xrealloc(p->fields, p->capfields * sizeof *p->fields);
    }
    char *v = arena_strndup(&p->im->arena, s ? s : "", s ? len : 0);
    /* a NUL byte would end the text early: make it a control character, which is refused */
    for (size_t i = 0; i < len; i++)
        if (!v[i])
            v[i] = '\x01';
    p->fields[p->nfields++] = v;
}

static void normalise_header(char *s)
{
    lower(trim(s));
    for (char *c = s; *c; c++)
        if (*c == ' ' || *c == '-')
            *c = '_';
}

static int col_of(const char *const names[8], const char *h)
{
    for (int k = 0; k < 8 && names[k]; k++)
        if (!strcmp(names[k], h))
            return 1;
    return 0;
}

static void header_row(struct parse *p)
{
    struct hrimport *im = p->im;
    struct file *f = &im->files[p->file];
    f->nheader = p->nfields;
    f->header = xcalloc(p->nfields ? p->nfields : 1, sizeof *f->header);
    char **norm = xcalloc(p->nfields ? p->nfields : 1, sizeof *norm);
    int any_number = 0, any_code = 0;
    for (size_t i = 0; i < p->nfields; i++) {
        f->header[i] = arena_strdup(&im->arena, trim(p->fields[i]));
        if (i == 0 && !strncmp(f->header[0], "\xEF\xBB\xBF", 3))
            f->header[0] += 3;
        if (!util_utf8_valid(f->header[i]))
            util_utf8_clean(f->header[i]);
        norm[i] = arena_strdup(&im->arena, f->header[i]);
        normalise_header(norm[i]);
        any_number |= col_of(emp_cols[E_NUMBER], norm[i]);
        any_code |= col_of(dept_cols[D_CODE], norm[i]);
    }
    f->kind = any_number ? KIND_EMPLOYEES : any_code ? KIND_DEPARTMENTS : KIND_UNKNOWN;
    int ncols = f->kind == KIND_EMPLOYEES ? E_NCOLS : D_NCOLS;
    for (int c = 0; c < MAX_COLS; c++)
        f->col[c] = -1;
    if (f->kind == KIND_UNKNOWN) {
        problem(im, p->file, p->row_line, -1, "unknown_file",
                "the header names neither employee_number (ansattnummer) nor code "
                "(avdelingskode): this is not an employees file or a departments file",
                NULL, NULL, NULL);
        free(norm);
        return;
    }
    for (size_t i = 0; i < p->nfields; i++) {
        for (int c = 0; c < ncols; c++) {
            const char *const *names = f->kind == KIND_EMPLOYEES ? emp_cols[c] : dept_cols[c];
            if (!col_of(names, norm[i]))
                continue;
            if (f->col[c] >= 0) {
                problem(im, p->file, p->row_line, (int)i, "duplicate_column",
                        "the header names the column %s twice", names[0], NULL, NULL);
                break;
            }
            f->col[c] = (int)i;
            break;
        }
    }
    /* required columns */
    static const int emp_required[] = {E_NUMBER, E_NAME, E_EMAIL, E_DEPT};
    static const int dept_required[] = {D_CODE, D_NAME};
    const int *req = f->kind == KIND_EMPLOYEES ? emp_required : dept_required;
    size_t nreq = f->kind == KIND_EMPLOYEES ? 4 : 2;
    for (size_t k = 0; k < nreq; k++) {
        if (f->col[req[k]] >= 0)
            continue;
        const char *const *names = f->kind == KIND_EMPLOYEES ? emp_cols[req[k]] : dept_cols[req[k]];
        problem(im, p->file, p->row_line, -1, "missing_column",
                "the header has no column %s (%s)", names[0], names[1], NULL);
        f->unusable = 1;
    }
    free(norm);
}

static void data_row(struct parse *p)
{
    struct hrimport *im = p->im;
    struct file *f = &im->files[p->file];
    if (f->kind == KIND_UNKNOWN)
        return;
    int empty = 1;
    for (size_t i = 0; i < p->nfields && empty; i++)
        empty = !*trim(p->fields[i]);
    if (empty)
        return;     /* Excel writes a row of nothing but separators for an empty line */
    f->rows++;
    /* a header without a required column has said so once; its rows cannot be used */
    int bad = f->unusable;
    if (p->nfields != f->nheader) {
        int extra_empty = p->nfields > f->nheader;
        for (size_t i = f->nheader; i < p->nfields && extra_empty; i++)
            extra_empty = !*p->fields[i];
        if (!extra_empty) {
            char got[24], want[24];
            snprintf(got, sizeof got, "%zu", p->nfields);
            snprintf(want, sizeof want, "%zu", f->nheader);
            if (!bad)
                problem(im, p->file, p->row_line, -1, "field_count",
                        "the line has %s fields; the header has %s", got, want, NULL);
            bad = 1;
        }
    }
    int ncols = f->kind == KIND_EMPLOYEES ? E_NCOLS : D_NCOLS;
    const char *v[MAX_COLS] = {0};
    for (int c = 0; c < ncols; c++) {
        int k = f->col[c];
        if (k < 0)
            continue;
        v[c] = (size_t)k < p->nfields ? p->fields[k] : "";
    }
    if (f->kind == KIND_EMPLOYEES) {
        if (im->nerows == im->caperows) {
            im->caperows = im->caperows ? im->caperows * 2 : 256;
            im->erows = xrealloc(im->erows, im->caperows * sizeof *im->erows);
        }
        struct erow *r = &im->erows[im->nerows++];
        *r = (struct erow){.file = p->file, .line = p->row_line, .bad = bad, .cur = NONE,
                           .dept_node = NONE};
        memcpy(r->v, v, sizeof r->v);
    } else {
        if (im->ndrows == im->capdrows) {
            im->capdrows = im->capdrows ? im->capdrows * 2 : 64;
            im->drows = xrealloc(im->drows, im->capdrows * sizeof *im->drows);
        }
        struct drow *r = &im->drows[im->ndrows++];
        *r = (struct drow){.file = p->file, .line = p->row_line, .bad = bad, .node = NONE};
        memcpy(r->v, v, sizeof r->v[0] * D_NCOLS);
    }
}

static void on_row(int term, void *ctx)
{
    (void)term;
    struct parse *p = ctx;
    if (!p->header_done) {
        int empty = 1;
        for (size_t i = 0; i < p->nfields && empty; i++)
            empty = !*trim(p->fields[i]) ||
                    (i == 0 && !strcmp(p->fields[0], "\xEF\xBB\xBF"));
        if (!empty) {
            header_row(p);
            p->header_done = 1;
        }
    } else {
        data_row(p);
    }
    p->nfields = 0;
}

/* The separator: whichever of ; , TAB the first line has most of outside quotes (; on a tie). */
static char detect_delim(const char *s, size_t len)
{
    size_t semi = 0, comma = 0, tab = 0;
    int quoted = 0;
    for (size_t i = 0; i < len && s[i] != '\n'; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == ';')
            semi++;
        else if (!quoted && s[i] == ',')
            comma++;
        else if (!quoted && s[i] == '\t')
            tab++;
    }
    if (tab > semi && tab > comma)
        return '\t';
    return comma > semi ? ',' : ';';
}

/* Spaces around an unquoted field are dropped; tabs too, unless they separate. */
static int space_only(unsigned char c) { return c == ' '; }

void hrimport_add_file(struct hrimport *im, const char *name, const char *text, size_t len)
{
    im->files = xrealloc(im->files, (im->nfiles + 1) * sizeof *im->files);
    size_t fi = im->nfiles++;
    struct file *f = &im->files[fi];
    *f = (struct file){.name = xstrdup(name ? name : "-")};
    for (int c = 0; c < MAX_COLS; c++)
        f->col[c] = -1;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        f->bom = 1;
        text += 3;
        len -= 3;
    }
    f->delim = detect_delim(text, len);
    struct csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        UTIL_ABORT("csv_init failed");
    csv_set_delim(&parser, (unsigned char)f->delim);
    if (f->delim == '\t')
        csv_set_space_func(&parser, space_only);
    struct parse p = {.im = im, .file = fi, .line = 1, .row_line = 1};
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) + 1 : len - off;
        if (parser.pstate == CSV_ROW_NOT_BEGUN)
            p.row_line = p.line;
        if (csv_parse(&parser, text + off, n, on_field, on_row, &p) != n) {
            problem(im, fi, p.line, -1, "bad_csv",
                    "the quoting is malformed: a quote inside an unquoted field, or text after "
                    "a closing quote",
                    NULL, NULL, NULL);
            f->broken = 1;
            break;
        }
        off += n;
        if (nl)
            p.line++;
        if (p.line % PROGRESS_EVERY == 0)
            say_progress(im, f->name, p.line);
    }
    if (!f->broken && csv_fini(&parser, on_field, on_row, &p) != 0) {
        char start[24];
        snprintf(start, sizeof start, "%zu", p.row_line);
        problem(im, fi, p.row_line, -1, "unclosed_quote",
                "a quoted field that starts on line %s is not closed before the end of the file",
                start, NULL, NULL);
        f->broken = 1;
    }
    f->lines = len && text[len - 1] != '\n' ? p.line : p.line - 1;
    csv_free(&parser);
    free(p.fields);
    if (!p.header_done && !f->broken)
        problem(im, fi, 0, -1, "empty_file", "the file has no header line", NULL, NULL, NULL);
    if (f->broken || !p.header_done)
        f->unusable = 1;
    if (f->broken) {
        /* rows after a quoting error may be anything: none of this file's rows is used */
        size_t keep = 0;
        for (size_t i = 0; i < im->nerows; i++)
            if (im->erows[i].file != fi)
                im->erows[keep++] = im->erows[i];
        im->nerows = keep;
        keep = 0;
        for (size_t i = 0; i < im->ndrows; i++)
            if (im->drows[i].file != fi)
                im->drows[keep++] = im->drows[i];
        im->ndrows = keep;
    }
}

/* --- the snapshot ---------------------------------------------------------------------------- */

int hrimport_snapshot(struct hrimport *im, struct db *db)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, code, name, parent_id, manager_id FROM department "
                                   "ORDER BY id");
    size_t cap = 64;
    im->depts = xmalloc(cap * sizeof *im->depts);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (im->ndepts == cap)
            im->depts = xrealloc(im->depts, (cap *= 2) * sizeof *im->depts);
        struct cur_dept *d = &im->depts[im->ndepts];
        d->id = sqlite3_column_int64(st, 0);
        d->code = db_text(st, 1) ? arena_strdup(&im->arena, db_text(st, 1)) : NULL;
        d->name = arena_strdup(&im->arena, db_text(st, 2));
        d->parent_id = sqlite3_column_int64(st, 3);
        d->manager_id = sqlite3_column_int64(st, 4);
        if (d->code)
            smap_put(&im->dept_by_code, d->code, im->ndepts);
        imap_put(&im->dept_by_id, d->id, im->ndepts);
        im->ndepts++;
    }
    if (rc != SQLITE_DONE) {
        db_log_error(db, st);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT id, employee_number, name, email, department_id, position_title, "
                     "roles, archived, login IS NOT NULL FROM employee ORDER BY id");
    cap = 256;
    im->emps = xmalloc(cap * sizeof *im->emps);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (im->nemps == cap)
            im->emps = xrealloc(im->emps, (cap *= 2) * sizeof *im->emps);
        struct cur_emp *e = &im->emps[im->nemps];
        e->id = sqlite3_column_int64(st, 0);
        e->number = arena_strdup(&im->arena, db_text(st, 1));
        e->name = arena_strdup(&im->arena, db_text(st, 2));
        e->email = arena_strdup(&im->arena, db_text(st, 3));
        e->dept_id = sqlite3_column_int64(st, 4);
        e->title = arena_strdup(&im->arena, db_text(st, 5));
        e->roles = (unsigned)sqlite3_column_int(st, 6);
        e->archived = sqlite3_column_int(st, 7);
        e->has_login = sqlite3_column_int(st, 8);
        e->row = NONE;
        smap_put(&im->emp_by_number, e->number, im->nemps);
        imap_put(&im->emp_by_id, e->id, im->nemps);
        im->nemps++;
    }
    if (rc != SQLITE_DONE) {
        db_log_error(db, st);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    im->snapshot_taken = 1;
    return 0;
}

/* --- checking ------------------------------------------------------------------------------ */

/* Checks one text cell: UTF-8, no control characters, within max bytes, present when required.
 * 0 when good. */
static int check_text(struct hrimport *im, size_t file, size_t line, int column, const char *v,
                      size_t max, int required, const char *what)
{
    if (!v)
        return 0;
    if (!util_utf8_valid(v)) {
        problem(im, file, line, column, "bad_utf8",
                "the text is not UTF-8 (in Excel, save the file as \"CSV UTF-8\")", NULL, NULL,
                NULL);
        return -1;
    }
    if (has_control(v)) {
        char *q = quoted(v);
        problem(im, file, line, column, "bad_text",
                "'%s' holds a line break or another control character", q, NULL, NULL);
        free(q);
        return -1;
    }
    if (required && !*v) {
        problem(im, file, line, column, "missing_field", "%s is required here", what, NULL, NULL);
        return -1;
    }
    if (strlen(v) > max) {
        char *q = quoted(v);
        char m[24];
        snprintf(m, sizeof m, "%zu", max);
        problem(im, file, line, column, "too_long", "'%s' is longer than %s bytes", q, m, NULL);
        free(q);
        return -1;
    }
    return 0;
}

static void check_files(struct hrimport *im)
{
    size_t first[3] = {NONE, NONE, NONE};
    for (size_t i = 0; i < im->nfiles; i++) {
        enum kind k = im->files[i].kind;
        if (k == KIND_UNKNOWN)
            continue;
        if (first[k] != NONE) {
            problem(im, i, 0, -1, "second_file",
                    "a second file of the same kind (the first is %s); an import takes one "
                    "departments file and one employees file at most",
                    im->files[first[k]].name, NULL, NULL);
            continue;
        }
        first[k] = i;
    }
    im->has_departments = first[KIND_DEPARTMENTS] != NONE;
    im->has_employees = first[KIND_EMPLOYEES] != NONE;
}

static size_t add_node(struct hrimport *im, size_t cur, size_t row)
{
    im->nodes = xrealloc(im->nodes, (im->nnodes + 1) * sizeof *im->nodes);
    im->nodes[im->nnodes] = (struct node){.cur = cur, .row = row, .parent = NONE,
                                          .id = cur != NONE ? im->depts[cur].id : 0};
    return im->nnodes++;
}

static void check_departments(struct hrimport *im)
{
    /* every department evne holds is a node; the file's rows join them by code or add new ones */
    for (size_t i = 0; i < im->ndepts; i++) {
        size_t n = add_node(im, i, NONE);
        imap_put(&im->node_by_id, im->depts[i].id, n);
        if (im->depts[i].code)
            smap_put(&im->node_by_code, im->depts[i].code, n);
    }
    struct smap seen = {0};
    for (size_t i = 0; i < im->ndrows; i++) {
        struct drow *r = &im->drows[i];
        const struct file *f = &im->files[r->file];
        for (int c = 0; c < D_NCOLS; c++)
            if (r->v[c])
                r->v[c] = trim((char *)r->v[c]);
        if (r->bad)
            continue;   /* its fields do not line up with the header: one problem says so */
        int bad = 0;
        bad |= check_text(im, r->file, r->line, f->col[D_CODE], r->v[D_CODE], CODE_MAX, 1,
                          column_name(im, r->file, f->col[D_CODE]));
        bad |= check_text(im, r->file, r->line, f->col[D_NAME], r->v[D_NAME], NAME_MAX_BYTES, 1,
                          column_name(im, r->file, f->col[D_NAME]));
        bad |= check_text(im, r->file, r->line, f->col[D_PARENT], r->v[D_PARENT], CODE_MAX, 0,
                          NULL);
        bad |= check_text(im, r->file, r->line, f->col[D_MANAGER], r->v[D_MANAGER], NUMBER_MAX,
                          0, NULL);
        r->bad = bad != 0;
        if (!r->v[D_CODE] || !*r->v[D_CODE] || !util_utf8_valid(r->v[D_CODE]))
            continue;
        size_t other = smap_get(&seen, r->v[D_CODE]);
        if (other != NONE) {
            char l[24];
            snprintf(l, sizeof l, "%zu", im->drows[other].line);
            problem(im, r->file, r->line, f->col[D_CODE], "duplicate_department_code",
                    "department code %s is also on line %s", r->v[D_CODE], l, NULL);
            r->bad = 1;
            continue;
        }
        smap_put(&seen, r->v[D_CODE], i);
        size_t n = smap_get(&im->node_by_code, r->v[D_CODE]);
        if (n == NONE) {
            n = add_node(im, NONE, i);
            smap_put(&im->node_by_code, r->v[D_CODE], n);
        } else {
            im->nodes[n].row = i;
        }
        r->node = n;
    }
    smap_free(&seen);
}

/* The parent of every node: the file's where it says, else evne's. Parent codes are checked. */
static void link_parents(struct hrimport *im)
{
    for (size_t n = 0; n < im->nnodes; n++) {
        struct node *nd = &im->nodes[n];
        if (nd->cur != NONE)
            nd->parent = imap_get(&im->node_by_id, im->depts[nd->cur].parent_id);
    }
    for (size_t i = 0; i < im->ndrows; i++) {
        struct drow *r = &im->drows[i];
        const struct file *f = &im->files[r->file];
        if (r->node == NONE || !r->v[D_PARENT])
            continue;       /* without the column, the parent stays as it is */
        const char *pc = r->v[D_PARENT];
        if (!*pc) {
            im->nodes[r->node].parent = NONE;
            continue;
        }
        if (!util_utf8_valid(pc))
            continue;
        size_t parent = smap_get(&im->node_by_code, pc);
        if (parent == NONE) {
            problem(im, r->file, r->line, f->col[D_PARENT], "unknown_department",
                    "there is no department with code %s, neither in the file nor in evne", pc,
                    NULL, NULL);
            r->bad = 1;
            continue;
        }
        im->nodes[r->node].parent = parent;
    }
}

static const char *node_code(const struct hrimport *im, size_t n)
{
    const struct node *nd = &im->nodes[n];
    if (nd->row != NONE)
        return im->drows[nd->row].v[D_CODE];
    return im->depts[nd->cur].code ? im->depts[nd->cur].code : im->depts[nd->cur].name;
}

static const char *node_name(const struct hrimport *im, size_t n)
{
    const struct node *nd = &im->nodes[n];
    if (nd->row != NONE && !im->drows[nd->row].bad)
        return im->drows[nd->row].v[D_NAME];
    return nd->cur != NONE ? im->depts[nd->cur].name : im->drows[nd->row].v[D_NAME];
}

/* A department of the file that would be within itself: the problem names the loop. */
static void check_cycles(struct hrimport *im)
{
    for (size_t i = 0; i < im->ndrows; i++) {
        struct drow *r = &im->drows[i];
        if (r->node == NONE || !r->v[D_PARENT])
            continue;
        size_t n = im->nodes[r->node].parent;
        size_t steps = 0;
        while (n != NONE && n != r->node && steps++ <= im->nnodes)
            n = im->nodes[n].parent;
        if (n != r->node)
            continue;
        struct buf path = {0};
        n = r->node;
        steps = 0;
        do {
            buf_printf(&path, "%s%s", steps ? " > " : "", node_code(im, n));
            n = im->nodes[n].parent;
        } while (n != r->node && ++steps < 8);
        buf_printf(&path, "%s%s", n == r->node ? " > " : " > ... > ", node_code(im, r->node));
        problem(im, r->file, r->line, im->files[r->file].col[D_PARENT], "department_cycle",
                "department %s would be within itself: %s", r->v[D_CODE], path.data, NULL);
        buf_free(&path);
        r->bad = 1;
    }
}

static void check_employees(struct hrimport *im)
{
    struct smap *seen = &im->row_by_number;
    for (size_t i = 0; i < im->nerows; i++) {
        struct erow *r = &im->erows[i];
        const struct file *f = &im->files[r->file];
        for (int c = 0; c < E_NCOLS; c++)
            if (r->v[c])
                r->v[c] = trim((char *)r->v[c]);
        if (r->bad) {
            /* its fields do not line up with the header: one problem says so; it still counts
             * as listed, so that it is not taken for someone the file lacks */
            const char *n = r->v[E_NUMBER];
            if (n && *n && util_utf8_valid(n) && smap_get(seen, n) == NONE) {
                smap_put(seen, n, i);
                r->cur = smap_get(&im->emp_by_number, n);
                if (r->cur != NONE)
                    im->emps[r->cur].row = i;
            }
            continue;
        }
#define COL(c) f->col[c], r->v[c]
        int bad = 0;
        bad |= check_text(im, r->file, r->line, COL(E_NUMBER), NUMBER_MAX, 1,
                          column_name(im, r->file, f->col[E_NUMBER]));
        bad |= check_text(im, r->file, r->line, COL(E_NAME), NAME_MAX_BYTES, 1,
                          column_name(im, r->file, f->col[E_NAME]));
        int email_bad = check_text(im, r->file, r->line, COL(E_EMAIL), EMAIL_MAX, 1,
                                   column_name(im, r->file, f->col[E_EMAIL]));
        bad |= email_bad;
        int dept_bad = check_text(im, r->file, r->line, COL(E_DEPT), CODE_MAX, 1,
                                  column_name(im, r->file, f->col[E_DEPT]));
        bad |= dept_bad;
        bad |= check_text(im, r->file, r->line, COL(E_TITLE), TITLE_MAX, 0, NULL);
        int roles_bad = check_text(im, r->file, r->line, COL(E_ROLES), 200, 0, NULL);
        int active_bad = check_text(im, r->file, r->line, COL(E_ACTIVE), 16, 0, NULL);
        bad |= roles_bad | active_bad;
#undef COL
        if (!email_bad && r->v[E_EMAIL] && !org_email_valid(r->v[E_EMAIL])) {
            char *q = quoted(r->v[E_EMAIL]);
            problem(im, r->file, r->line, f->col[E_EMAIL], "bad_email",
                    "'%s' is not an e-mail address", q, NULL, NULL);
            free(q);
            bad = 1;
        }
        r->roles = ROLE_EMPLOYEE;
        if (!roles_bad && r->v[E_ROLES]) {
            char *word = NULL;
            if (parse_roles(r->v[E_ROLES], &r->roles, &word)) {
                char *q = quoted(word);
                problem(im, r->file, r->line, f->col[E_ROLES], "bad_roles",
                        "'%s' is not a role: employee (ansatt), manager (leder), adviser "
                        "(rådgiver) or admin",
                        q, NULL, NULL);
                free(q);
                free(word);
                bad = 1;
            }
        }
        r->active = 1;
        if (!active_bad && r->v[E_ACTIVE]) {
            r->active = parse_active(r->v[E_ACTIVE]);
            if (r->active < 0) {
                char *q = quoted(r->v[E_ACTIVE]);
                problem(im, r->file, r->line, f->col[E_ACTIVE], "bad_active",
                        "'%s' is neither yes nor no: 1 or 0, ja or nei, yes or no, true or false",
                        q, NULL, NULL);
                free(q);
                bad = 1;
                r->active = 1;
            }
        }
        if (!dept_bad && r->v[E_DEPT]) {
            r->dept_node = smap_get(&im->node_by_code, r->v[E_DEPT]);
            if (r->dept_node == NONE) {
                problem(im, r->file, r->line, f->col[E_DEPT], "unknown_department",
                        "there is no department with code %s, neither in the file nor in evne",
                        r->v[E_DEPT], NULL, NULL);
                bad = 1;
            }
        }
        r->bad = bad != 0;
        const char *num = r->v[E_NUMBER];
        if (!num || !*num || !util_utf8_valid(num) || strlen(num) > NUMBER_MAX)
            continue;
        size_t other = smap_get(seen, num);
        if (other != NONE) {
            char l[24];
            snprintf(l, sizeof l, "%zu", im->erows[other].line);
            problem(im, r->file, r->line, f->col[E_NUMBER], "duplicate_employee_number",
                    "employee number %s is also on line %s", num, l, NULL);
            r->bad = 1;
            continue;
        }
        smap_put(seen, num, i);
        r->cur = smap_get(&im->emp_by_number, num);
        if (r->cur != NONE)
            im->emps[r->cur].row = i;
    }
}

/* Will employee number `num` be active after the import? -1 when nobody has it. */
static int active_after(const struct hrimport *im, const char *num, size_t *row)
{
    *row = smap_get(&im->row_by_number, num);
    if (*row != NONE)
        return im->erows[*row].active;
    size_t e = smap_get(&im->emp_by_number, num);
    if (e == NONE)
        return -1;
    if (im->emps[e].archived)
        return 0;
    /* listed nowhere in a full import: deactivated, unless an admin */
    if (im->has_employees && !im->partial && !(im->emps[e].roles & ROLE_ADMIN))
        return 0;
    return 1;
}

static void check_managers(struct hrimport *im)
{
    for (size_t i = 0; i < im->ndrows; i++) {
        struct drow *r = &im->drows[i];
        const char *m = r->v[D_MANAGER];
        if (!m || !*m || !util_utf8_valid(m) || has_control(m))
            continue;
        size_t row;
        int active = active_after(im, m, &row);
        int col = im->files[r->file].col[D_MANAGER];
        if (active < 0) {
            problem(im, r->file, r->line, col, "unknown_employee",
                    "there is no employee with number %s, neither in the file nor in evne", m,
                    NULL, NULL);
            r->bad = 1;
        } else if (!active) {
            problem(im, r->file, r->line, col, "inactive_manager",
                    "the manager %s is not active after this import", m, NULL, NULL);
            r->bad = 1;
        }
    }
}

/* --- the changes --------------------------------------------------------------------------- */

static const char *cur_dept_code(const struct hrimport *im, int64_t id)
{
    size_t d = imap_get(&im->dept_by_id, id);
    return d == NONE ? NULL : im->depts[d].code;
}

static const char *cur_emp_number(const struct hrimport *im, int64_t id)
{
    size_t e = imap_get(&im->emp_by_id, id);
    return e == NONE ? NULL : im->emps[e].number;
}

static int same(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static void diff_departments(struct hrimport *im)
{
    for (size_t i = 0; i < im->ndrows; i++) {
        struct drow *r = &im->drows[i];
        if (r->bad || r->node == NONE)
            continue;
        const struct node *nd = &im->nodes[r->node];
        if (nd->cur == NONE)
            continue;   /* added */
        const struct cur_dept *d = &im->depts[nd->cur];
        if (!same(d->name, r->v[D_NAME]))
            r->changed |= 1u << D_NAME;
        if (r->v[D_PARENT] && !same(cur_dept_code(im, d->parent_id), r->v[D_PARENT]))
            r->changed |= 1u << D_PARENT;
        if (r->v[D_PARENT] && d->parent_id && !cur_dept_code(im, d->parent_id))
            r->changed |= 1u << D_PARENT;   /* under a department without a code: moved */
        if (r->v[D_MANAGER] && !same(cur_emp_number(im, d->manager_id), r->v[D_MANAGER]))
            r->changed |= 1u << D_MANAGER;
    }
}

static void diff_employees(struct hrimport *im)
{
    for (size_t i = 0; i < im->nerows; i++) {
        struct erow *r = &im->erows[i];
        if (r->bad || r->cur == NONE || r->dept_node == NONE)
            continue;
        const struct cur_emp *e = &im->emps[r->cur];
        if (!same(e->name, r->v[E_NAME]))
            r->changed |= 1u << E_NAME;
        if (!same(e->email, r->v[E_EMAIL]))
            r->changed |= 1u << E_EMAIL;
        if (r->v[E_TITLE] && !same(e->title, r->v[E_TITLE]))
            r->changed |= 1u << E_TITLE;
        if (r->v[E_ROLES] && (e->roles | ROLE_EMPLOYEE) != r->roles)
            r->changed |= 1u << E_ROLES;
        const struct node *nd = &im->nodes[r->dept_node];
        r->moved = nd->cur == NONE || im->depts[nd->cur].id != e->dept_id;
        r->deactivate = !r->active && !e->archived;
        r->reactivate = r->active && e->archived;
        if (!r->changed && !r->moved && !r->deactivate && !r->reactivate)
            im->emp_unchanged++;
    }
    if (!im->has_employees || im->partial)
        return;
    for (size_t i = 0; i < im->nfiles; i++)
        if (im->files[i].kind == KIND_EMPLOYEES && im->files[i].unusable)
            return;     /* who the file lacks cannot be told */
    for (size_t i = 0; i < im->nemps; i++) {
        const struct cur_emp *e = &im->emps[i];
        if (e->row != NONE || e->archived)
            continue;
        if (e->roles & ROLE_ADMIN) {
            im->kept = xrealloc(im->kept, (im->nkept + 1) * sizeof *im->kept);
            im->kept[im->nkept++] = i;
        } else {
            im->missing = xrealloc(im->missing, (im->nmissing + 1) * sizeof *im->missing);
            im->missing[im->nmissing++] = i;
        }
    }
}

/* Somebody must still be able to log in as admin afterwards. */
static void check_admin_left(struct hrimport *im)
{
    for (size_t i = 0; i < im->nemps; i++) {
        const struct cur_emp *e = &im->emps[i];
        if (!e->has_login)
            continue;
        if (e->row == NONE || im->erows[e->row].bad) {
            /* the file leaves them as they are (or its line about them is refused anyway), or
             * they are kept as an admin */
            if (!e->archived && (e->roles & ROLE_ADMIN))
                return;
            continue;
        }
        const struct erow *r = &im->erows[e->row];
        unsigned roles = r->v[E_ROLES] ? r->roles : e->roles;
        if (r->active && (roles & ROLE_ADMIN))
            return;
    }
    for (size_t i = 0; i < im->nemps; i++)
        if (im->emps[i].has_login && (im->emps[i].roles & ROLE_ADMIN) && !im->emps[i].archived) {
            problem(im, NONE, 0, -1, "no_admin_left",
                    "after this import nobody active who has a login would hold the admin role",
                    NULL, NULL, NULL);
            return;
        }
    /* there was no active admin with a login before either (a CLI on a bare database) */
}

/* Problems in the order of the files and their lines (the import's own last). */
static int problem_cmp(const void *a, const void *b)
{
    const struct problem *p = a, *q = b;
    if (p->file != q->file)
        return p->file < q->file ? -1 : 1;
    if (p->line != q->line)
        return p->line < q->line ? -1 : 1;
    if (p->column != q->column)
        return p->column < q->column ? -1 : 1;
    return p->message < q->message ? -1 : p->message > q->message;  /* keeps them apart */
}

size_t hrimport_plan(struct hrimport *im)
{
    UTIL_ASSERT(im->snapshot_taken && !im->planned);
    im->planned = 1;
    if (im->nerows + im->ndrows >= PROGRESS_EVERY)
        say_progress(im, "checking", im->nerows + im->ndrows);
    check_files(im);
    check_departments(im);
    link_parents(im);
    check_cycles(im);
    check_employees(im);
    check_managers(im);
    diff_departments(im);
    diff_employees(im);
    check_admin_left(im);
    if (!im->nfiles)
        problem(im, NONE, 0, -1, "no_file", "there is no file to import", NULL, NULL, NULL);
    if (im->nproblems)
        util_sort(im->problems, im->nproblems, sizeof *im->problems, problem_cmp);
    return im->problems_total;
}

size_t hrimport_problems(const struct hrimport *im) { return im->problems_total; }

/* --- counting and the report --------------------------------------------------------------- */

struct counts {
    size_t dept_added, dept_changed, emp_added, emp_changed, emp_moved, emp_deactivated,
        emp_reactivated, changes;
};

static struct counts count(const struct hrimport *im)
{
    struct counts c = {0};
    for (size_t i = 0; i < im->ndrows; i++) {
        const struct drow *r = &im->drows[i];
        if (r->bad || r->node == NONE)
            continue;
        if (im->nodes[r->node].cur == NONE)
            c.dept_added++;
        else if (r->changed)
            c.dept_changed++;
    }
    for (size_t i = 0; i < im->nerows; i++) {
        const struct erow *r = &im->erows[i];
        if (r->bad)
            continue;
        if (r->cur == NONE) {
            c.emp_added++;
            c.changes++;
            continue;
        }
        c.emp_changed += r->changed != 0;
        c.emp_moved += r->moved;
        c.emp_deactivated += r->deactivate;
        c.emp_reactivated += r->reactivate;
        c.changes += r->changed || r->moved || r->deactivate || r->reactivate;
    }
    c.emp_deactivated += im->nmissing;
    c.changes += im->nmissing + c.dept_added + c.dept_changed;
    return c;
}

size_t hrimport_changes(const struct hrimport *im) { return count(im).changes; }

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *jline(size_t line) { return line ? json_integer((json_int_t)line) : json_null(); }

static json_t *change(const char *field, json_t *before, json_t *after)
{
    return json_pack("{s:s, s:o, s:o}", "field", field, "before", before, "after", after);
}

static void push(json_t *arr, json_t *item, size_t limit)
{
    if (!limit || json_array_size(arr) < limit)
        json_array_append_new(arr, item);
    else
        json_decref(item);
}

json_t *hrimport_report(const struct hrimport *im, size_t limit)
{
    struct counts c = count(im);
    json_t *files = json_array();
    for (size_t i = 0; i < im->nfiles; i++) {
        const struct file *f = &im->files[i];
        json_t *ignored = json_array();
        for (size_t k = 0; k < f->nheader; k++) {
            int used = 0;
            for (int col = 0; col < MAX_COLS; col++)
                used |= f->col[col] == (int)k;
            if (!used && f->kind != KIND_UNKNOWN && *f->header[k])
                json_array_append_new(ignored, json_string(f->header[k]));
        }
        char delim[2] = {f->delim, 0};
        json_array_append_new(
            files, json_pack("{s:s, s:s, s:I, s:I, s:s, s:b, s:o}", "name", f->name, "kind",
                             f->kind == KIND_EMPLOYEES     ? "employees"
                             : f->kind == KIND_DEPARTMENTS ? "departments"
                                                           : "unknown",
                             "lines", (json_int_t)f->lines, "rows", (json_int_t)f->rows,
                             "delimiter", f->delim == '\t' ? "tab" : delim, "bom", f->bom,
                             "ignored_columns", ignored));
    }

    json_t *d_added = json_array(), *d_changed = json_array();
    for (size_t i = 0; i < im->ndrows; i++) {
        const struct drow *r = &im->drows[i];
        if (r->bad || r->node == NONE)
            continue;
        const struct node *nd = &im->nodes[r->node];
        if (nd->cur == NONE) {
            push(d_added,
                 json_pack("{s:s, s:s, s:o, s:o, s:I}", "code", r->v[D_CODE], "name",
                           r->v[D_NAME], "parent_code",
                           jstr(r->v[D_PARENT] && *r->v[D_PARENT] ? r->v[D_PARENT] : NULL),
                           "manager_employee_number",
                           jstr(r->v[D_MANAGER] && *r->v[D_MANAGER] ? r->v[D_MANAGER] : NULL),
                           "line", (json_int_t)r->line),
                 limit);
            continue;
        }
        if (!r->changed)
            continue;
        const struct cur_dept *d = &im->depts[nd->cur];
        json_t *ch = json_array();
        if (r->changed & (1u << D_NAME))
            json_array_append_new(ch, change("name", json_string(d->name),
                                             json_string(r->v[D_NAME])));
        if (r->changed & (1u << D_PARENT)) {
            size_t pn = imap_get(&im->node_by_id, d->parent_id);
            json_array_append_new(
                ch, change("parent_code", pn == NONE ? json_null() : jstr(node_code(im, pn)),
                           *r->v[D_PARENT] ? json_string(r->v[D_PARENT]) : json_null()));
        }
        if (r->changed & (1u << D_MANAGER))
            json_array_append_new(
                ch, change("manager_employee_number", jstr(cur_emp_number(im, d->manager_id)),
                           *r->v[D_MANAGER] ? json_string(r->v[D_MANAGER]) : json_null()));
        push(d_changed,
             json_pack("{s:s, s:s, s:I, s:o}", "code", r->v[D_CODE], "name", r->v[D_NAME],
                       "line", (json_int_t)r->line, "changes", ch),
             limit);
    }

    json_t *e_added = json_array(), *e_changed = json_array(), *e_moved = json_array(),
           *e_deact = json_array(), *e_react = json_array(), *e_kept = json_array();
    for (size_t i = 0; i < im->nerows; i++) {
        const struct erow *r = &im->erows[i];
        if (r->bad)
            continue;
        const char *num = r->v[E_NUMBER], *name = r->v[E_NAME];
        if (r->cur == NONE) {
            push(e_added,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:I}", "employee_number", num,
                           "name", name, "email", r->v[E_EMAIL], "department_code",
                           r->v[E_DEPT], "position_title", r->v[E_TITLE] ? r->v[E_TITLE] : "",
                           "roles", auth_roles_json(r->roles), "active", r->active, "line",
                           (json_int_t)r->line),
                 limit);
            continue;
        }
        const struct cur_emp *e = &im->emps[r->cur];
        if (r->changed) {
            json_t *ch = json_array();
            if (r->changed & (1u << E_NAME))
                json_array_append_new(ch, change("name", json_string(e->name), json_string(name)));
            if (r->changed & (1u << E_EMAIL))
                json_array_append_new(ch, change("email", json_string(e->email),
                                                 json_string(r->v[E_EMAIL])));
            if (r->changed & (1u << E_TITLE))
                json_array_append_new(ch, change("position_title", json_string(e->title),
                                                 json_string(r->v[E_TITLE])));
            if (r->changed & (1u << E_ROLES))
                json_array_append_new(ch, change("roles", auth_roles_json(e->roles | ROLE_EMPLOYEE),
                                                 auth_roles_json(r->roles)));
            push(e_changed,
                 json_pack("{s:s, s:s, s:I, s:o}", "employee_number", num, "name", name, "line",
                           (json_int_t)r->line, "changes", ch),
                 limit);
        }
        if (r->moved) {
            size_t from = imap_get(&im->node_by_id, e->dept_id);
            push(e_moved,
                 json_pack("{s:s, s:s, s:I, s:o, s:s, s:o, s:s}", "employee_number", num, "name",
                           name, "line", (json_int_t)r->line, "from",
                           jstr(from == NONE ? NULL : im->depts[im->nodes[from].cur].code), "to",
                           r->v[E_DEPT], "from_name",
                           from == NONE ? json_null() : jstr(im->depts[im->nodes[from].cur].name),
                           "to_name", node_name(im, r->dept_node)),
                 limit);
        }
        if (r->deactivate)
            push(e_deact,
                 json_pack("{s:s, s:s, s:I, s:s}", "employee_number", num, "name", name, "line",
                           (json_int_t)r->line, "reason", "inactive"),
                 limit);
        if (r->reactivate)
            push(e_react,
                 json_pack("{s:s, s:s, s:I}", "employee_number", num, "name", name, "line",
                           (json_int_t)r->line),
                 limit);
    }
    for (size_t i = 0; i < im->nmissing; i++) {
        const struct cur_emp *e = &im->emps[im->missing[i]];
        push(e_deact,
             json_pack("{s:s, s:s, s:n, s:s}", "employee_number", e->number, "name", e->name,
                       "line", "reason", "missing"),
             limit);
    }
    for (size_t i = 0; i < im->nkept; i++) {
        const struct cur_emp *e = &im->emps[im->kept[i]];
        push(e_kept,
             json_pack("{s:s, s:s, s:s}", "employee_number", e->number, "name", e->name,
                       "reason", "admin"),
             limit);
    }

    json_t *problems = json_array();
    for (size_t i = 0; i < im->nproblems; i++) {
        const struct problem *p = &im->problems[i];
        const char *col = p->file != NONE ? column_name(im, p->file, p->column) : NULL;
        json_t *args = json_array();
        for (int k = 0; k < 3 && p->args[k]; k++)
            json_array_append_new(args, json_string(p->args[k]));
        push(problems,
             json_pack("{s:o, s:o, s:o, s:o, s:s, s:s, s:o}", "file",
                       p->file != NONE ? json_string(im->files[p->file].name) : json_null(),
                       "line", jline(p->line), "column", jstr(col), "column_number",
                       col ? json_integer(p->column + 1) : json_null(), "code", p->code,
                       "message", p->message, "args", args),
             limit);
    }
    json_t *summary = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "departments_added",
        (json_int_t)c.dept_added, "departments_changed", (json_int_t)c.dept_changed,
        "employees_added", (json_int_t)c.emp_added, "employees_changed",
        (json_int_t)c.emp_changed, "employees_moved", (json_int_t)c.emp_moved,
        "employees_deactivated", (json_int_t)c.emp_deactivated, "employees_reactivated",
        (json_int_t)c.emp_reactivated, "employees_unchanged", (json_int_t)im->emp_unchanged,
        "employees_kept", (json_int_t)im->nkept, "changes", (json_int_t)c.changes, "problems",
        (json_int_t)im->problems_total);
    return json_pack("{s:b, s:b, s:b, s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o, s:o, s:o, s:o}, "
                     "s:o, s:I}",
                     "dry_run", !im->committed, "committed", im->committed, "full",
                     im->has_employees && !im->partial, "files", files, "summary", summary,
                     "departments", "added", d_added, "changed", d_changed, "employees",
                     "added", e_added, "changed", e_changed, "moved", e_moved, "deactivated",
                     e_deact, "reactivated", e_react, "kept", e_kept, "problems", problems,
                     "problems_total", (json_int_t)im->problems_total);
}

/* --- the commit ---------------------------------------------------------------------------- */

struct touched {
    int64_t *ids;
    size_t n, cap;
};

static void touch(struct touched *t, int64_t id)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->ids = xrealloc(t->ids, t->cap * sizeof *t->ids);
    }
    t->ids[t->n++] = id;
}

/* Runs one statement that must change exactly one row; otherwise the snapshot is stale.
 * 0, -1 (SQLite error, logged) or 1 (stale). */
static int exactly_one(struct db *db, sqlite3_stmt *st)
{
    if (db_exec_stmt(db, st))
        return sqlite3_extended_errcode(db_handle(db)) == SQLITE_CONSTRAINT_UNIQUE ||
                       sqlite3_extended_errcode(db_handle(db)) == SQLITE_CONSTRAINT_FOREIGNKEY
                   ? 1
                   : -1;
    return sqlite3_changes(db_handle(db)) == 1 ? 0 : 1;
}

static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static void bind_id(sqlite3_stmt *st, int col, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(st, col, id);
    else
        sqlite3_bind_null(st, col);
}

/* Inserts node n's department after its parent (depth first), so that a new department is
 * written with its parent at once. */
static int insert_department(struct hrimport *im, struct db *db, size_t n, int depth)
{
    struct node *nd = &im->nodes[n];
    if (nd->id || nd->inserted)
        return 0;
    if (depth > (int)im->nnodes)
        return -1;  /* a cycle: check_cycles refused it already */
    if (nd->parent != NONE && insert_department(im, db, nd->parent, depth + 1))
        return -1;
    const struct drow *r = &im->drows[nd->row];
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO department (name, code, parent_id) VALUES (?, ?, ?)");
    bind_text(st, 1, r->v[D_NAME]);
    bind_text(st, 2, r->v[D_CODE]);
    bind_id(st, 3, nd->parent != NONE ? im->nodes[nd->parent].id : 0);
    int rc = exactly_one(db, st);
    if (rc)
        return rc;
    nd->id = sqlite3_last_insert_rowid(db_handle(db));
    nd->inserted = 1;
    return 0;
}

/* An employee's id after the import, by number: evne's, or the one just inserted. */
static int64_t id_of_number(const struct hrimport *im, const char *num)
{
    size_t e = smap_get(&im->emp_by_number, num);
    if (e != NONE)
        return im->emps[e].id;
    size_t row = smap_get(&im->row_by_number, num);
    return row != NONE ? im->erows[row].id : 0;
}

static int write_all(struct hrimport *im, struct app *a, struct touched *depts,
                     struct touched *emps)
{
    struct db *db = a->db;
    int rc;
    /* 1. new departments, with their parents */
    for (size_t i = 0; i < im->ndrows; i++) {
        const struct drow *r = &im->drows[i];
        if (r->node != NONE && im->nodes[r->node].cur == NONE && !im->nodes[r->node].inserted) {
            if ((rc = insert_department(im, db, r->node, 0)))
                return rc;
        }
    }
    for (size_t n = 0; n < im->nnodes; n++)
        if (im->nodes[n].inserted)
            touch(depts, im->nodes[n].id);
    /* 2. departments that change: name and parent (managers once the employees are in) */
    for (size_t i = 0; i < im->ndrows; i++) {
        const struct drow *r = &im->drows[i];
        const struct node *nd = &im->nodes[r->node];
        if (nd->cur == NONE || !(r->changed & ((1u << D_NAME) | (1u << D_PARENT))))
            continue;
        const struct cur_dept *d = &im->depts[nd->cur];
        sqlite3_stmt *st = db_stmt(db, "UPDATE department SET name = ?1, parent_id = ?2 "
                                       "WHERE id = ?3 AND name IS ?4 AND parent_id IS ?5");
        bind_text(st, 1, r->v[D_NAME]);
        bind_id(st, 2, nd->parent != NONE ? im->nodes[nd->parent].id : 0);
        sqlite3_bind_int64(st, 3, d->id);
        bind_text(st, 4, d->name);
        bind_id(st, 5, d->parent_id);
        if ((rc = exactly_one(db, st)))
            return rc;
        touch(depts, d->id);
    }
    if (im->progress && im->nerows >= PROGRESS_EVERY)
        say_progress(im, "writing", im->nerows);
    /* 3. employees */
    int64_t now = util_now();
    for (size_t i = 0; i < im->nerows; i++) {
        struct erow *r = &im->erows[i];
        int64_t dept = im->nodes[r->dept_node].id;
        if (r->cur == NONE) {
            sqlite3_stmt *st = db_stmt(
                db, "INSERT INTO employee (employee_number, name, email, department_id, "
                    "position_title, roles, archived, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
            bind_text(st, 1, r->v[E_NUMBER]);
            bind_text(st, 2, r->v[E_NAME]);
            bind_text(st, 3, r->v[E_EMAIL]);
            sqlite3_bind_int64(st, 4, dept);
            sqlite3_bind_text(st, 5, r->v[E_TITLE] ? r->v[E_TITLE] : "", -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 6, (int)r->roles);
            sqlite3_bind_int(st, 7, !r->active);
            sqlite3_bind_int64(st, 8, now);
            if ((rc = exactly_one(db, st)))
                return rc;
            r->id = sqlite3_last_insert_rowid(db_handle(db));
            touch(emps, r->id);
            continue;
        }
        const struct cur_emp *e = &im->emps[r->cur];
        r->id = e->id;
        if (!r->changed && !r->moved && !r->deactivate && !r->reactivate)
            continue;
        /* the row as the snapshot read it, or nothing is written */
        sqlite3_stmt *st = db_stmt(
            db, "UPDATE employee SET name = ?2, email = ?3, department_id = ?4, "
                "position_title = ?5, roles = ?6, archived = ?7 WHERE id = ?1 AND name IS ?8 AND "
                "email IS ?9 AND department_id = ?10 AND position_title IS ?11 AND roles = ?12 "
                "AND archived = ?13");
        sqlite3_bind_int64(st, 1, e->id);
        bind_text(st, 2, r->v[E_NAME]);
        bind_text(st, 3, r->v[E_EMAIL]);
        sqlite3_bind_int64(st, 4, dept);
        bind_text(st, 5, r->v[E_TITLE] ? r->v[E_TITLE] : e->title);
        sqlite3_bind_int(st, 6, (int)(r->v[E_ROLES] ? r->roles : e->roles));
        sqlite3_bind_int(st, 7, !r->active);
        bind_text(st, 8, e->name);
        bind_text(st, 9, e->email);
        sqlite3_bind_int64(st, 10, e->dept_id);
        bind_text(st, 11, e->title);
        sqlite3_bind_int(st, 12, (int)e->roles);
        sqlite3_bind_int(st, 13, e->archived);
        if ((rc = exactly_one(db, st)))
            return rc;
        touch(emps, e->id);
    }
    /* 4. people the file lacks */
    for (size_t i = 0; i < im->nmissing; i++) {
        const struct cur_emp *e = &im->emps[im->missing[i]];
        sqlite3_stmt *st = db_stmt(db, "UPDATE employee SET archived = 1 WHERE id = ? AND "
                                       "archived = 0");
        sqlite3_bind_int64(st, 1, e->id);
        if ((rc = exactly_one(db, st)))
            return rc;
        touch(emps, e->id);
    }
    /* 5. a deactivated person's sessions end with the change, as archiving one does (org.c) */
    for (size_t i = 0; i < emps->n; i++) {
        size_t e = imap_get(&im->emp_by_id, emps->ids[i]);
        int archived_now = e != NONE && (im->emps[e].row == NONE
                                             ? 1
                                             : !im->erows[im->emps[e].row].active);
        if (!archived_now || im->emps[e].archived)
            continue;
        if (auth_tokens_revoke_all(db, emps->ids[i]))
            return -1;
    }
    /* 6. managers, now that everyone has an id */
    for (size_t i = 0; i < im->ndrows; i++) {
        const struct drow *r = &im->drows[i];
        const struct node *nd = &im->nodes[r->node];
        int isnew = nd->cur == NONE;
        if (!r->v[D_MANAGER] || (!isnew && !(r->changed & (1u << D_MANAGER))) ||
            (isnew && !*r->v[D_MANAGER]))
            continue;
        int64_t manager = *r->v[D_MANAGER] ? id_of_number(im, r->v[D_MANAGER]) : 0;
        sqlite3_stmt *st = db_stmt(db, "UPDATE department SET manager_id = ?1 WHERE id = ?2 AND "
                                       "manager_id IS ?3");
        bind_id(st, 1, manager);
        sqlite3_bind_int64(st, 2, nd->id);
        bind_id(st, 3, isnew ? 0 : im->depts[nd->cur].manager_id);
        if ((rc = exactly_one(db, st)))
            return rc;
        touch(depts, nd->id);
    }
    /* 7. the audit trail's own entry for the import as a whole */
    struct counts c = count(im);
    char *detail = xasprintf(
        "{\"files\":%zu,\"full\":%s,\"departments_added\":%zu,\"departments_changed\":%zu,"
        "\"employees_added\":%zu,\"employees_changed\":%zu,\"employees_moved\":%zu,"
        "\"employees_deactivated\":%zu,\"employees_reactivated\":%zu,\"changes\":%zu}",
        im->nfiles, im->has_employees && !im->partial ? "true" : "false", c.dept_added,
        c.dept_changed, c.emp_added, c.emp_changed, c.emp_moved, c.emp_deactivated,
        c.emp_reactivated, c.changes);
    rc = audit_note(db, "import", "import", 0, 0, detail);
    free(detail);
    return rc ? -1 : 0;
}

int hrimport_commit(struct hrimport *im, struct app *a, int *status, char **err)
{
    UTIL_ASSERT(im->planned && !im->committed);
    if (im->problems_total) {
        *status = 422;
        *err = xasprintf("the files have %zu problems; nothing was written", im->problems_total);
        return -1;
    }
    if (db_begin(a->db)) {
        *status = 500;
        *err = xstrdup("cannot start a transaction; see the server log");
        return -1;
    }
    struct touched depts = {0}, emps = {0};
    int rc = write_all(im, a, &depts, &emps);
    if (rc == 0 && db_commit(a->db))
        rc = -1;
    if (rc) {
        db_rollback(a->db);
        /* the ids handed out inside the rolled-back transaction mean nothing */
        for (size_t n = 0; n < im->nnodes; n++)
            if (im->nodes[n].inserted) {
                im->nodes[n].inserted = 0;
                im->nodes[n].id = 0;
            }
        free(depts.ids);
        free(emps.ids);
        *status = rc > 0 ? 409 : 500;
        *err = xstrdup(rc > 0 ? "the organisation changed while the file was being checked; "
                                "nothing was written: import the file again"
                              : "the import could not be written; nothing was; see the server log");
        return -1;
    }
    im->committed = 1;
    if (a->gap) {
        if (depts.n + emps.n >= PROGRESS_EVERY)
            say_progress(im, "updating the gap index", depts.n + emps.n);
        for (size_t i = 0; i < depts.n; i++)
            gap_reload_department(a->gap, a->db, depts.ids[i]);
        for (size_t i = 0; i < emps.n; i++)
            gap_reload_employee(a->gap, a->db, emps.ids[i]);
    }
    /* roles, managers and archived people: cached sessions are checked again */
    a->generation++;
    free(depts.ids);
    free(emps.ids);
    return 0;
}

/* --- the routes' body limit ---------------------------------------------------------------- */

size_t hrimport_body_limit(const char *method, const char *target)
{
    static const char *const routes[] = {"/api/v1/admin/import", "/admin/import"};
    if (strcmp(method, "POST") != 0)
        return 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i]);
        if (!strncmp(target, routes[i], n) && (target[n] == '\0' || target[n] == '?'))
            return HRIMPORT_MAX_BYTES;
    }
    return 0;
}

/* --- evne import ----------------------------------------------------------------------------- */

const char hrimport_usage[] =
    "usage: evne import --db PATH [--dry-run] [--partial] [--json] FILE...\n"
    "\n"
    "Imports the organisation from the HR system's CSV files: at most one departments file\n"
    "(avdelingskode/code, navn/name, overordnet/parent_code, leder/manager_employee_number) and\n"
    "one employees file (ansattnummer/employee_number, navn/name, epost/email,\n"
    "avdelingskode/department_code, stilling/position_title, roller/roles, aktiv/active); the\n"
    "header line tells which is which. UTF-8 with or without a BOM, separated by semicolons,\n"
    "commas or tabs. Departments are matched on code, employees on employee number, so\n"
    "importing the same files again changes nothing.\n"
    "\n"
    "Every line is checked first; the import is written, in one transaction, only when all of\n"
    "them are good. The report lists what is (or would be) added, changed, moved, deactivated and\n"
    "reactivated, and every problem with its file, line, column and reason.\n"
    "  --dry-run   check and show the changes; write nothing\n"
    "  --partial   leave employees the file does not list as they are (by default an import\n"
    "              with an employees file deactivates them, admins excepted)\n"
    "  --json      the report as JSON, as POST /api/v1/admin/import answers it\n"
    "Progress goes to stderr every 10,000 lines. Exit status: 0 imported (with --dry-run: no\n"
    "problems), 1 problems found and nothing written, 2 bad usage or an unreadable file or\n"
    "database. While `evne serve` runs on the database, import through the admin page or the\n"
    "API instead: a running server learns of another process's changes only when restarted.\n";

static void cli_progress(void *ctx, const char *what, size_t lines)
{
    (void)ctx;
    fprintf(stderr, "evne import: %s: %zu %s\n", what, lines,
            !strcmp(what, "checking") || !strcmp(what, "writing") ? "rows"
            : !strcmp(what, "updating the gap index") ? "entities" : "lines read");
}

static int read_all(const char *path, struct buf *out)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    return bad ? -1 : 0;
}

static const char *js(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_int_t ji(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* Lists one of the report's lists, at most `shown` lines. */
static void print_list(const json_t *items, const char *title, size_t total,
                       void (*line)(const json_t *item))
{
    if (!json_array_size(items))
        return;
    printf("%s:\n", title);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) line(item);
    if (total > json_array_size(items))
        printf("  ... and %zu more (--json lists them all)\n", total - json_array_size(items));
}

static void print_changes(const json_t *changes)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c) {
        char *before = json_dumps(json_object_get(c, "before"), JSON_ENCODE_ANY),
             *after = json_dumps(json_object_get(c, "after"), JSON_ENCODE_ANY);
        printf("%s%s: %s -> %s", i ? ", " : " (", js(c, "field"), before, after);
        free(before);
        free(after);
    }
    printf(")\n");
}

static void line_dept_added(const json_t *d)
{
    printf("  + %s %s (line %lld)\n", js(d, "code"), js(d, "name"), (long long)ji(d, "line"));
}
static void line_dept_changed(const json_t *d)
{
    printf("  ~ %s %s (line %lld)", js(d, "code"), js(d, "name"), (long long)ji(d, "line"));
    print_changes(json_object_get(d, "changes"));
}
static void line_emp_added(const json_t *e)
{
    printf("  + %s %s, %s (line %lld)\n", js(e, "employee_number"), js(e, "name"),
           js(e, "department_code"), (long long)ji(e, "line"));
}
static void line_emp_changed(const json_t *e)
{
    printf("  ~ %s %s (line %lld)", js(e, "employee_number"), js(e, "name"),
           (long long)ji(e, "line"));
    print_changes(json_object_get(e, "changes"));
}
static void line_emp_moved(const json_t *e)
{
    printf("  > %s %s: %s -> %s (line %lld)\n", js(e, "employee_number"), js(e, "name"),
           json_is_null(json_object_get(e, "from")) ? js(e, "from_name") : js(e, "from"),
           js(e, "to"), (long long)ji(e, "line"));
}
static void line_emp_deactivated(const json_t *e)
{
    if (json_is_null(json_object_get(e, "line")))
        printf("  - %s %s (not in the file)\n", js(e, "employee_number"), js(e, "name"));
    else
        printf("  - %s %s (inactive on line %lld)\n", js(e, "employee_number"), js(e, "name"),
               (long long)ji(e, "line"));
}
static void line_emp_reactivated(const json_t *e)
{
    printf("  ^ %s %s (line %lld)\n", js(e, "employee_number"), js(e, "name"),
           (long long)ji(e, "line"));
}
static void line_emp_kept(const json_t *e)
{
    printf("  = %s %s (not in the file, holds the admin role)\n", js(e, "employee_number"),
           js(e, "name"));
}
static void line_problem(const json_t *p)
{
    printf("  %s", json_is_null(json_object_get(p, "file")) ? "the import" : js(p, "file"));
    if (!json_is_null(json_object_get(p, "line")))
        printf(" line %lld", (long long)ji(p, "line"));
    if (!json_is_null(json_object_get(p, "column")))
        printf(", column %s", js(p, "column"));
    printf(": %s\n", js(p, "message"));
}

static void print_report(const json_t *rep)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(rep, "files"), i, f) {
        printf("%s: %s, %lld rows, separator %s, %s", js(f, "name"), js(f, "kind"),
               (long long)ji(f, "rows"), js(f, "delimiter"),
               json_is_true(json_object_get(f, "bom")) ? "with BOM" : "no BOM");
        const json_t *ign = json_object_get(f, "ignored_columns");
        size_t k;
        json_t *c;
        json_array_foreach(ign, k, c) printf("%s%s", k ? ", " : "; ignored columns: ",
                                             json_string_value(c));
        printf("\n");
    }
    const json_t *s = json_object_get(rep, "summary");
    printf("departments: %lld added, %lld changed\n", (long long)ji(s, "departments_added"),
           (long long)ji(s, "departments_changed"));
    printf("employees: %lld added, %lld changed, %lld moved, %lld deactivated, %lld reactivated, "
           "%lld unchanged, %lld admins kept\n",
           (long long)ji(s, "employees_added"), (long long)ji(s, "employees_changed"),
           (long long)ji(s, "employees_moved"), (long long)ji(s, "employees_deactivated"),
           (long long)ji(s, "employees_reactivated"), (long long)ji(s, "employees_unchanged"),
           (long long)ji(s, "employees_kept"));
    const json_t *d = json_object_get(rep, "departments"), *e = json_object_get(rep, "employees");
    print_list(json_object_get(d, "added"), "departments added",
               (size_t)ji(s, "departments_added"), line_dept_added);
    print_list(json_object_get(d, "changed"), "departments changed",
               (size_t)ji(s, "departments_changed"), line_dept_changed);
    print_list(json_object_get(e, "added"), "employees added", (size_t)ji(s, "employees_added"),
               line_emp_added);
    print_list(json_object_get(e, "changed"), "employees changed",
               (size_t)ji(s, "employees_changed"), line_emp_changed);
    print_list(json_object_get(e, "moved"), "employees moved", (size_t)ji(s, "employees_moved"),
               line_emp_moved);
    print_list(json_object_get(e, "deactivated"), "employees deactivated",
               (size_t)ji(s, "employees_deactivated"), line_emp_deactivated);
    print_list(json_object_get(e, "reactivated"), "employees reactivated",
               (size_t)ji(s, "employees_reactivated"), line_emp_reactivated);
    print_list(json_object_get(e, "kept"), "admins kept active",
               (size_t)ji(s, "employees_kept"), line_emp_kept);
    char title[64];
    snprintf(title, sizeof title, "problems (%lld)", (long long)ji(rep, "problems_total"));
    print_list(json_object_get(rep, "problems"), title, (size_t)ji(rep, "problems_total"),
               line_problem);
}

int hrimport_main(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"dry-run", no_argument, 0, 'n'},
                                         {"partial", no_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    int dry_run = 0, partial = 0, as_json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'n': dry_run = 1; break;
        case 'p': partial = 1; break;
        case 'j': as_json = 1; break;
        default:
            fprintf(stderr, "evne: unknown or incomplete option '%s'\n\n%s", argv[optind - 1],
                    hrimport_usage);
            return 2;
        }
    }
    if (!path || optind >= argc) {
        fprintf(stderr, "evne: %s\n\n%s", path ? "name at least one FILE" : "--db is needed",
                hrimport_usage);
        return 2;
    }
    struct db *db;
    char *err = NULL;
    if (db_open(path, 0, &db, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        return 2;
    }
    struct hrimport *im = hrimport_new(partial);
    hrimport_set_progress(im, cli_progress, NULL);
    int rc = 2;
    if (hrimport_snapshot(im, db)) {
        fprintf(stderr, "evne: cannot read the organisation from %s\n", path);
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        struct buf text = {0};
        if (read_all(argv[i], &text)) {
            fprintf(stderr, "evne: cannot read %s\n", argv[i]);
            buf_free(&text);
            goto out;
        }
        const char *slash = strrchr(argv[i], '/');
        hrimport_add_file(im, slash ? slash + 1 : argv[i], text.data ? text.data : "", text.len);
        buf_free(&text);
    }
    hrimport_plan(im);
    int status = 0;
    char *why = NULL;
    if (!dry_run && !hrimport_problems(im)) {
        struct app a = {.db = db};
        if (hrimport_commit(im, &a, &status, &why)) {
            fprintf(stderr, "evne: %s\n", why);
            free(why);
            goto out;
        }
    }
    json_t *rep = hrimport_report(im, as_json ? 0 : 20);
    if (as_json) {
        json_dumpf(rep, stdout, JSON_INDENT(1));
        printf("\n");
    } else {
        print_report(rep);
    }
    json_decref(rep);
    size_t changes = hrimport_changes(im);
    if (hrimport_problems(im)) {
        fprintf(stderr, "evne import: nothing written: %zu problems\n", hrimport_problems(im));
        rc = 1;
    } else if (dry_run) {
        fprintf(stderr, "evne import: dry run: %zu changes would be made; nothing written\n",
                changes);
        rc = 0;
    } else {
        fprintf(stderr, "evne import: %zu changes written\n", changes);
        rc = 0;
    }
out:
    hrimport_free(im);
    db_close(db);
    return rc;
}
