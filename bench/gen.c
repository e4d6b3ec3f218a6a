/* evne-gen: writes a deterministic synthetic organisation for the benchmarks.
 *
 *   evne-gen --employees N --db PATH [--seed S]
 *
 * The database is created through db_open (so it has exactly the server's schema) and filled with
 * plain SQL through prepared statements, in a few big transactions. The same N and seed always
 * give the same rows. Besides the ordinary shape (a department tree of 3-4 levels, 40 systems,
 * about 140 profiles, 1-4 profiles per employee, about two assessments per demanded pair, 15% of
 * demanded pairs unassessed) it plants the cases the gap semantics must get right, so that the
 * benchmark's check of the index against SQL means something: employees holding two profiles of
 * one system (required is their maximum), assessments recorded out of time order and with equal
 * times (the later record wins), assessments of requirements nobody demands, and a few archived
 * employees, requirements and profiles (which take no part).
 *
 * Employee 1 is the admin login `bench` with password `bench`.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "db.h"
#include "util.h"

/* Every time in the data is measured back from this instant (2026-01-01T00:00:00Z), never from
 * the clock, so that the same seed gives the same file. */
#define BASE_TIME 1767225600LL
#define YEAR (365LL * 86400)

#define NSYSTEMS 40
#define MAX_REQS 15
#define MAX_TIERS 4

