#include "demo.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "db.h"
#include "util.h"

extern const char gerica_csv[];   /* data/gerica-requirements.csv, compiled in */

/* --- the Gerica sheet -------------------------------------------------------------------- */

#define GERICA_PROFILES 5

struct gerica_row {
    char *text;
    int level[GERICA_PROFILES];
};

struct gerica {
    struct gerica_row rows[64];
    int nrows, field, line;
    int bad;
};

static void gerica_field(void *s, size_t len, void *data)
{
    struct gerica *g = data;
    if (g->line == 0 || g->nrows >= 64) {
        g->field++;
        return;
    }
    struct gerica_row *r = &g->rows[g->nrows];
    if (g->field == 1) {
        r->text = xmalloc(len + 1);
        memcpy(r->text, s, len);
        r->text[len] = '\0';
    } else if (g->field >= 2 && g->field < 2 + GERICA_PROFILES) {
        int v = len == 1 ? ((char *)s)[0] - '0' : -1;
        if (v < 0 || v > 4)
            g->bad = 1;
        r->level[g->field - 2] = v;
    }
    g->field++;
}

static void gerica_row_end(int c, void *data)
{
    (void)c;
    struct gerica *g = data;
    if (g->line > 0 && g->field == 2 + GERICA_PROFILES && g->nrows < 64)
        g->nrows++;
    else if (g->line > 0)
        g->bad = 1;
    g->line++;
    g->field = 0;
}

static int gerica_parse(struct gerica *g)
{
    struct csv_parser p;
    memset(g, 0, sizeof *g);
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0)
        return -1;
    size_t n = strlen(gerica_csv);
    int rc = csv_parse(&p, gerica_csv, n, gerica_field, gerica_row_end, g) == n ? 0 : -1;
    csv_fini(&p, gerica_field, gerica_row_end, g);
    csv_free(&p);
    return rc || g->bad || g->nrows == 0 ? -1 : 0;
}

/* --- the rest of the organisation --------------------------------------------------------- */

struct sys_def {
    const char *name, *description;
    const char *reqs[10];
};

static const struct sys_def systems[] = {
    {"Grunnleggende PC-bruk", "Å bruke PC, filer og skriver i kommunens nett",
     {"Logge på PC-en og bytte passord",
      "Lagre, finne igjen og organisere filer i mapper på fellesområdet",
      "Skrive ut og velge riktig skriver",
      "Bruke nettleseren til å finne informasjon på intranettet",
      "Kjenne til regler for informasjonssikkerhet og personvern",
      "Melde feil og be om hjelp i brukerstøttesystemet"}},
    {"E-post og kalender", "Outlook: e-post, kalender og møteinnkallinger",
     {"Lese, skrive og svare på e-post", "Legge ved og åpne vedlegg",
      "Bruke kalenderen og sende møteinnkallinger", "Dele kalender og bruke felles postkasser",
      "Sortere e-post med mapper og regler"}},
    {"Excel", "Regneark",
     {"Åpne, lagre og skrive ut et regneark", "Skrive inn tall og tekst og formatere celler",
      "Lage enkle formler (summer, gjennomsnitt)", "Sortere og filtrere lister",
      "Lage diagrammer", "Bruke funksjoner som HVIS og FINN.RAD", "Lage pivottabeller",
      "Hente data fra andre kilder og koble regneark"}},
    {"Saksbehandlingssystemet", "Kommunens sak- og arkivsystem",
     {"Søke fram saker og dokumenter", "Registrere inngående og utgående post",
      "Opprette sak og journalpost", "Skrive brev fra dokumentmaler",
      "Sende dokumenter til godkjenning", "Avskrive restanser"}},
};

struct prof_def {
    const char *name;
    int system;            /* index into systems */
    int levels[10];
};