/* --- deterministic randomness (splitmix64) -------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int64_t rnd_below(int64_t n) { return n <= 1 ? 0 : (int64_t)(rnd() % (uint64_t)n); }
static double rnd_unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static int chance(double p) { return rnd_unit() < p; }

/* An index drawn from weights w[0..n). */
static int rnd_weighted(const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = rnd_unit() * total;
    for (int i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- names ------------------------------------------------------------------------------------ */

static const char *const first_names[] = {
    "Anne", "Kari", "Ingrid", "Marit", "Liv", "Eva", "Hanne", "Silje", "Nora", "Ida", "Sofie",
    "Emma", "Maja", "Tone", "Randi", "Solveig", "Åse", "Bjørg", "Hege", "Kristin", "Mette", "Tove",
    "Ole", "Lars", "Per", "Jan", "Knut", "Arne", "Bjørn", "Geir", "Terje", "Trond", "Hans",
    "Magnus", "Jonas", "Emil", "Henrik", "Sindre", "Øystein", "Eirik", "Håkon", "Kjetil", "Rune",
    "Frode", "Stian", "Aleksander", "Mohammed", "Fatima", "Piotr", "Agnieszka", "Ahmed", "Leyla",
};
static const char *const last_names[] = {
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
    "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen",
    "Lund", "Sørensen", "Jakobsen", "Moen", "Gundersen", "Iversen", "Strand", "Solberg",
    "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken", "Kristoffersen", "Mathisen",
    "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde", "Solheim", "Berge", "Moe", "Nygård",
    "Bakke", "Kowalski", "Haugland", "Aas", "Myhre", "Holm", "Ødegård", "Vik", "Fossum",
};
#define NFIRST ((int)(sizeof first_names / sizeof first_names[0]))
#define NLAST ((int)(sizeof last_names / sizeof last_names[0]))

static const char *const system_names[NSYSTEMS] = {
    "Grunnleggende PC-bruk", "Outlook", "Teams", "Word", "Excel", "PowerPoint", "SharePoint",
    "OneDrive", "Gerica", "Profil", "CosDoc", "DIPS", "Visma Enterprise", "Visma Flyt Skole",
    "Visma Flyt Barnehage", "Public 360", "Elements", "Acos WebSak", "Unit4 ERP", "Compilo",
    "Familia", "Extens", "IST Everyday", "Vigilo", "Socio", "Kommuneforlaget Bedrift", "ArcGIS",
    "Gemini Portal", "Infoland", "Questback", "Min side", "Digipost", "SvarUt", "eByggeSak",
    "Noark-arkiv", "Medisinsk avstandsoppfølging", "Alarmsentral", "Tiltaksplan", "Vaktplan (GAT)",
    "Personvern og informasjonssikkerhet",
};

static const char *const verbs[] = {
    "log in and find", "search for", "register", "update", "correct", "print", "export",
    "share", "archive", "approve", "report on", "set up", "explain to colleagues how to handle",
    "find the history of", "delegate", "sign", "plan", "close",
};
static const char *const objects[] = {
    "a client's records", "a case", "a journal note", "a message", "a document", "a report",
    "a schedule", "an invoice", "an absence", "a task list", "a decision letter",
    "access rights", "a template", "a deviation", "a map layer", "a form", "a meeting",
};
#define NVERBS ((int)(sizeof verbs / sizeof verbs[0]))
#define NOBJECTS ((int)(sizeof objects / sizeof objects[0]))

/* An ASCII e-mail local part from a name in UTF-8 (æ -> ae, ø -> o, å -> a, others dropped). */
static void ascii_lower(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 3 < cap; p++) {
        if (*p < 0x80) {
            if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
                out[n++] = (char)(*p | 0x20);
        } else if (*p == 0xc3 && p[1]) {
            p++;
            switch (*p | 0x20) {
            case 0xa6: out[n++] = 'a'; out[n++] = 'e'; break;   /* æ Æ */
            case 0xb8: out[n++] = 'o'; break;                   /* ø Ø */
            case 0xa5: out[n++] = 'a'; break;                   /* å Å */
            default: break;
            }
        }
    }
    out[n] = 0;
}

/* --- the generator ---------------------------------------------------------------------------- */

struct system {
    int64_t id;
    int nreqs;
    int64_t req_id[MAX_REQS];
    int archived_req[MAX_REQS];
    int ntiers;
    int64_t profile_id[MAX_TIERS];            /* by tier 0..ntiers-1 */
    int level[MAX_TIERS][MAX_REQS];
    double popularity;
};

struct counts {
    int64_t departments, employees, archived_employees, systems, requirements, archived_reqs,
        profiles, archived_profiles, profile_levels, assignments, demanded, unassessed, assessments;
};

static struct db *g_db;
static struct counts cnt;

static void die_sql(const char *what)
{
    fprintf(stderr, "evne-gen: sqlite error %d (%s) while %s\n",
            sqlite3_extended_errcode(db_handle(g_db)), sqlite3_errmsg(db_handle(g_db)), what);
    exit(1);
}

static void exec_or_die(const char *sql)
{
    if (db_exec(g_db, sql))
        exit(1);
}

static void step_or_die(sqlite3_stmt *st)
{
    if (db_exec_stmt(g_db, st))
        exit(1);
}

static void begin(void)
{
    exec_or_die("BEGIN");
}

static void commit(void)
{
    exec_or_die("COMMIT");
}

/* The bulk-loaded tables lose their secondary indexes while loading and get them back by their own
 * CREATE statements afterwards: building an index by sorting is far faster than inserting into
 * it row by row in random order (assessment_requirement at 500,000 employees). Indexes behind
 * UNIQUE and PRIMARY KEY constraints have no SQL and stay. */
static char **saved_index_sql;
static size_t nsaved_index_sql;

static void drop_indexes(const char *const *tables, int ntables)
{
    sqlite3 *h = db_handle(g_db);
    for (int t = 0; t < ntables; t++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h,
                               "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                               "tbl_name = ?1 AND sql IS NOT NULL",
                               -1, &st, NULL) != SQLITE_OK)
            die_sql("listing indexes");
        sqlite3_bind_text(st, 1, tables[t], -1, SQLITE_STATIC);
        char **names = NULL;
        size_t nnames = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            saved_index_sql = xrealloc(saved_index_sql, (nsaved_index_sql + 1) * sizeof(char *));
            saved_index_sql[nsaved_index_sql++] = xstrdup(db_text(st, 1));
            names = xrealloc(names, (nnames + 1) * sizeof(char *));
            names[nnames++] = xstrdup(db_text(st, 0));
        }
        sqlite3_finalize(st);
        for (size_t i = 0; i < nnames; i++) {
            char *sql = xasprintf("DROP INDEX \"%s\"", names[i]);
            exec_or_die(sql);
            free(sql);
            free(names[i]);
        }
        free(names);
    }
}

static void restore_indexes(void)
{
    for (size_t i = 0; i < nsaved_index_sql; i++) {
        exec_or_die(saved_index_sql[i]);
        free(saved_index_sql[i]);
    }
    free(saved_index_sql);
    saved_index_sql = NULL;
    nsaved_index_sql = 0;
}

/* --- departments ------------------------------------------------------------------------------ */

struct dept {
    int64_t parent;          /* index into depts, -1 for the root */
    int level;               /* 1 = the municipality */
    int children;
    double weight;           /* how many employees it draws */
    int systems[6];          /* systems in use (indexes) */
    int nsystems;
    int64_t manager;         /* employee id or 0 */
};

static struct dept *depts;
static int64_t ndepts;

static const char *const sector_names[] = {
    "Helse og omsorg", "Oppvekst", "Teknisk", "Kultur", "Økonomi", "Personal", "Samfunnsutvikling",
    "NAV kommune", "IKT", "Eiendom", "Plan og bygg", "Miljø", "Barnevern", "Skole", "Barnehage",
    "Sykehjem", "Hjemmetjenester", "Rus og psykiatri", "Innkjøp", "Servicetorg",
};
#define NSECTORS_MAX ((int)(sizeof sector_names / sizeof sector_names[0]))

static void make_departments(int64_t nemployees, const struct system *sys)
{
    int64_t want = nemployees / 25;
    if (want < 8)
        want = 8;
    int nsectors = 3;
    while (nsectors < NSECTORS_MAX && (int64_t)nsectors * nsectors * nsectors < want)
        nsectors++;
    int64_t nunits = (want - 1 - nsectors) * 2 / 5;
    if (nunits < nsectors)
        nunits = nsectors;
    int64_t nteams = want - 1 - nsectors - nunits;
    if (nteams < 0)
        nteams = 0;
    ndepts = 1 + nsectors + nunits + nteams;
    depts = xcalloc((size_t)ndepts, sizeof *depts);

    depts[0] = (struct dept){.parent = -1, .level = 1};
    int64_t k = 1;
    for (int i = 0; i < nsectors; i++, k++)
        depts[k] = (struct dept){.parent = 0, .level = 2};
    int64_t first_unit = k;
    for (int64_t i = 0; i < nunits; i++, k++) {
        /* the first units go one to each sector, so that every sector has some */
        int64_t parent = i < nsectors ? 1 + i : 1 + rnd_below(nsectors);
        depts[k] = (struct dept){.parent = parent, .level = 3};
    }
    for (int64_t i = 0; i < nteams; i++, k++) {
        int64_t parent = first_unit + rnd_below(nunits);
        depts[k] = (struct dept){.parent = parent, .level = 4};
    }
    for (int64_t i = 1; i < ndepts; i++)
        depts[depts[i].parent].children++;

    /* Staff sit mostly in leaves; sector and unit offices have a few; the chief's office fewer. */
    double sys_weight[NSYSTEMS];
    for (int s = 0; s < NSYSTEMS; s++)
        sys_weight[s] = sys[s].popularity;
    for (int64_t i = 0; i < ndepts; i++) {
        struct dept *d = &depts[i];
        d->weight = d->children ? (d->level == 1 ? 0.3 : 0.15) : 0.5 + rnd_unit();
        /* Systems in use: the department's own choice, drawn by popularity; a leaf inherits some
         * of its parent's. */
        d->nsystems = 3 + (int)rnd_below(4);
        for (int j = 0; j < d->nsystems; j++) {
            int s;
            int again;
            do {
                if (j < 2 && d->parent >= 0 && depts[d->parent].nsystems > j && chance(0.6))
                    s = depts[d->parent].systems[j];
                else
                    s = rnd_weighted(sys_weight, NSYSTEMS);
                again = 0;
                for (int m = 0; m < j; m++)
                    again |= d->systems[m] == s;
            } while (again);
            d->systems[j] = s;
        }
    }

    sqlite3_stmt *st = db_stmt(g_db, "INSERT INTO department (id, name, parent_id, code) "
                                     "VALUES (?1, ?2, ?3, ?4)");
    for (int64_t i = 0; i < ndepts; i++) {
        char name[160], code[32];
        const struct dept *d = &depts[i];
        switch (d->level) {
        case 1: snprintf(name, sizeof name, "Bench kommune"); break;
        case 2: snprintf(name, sizeof name, "%s", sector_names[(i - 1) % NSECTORS_MAX]); break;
        case 3: snprintf(name, sizeof name, "%s, avdeling %lld", sector_names[(d->parent - 1) % NSECTORS_MAX],
                         (long long)i); break;
        default: snprintf(name, sizeof name, "Team %lld (avdeling %lld)", (long long)i,
                          (long long)d->parent); break;
        }
        snprintf(code, sizeof code, "D%06lld", (long long)(i + 1));
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, i + 1);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        if (d->parent >= 0)
            sqlite3_bind_int64(st, 3, d->parent + 1);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 4, code, -1, SQLITE_TRANSIENT);
        step_or_die(st);
    }
    cnt.departments = ndepts;
}