static const struct prof_def profiles[] = {
    {"Basisbruker", 0, {2, 1, 1, 1, 2, 1}},
    {"Standardbruker 3", 0, {3, 3, 3, 3, 3, 2}},
    {"E-post 2", 1, {2, 2, 2, 1, 1}},
    {"E-post 3", 1, {3, 3, 3, 3, 2}},
    {"Excel 2", 2, {2, 2, 2, 1, 1, 0, 0, 0}},
    {"Excel 3", 2, {3, 3, 3, 3, 2, 2, 1, 0}},
    {"Saksbehandler 2", 3, {2, 2, 2, 2, 1, 1}},
    {"Saksbehandler 3", 3, {3, 3, 3, 3, 3, 2}},
};
#define NPROFILES_OTHER (int)(sizeof profiles / sizeof profiles[0])
/* Profile numbers as used below: 0-4 Gerica 1-5, then 5 + index into profiles[]. */
#define P_GERICA(n) ((n) - 1)
#define P_BASIS 5
#define P_STANDARD3 6
#define P_EPOST2 7
#define P_EPOST3 8
#define P_EXCEL2 9
#define P_EXCEL3 10
#define P_SAK2 11
#define P_SAK3 12

struct dept_def {
    const char *name;
    int parent;            /* index, -1 for the root */
};

static const struct dept_def departments[] = {
    {"Asker kommune", -1},
    {"Helse og omsorg", 0},
    {"Hjemmetjenesten", 1},
    {"Bråset bo- og behandlingssenter", 1},
    {"Oppvekst", 0},
    {"Hvalstad skole", 4},
    {"Landøya ungdomsskole", 4},
    {"Organisasjon og administrasjon", 0},
    {"IKT-avdelingen", 7},
    {"Økonomi og lønn", 7},
};

struct emp_def {
    const char *name, *title;
    int dept;
    const char *login;     /* NULL: no login in the demo */
    unsigned roles;
    int profiles[5];       /* profile numbers + 1; 0 ends the list */
};