/* --- the catalogue ---------------------------------------------------------------------------- */

static void make_catalogue(struct system *sys)
{
    sqlite3_stmt *ins_sys = db_stmt(g_db, "INSERT INTO system (id, name, description) VALUES (?1, ?2, ?3)");
    sqlite3_stmt *ins_req = db_stmt(g_db, "INSERT INTO requirement (id, system_id, text, position, archived) "
                                          "VALUES (?1, ?2, ?3, ?4, ?5)");
    sqlite3_stmt *ins_prof = db_stmt(g_db, "INSERT INTO profile (id, name, system_id, description, archived) "
                                           "VALUES (?1, ?2, ?3, ?4, ?5)");
    sqlite3_stmt *ins_level = db_stmt(g_db, "INSERT INTO profile_level (profile_id, requirement_id, level) "
                                            "VALUES (?1, ?2, ?3)");
    static const char *const tier_names[MAX_TIERS] = {"grunnleggende", "bruker", "avansert", "superbruker"};
    int64_t req_id = 0, prof_id = 0;
    for (int s = 0; s < NSYSTEMS; s++) {
        struct system *y = &sys[s];
        y->id = s + 1;
        /* A few systems everyone uses (PC, mail, Teams), a long tail of specialist ones. */
        y->popularity = s < 3 ? 8.0 : 3.0 / (1.0 + 0.15 * s);
        y->nreqs = 12 + (int)rnd_below(4);
        y->ntiers = s % 2 ? 4 : 3;                        /* 20 x 3 + 20 x 4 = 140 profiles */
        sqlite3_reset(ins_sys);
        sqlite3_bind_int64(ins_sys, 1, y->id);
        sqlite3_bind_text(ins_sys, 2, system_names[s], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_sys, 3, "Generated by evne-gen", -1, SQLITE_STATIC);
        step_or_die(ins_sys);
        cnt.systems++;

        double difficulty[MAX_REQS];
        for (int r = 0; r < y->nreqs; r++) {
            char text[256];
            y->req_id[r] = ++req_id;
            /* One requirement in each eighth system is archived; it takes no part. */
            y->archived_req[r] = s % 8 == 5 && r == 3;
            snprintf(text, sizeof text, "%s: %s %s", system_names[s], verbs[rnd_below(NVERBS)],
                     objects[rnd_below(NOBJECTS)]);
            sqlite3_reset(ins_req);
            sqlite3_bind_int64(ins_req, 1, y->req_id[r]);
            sqlite3_bind_int64(ins_req, 2, y->id);
            sqlite3_bind_text(ins_req, 3, text, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(ins_req, 4, r + 1);
            sqlite3_bind_int(ins_req, 5, y->archived_req[r]);
            step_or_die(ins_req);
            cnt.requirements++;
            cnt.archived_reqs += y->archived_req[r];
            /* Later requirements are the harder ones, with noise. */
            difficulty[r] = (double)r / y->nreqs + 0.35 * (rnd_unit() - 0.5);
        }
        for (int t = 0; t < y->ntiers; t++) {
            char name[160];
            int archived = (s == 9 && t == 0) || (s == 22 && t == 2);
            y->profile_id[t] = ++prof_id;
            snprintf(name, sizeof name, "%s %d (%s)", system_names[s], t + 1, tier_names[t]);
            sqlite3_reset(ins_prof);
            sqlite3_bind_int64(ins_prof, 1, y->profile_id[t]);
            sqlite3_bind_text(ins_prof, 2, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins_prof, 3, y->id);
            sqlite3_bind_text(ins_prof, 4, "Generated by evne-gen", -1, SQLITE_STATIC);
            sqlite3_bind_int(ins_prof, 5, archived);
            step_or_die(ins_prof);
            cnt.profiles++;
            cnt.archived_profiles += archived;
            int nonzero = 0;
            for (int r = 0; r < y->nreqs; r++) {
                /* Tier t reaches requirements up to a difficulty; the easy ones at higher levels. */
                double reach = (t + 1.0) / (y->ntiers + 0.5);
                int level = 0;
                if (difficulty[r] < reach)
                    level = 1 + (int)((reach - difficulty[r]) * 5.0 + rnd_unit() * 1.2);
                if (level > 4)
                    level = 4;
                if (level > 0 && chance(0.12))
                    level = 0;            /* this tier happens not to ask for it */
                if (r == y->nreqs - 1 && !nonzero && level == 0)
                    level = 1;            /* every profile demands something */
                nonzero += level > 0;
                y->level[t][r] = level;
                sqlite3_reset(ins_level);
                sqlite3_bind_int64(ins_level, 1, y->profile_id[t]);
                sqlite3_bind_int64(ins_level, 2, y->req_id[r]);
                sqlite3_bind_int(ins_level, 3, level);
                step_or_die(ins_level);
                cnt.profile_levels++;
            }
        }
    }
}

/* --- employees, assignments, assessments --------------------------------------------------- */

static const char *const sources[] = {"self", "appraisal", "course", "test"};

static void insert_assessment(sqlite3_stmt *st, int64_t employee, int64_t requirement, int level,
                              const char *source, int64_t at, int64_t by)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, employee);
    sqlite3_bind_int64(st, 2, requirement);
    sqlite3_bind_int(st, 3, level);
    sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, at);
    if (by)
        sqlite3_bind_int64(st, 6, by);
    else
        sqlite3_bind_null(st, 6);
    step_or_die(st);
    cnt.assessments++;
}