#define P(x) ((x) + 1)
static const struct emp_def employees[] = {
    {"Ingrid Berg", "Kommunedirektør", 0, NULL, 0, {P(P_STANDARD3), P(P_EPOST3), P(P_SAK2)}},
    {"Admin Istrator", "Systemadministrator", 8, "admin", ROLE_ADMIN, {P(P_STANDARD3)}},
    {"Randi Gulbrandsen", "IKT-rådgiver", 8, "radgiver", ROLE_ADVISER,
     {P(P_STANDARD3), P(P_EXCEL3), P(P_EPOST3)}},
    {"Lene Dahl", "Kommunalsjef helse og omsorg", 1, "leder", ROLE_MANAGER,
     {P(P_STANDARD3), P(P_EPOST3), P(P_GERICA(2))}},
    {"Per Hansen", "Sykepleier", 2, "ansatt", 0,
     {P(P_BASIS), P(P_STANDARD3), P(P_GERICA(2)), P(P_EXCEL2)}},
    {"Kari Olsen", "Sykepleier", 2, NULL, 0,
     {P(P_BASIS), P(P_STANDARD3), P(P_GERICA(2)), P(P_EXCEL3)}},
    {"Kjell T. Ring", "Avdelingsleder hjemmetjenesten", 2, NULL, 0,
     {P(P_BASIS), P(P_STANDARD3), P(P_GERICA(4)), P(P_EXCEL2)}},
    {"Anne Lise Nilsen", "Hjelpepleier", 2, NULL, 0, {P(P_BASIS), P(P_GERICA(1))}},
    {"Mohammed Ali", "Helsefagarbeider", 2, NULL, 0, {P(P_BASIS), P(P_GERICA(1))}},
    {"Sofie Johansen", "Sykepleier", 2, NULL, 0, {P(P_BASIS), P(P_GERICA(2)), P(P_EPOST2)}},
    {"Ole Martin Larsen", "Vernepleier", 2, NULL, 0, {P(P_BASIS), P(P_GERICA(3))}},
    {"Marit Kristiansen", "Fagkoordinator", 2, NULL, 0,
     {P(P_STANDARD3), P(P_GERICA(5)), P(P_EXCEL2)}},
    {"Tone Andersen", "Avdelingssykepleier", 3, NULL, 0,
     {P(P_STANDARD3), P(P_GERICA(4)), P(P_EPOST3), P(P_EXCEL3)}},
    {"Jan Erik Pedersen", "Sykepleier", 3, NULL, 0, {P(P_BASIS), P(P_GERICA(2))}},
    {"Hilde Bakken", "Hjelpepleier", 3, NULL, 0, {P(P_BASIS), P(P_GERICA(1))}},
    {"Agnieszka Nowak", "Helsefagarbeider", 3, NULL, 0, {P(P_GERICA(1))}},
    {"Bjørn Eriksen", "Sykepleier", 3, NULL, 0, {P(P_BASIS), P(P_GERICA(2)), P(P_EPOST2)}},
    {"Linda Halvorsen", "Merkantil", 3, NULL, 0,
     {P(P_STANDARD3), P(P_GERICA(3)), P(P_EXCEL2), P(P_SAK2)}},
    {"Thomas Haugen", "Kommunalsjef oppvekst", 4, NULL, 0,
     {P(P_STANDARD3), P(P_EPOST3), P(P_SAK2)}},
    {"Silje Moen", "Rektor", 5, NULL, 0, {P(P_STANDARD3), P(P_EPOST3), P(P_EXCEL3), P(P_SAK2)}},
    {"Henrik Solberg", "Lærer", 5, NULL, 0, {P(P_STANDARD3), P(P_EPOST2), P(P_EXCEL2)}},
    {"Nina Jacobsen", "Lærer", 5, NULL, 0, {P(P_STANDARD3), P(P_EPOST2), P(P_EXCEL2)}},
    {"Eirik Lunde", "Lærer", 5, NULL, 0, {P(P_BASIS), P(P_EPOST2)}},
    {"Camilla Strand", "Skolesekretær", 5, NULL, 0,
     {P(P_STANDARD3), P(P_EPOST3), P(P_EXCEL3), P(P_SAK3)}},
    {"Kristoffer Berge", "Rektor", 6, NULL, 0, {P(P_STANDARD3), P(P_EPOST3), P(P_SAK2)}},
    {"Ingvild Aas", "Lærer", 6, NULL, 0, {P(P_STANDARD3), P(P_EPOST2), P(P_EXCEL3)}},
    {"Fredrik Holm", "Lærer", 6, NULL, 0, {P(P_STANDARD3), P(P_EPOST2)}},
    {"Astrid Myhre", "Assistent", 6, NULL, 0, {P(P_BASIS)}},
    {"Geir Sandvik", "Organisasjonsdirektør", 7, NULL, 0,
     {P(P_STANDARD3), P(P_EPOST3), P(P_EXCEL3), P(P_SAK3)}},
    {"Hanne Lie", "HR-rådgiver", 7, NULL, 0, {P(P_STANDARD3), P(P_EPOST3), P(P_SAK3)}},
    {"Stian Vik", "IKT-leder", 8, NULL, 0, {P(P_STANDARD3), P(P_EPOST3), P(P_EXCEL3)}},
    {"Maria Fredriksen", "Brukerstøtte", 8, NULL, 0, {P(P_STANDARD3), P(P_EPOST3)}},
    {"Ahmed Hassan", "Systemansvarlig Gerica", 8, NULL, 0,
     {P(P_STANDARD3), P(P_GERICA(5)), P(P_EXCEL2)}},
    {"Elisabeth Dahle", "Økonomisjef", 9, NULL, 0,
     {P(P_STANDARD3), P(P_EPOST3), P(P_EXCEL3), P(P_SAK2)}},
    {"Lars Tangen", "Regnskapsmedarbeider", 9, NULL, 0, {P(P_STANDARD3), P(P_EXCEL3)}},
    {"Gunn Vold", "Lønnskonsulent", 9, NULL, 0, {P(P_STANDARD3), P(P_EXCEL2), P(P_SAK2)}},
    {"Kristin Nygaard", "Controller", 9, NULL, 0, {P(P_STANDARD3), P(P_EXCEL3), P(P_SAK2)}},
    {"Trond Bakke", "Arkivleder", 7, NULL, 0, {P(P_STANDARD3), P(P_SAK3), P(P_EPOST2)}},
    {"Vigdis Amundsen", "Hjelpepleier", 2, NULL, 0, {P(P_BASIS), P(P_GERICA(1))}},
    {"Espen Karlsen", "Sykepleier", 3, NULL, 0, {P(P_BASIS), P(P_GERICA(2))}},
};
#define NEMPLOYEES (int)(sizeof employees / sizeof employees[0])