struct history {
    int level;
    const char *source;
    int64_t at;
};

/* The assessments of one pair: a self-assessment first, then appraisals, courses and tests, with
 * levels that mostly rise over time towards (and sometimes past) what is required. */
static void assess_pair(sqlite3_stmt *st, int64_t employee, int64_t requirement, int required,
                        int64_t manager)
{
    static const double nweights[] = {0.20, 0.35, 0.35, 0.10};   /* 1, 2, 3, 4 records: mean 2.35 */
    int n = 1 + rnd_weighted(nweights, 4);
    struct history h[4];
    int64_t at = BASE_TIME - 3 * YEAR + rnd_below(2 * YEAR);
    static const double delta_w[] = {0.06, 0.14, 0.30, 0.38, 0.12};  /* final: required -3..+1 */
    int final = required - 3 + rnd_weighted(delta_w, 5);
    if (final < 0)
        final = 0;
    if (final > 4)
        final = 4;
    int level = final - (n - 1) / 2 - (int)rnd_below(2);
    if (level < 0)
        level = 0;
    for (int i = 0; i < n; i++) {
        h[i].level = i == n - 1 ? final : level;
        h[i].source = i == 0 ? "self" : sources[rnd_below(4)];
        h[i].at = at;
        at += 86400 + rnd_below(YEAR / 3);
        if (level < final && chance(0.7))
            level++;
    }
    /* Equal times: the later record must win. */
    if (n >= 2 && chance(0.04)) {
        h[n - 1].at = h[n - 2].at;
        if (h[n - 1].level == h[n - 2].level)
            h[n - 2].level = h[n - 1].level > 0 ? h[n - 1].level - 1 : 1;
    }
    /* Recorded out of order (a course's results registered late): time decides, not the id. */
    if (n >= 2 && chance(0.10)) {
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rnd_below(i + 1);
            struct history t = h[i];
            h[i] = h[j];
            h[j] = t;
        }
    }
    for (int i = 0; i < n; i++)
        insert_assessment(st, employee, requirement, h[i].level, h[i].source, h[i].at,
                          strcmp(h[i].source, "appraisal") == 0 ? manager : 0);
}

static void make_people(int64_t nemployees, struct system *sys)
{
    /* Departments drawn by weight through a cumulative table. */
    double *cum = xmalloc((size_t)ndepts * sizeof *cum);
    double total = 0;
    for (int64_t i = 0; i < ndepts; i++)
        cum[i] = (total += depts[i].weight);

    char *hash = xmalloc(crypto_pwhash_STRBYTES);
    if (crypto_pwhash_str_alg(hash, "bench", 5, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13)) {
        fprintf(stderr, "evne-gen: out of memory hashing the password\n");
        exit(1);
    }

    static const char *const tables[] = {"employee", "assignment", "assessment"};
    drop_indexes(tables, 3);

    sqlite3_stmt *ins_emp = db_stmt(g_db,
        "INSERT INTO employee (id, employee_number, name, email, department_id, login, "
        "password_hash, roles, archived, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    sqlite3_stmt *ins_asg = db_stmt(g_db,
        "INSERT INTO assignment (employee_id, profile_id, assigned_at, assigned_by) VALUES (?1, ?2, ?3, ?4)");
    sqlite3_stmt *ins_ass = db_stmt(g_db,
        "INSERT INTO assessment (employee_id, requirement_id, level, source, recorded_at, recorded_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

    int64_t chunk = nemployees / 10 > 20000 ? nemployees / 10 : 20000;
    double t0 = now_s();
    begin();
    for (int64_t e = 1; e <= nemployees; e++) {
        int64_t d;
        if (e == 1) {
            d = 0;                                  /* the bench admin sits at the top */
        } else {
            double x = rnd_unit() * total;
            int64_t lo = 0, hi = ndepts - 1;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (cum[mid] > x)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            d = lo;
        }
        struct dept *dp = &depts[d];
        int is_manager = 0;
        if (!dp->manager) {
            dp->manager = e;
            is_manager = 1;
        }
        int64_t manager = dp->manager != e ? dp->manager
                          : dp->parent >= 0 && depts[dp->parent].manager ? depts[dp->parent].manager : 0;
        int archived = e > 1 && !is_manager && chance(0.005);

        char number[24], name[128], email[200], fl[64], ll[64];
        const char *first = first_names[rnd_below(NFIRST)];
        const char *last = last_names[rnd_below(NLAST)];
        snprintf(number, sizeof number, "%07lld", (long long)(1000000 + e));
        snprintf(name, sizeof name, "%s %s", first, last);
        ascii_lower(first, fl, sizeof fl);
        ascii_lower(last, ll, sizeof ll);
        snprintf(email, sizeof email, "%s.%s.%lld@bench.example", fl, ll, (long long)e);
        int64_t created = BASE_TIME - 4 * YEAR + rnd_below(YEAR);
        sqlite3_reset(ins_emp);
        sqlite3_bind_int64(ins_emp, 1, e);
        sqlite3_bind_text(ins_emp, 2, number, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins_emp, 3, e == 1 ? "Bench Admin" : name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins_emp, 4, e == 1 ? "bench@bench.example" : email, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins_emp, 5, d + 1);
        if (e == 1) {
            sqlite3_bind_text(ins_emp, 6, "bench", -1, SQLITE_STATIC);
            sqlite3_bind_text(ins_emp, 7, hash, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(ins_emp, 6);
            sqlite3_bind_null(ins_emp, 7);
        }
        sqlite3_bind_int(ins_emp, 8, e == 1 ? 15 : is_manager ? 3 : 1);
        sqlite3_bind_int(ins_emp, 9, archived);
        sqlite3_bind_int64(ins_emp, 10, created);
        step_or_die(ins_emp);
        cnt.employees++;
        cnt.archived_employees += archived;

        /* 1-4 profiles from the systems the department uses; now and then a second tier of a
         * system already held, where required is the maximum of the two. */
        static const double nprof_w[] = {0.35, 0.35, 0.20, 0.10};
        static const double tier_w[] = {0.40, 0.35, 0.18, 0.07};
        int nprof = 1 + rnd_weighted(nprof_w, 4);
        int chosen_sys[4], chosen_tier[4], nchosen = 0;
        for (int k = 0, tries = 0; k < nprof && tries < 50; tries++) {
            int s, t;
            if (k > 0 && chance(0.15)) {
                s = chosen_sys[rnd_below(k)];
            } else {
                s = dp->systems[rnd_below(dp->nsystems)];
            }
            t = rnd_weighted(tier_w, 4);
            if (t >= sys[s].ntiers)
                t = sys[s].ntiers - 1;
            int dup = 0;
            for (int m = 0; m < k; m++)
                dup |= chosen_sys[m] == s && chosen_tier[m] == t;
            if (dup)
                continue;
            chosen_sys[k] = s;
            chosen_tier[k] = t;
            k++;
            nchosen = k;
        }
        int64_t assigned_at = created + rnd_below(YEAR);
        for (int k = 0; k < nchosen; k++) {
            sqlite3_reset(ins_asg);
            sqlite3_bind_int64(ins_asg, 1, e);
            sqlite3_bind_int64(ins_asg, 2, sys[chosen_sys[k]].profile_id[chosen_tier[k]]);
            sqlite3_bind_int64(ins_asg, 3, assigned_at);
            if (manager)
                sqlite3_bind_int64(ins_asg, 4, manager);
            else
                sqlite3_bind_null(ins_asg, 4);
            step_or_die(ins_asg);
            cnt.assignments++;
        }

        /* Each system held once: required = max over its active profiles held. */
        for (int k = 0; k < nchosen; k++) {
            int s = chosen_sys[k];
            int first_of_system = 1;
            for (int m = 0; m < k; m++)
                first_of_system &= chosen_sys[m] != s;
            if (!first_of_system)
                continue;
            const struct system *y = &sys[s];
            for (int r = 0; r < y->nreqs; r++) {
                int required = 0, any_level = 0;
                for (int m = 0; m < nchosen; m++) {
                    if (chosen_sys[m] != s)
                        continue;
                    int lv = y->level[chosen_tier[m]][r];
                    any_level = any_level > lv ? any_level : lv;
                    int prof_archived = (s == 9 && chosen_tier[m] == 0) || (s == 22 && chosen_tier[m] == 2);
                    if (!prof_archived && lv > required)
                        required = lv;
                }
                if (required > 0 && !archived && !y->archived_req[r]) {
                    cnt.demanded++;
                    if (chance(0.15)) {
                        cnt.unassessed++;
                        continue;
                    }
                    assess_pair(ins_ass, e, y->req_id[r], required, manager);
                } else if (required > 0 || any_level > 0) {
                    /* archived on one side or the other: assessed anyway, now and then */
                    if (chance(0.5))
                        assess_pair(ins_ass, e, y->req_id[r], any_level, manager);
                } else if (chance(0.03)) {
                    /* nobody demands it, but the employee said something about it */
                    insert_assessment(ins_ass, e, y->req_id[r], (int)rnd_below(5), "self",
                                      BASE_TIME - rnd_below(2 * YEAR), 0);
                }
            }
        }

        if (e % chunk == 0 || e == nemployees) {
            commit();
            printf("evne-gen: %lld/%lld employees, %lld assessments (%.1f s)\n", (long long)e,
                   (long long)nemployees, (long long)cnt.assessments, now_s() - t0);
            fflush(stdout);
            if (e != nemployees)
                begin();
        }
    }
    free(hash);
    free(cum);

    /* Managers, now that their employees exist. */
    begin();
    sqlite3_stmt *set_mgr = db_stmt(g_db, "UPDATE department SET manager_id = ?2 WHERE id = ?1");
    for (int64_t i = 0; i < ndepts; i++) {
        if (!depts[i].manager)
            continue;
        sqlite3_reset(set_mgr);
        sqlite3_bind_int64(set_mgr, 1, i + 1);
        sqlite3_bind_int64(set_mgr, 2, depts[i].manager);
        step_or_die(set_mgr);
    }
    commit();

    double t1 = now_s();
    printf("evne-gen: rebuilding indexes\n");
    fflush(stdout);
    begin();
    restore_indexes();
    commit();
    printf("evne-gen: indexes rebuilt (%.1f s)\n", now_s() - t1);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: evne-gen --employees N --db PATH [--seed S]\n"
               "Writes a deterministic synthetic organisation of N employees into a new database\n"
               "(refuses an existing file). The admin login is bench / bench.\n");
}

int main(int argc, char **argv)
{
    int64_t nemployees = 0, seed = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--employees") && i + 1 < argc) {
            if (util_parse_i64(argv[++i], &nemployees) || nemployees < 1 || nemployees > 100000000) {
                fprintf(stderr, "evne-gen: --employees: not a count: %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if (util_parse_i64(argv[++i], &seed)) {
                fprintf(stderr, "evne-gen: --seed: not an integer: %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            path = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!nemployees || !path) {
        usage(stderr);
        return 2;
    }
    FILE *exists = fopen(path, "rb");
    if (exists) {
        fclose(exists);
        fprintf(stderr, "evne-gen: %s exists; remove it first\n", path);
        return 1;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "evne-gen: libsodium cannot start\n");
        return 1;
    }
    rng_state = (uint64_t)seed * 0x2545f4914f6cdd1dULL + 0x1234567ULL;

    char *err = NULL;
    if (db_open(path, 1, &g_db, &err)) {
        fprintf(stderr, "evne-gen: %s\n", err);
        free(err);
        return 1;
    }
    /* Hundreds of thousands of rows that nobody changed: keep them out of the audit trail, which
     * would otherwise double the file and the time (audit.h; nothing the server runs can). */
    if (audit_disable_for_bulk_load(db_handle(g_db)) != SQLITE_OK) {
        fprintf(stderr, "evne-gen: cannot switch the audit trail off\n");
        return 1;
    }
    double t0 = now_s();
    /* Speed over safety while generating: a failed run leaves a file to delete, nothing more
     * (bench/run.sh generates into a temporary name). Restored below. */
    exec_or_die("PRAGMA journal_mode = OFF");
    exec_or_die("PRAGMA synchronous = OFF");
    exec_or_die("PRAGMA foreign_keys = OFF");
    exec_or_die("PRAGMA cache_size = -1000000");
    exec_or_die("PRAGMA temp_store = MEMORY");

    struct system *sys = xcalloc(NSYSTEMS, sizeof *sys);
    begin();
    make_catalogue(sys);
    make_departments(nemployees, sys);
    commit();
    printf("evne-gen: %lld departments, %lld systems, %lld requirements, %lld profiles\n",
           (long long)cnt.departments, (long long)cnt.systems, (long long)cnt.requirements,
           (long long)cnt.profiles);
    make_people(nemployees, sys);

    double t1 = now_s();
    exec_or_die("ANALYZE");
    if (nemployees <= 100000) {
        /* The generator's own check: every reference points at a row. */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db_handle(g_db), "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
            die_sql("checking foreign keys");
        int bad = 0;
        while (sqlite3_step(st) == SQLITE_ROW)
            bad++;
        sqlite3_finalize(st);
        if (bad) {
            fprintf(stderr, "evne-gen: bug: %d rows break foreign keys\n", bad);
            return 1;
        }
    }
    exec_or_die("PRAGMA foreign_keys = ON");
    exec_or_die("PRAGMA synchronous = FULL");
    exec_or_die("PRAGMA journal_mode = WAL");
    printf("evne-gen: analysed (%.1f s)\n", now_s() - t1);

    printf("evne-gen: wrote %s in %.1f s:\n"
           "  departments      %10lld\n"
           "  employees        %10lld (%lld archived)\n"
           "  systems          %10lld\n"
           "  requirements     %10lld (%lld archived)\n"
           "  profiles         %10lld (%lld archived)\n"
           "  profile levels   %10lld\n"
           "  assignments      %10lld\n"
           "  demanded pairs   %10lld (active employees and requirements; %lld unassessed, %.1f%%)\n"
           "  assessments      %10lld (%.2f per demanded pair)\n"
           "  login            bench / bench (employee 1, all roles)\n",
           path, now_s() - t0, (long long)cnt.departments, (long long)cnt.employees,
           (long long)cnt.archived_employees, (long long)cnt.systems, (long long)cnt.requirements,
           (long long)cnt.archived_reqs, (long long)cnt.profiles, (long long)cnt.archived_profiles,
           (long long)cnt.profile_levels, (long long)cnt.assignments, (long long)cnt.demanded,
           (long long)cnt.unassessed, cnt.demanded ? 100.0 * cnt.unassessed / cnt.demanded : 0.0,
           (long long)cnt.assessments,
           cnt.demanded ? (double)cnt.assessments / cnt.demanded : 0.0);
    free(sys);
    free(depts);
    db_close(g_db);
    return 0;
}