/* Department managers: department index -> employee index. */
static const int managers[][2] = {{0, 0}, {1, 3}, {2, 6}, {3, 12}, {4, 18}, {5, 19},
                                  {6, 24}, {7, 28}, {8, 30}, {9, 33}};

/* A small deterministic generator, so that every demo database is the same. */
static uint32_t rng = 20061;
static uint32_t next_random(uint32_t n)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 16) % n;
}

static int exec_id(struct db *db, sqlite3_stmt *st, int64_t *id)
{
    if (db_exec_stmt(db, st))
        return -1;
    *id = sqlite3_last_insert_rowid(db_handle(db));
    return 0;
}

int demo_create(struct db *db, char **err)
{
    struct gerica g;
    if (gerica_parse(&g)) {
        *err = xstrdup("the compiled-in Gerica requirements are malformed");
        return -1;
    }
    int64_t now = util_now();
    int64_t prof_id[GERICA_PROFILES + NPROFILES_OTHER];
    int64_t dept_id[sizeof departments / sizeof departments[0]];
    int64_t emp_id[NEMPLOYEES];
    /* requirement ids and levels per profile, for the assessment history */
    int64_t req_of[GERICA_PROFILES + NPROFILES_OTHER][64];
    int lvl_of[GERICA_PROFILES + NPROFILES_OTHER][64];
    int nreq_of[GERICA_PROFILES + NPROFILES_OTHER] = {0};
    char *hash = NULL;
    int ok = auth_password_hash(DEMO_PASSWORD, &hash) == 0 && db_begin(db) == 0;
    sqlite3_stmt *st;

    /* systems, requirements, profiles */
    int64_t gerica_id = 0;
    st = db_stmt(db, "INSERT INTO system (name, description) VALUES (?, ?)");
    sqlite3_bind_text(st, 1, "Gerica", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "Pleie- og omsorgssystemet: brukerkort, journaler, tiltak, IPLOS",
                      -1, SQLITE_STATIC);
    ok = ok && exec_id(db, st, &gerica_id) == 0;
    for (int p = 0; ok && p < GERICA_PROFILES; p++) {
        char name[32];
        snprintf(name, sizeof name, "Gerica %d", p + 1);
        st = db_stmt(db, "INSERT INTO profile (name, system_id, description) VALUES (?, ?, ?)");
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, gerica_id);
        sqlite3_bind_text(st, 3, "Fra kommunens kravtabell for Gerica", -1, SQLITE_STATIC);
        ok = exec_id(db, st, &prof_id[p]) == 0;
    }
    for (int r = 0; ok && r < g.nrows; r++) {
        int64_t rid;
        st = db_stmt(db, "INSERT INTO requirement (system_id, text, position) VALUES (?, ?, ?)");
        sqlite3_bind_int64(st, 1, gerica_id);
        sqlite3_bind_text(st, 2, g.rows[r].text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, r + 1);
        ok = exec_id(db, st, &rid) == 0;
        for (int p = 0; ok && p < GERICA_PROFILES; p++) {
            st = db_stmt(db, "INSERT INTO profile_level (profile_id, requirement_id, level) "
                             "VALUES (?, ?, ?)");
            sqlite3_bind_int64(st, 1, prof_id[p]);
            sqlite3_bind_int64(st, 2, rid);
            sqlite3_bind_int(st, 3, g.rows[r].level[p]);
            ok = db_exec_stmt(db, st) == 0;
            req_of[p][nreq_of[p]] = rid;
            lvl_of[p][nreq_of[p]++] = g.rows[r].level[p];
        }
    }
    int64_t sys_id[sizeof systems / sizeof systems[0]];
    int64_t sys_req[sizeof systems / sizeof systems[0]][10];
    for (size_t s = 0; ok && s < sizeof systems / sizeof systems[0]; s++) {
        st = db_stmt(db, "INSERT INTO system (name, description) VALUES (?, ?)");
        sqlite3_bind_text(st, 1, systems[s].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, systems[s].description, -1, SQLITE_STATIC);
        ok = exec_id(db, st, &sys_id[s]) == 0;
        for (int r = 0; ok && r < 10 && systems[s].reqs[r]; r++) {
            st = db_stmt(db, "INSERT INTO requirement (system_id, text, position) VALUES (?, ?, ?)");
            sqlite3_bind_int64(st, 1, sys_id[s]);
            sqlite3_bind_text(st, 2, systems[s].reqs[r], -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 3, r + 1);
            ok = exec_id(db, st, &sys_req[s][r]) == 0;
        }
    }
    for (int i = 0; ok && i < NPROFILES_OTHER; i++) {
        const struct prof_def *pd = &profiles[i];
        int p = GERICA_PROFILES + i;
        st = db_stmt(db, "INSERT INTO profile (name, system_id) VALUES (?, ?)");
        sqlite3_bind_text(st, 1, pd->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, sys_id[pd->system]);
        ok = exec_id(db, st, &prof_id[p]) == 0;
        for (int r = 0; ok && r < 10 && systems[pd->system].reqs[r]; r++) {
            st = db_stmt(db, "INSERT INTO profile_level (profile_id, requirement_id, level) "
                             "VALUES (?, ?, ?)");
            sqlite3_bind_int64(st, 1, prof_id[p]);
            sqlite3_bind_int64(st, 2, sys_req[pd->system][r]);
            sqlite3_bind_int(st, 3, pd->levels[r]);
            ok = db_exec_stmt(db, st) == 0;
            req_of[p][nreq_of[p]] = sys_req[pd->system][r];
            lvl_of[p][nreq_of[p]++] = pd->levels[r];
        }
    }

    /* departments, then employees, then managers (a manager is an employee of a department) */
    for (size_t d = 0; ok && d < sizeof departments / sizeof departments[0]; d++) {
        char code[16];
        snprintf(code, sizeof code, "D%02zu", d + 1);
        st = db_stmt(db, "INSERT INTO department (name, parent_id, code) VALUES (?, ?, ?)");
        sqlite3_bind_text(st, 1, departments[d].name, -1, SQLITE_STATIC);
        if (departments[d].parent >= 0)
            sqlite3_bind_int64(st, 2, dept_id[departments[d].parent]);
        sqlite3_bind_text(st, 3, code, -1, SQLITE_TRANSIENT);
        ok = exec_id(db, st, &dept_id[d]) == 0;
    }
    for (int i = 0; ok && i < NEMPLOYEES; i++) {
        const struct emp_def *ed = &employees[i];
        char number[16], email[96];
        snprintf(number, sizeof number, "%d", 10001 + i);
        /* "Kjell T. Ring" -> kjell.t.ring@asker.kommune.no, ASCII only */
        size_t n = 0;
        for (const unsigned char *c = (const unsigned char *)ed->name; *c && n < 60; c++) {
            if (*c == ' ')
                email[n++] = '.';
            else if (*c >= 'A' && *c <= 'Z')
                email[n++] = (char)(*c + 32);
            else if (*c >= 'a' && *c <= 'z')
                email[n++] = (char)*c;
            else if (*c == 0xc3 && c[1]) {   /* æ ø å Æ Ø Å */
                unsigned char d = *++c;
                email[n++] = d == 0xa6 || d == 0x86 ? 'a' : d == 0xb8 || d == 0x98 ? 'o' : 'a';
                if (d == 0xa6 || d == 0x86)
                    email[n++] = 'e';
                if (d == 0xa5 || d == 0x85)
                    email[n++] = 'a';
            }
        }
        snprintf(email + n, sizeof email - n, "@asker.kommune.no");
        st = db_stmt(db, "INSERT INTO employee (employee_number, name, email, department_id, "
                         "roles, login, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        sqlite3_bind_text(st, 1, number, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, ed->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, email, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, dept_id[ed->dept]);
        sqlite3_bind_int(st, 5, (int)(ROLE_EMPLOYEE | ed->roles));
        if (ed->login) {
            sqlite3_bind_text(st, 6, ed->login, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 7, hash, -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 8, now - 400 * 86400);
        ok = exec_id(db, st, &emp_id[i]) == 0;
    }
    for (size_t m = 0; ok && m < sizeof managers / sizeof managers[0]; m++) {
        st = db_stmt(db, "UPDATE department SET manager_id = ? WHERE id = ?");
        sqlite3_bind_int64(st, 1, emp_id[managers[m][1]]);
        sqlite3_bind_int64(st, 2, dept_id[managers[m][0]]);
        ok = db_exec_stmt(db, st) == 0;
    }

    /* assignments and a history: a first self-assessment about a year ago for most demanded
     * requirements, a newer one (self, appraisal or course) for some; some never assessed. */
    static const char *const later_sources[] = {"self", "appraisal", "course", "self"};
    for (int i = 0; ok && i < NEMPLOYEES; i++) {
        int64_t seen[128];
        int nseen = 0;
        for (int k = 0; ok && k < 5 && employees[i].profiles[k]; k++) {
            int p = employees[i].profiles[k] - 1;
            st = db_stmt(db, "INSERT INTO assignment (employee_id, profile_id, assigned_at) "
                             "VALUES (?, ?, ?)");
            sqlite3_bind_int64(st, 1, emp_id[i]);
            sqlite3_bind_int64(st, 2, prof_id[p]);
            sqlite3_bind_int64(st, 3, now - 380 * 86400);
            ok = db_exec_stmt(db, st) == 0;
            for (int r = 0; ok && r < nreq_of[p]; r++) {
                int required = lvl_of[p][r], dup = 0;
                for (int s = 0; s < nseen; s++)
                    dup |= seen[s] == req_of[p][r];
                if (!required || dup || nseen == 128 || next_random(100) < 12)
                    continue;
                seen[nseen++] = req_of[p][r];
                static const int below[] = {0, 0, 0, 1, 1, 2};   /* most know what they need */
                int level = required - below[next_random(6)];
                level = level < 0 ? 0 : level;
                int64_t at = now - (int64_t)(330 + next_random(60)) * 86400;
                st = db_stmt(db, "INSERT INTO assessment (employee_id, requirement_id, level, "
                                 "source, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?)");
                sqlite3_bind_int64(st, 1, emp_id[i]);
                sqlite3_bind_int64(st, 2, req_of[p][r]);
                sqlite3_bind_int(st, 3, level);
                sqlite3_bind_text(st, 4, "self", -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, at);
                sqlite3_bind_int64(st, 6, emp_id[i]);
                ok = db_exec_stmt(db, st) == 0;
                if (!ok || next_random(100) >= 45)
                    continue;
                const char *src = later_sources[next_random(4)];
                int later = level + (int)next_random(3);
                later = later > 4 ? 4 : later;
                st = db_stmt(db, "INSERT INTO assessment (employee_id, requirement_id, level, "
                                 "source, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?)");
                sqlite3_bind_int64(st, 1, emp_id[i]);
                sqlite3_bind_int64(st, 2, req_of[p][r]);
                sqlite3_bind_int(st, 3, later);
                sqlite3_bind_text(st, 4, src, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, at + (int64_t)(60 + next_random(200)) * 86400);
                int64_t by = !strcmp(src, "self")        ? emp_id[i]
                             : !strcmp(src, "appraisal") ? emp_id[3]
                                                         : emp_id[2];
                sqlite3_bind_int64(st, 6, by);
                ok = db_exec_stmt(db, st) == 0;
            }
        }
    }
    if (ok && db_commit(db) == 0) {
        ok = 1;
    } else {
        db_rollback(db);
        ok = 0;
    }
    for (int r = 0; r < g.nrows; r++)
        free(g.rows[r].text);
    free(hash);
    if (!ok)
        *err = xasprintf("could not write the demo organisation: %s",
                         sqlite3_errmsg(db_handle(db)));
    return ok ? 0 : -1;
}
