#include "course.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "assess.h"
#include "db.h"
#include "domain.h"
#include "gap.h"
#include "lua_host.h"
#include "mail.h"
#include "mailtext.h"
#include "oslo.h"
#include "util.h"

#define TITLE_MAX_BYTES 200
#define TEXT_MAX_BYTES 4000
#define URL_MAX_BYTES 2000
#define REASON_MAX_BYTES 1000
#define PLACE_MAX_BYTES 200
#define MAX_INVITATIONS 1000
#define MAX_CAPACITY 10000
#define MAX_HOURS 1000.0
#define MAX_POSITION 1000000

/* --- states and actions ----------------------------------------------------------------- */

enum state {
    S_INVITED, S_ACCEPTED, S_DECLINED, S_APPROVED, S_REJECTED, S_WAITLISTED, S_CANCELLED,
    S_ATTENDED, S_ABSENT, S_NSTATES
};
static const char *const state_names[S_NSTATES] = {
    "invited", "accepted", "declined", "approved", "rejected", "waitlisted", "cancelled",
    "attended", "absent",
};
#define B(s) (1u << (s))
/* An open enrolment still holds or waits for a place; a closed one may be invited again. */
#define OPEN_STATES (B(S_INVITED) | B(S_ACCEPTED) | B(S_APPROVED) | B(S_WAITLISTED))
#define REINVITABLE (B(S_DECLINED) | B(S_REJECTED) | B(S_CANCELLED))
/* The states that hold one of the session's places. */
#define TAKEN_SQL "('approved', 'attended', 'absent')"
#define OPEN_SQL "('invited', 'accepted', 'approved', 'waitlisted')"

static int state_of(const char *name)
{
    for (int i = 0; name && i < S_NSTATES; i++)
        if (!strcmp(state_names[i], name))
            return i;
    UTIL_ABORT("unknown enrolment state '%s'", name ? name : "(null)");
}

static const struct {
    const char *name;
    unsigned from;
    enum state to;
    int after_start;     /* possible only once the session has started (else only before) */
} actions[COURSE_NACTIONS] = {
    [COURSE_ACCEPT] = {"accept", B(S_INVITED), S_ACCEPTED, 0},
    [COURSE_DECLINE] = {"decline", B(S_INVITED), S_DECLINED, 0},
    [COURSE_APPROVE] = {"approve", B(S_INVITED) | B(S_ACCEPTED), S_APPROVED, 0},
    [COURSE_REJECT] = {"reject", B(S_ACCEPTED), S_REJECTED, 0},
    [COURSE_CANCEL] = {"cancel", OPEN_STATES, S_CANCELLED, 0},
    [COURSE_ATTEND] = {"attend", B(S_APPROVED), S_ATTENDED, 1},
    [COURSE_ABSENT] = {"absent", B(S_APPROVED), S_ABSENT, 1},
};

const char *course_action_name(enum course_action act)
{
    UTIL_ASSERT(act >= 0 && act < COURSE_NACTIONS);
    return actions[act].name;
}

int course_action_allowed(enum course_action act, const char *state)
{
    UTIL_ASSERT(act >= 0 && act < COURSE_NACTIONS);
    return (actions[act].from & B(state_of(state))) != 0;
}

/* "invited or accepted" */
static void states_text(unsigned set, char *out, size_t n)
{
    int count = 0, total = 0;
    for (int i = 0; i < S_NSTATES; i++)
        total += (set & B(i)) != 0;
    out[0] = '\0';
    for (int i = 0; i < S_NSTATES; i++) {
        if (!(set & B(i)))
            continue;
        size_t used = strlen(out);
        count++;
        snprintf(out + used, n - used, "%s%s", count == 1 ? "" : count == total ? " or " : ", ",
                 state_names[i]);
    }
}

/* --- time ---------------------------------------------------------------------------------- */

/* Reads exactly n digits. */
static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int parse_ymd(const char **s, int *y, int *m, int *d)
{
    if (digits(s, 4, y) || *(*s)++ != '-' || digits(s, 2, m) || *(*s)++ != '-' ||
        digits(s, 2, d))
        return -1;
    if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1 ||
        *d > oslo_days_in_month(*y, *m))
        return -1;
    return 0;
}

int course_parse_date(const char *s)
{
    int y, m, d;
    return parse_ymd(&s, &y, &m, &d) || *s ? -1 : 0;
}

int course_parse_utc(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec = 0;
    if (parse_ymd(&s, &y, &mo, &d) || *s++ != 'T' || digits(&s, 2, &h) || *s++ != ':' ||
        digits(&s, 2, &mi))
        return -1;
    if (*s == ':' && (s++, digits(&s, 2, &sec)))
        return -1;
    if (strcmp(s, "Z") && strcmp(s, "+00:00"))   /* UTC, and said so */
        return -1;
    if (h > 23 || mi > 59 || sec > 59)
        return -1;
    *out = oslo_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}


/* "2026-12-03": the day a session starts, in Norwegian time. */
static void oslo_date(int64_t t, char out[11])
{
    struct oslo_time lt = oslo_local(t);
    snprintf(out, 11, "%04d-%02d-%02d", lt.year, lt.month, lt.day);
}

/* "2026-12-03T09:00": a time in Norwegian time, for the mails' when() (lua/view.lua). */
static json_t *oslo_json(int64_t t)
{
    char s[17];
    oslo_wall(t, s);
    return json_string(s);
}

static json_t *iso_json(int64_t t)
{
    char at[21];
    util_iso8601(t, at);
    return json_string(at);
}

/* --- the calendar invitation (RFC 5545) -------------------------------------------------- */

static void ics_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(b, "\\\\"); break;
        case ';': buf_puts(b, "\\;"); break;
        case ',': buf_puts(b, "\\,"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': break;
        default: buf_append(b, s, 1);
        }
    }
}

/* Writes one content line folded at 75 octets: a continuation line starts with a space, which
 * counts towards its 75, and no UTF-8 character is cut in two. */
static void ics_fold(struct buf *out, const char *line, size_t len)
{
    size_t at = 0, width = 75;
    while (len - at > width) {
        size_t cut = at + width;
        while (cut > at && ((unsigned char)line[cut] & 0xC0) == 0x80)
            cut--;
        buf_append(out, line + at, cut - at);
        buf_puts(out, "\r\n ");
        at = cut;
        width = 74;
    }
    buf_append(out, line + at, len - at);
    buf_puts(out, "\r\n");
}

/* name (with its parameters) and a value: escaped as text when text is set. */
static void ics_prop(struct buf *out, const char *name, const char *value, int text)
{
    if (!value || !*value)
        return;
    struct buf line = {0};
    buf_puts(&line, name);
    buf_puts(&line, ":");
    if (text)
        ics_escape(&line, value);
    else
        buf_puts(&line, value);
    ics_fold(out, line.data, line.len);
    buf_free(&line);
}

static void ics_time(int64_t t, char out[17])
{
    char iso[21];
    util_iso8601(t, iso);   /* 2026-12-03T08:00:00Z -> 20261203T080000Z */
    snprintf(out, 17, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11, iso + 14,
             iso + 17);
}

/* A parameter value in quotes when it needs them (RFC 5545 3.2: no DQUOTE inside). */
static char *ics_param(const char *s)
{
    struct buf b = {0};
    int quote = strpbrk(s, ":;,") != NULL;
    if (quote)
        buf_puts(&b, "\"");
    for (; *s; s++)
        if (*s != '"' && (unsigned char)*s >= 0x20)
            buf_append(&b, s, 1);
    if (quote)
        buf_puts(&b, "\"");
    return buf_steal(&b);
}

char *course_ics_text(const struct course_ics *ev)
{
    struct buf b = {0};
    char t[17], uid[80], seq[24];
    int cancel = ev->method && !strcmp(ev->method, "CANCEL");
    ics_prop(&b, "BEGIN", "VCALENDAR", 0);
    ics_prop(&b, "VERSION", "2.0", 0);
    ics_prop(&b, "PRODID", "-//evne//evne//NB", 0);
    ics_prop(&b, "CALSCALE", "GREGORIAN", 0);
    ics_prop(&b, "METHOD", cancel ? "CANCEL" : "REQUEST", 0);
    ics_prop(&b, "BEGIN", "VEVENT", 0);
    snprintf(uid, sizeof uid, "evne-session-%lld-%lld@evne", (long long)ev->session_id,
             (long long)ev->employee_id);
    ics_prop(&b, "UID", uid, 0);
    snprintf(seq, sizeof seq, "%lld", (long long)ev->sequence);
    ics_prop(&b, "SEQUENCE", seq, 0);
    ics_time(ev->stamp, t);
    ics_prop(&b, "DTSTAMP", t, 0);
    ics_time(ev->starts_at, t);
    ics_prop(&b, "DTSTART", t, 0);
    ics_time(ev->ends_at, t);
    ics_prop(&b, "DTEND", t, 0);
    ics_prop(&b, "SUMMARY", ev->summary, 1);
    ics_prop(&b, "LOCATION", ev->location, 1);
    ics_prop(&b, "DESCRIPTION", ev->description, 1);
    if (ev->organizer_email && *ev->organizer_email) {
        char *cn = ics_param(ev->organizer_name ? ev->organizer_name : "");
        char *name = xasprintf("ORGANIZER;CN=%s", cn);
        char *value = xasprintf("mailto:%s", ev->organizer_email);
        ics_prop(&b, name, value, 0);
        free(cn);
        free(name);
        free(value);
    }
    if (ev->attendee_email && *ev->attendee_email) {
        char *cn = ics_param(ev->attendee_name ? ev->attendee_name : "");
        char *name = xasprintf("ATTENDEE;CN=%s;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
                               "RSVP=FALSE", cn);
        char *value = xasprintf("mailto:%s", ev->attendee_email);
        ics_prop(&b, name, value, 0);
        free(cn);
        free(name);
        free(value);
    }
    ics_prop(&b, "STATUS", cancel ? "CANCELLED" : "CONFIRMED", 0);
    ics_prop(&b, "TRANSP", "OPAQUE", 0);
    ics_prop(&b, "END", "VEVENT", 0);
    ics_prop(&b, "END", "VCALENDAR", 0);
    return buf_steal(&b);
}

/* --- small helpers -------------------------------------------------------------------------- */

static int commit_or_fail(struct app *a, int ok, struct derr *e)
{
    if (!ok || db_commit(a->db)) {
        db_rollback(a->db);
        return derr_db(e);
    }
    return 0;
}

/* commit_or_fail for a write that queued mail: the worker is told to look at once. */
static int commit_with_mail(struct app *a, int ok, struct derr *e)
{
    if (commit_or_fail(a, ok, e))
        return -1;
    mail_kick(a);
    return 0;
}

static char *dup_text(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    return xstrdup(s ? s : "");
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, col));
}

/* Hours as 3 rather than 3.0 when whole. */
static json_t *hours_json(double h)
{
    if (h == floor(h) && fabs(h) < 1e9)
        return json_integer((json_int_t)h);
    return json_real(h);
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, col);
}

static void bind_id_or_null(sqlite3_stmt *st, int col, int64_t id)
{
    if (id > 0)
        sqlite3_bind_int64(st, col, id);
    else
        sqlite3_bind_null(st, col);
}

/* Reads a list of ids from a one-column statement with one id parameter. *ids owned. */
static size_t ids_of(struct app *a, const char *sql, int64_t param, int64_t **ids)
{
    sqlite3_stmt *st = db_stmt(a->db, sql);
    sqlite3_bind_int64(st, 1, param);
    size_t n = 0, cap = 16;
    *ids = xmalloc(cap * sizeof **ids);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap)
            *ids = xrealloc(*ids, (cap *= 2) * sizeof **ids);
        (*ids)[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return n;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static int has_id(const int64_t *ids, size_t n, int64_t id)
{
    return n && bsearch(&id, ids, n, sizeof *ids, cmp_i64) != NULL;
}

/* A string that may be null: 1 present (*out NULL for null), 0 absent, -1 error. */
static int nullable_string(const json_t *body, const char *key, int nonempty, size_t max,
                           const char **out, struct derr *e)
{
    const json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = NULL;
        return 1;
    }
    return dom_string(body, key, 1, nonempty, max, out, e) < 0 ? -1 : 1;
}

static int valid_url(const char *s)
{
    if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7))
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == '"' || *s == '<' || *s == '>')
            return 0;
    return 1;
}

/* An integer field within [lo, hi]: 1 present, 0 absent, -1 error. */
static int int_field(const json_t *body, const char *key, int64_t lo, int64_t hi, int64_t *out,
                     struct derr *e)
{
    const json_t *v = json_object_get(body, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return derr(e, 422, "invalid", key, "'%s' must be an integer from %lld to %lld", key,
                    (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return 1;
}

/* --- people ------------------------------------------------------------------------------- */

struct person {
    int64_t id;              /* 0: nobody */
    char *name, *email;
    char lang[3];            /* the language of their mail: "nb" or "en" */
};

static void lang_of(sqlite3_stmt *st, int col, char lang[3])
{
    const char *l = db_text(st, col);
    snprintf(lang, 3, "%s", l && !strcmp(l, "en") ? "en" : "nb");
}

static void person_free(struct person *p)
{
    free(p->name);
    free(p->email);
    *p = (struct person){0};
}

static int person_load(struct app *a, int64_t id, struct person *p)
{
    *p = (struct person){0};
    sqlite3_stmt *st = db_stmt(a->db, "SELECT name, email, lang FROM employee WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        p->id = id;
        p->name = dup_text(st, 0);
        p->email = dup_text(st, 1);
        lang_of(st, 2, p->lang);
    }
    sqlite3_reset(st);
    return p->id ? 0 : -1;
}

/* The manager of an employee: of the nearest department up the tree whose manager is active and
 * not the employee (a manager's own manager is the one above). p->id 0 when there is none. */
static void manager_of(struct app *a, int64_t employee_id, struct person *p)
{
    *p = (struct person){0};
    sqlite3_stmt *st = db_stmt(
        a->db, "WITH RECURSIVE up(id, depth) AS ("
               "  SELECT department_id, 0 FROM employee WHERE id = ?1"
               "  UNION ALL SELECT d.parent_id, up.depth + 1 FROM department d"
               "  JOIN up ON d.id = up.id"
               "  WHERE d.parent_id IS NOT NULL AND up.depth < 64) "
               "SELECT m.id, m.name, m.email, m.lang FROM up JOIN department d ON d.id = up.id "
               "JOIN employee m ON m.id = d.manager_id "
               "WHERE m.id != ?1 AND m.archived = 0 ORDER BY up.depth LIMIT 1");
    sqlite3_bind_int64(st, 1, employee_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        p->id = sqlite3_column_int64(st, 0);
        p->name = dup_text(st, 1);
        p->email = dup_text(st, 2);
        lang_of(st, 3, p->lang);
    }
    sqlite3_reset(st);
}

/* --- a session with its course ------------------------------------------------------------ */

struct sctx {
    int64_t session_id, course_id, starts, ends, capacity;
    int cancelled, archived;
    double hours;
    char *place, *trainer, *title, *description, *during, *after;
};

static void sctx_free(struct sctx *s)
{
    free(s->place);
    free(s->trainer);
    free(s->title);
    free(s->description);
    free(s->during);
    free(s->after);
    *s = (struct sctx){0};
}

static int sctx_load(struct app *a, int64_t session_id, struct sctx *s)
{
    *s = (struct sctx){0};
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT s.course_id, s.starts_at, s.ends_at, s.capacity, s.cancelled, s.place, "
               "s.trainer, c.title, c.description, c.hours, coalesce(c.elearning_during, ''), "
               "coalesce(c.elearning_after, ''), c.archived "
               "FROM session s JOIN course c ON c.id = s.course_id WHERE s.id = ?");
    sqlite3_bind_int64(st, 1, session_id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        s->session_id = session_id;
        s->course_id = sqlite3_column_int64(st, 0);
        s->starts = sqlite3_column_int64(st, 1);
        s->ends = sqlite3_column_int64(st, 2);
        s->capacity = sqlite3_column_int64(st, 3);
        s->cancelled = sqlite3_column_int(st, 4);
        s->place = dup_text(st, 5);
        s->trainer = dup_text(st, 6);
        s->title = dup_text(st, 7);
        s->description = dup_text(st, 8);
        s->hours = sqlite3_column_double(st, 9);
        s->during = dup_text(st, 10);
        s->after = dup_text(st, 11);
        s->archived = sqlite3_column_int(st, 12);
    }
    sqlite3_reset(st);
    return found ? 0 : -1;
}

/* How many of the session's places are taken. */
static int64_t places_taken(struct app *a, int64_t session_id)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT count(*) FROM enrolment WHERE session_id = ? AND "
                                      "state IN " TAKEN_SQL);
    sqlite3_bind_int64(st, 1, session_id);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

/* --- what a course covers ------------------------------------------------------------------ */

struct covered {
    int64_t requirement_id, system_id;
    int target;
    char *text, *system;
};

static size_t covered_load(struct app *a, int64_t course_id, struct covered **out)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT cr.requirement_id, cr.target_level, r.system_id, r.text, s.name "
               "FROM course_requirement cr JOIN requirement r ON r.id = cr.requirement_id "
               "JOIN system s ON s.id = r.system_id WHERE cr.course_id = ? "
               "ORDER BY r.system_id, r.position, r.id");
    sqlite3_bind_int64(st, 1, course_id);
    size_t n = 0, cap = 8;
    struct covered *c = xmalloc(cap * sizeof *c);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap)
            c = xrealloc(c, (cap *= 2) * sizeof *c);
        c[n].requirement_id = sqlite3_column_int64(st, 0);
        c[n].target = sqlite3_column_int(st, 1);
        c[n].system_id = sqlite3_column_int64(st, 2);
        c[n].text = dup_text(st, 3);
        c[n].system = dup_text(st, 4);
        n++;
    }
    sqlite3_reset(st);
    *out = c;
    return n;
}

static void covered_free(struct covered *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].system);
    }
    free(c);
}

/* The cell of requirement rid among an employee's cells (sorted by system and position, so a
 * linear look). */
static const struct gap_cell *cell_of(const struct gap_cell *cells, size_t n, int64_t rid)
{
    for (size_t i = 0; i < n; i++)
        if (cells[i].requirement_id == rid)
            return &cells[i];
    return NULL;
}

/* Does the course close (part of) this gap: open, and the target above the level now? */
static int closes(const struct gap_cell *c, int target)
{
    return c && c->gap > 0 && target > c->actual;
}

/* What the mails about one employee's invitation say about the course and their gaps: gaps, the
 * gaps it closes for them ({system, requirement, actual, required, target}), and covers, what it
 * covers ({system, requirement, target}) for when it closes none of theirs. Into vars. */
static void gaps_vars(struct app *a, int64_t employee_id, const struct covered *cov, size_t ncov,
                      json_t *vars)
{
    struct gap_cell *cells = NULL;
    size_t n = 0;
    if (gap_employee(a->gap, employee_id, &cells, &n, NULL))
        n = 0;
    json_t *gaps = json_array(), *covers = json_array();
    for (size_t i = 0; i < ncov; i++) {
        const struct gap_cell *c = cell_of(cells, n, cov[i].requirement_id);
        if (closes(c, cov[i].target))
            json_array_append_new(gaps, json_pack("{s:s, s:s, s:i, s:i, s:i}", "system",
                                                  cov[i].system, "requirement", cov[i].text,
                                                  "actual", c->actual, "required", c->required,
                                                  "target", cov[i].target));
        json_array_append_new(covers, json_pack("{s:s, s:s, s:i}", "system", cov[i].system,
                                                "requirement", cov[i].text, "target",
                                                cov[i].target));
    }
    json_object_set_new(vars, "gaps", gaps);
    json_object_set_new(vars, "covers", covers);
    free(cells);
}

/* --- mail ----------------------------------------------------------------------------------- */

/* Every mail's words are a template in web/templates/mail/ in the recipient's language
 * (mailtext.h); C hands it the facts. A mail about a session gets:
 *   to        the recipient's name
 *   employee  the name of the employee the enrolment is about
 *   session   {title, description, during, after, place, trainer, hours, starts_local,
 *             ends_local} (times in Norwegian time, "2030-01-10T09:00")
 *   reason    the reason given with the transition, or false
 * and an invitation also gaps and covers (gaps_vars). Owned. */
static json_t *mail_vars(const struct sctx *s, const struct person *emp, const char *reason)
{
    json_t *session = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:o}", "title", s->title,
                                "description", s->description, "during", s->during, "after",
                                s->after, "place", s->place, "trainer", s->trainer, "hours",
                                s->hours, "starts_local", oslo_json(s->starts), "ends_local",
                                oslo_json(s->ends));
    return json_pack("{s:s, s:s, s:o, s:o}", "to", "", "employee", emp->name ? emp->name : "",
                     "session", session, "reason",
                     reason && *reason ? json_string(reason) : json_false());
}

/* The calendar event that goes with a mail: a place in a session (the employee's), for the
 * employee or (for_manager) in their manager's calendar, naming the employee. */
struct calendar {
    const char *method;       /* "REQUEST" or "CANCEL" */
    int64_t sequence;
    const struct person *organizer;   /* may be NULL */
    int for_manager;
};

/* The event in lang: its summary and description from mail/calendar.txt. Owned, or NULL and
 * logged when the template fails. */
static char *session_ics(struct app *a, const struct sctx *s, const struct person *emp,
                         const struct calendar *cal, json_t *vars, const char *lang)
{
    json_object_set_new(vars, "for_manager", json_boolean(cal->for_manager));
    struct mail_text t;
    char *err = NULL;
    if (mail_text_render(a, "calendar", lang, vars, &t, &err)) {
        fprintf(stderr, "evne: mail: %s\n", err);
        free(err);
        return NULL;
    }
    const struct person *org = cal->organizer;
    struct course_ics ev = {
        .method = cal->method, .session_id = s->session_id, .employee_id = emp->id,
        .starts_at = s->starts, .ends_at = s->ends, .stamp = util_now(),
        .sequence = cal->sequence, .summary = t.subject, .location = s->place,
        .description = t.text, .organizer_name = org ? org->name : NULL,
        .organizer_email = org ? org->email : NULL, .attendee_name = emp->name,
        .attendee_email = emp->email,
    };
    char *ics = course_ics_text(&ev);
    mail_text_free(&t);
    return ics;
}

/* Queues mail `name` (web/templates/mail/NAME.txt) to `to` in their language, unless they are
 * nobody or the person who caused it, with the calendar event cal (may be NULL) of emp's place
 * in s. vars are mail_vars' (borrowed; "to" is set here). 0, or -1 when the outbox or the
 * template fails (logged). */
static int send_mail(struct app *a, const char *kind, const char *name, const struct person *to,
                     int64_t by, const struct sctx *s, const struct person *emp,
                     const struct calendar *cal, json_t *vars)
{
    if (!to->id || to->id == by || !to->email || !*to->email)
        return 0;
    json_object_set_new(vars, "to", json_string(to->name ? to->name : ""));
    char *ics = NULL;
    if (cal && !(ics = session_ics(a, s, emp, cal, vars, to->lang)))
        return -1;
    struct mail_text t;
    char *err = NULL;
    if (mail_text_render(a, name, to->lang, vars, &t, &err)) {
        fprintf(stderr, "evne: mail: %s\n", err);
        free(err);
        free(ics);
        return -1;
    }
    struct mail m = {.kind = kind, .to = to->email, .subject = t.subject, .body = t.text,
                     .html = t.html, .ics = ics};
    int rc = mail_queue(a->db, &m);
    mail_text_free(&t);
    free(ics);
    return rc;
}

/* --- enrolments: state changes -------------------------------------------------------------- */

static int set_state(struct app *a, int64_t enrolment_id, const char *from, enum state to,
                     int64_t by, const char *reason)
{
    int64_t now = util_now();
    sqlite3_stmt *st = db_stmt(a->db, "UPDATE enrolment SET state = ?2, updated_at = ?3, "
                                      "reason = coalesce(?4, reason) WHERE id = ?1");
    sqlite3_bind_int64(st, 1, enrolment_id);
    sqlite3_bind_text(st, 2, state_names[to], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    bind_text_or_null(st, 4, reason && *reason ? reason : NULL);
    if (db_exec_stmt(a->db, st))
        return -1;
    st = db_stmt(a->db, "INSERT INTO enrolment_event (enrolment_id, from_state, to_state, at, by) "
                        "VALUES (?, ?, ?, ?, ?)");
    sqlite3_bind_int64(st, 1, enrolment_id);
    bind_text_or_null(st, 2, from);
    sqlite3_bind_text(st, 3, state_names[to], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    bind_id_or_null(st, 5, by);
    return db_exec_stmt(a->db, st);
}

/* Gives free places to the waitlist, the longest waiting first, with a mail to each and their
 * manager. Inside the caller's transaction. */
static int promote_waitlist(struct app *a, const struct sctx *s)
{
    for (int64_t free_places = s->capacity - places_taken(a, s->session_id); free_places > 0;
         free_places--) {
        sqlite3_stmt *st = db_stmt(
            a->db, "SELECT en.id, en.employee_id FROM enrolment en WHERE en.session_id = ? AND "
                   "en.state = 'waitlisted' ORDER BY (SELECT max(id) FROM enrolment_event "
                   "WHERE enrolment_id = en.id), en.id LIMIT 1");
        sqlite3_bind_int64(st, 1, s->session_id);
        int64_t id = 0, emp = 0;
        if (sqlite3_step(st) == SQLITE_ROW) {
            id = sqlite3_column_int64(st, 0);
            emp = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (!id)
            break;
        if (set_state(a, id, "waitlisted", S_APPROVED, 0, NULL))
            return -1;
        struct person p, m;
        person_load(a, emp, &p);
        manager_of(a, emp, &m);
        json_t *vars = mail_vars(s, &p, NULL);
        int rc = send_mail(a, "enrolment_promoted", "enrolment_promoted", &p, 0, s, &p, NULL,
                           vars) ||
                 send_mail(a, "enrolment_promoted", "enrolment_promoted_manager", &m, 0, s, &p,
                           NULL, vars);
        json_decref(vars);
        person_free(&p);
        person_free(&m);
        if (rc)
            return -1;
    }
    return 0;
}

/* The CV entry of an attended course: title, the day, hours and the requirements covered. */
static int cv_from_attendance(struct app *a, int64_t enrolment_id, int64_t employee_id,
                              const struct sctx *s)
{
    struct covered *cov;
    size_t n = covered_load(a, s->course_id, &cov);
    struct buf detail = {0};
    for (size_t i = 0; i < n; i++)
        buf_printf(&detail, "%s%s: %s (nivå %d)", i ? "; " : "", cov[i].system, cov[i].text,
                   cov[i].target);
    covered_free(cov, n);
    char day[11];
    oslo_date(s->starts, day);
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO cv_entry (employee_id, title, happened_on, "
                                      "hours, detail, enrolment_id, created_at) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_text(st, 2, s->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 4, s->hours);
    sqlite3_bind_text(st, 5, detail.data ? detail.data : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, enrolment_id);
    sqlite3_bind_int64(st, 7, util_now());
    int rc = db_exec_stmt(a->db, st);
    buf_free(&detail);
    return rc;
}

int course_enrolment_get(struct app *a, int64_t id, struct course_enrolment *out)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT en.session_id, s.course_id, en.employee_id, "
                                      "en.state FROM enrolment en JOIN session s ON "
                                      "s.id = en.session_id WHERE en.id = ?");
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        out->id = id;
        out->session_id = sqlite3_column_int64(st, 0);
        out->course_id = sqlite3_column_int64(st, 1);
        out->employee_id = sqlite3_column_int64(st, 2);
        snprintf(out->state, sizeof out->state, "%s", db_text(st, 3));
    }
    sqlite3_reset(st);
    return found ? 0 : -1;
}

/* The mails of one transition: to the employee and/or the manager, never to who made it. Each
 * is web/templates/mail/KIND.txt (to the employee) and KIND_manager.txt (to their manager). */
static int transition_mails(struct app *a, enum course_action act, enum state to,
                            const struct sctx *s, const struct person *emp,
                            const struct person *mgr, int64_t by, const char *reason)
{
    const char *kind = NULL;
    int to_employee = 1, to_manager = 1;
    switch (act) {
    case COURSE_ACCEPT:
        kind = "approval_needed";
        to_employee = 0;
        break;
    case COURSE_DECLINE:
        kind = "enrolment_declined";
        to_employee = 0;
        break;
    case COURSE_APPROVE:
        kind = to == S_APPROVED ? "enrolment_approved" : "enrolment_waitlisted";
        break;
    case COURSE_REJECT: kind = "enrolment_rejected"; break;
    case COURSE_CANCEL: kind = "enrolment_cancelled"; break;
    case COURSE_ATTEND:
        kind = "course_attended";
        to_manager = 0;
        break;
    case COURSE_ABSENT: kind = "course_absent"; break;
    case COURSE_NACTIONS:
        UTIL_ABORT("no such action");
    }
    /* the place leaves both calendars */
    int cancels = to == S_REJECTED || to == S_CANCELLED;
    struct calendar cal = {.method = "CANCEL", .sequence = util_now()};
    struct calendar mcal = {.method = "CANCEL", .sequence = cal.sequence, .for_manager = 1};
    char mname[64];
    snprintf(mname, sizeof mname, "%s_manager", kind);
    json_t *vars = mail_vars(s, emp, reason);
    int rc = 0;
    if (to_employee)
        rc = send_mail(a, kind, kind, emp, by, s, emp, cancels ? &cal : NULL, vars);
    if (!rc && to_manager)
        rc = send_mail(a, kind, mname, mgr, by, s, emp, cancels ? &mcal : NULL, vars);
    json_decref(vars);
    return rc;
}

int course_act(struct app *a, int64_t id, enum course_action act, int64_t by, const json_t *body,
               struct derr *e)
{
    static const char *const allowed[] = {"reason", NULL};
    UTIL_ASSERT(act >= 0 && act < COURSE_NACTIONS);
    struct course_enrolment en;
    if (course_enrolment_get(a, id, &en))
        return derr(e, 404, "not_found", NULL, "there is no enrolment %lld", (long long)id);
    const char *reason = NULL;
    if (body && (dom_only(body, allowed, e) ||
                 dom_string(body, "reason", 0, 0, REASON_MAX_BYTES, &reason, e) < 0))
        return -1;
    int from = state_of(en.state);
    if (!(actions[act].from & B(from))) {
        char possible[128];
        states_text(actions[act].from, possible, sizeof possible);
        return derr(e, 409, "wrong_state", NULL, "enrolment %lld is %s; %s is possible only "
                    "from %s", (long long)id, en.state, actions[act].name, possible);
    }
    struct sctx s;
    if (sctx_load(a, en.session_id, &s))
        return derr_db(e);
    int64_t now = util_now();
    char at[21];
    util_iso8601(s.starts, at);
    int rc = 0;
    if (s.cancelled)
        rc = derr(e, 409, "wrong_state", NULL, "session %lld is cancelled",
                  (long long)s.session_id);
    else if (actions[act].after_start && now < s.starts)
        rc = derr(e, 409, "too_early", NULL, "session %lld starts at %s; %s is possible once it "
                  "has started", (long long)s.session_id, at, actions[act].name);
    else if (!actions[act].after_start && now >= s.starts)
        rc = derr(e, 409, "session_started", NULL, "session %lld started at %s; only attend "
                  "and absent are possible now", (long long)s.session_id, at);
    if (rc) {
        sctx_free(&s);
        return rc;
    }
    enum state to = actions[act].to;
    if (act == COURSE_APPROVE && places_taken(a, s.session_id) >= s.capacity)
        to = S_WAITLISTED;
    struct person emp, mgr;
    person_load(a, en.employee_id, &emp);
    manager_of(a, en.employee_id, &mgr);
    if (db_begin(a->db)) {
        rc = derr_db(e);
        goto out;
    }
    int ok = set_state(a, id, en.state, to, by, reason) == 0 &&
             transition_mails(a, act, to, &s, &emp, &mgr, by, reason) == 0;
    if (ok && act == COURSE_CANCEL && from == S_APPROVED)
        ok = promote_waitlist(a, &s) == 0;
    if (ok && act == COURSE_ATTEND)
        ok = cv_from_attendance(a, id, en.employee_id, &s) == 0;
    rc = commit_with_mail(a, ok, e);
out:
    person_free(&emp);
    person_free(&mgr);
    sctx_free(&s);
    return rc;
}

/* --- enrolments: reading -------------------------------------------------------------------- */

#define ENROLMENT_SELECT                                                                          \
    "SELECT en.id, en.session_id, s.course_id, c.title, en.employee_id, e.name, "               \
    "e.department_id, en.state, en.reason, en.created_at, en.updated_at, s.starts_at, "         \
    "s.ends_at, s.place, s.cancelled, "                                                          \
    "EXISTS (SELECT 1 FROM evaluation_answer WHERE enrolment_id = en.id) "                       \
    "FROM enrolment en JOIN session s ON s.id = en.session_id "                                  \
    "JOIN course c ON c.id = s.course_id JOIN employee e ON e.id = en.employee_id "

static json_t *enrolment_row(sqlite3_stmt *st)
{
    return json_pack("{s:I, s:I, s:I, s:s, s:I, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:s, "
                     "s:b, s:b}",
                     "id", (json_int_t)sqlite3_column_int64(st, 0), "session_id",
                     (json_int_t)sqlite3_column_int64(st, 1), "course_id",
                     (json_int_t)sqlite3_column_int64(st, 2), "course_title", db_text(st, 3),
                     "employee_id", (json_int_t)sqlite3_column_int64(st, 4), "employee_name",
                     db_text(st, 5), "department_id", (json_int_t)sqlite3_column_int64(st, 6),
                     "state", db_text(st, 7), "reason", text_or_null(st, 8), "created_at",
                     iso_json(sqlite3_column_int64(st, 9)), "updated_at",
                     iso_json(sqlite3_column_int64(st, 10)), "starts_at",
                     iso_json(sqlite3_column_int64(st, 11)), "ends_at",
                     iso_json(sqlite3_column_int64(st, 12)), "place", db_text(st, 13),
                     "session_cancelled", sqlite3_column_int(st, 14), "evaluated",
                     sqlite3_column_int(st, 15));
}

json_t *course_enrolment_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(a->db, ENROLMENT_SELECT "WHERE en.id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = sqlite3_step(st) == SQLITE_ROW ? enrolment_row(st) : NULL;
    sqlite3_reset(st);
    if (!o)
        return NULL;
    json_t *events = json_array();
    st = db_stmt(a->db, "SELECT from_state, to_state, at, by FROM enrolment_event "
                        "WHERE enrolment_id = ? ORDER BY id");
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(events, json_pack("{s:o, s:s, s:o, s:o}", "from",
                                                text_or_null(st, 0), "to", db_text(st, 1), "at",
                                                iso_json(sqlite3_column_int64(st, 2)), "by",
                                                int_or_null(st, 3)));
    sqlite3_reset(st);
    json_object_set_new(o, "events", events);
    return o;
}

/* Rows of a statement with one id parameter; only employees within departments when given. */
static json_t *enrolment_rows(struct app *a, const char *sql, int64_t param,
                              const int64_t *departments, size_t ndepartments, int64_t except)
{
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(a->db, sql);
    sqlite3_bind_int64(st, 1, param);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t emp = sqlite3_column_int64(st, 4), dept = sqlite3_column_int64(st, 6);
        if (emp == except)
            continue;
        int within = ndepartments == 0;
        for (size_t i = 0; i < ndepartments && !within; i++)
            within = gap_department_within(a->gap, dept, departments[i]);
        if (within)
            json_array_append_new(items, enrolment_row(st));
    }
    sqlite3_reset(st);
    return items;
}

json_t *course_enrolments_of_employee(struct app *a, int64_t employee_id)
{
    return enrolment_rows(a, ENROLMENT_SELECT "WHERE en.employee_id = ? "
                                              "ORDER BY s.starts_at DESC, en.id DESC",
                          employee_id, NULL, 0, 0);
}

json_t *course_enrolments_of_session(struct app *a, int64_t session_id,
                                     const int64_t *departments, size_t ndepartments)
{
    return enrolment_rows(a, ENROLMENT_SELECT "WHERE en.session_id = ? ORDER BY e.name, en.id",
                          session_id, departments, ndepartments, 0);
}

json_t *course_approvals(struct app *a, const int64_t *departments, size_t ndepartments,
                         int64_t manager_id)
{
    if (!ndepartments)
        return json_array();
    /* what can still be approved (accepted, in a session that has not started) of the people
     * whose nearest manager they are: the one the approval_needed mail went to */
    json_t *within = enrolment_rows(a, ENROLMENT_SELECT "WHERE en.state = 'accepted' AND "
                                                        "s.cancelled = 0 AND s.starts_at > ? AND "
                                                        "e.archived = 0 "
                                                        "ORDER BY s.starts_at, e.name, en.id",
                                    util_now(), departments, ndepartments, manager_id);
    json_t *items = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(within, i, v) {
        struct person m;
        manager_of(a, json_integer_value(json_object_get(v, "employee_id")), &m);
        if (m.id == manager_id)
            json_array_append(items, v);
        person_free(&m);
    }
    json_decref(within);
    return items;
}

/* --- invitations ----------------------------------------------------------------------------- */

int course_invite(struct app *a, int64_t session_id, int64_t by, const json_t *body,
                  json_t **created, struct derr *e)
{
    static const char *const allowed[] = {"employee_ids", NULL};
    struct sctx s;
    if (sctx_load(a, session_id, &s))
        return derr(e, 404, "not_found", NULL, "there is no session %lld", (long long)session_id);
    int rc = 0;
    size_t n = 0;
    int64_t *ids = NULL, *existing = NULL;
    char **old = NULL;
    struct covered *cov = NULL;
    size_t ncov = 0;
    const json_t *list = json_object_get(body, "employee_ids");
    if (dom_only(body, allowed, e)) {
        rc = -1;
        goto out;
    }
    if (!list) {
        rc = derr(e, 422, "invalid", "employee_ids", "'employee_ids' is required");
        goto out;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > MAX_INVITATIONS) {
        rc = derr(e, 422, "invalid", "employee_ids", "'employee_ids' must be a list of 1 to %d "
                  "employee ids", MAX_INVITATIONS);
        goto out;
    }
    n = json_array_size(list);
    ids = xcalloc(n, sizeof *ids);
    existing = xcalloc(n, sizeof *existing);
    old = xcalloc(n, sizeof *old);
    for (size_t i = 0; i < n; i++) {
        char field[40];
        snprintf(field, sizeof field, "employee_ids.%zu", i);
        const json_t *v = json_array_get(list, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            rc = derr(e, 422, "invalid", field, "'%s' must be an employee id", field);
            goto out;
        }
        ids[i] = json_integer_value(v);
        for (size_t k = 0; k < i; k++)
            if (ids[k] == ids[i]) {
                rc = derr(e, 422, "invalid", field, "employee %lld is in the list twice",
                          (long long)ids[i]);
                goto out;
            }
        if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ? AND archived = 0", ids[i])) {
            rc = derr(e, 422, "invalid", field, "there is no active employee %lld",
                      (long long)ids[i]);
            goto out;
        }
    }
    char at[21];
    util_iso8601(s.starts, at);
    if (s.cancelled) {
        rc = derr(e, 409, "wrong_state", NULL, "session %lld is cancelled", (long long)session_id);
        goto out;
    }
    if (s.archived) {
        rc = derr(e, 409, "conflict", NULL, "course %lld is archived", (long long)s.course_id);
        goto out;
    }
    if (util_now() >= s.starts) {
        rc = derr(e, 409, "session_started", NULL, "session %lld started at %s; invite to a "
                  "coming session", (long long)session_id, at);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = db_stmt(a->db, "SELECT en.id, en.state, e.name FROM enrolment en "
                                          "JOIN employee e ON e.id = en.employee_id "
                                          "WHERE en.session_id = ? AND en.employee_id = ?");
        sqlite3_bind_int64(st, 1, session_id);
        sqlite3_bind_int64(st, 2, ids[i]);
        if (sqlite3_step(st) == SQLITE_ROW) {
            existing[i] = sqlite3_column_int64(st, 0);
            old[i] = dup_text(st, 1);
            if (!(REINVITABLE & B(state_of(old[i])))) {
                char field[40];
                snprintf(field, sizeof field, "employee_ids.%zu", i);
                rc = derr(e, 409, "conflict", field, "employee %lld (%s) is already enrolled in "
                          "session %lld (enrolment %lld is %s); nobody was invited",
                          (long long)ids[i], db_text(st, 2), (long long)session_id,
                          (long long)existing[i], old[i]);
                sqlite3_reset(st);
                goto out;
            }
        }
        sqlite3_reset(st);
    }

    ncov = covered_load(a, s.course_id, &cov);
    struct person org;
    person_load(a, by, &org);
    int64_t now = util_now();
    if (db_begin(a->db)) {
        person_free(&org);
        rc = derr_db(e);
        goto out;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        if (existing[i]) {
            ok = set_state(a, existing[i], old[i], S_INVITED, by, NULL) == 0;
        } else {
            sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO enrolment (session_id, employee_id, "
                                              "state, created_at, updated_at) VALUES "
                                              "(?, ?, 'invited', ?, ?)");
            sqlite3_bind_int64(st, 1, session_id);
            sqlite3_bind_int64(st, 2, ids[i]);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_int64(st, 4, now);
            ok = db_exec_stmt(a->db, st) == 0;
            existing[i] = sqlite3_last_insert_rowid(db_handle(a->db));
            ok = ok && set_state(a, existing[i], NULL, S_INVITED, by, NULL) == 0;
        }
        if (!ok)
            break;
        struct person emp, mgr;
        person_load(a, ids[i], &emp);
        manager_of(a, ids[i], &mgr);
        json_t *vars = mail_vars(&s, &emp, NULL);
        gaps_vars(a, ids[i], cov, ncov, vars);
        struct calendar cal = {.method = "REQUEST", .organizer = &org};
        struct calendar mcal = {.method = "REQUEST", .organizer = &org, .for_manager = 1};
        /* by is 0 here: an adviser inviting themselves still gets the invitation */
        ok = send_mail(a, "invitation", "invitation", &emp, 0, &s, &emp, &cal, vars) == 0 &&
             send_mail(a, "invitation", "invitation_manager", &mgr, 0, &s, &emp, &mcal,
                       vars) == 0;
        json_decref(vars);
        person_free(&emp);
        person_free(&mgr);
    }
    person_free(&org);
    rc = commit_with_mail(a, ok, e);
    if (!rc) {
        *created = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(*created, course_enrolment_json(a, existing[i]));
    }
out:
    for (size_t i = 0; old && i < n; i++)
        free(old[i]);
    free(old);
    free(ids);
    free(existing);
    covered_free(cov, ncov);
    sctx_free(&s);
    return rc;
}

/* --- courses -------------------------------------------------------------------------------- */

static size_t prerequisites_of(struct app *a, int64_t course_id, int64_t **ids)
{
    return ids_of(a, "SELECT prerequisite_id FROM course_prerequisite WHERE course_id = ? "
                     "ORDER BY prerequisite_id", course_id, ids);
}

json_t *course_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT title, description, system_id, hours, elearning_during, elearning_after, "
               "series, series_order, archived, "
               "(SELECT count(*) FROM session WHERE course_id = course.id AND cancelled = 0 "
               "AND starts_at > ?2) FROM course WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, util_now());
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return NULL;
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:I}", "id",
                          (json_int_t)id, "title", db_text(st, 0), "description", db_text(st, 1),
                          "system_id", int_or_null(st, 2), "hours",
                          hours_json(sqlite3_column_double(st, 3)), "elearning_during",
                          text_or_null(st, 4), "elearning_after", text_or_null(st, 5), "series",
                          text_or_null(st, 6), "series_order", int_or_null(st, 7), "archived",
                          sqlite3_column_int(st, 8), "coming_sessions",
                          (json_int_t)sqlite3_column_int64(st, 9));
    sqlite3_reset(st);
    struct covered *cov;
    size_t n = covered_load(a, id, &cov);
    json_t *reqs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(reqs, json_pack("{s:I, s:i, s:I, s:s, s:s}", "requirement_id",
                                              (json_int_t)cov[i].requirement_id, "target_level",
                                              cov[i].target, "system_id",
                                              (json_int_t)cov[i].system_id, "text", cov[i].text,
                                              "system", cov[i].system));
    covered_free(cov, n);
    json_object_set_new(o, "requirements", reqs);
    int64_t *pre;
    size_t np = prerequisites_of(a, id, &pre);
    json_t *prereqs = json_array();
    for (size_t i = 0; i < np; i++)
        json_array_append_new(prereqs, json_integer(pre[i]));
    free(pre);
    json_object_set_new(o, "prerequisites", prereqs);
    return o;
}

json_t *course_list(struct app *a)
{
    int64_t *ids;
    size_t n = ids_of(a, "SELECT id FROM course WHERE id > ? ORDER BY archived, "
                         "coalesce(series, title), coalesce(series_order, 0), title, id",
                      0, &ids);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, course_json(a, ids[i]));
    free(ids);
    return items;
}

struct course_fields {
    const char *title, *description, *during, *after, *series;
    int has_during, has_after, has_series, has_order, has_system, has_hours;
    int64_t system_id;       /* 0: none */
    int64_t series_order;    /* 0: none */
    double hours;
    int archived;            /* -1 absent */
    const json_t *requirements, *prerequisites;
};

static int requirements_check(struct app *a, const json_t *list, int64_t system_id,
                              struct derr *e)
{
    if (!json_is_array(list))
        return derr(e, 422, "invalid", "requirements", "'requirements' must be a list of "
                    "{requirement_id, target_level}");
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) {
        char field[64];
        snprintf(field, sizeof field, "requirements.%zu", i);
        static const char *const allowed[] = {"requirement_id", "target_level", NULL};
        if (!json_is_object(r))
            return derr(e, 422, "invalid", field, "'%s' must be {requirement_id, target_level}",
                        field);
        struct derr inner;
        if (dom_only(r, allowed, &inner))
            return derr(e, 422, "invalid", field, "'%s' has an unknown field '%s'", field,
                        inner.field);
        const json_t *rid = json_object_get(r, "requirement_id");
        const json_t *target = json_object_get(r, "target_level");
        snprintf(field, sizeof field, "requirements.%zu.requirement_id", i);
        if (!json_is_integer(rid) || json_integer_value(rid) <= 0)
            return derr(e, 422, "invalid", field, "'%s' must be a requirement id", field);
        int64_t id = json_integer_value(rid);
        sqlite3_stmt *st =
            db_stmt(a->db, "SELECT system_id FROM requirement WHERE id = ? AND archived = 0");
        sqlite3_bind_int64(st, 1, id);
        int64_t sid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (!sid)
            return derr(e, 422, "invalid", field, "there is no active requirement %lld",
                        (long long)id);
        if (system_id > 0 && sid != system_id)
            return derr(e, 422, "invalid", field, "requirement %lld belongs to system %lld, not "
                        "to the course's system %lld", (long long)id, (long long)sid,
                        (long long)system_id);
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_object_get(json_array_get(list, k), "requirement_id")) ==
                id)
                return derr(e, 422, "invalid", field, "requirement %lld is in the list twice",
                            (long long)id);
        snprintf(field, sizeof field, "requirements.%zu.target_level", i);
        if (!json_is_integer(target) || json_integer_value(target) < 1 ||
            json_integer_value(target) > 4)
            return derr(e, 422, "invalid", field, "'%s' must be a level from 1 to 4", field);
    }
    return 0;
}

/* course_id 0 while creating. A prerequisite chain back to the course would be a cycle. */
static int prerequisites_check(struct app *a, int64_t course_id, const json_t *list,
                               struct derr *e)
{
    if (!json_is_array(list))
        return derr(e, 422, "invalid", "prerequisites", "'prerequisites' must be a list of "
                    "course ids");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char field[40];
        snprintf(field, sizeof field, "prerequisites.%zu", i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return derr(e, 422, "invalid", field, "'%s' must be a course id", field);
        int64_t id = json_integer_value(v);
        if (id == course_id)
            return derr(e, 422, "invalid", field, "a course cannot be its own prerequisite");
        if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", id))
            return derr(e, 422, "invalid", field, "there is no course %lld", (long long)id);
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_array_get(list, k)) == id)
                return derr(e, 422, "invalid", field, "course %lld is in the list twice",
                            (long long)id);
        if (course_id > 0) {
            sqlite3_stmt *st = db_stmt(
                a->db, "WITH RECURSIVE needs(id) AS (SELECT ?1 UNION "
                       "SELECT p.prerequisite_id FROM course_prerequisite p JOIN needs "
                       "ON p.course_id = needs.id) SELECT 1 FROM needs WHERE id = ?2");
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, course_id);
            int cycle = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
            if (cycle)
                return derr(e, 422, "invalid", field, "course %lld needs course %lld first "
                            "already (directly or through others): that would make a cycle",
                            (long long)id, (long long)course_id);
        }
    }
    return 0;
}

static int course_fields_read(struct app *a, int64_t id, const json_t *body,
                              struct course_fields *f, struct derr *e)
{
    static const char *const allowed[] = {"title", "description", "system_id", "hours",
                                          "elearning_during", "elearning_after", "series",
                                          "series_order", "requirements", "prerequisites",
                                          "archived", NULL};
    int creating = id == 0;
    *f = (struct course_fields){.archived = -1, .hours = 3};
    if (dom_only(body, allowed, e) ||
        dom_string(body, "title", creating, 1, TITLE_MAX_BYTES, &f->title, e) < 0 ||
        dom_string(body, "description", 0, 0, TEXT_MAX_BYTES, &f->description, e) < 0 ||
        (f->has_system = dom_id(body, "system_id", 0, 1, &f->system_id, e)) < 0 ||
        (f->has_during = nullable_string(body, "elearning_during", 1, URL_MAX_BYTES, &f->during,
                                         e)) < 0 ||
        (f->has_after = nullable_string(body, "elearning_after", 1, URL_MAX_BYTES, &f->after,
                                        e)) < 0 ||
        (f->has_series = nullable_string(body, "series", 1, TITLE_MAX_BYTES, &f->series, e)) < 0 ||
        dom_bool(body, "archived", &f->archived, e) < 0)
        return -1;
    if (f->during && !valid_url(f->during))
        return derr(e, 422, "invalid", "elearning_during", "'elearning_during' must be an "
                    "http:// or https:// link");
    if (f->after && !valid_url(f->after))
        return derr(e, 422, "invalid", "elearning_after", "'elearning_after' must be an "
                    "http:// or https:// link");
    const json_t *hours = json_object_get(body, "hours");
    if (hours) {
        if (!json_is_number(hours) || json_number_value(hours) <= 0 ||
            json_number_value(hours) > MAX_HOURS)
            return derr(e, 422, "invalid", "hours", "'hours' must be a number above 0 and at "
                        "most %g", MAX_HOURS);
        f->hours = json_number_value(hours);
        f->has_hours = 1;
    }
    const json_t *order = json_object_get(body, "series_order");
    if (order) {
        f->has_order = 1;
        if (!json_is_null(order) &&
            int_field(body, "series_order", 1, MAX_POSITION, &f->series_order, e) < 0)
            return -1;
    }
    if (f->has_system && f->system_id > 0 &&
        !dom_exists(a->db, "SELECT 1 FROM system WHERE id = ? AND archived = 0", f->system_id))
        return derr(e, 422, "invalid", "system_id", "there is no active system %lld",
                    (long long)f->system_id);
    /* the series and its order as they will be */
    int has_series = f->has_series ? f->series != NULL : 0;
    int64_t series_order = f->series_order;
    int64_t system_id = f->system_id;
    if (!creating) {
        sqlite3_stmt *st = db_stmt(a->db, "SELECT series IS NOT NULL, coalesce(series_order, 0), "
                                          "coalesce(system_id, 0) FROM course WHERE id = ?");
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (!f->has_series)
                has_series = sqlite3_column_int(st, 0);
            if (!f->has_order)
                series_order = sqlite3_column_int64(st, 1);
            if (!f->has_system)
                system_id = sqlite3_column_int64(st, 2);
        }
        sqlite3_reset(st);
    }
    if (f->has_series && !f->series && !f->has_order)
        series_order = 0;   /* out of its series: out of its order too */
    if (series_order > 0 && !has_series)
        return derr(e, 422, "invalid", "series_order", "'series_order' needs a 'series'");
    f->requirements = json_object_get(body, "requirements");
    f->prerequisites = json_object_get(body, "prerequisites");
    if (f->requirements && requirements_check(a, f->requirements, system_id, e))
        return -1;
    if (!f->requirements && !creating && f->has_system && system_id > 0) {
        /* the course's requirements stay: they must be of its new system */
        sqlite3_stmt *st = db_stmt(a->db, "SELECT r.id, r.system_id FROM course_requirement cr "
                                          "JOIN requirement r ON r.id = cr.requirement_id "
                                          "WHERE cr.course_id = ?1 AND r.system_id != ?2");
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, system_id);
        int clash = sqlite3_step(st) == SQLITE_ROW;
        int64_t rid = clash ? sqlite3_column_int64(st, 0) : 0;
        int64_t sid = clash ? sqlite3_column_int64(st, 1) : 0;
        sqlite3_reset(st);
        if (clash)
            return derr(e, 422, "invalid", "system_id", "the course covers requirement %lld of "
                        "system %lld; change 'requirements' along with 'system_id'",
                        (long long)rid, (long long)sid);
    }
    if (f->prerequisites && prerequisites_check(a, id, f->prerequisites, e))
        return -1;
    return 0;
}

static int course_links_write(struct app *a, int64_t id, const struct course_fields *f)
{
    size_t i;
    json_t *v;
    if (f->requirements) {
        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM course_requirement WHERE course_id = ?");
        sqlite3_bind_int64(st, 1, id);
        if (db_exec_stmt(a->db, st))
            return -1;
        json_array_foreach(f->requirements, i, v) {
            st = db_stmt(a->db, "INSERT INTO course_requirement (course_id, requirement_id, "
                                "target_level) VALUES (?, ?, ?)");
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, json_integer_value(json_object_get(v, "requirement_id")));
            sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(v, "target_level")));
            if (db_exec_stmt(a->db, st))
                return -1;
        }
    }
    if (f->prerequisites) {
        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM course_prerequisite WHERE course_id = ?");
        sqlite3_bind_int64(st, 1, id);
        if (db_exec_stmt(a->db, st))
            return -1;
        json_array_foreach(f->prerequisites, i, v) {
            st = db_stmt(a->db, "INSERT INTO course_prerequisite (course_id, prerequisite_id) "
                                "VALUES (?, ?)");
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, json_integer_value(v));
            if (db_exec_stmt(a->db, st))
                return -1;
        }
    }
    return 0;
}

int course_create(struct app *a, const json_t *body, int64_t *id, struct derr *e)
{
    struct course_fields f;
    if (course_fields_read(a, 0, body, &f, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "INSERT INTO course (title, description, system_id, hours, elearning_during, "
               "elearning_after, series, series_order, archived) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, f.title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, f.description ? f.description : "", -1, SQLITE_TRANSIENT);
    bind_id_or_null(st, 3, f.system_id);
    sqlite3_bind_double(st, 4, f.hours);
    bind_text_or_null(st, 5, f.during);
    bind_text_or_null(st, 6, f.after);
    bind_text_or_null(st, 7, f.series);
    bind_id_or_null(st, 8, f.series_order);
    sqlite3_bind_int(st, 9, f.archived > 0);
    int ok = db_exec_stmt(a->db, st) == 0;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    ok = ok && course_links_write(a, *id, &f) == 0;
    return commit_or_fail(a, ok, e);
}

int course_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", id))
        return derr(e, 404, "not_found", NULL, "there is no course %lld", (long long)id);
    struct course_fields f;
    if (course_fields_read(a, id, body, &f, e))
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(
        a->db, "UPDATE course SET title = coalesce(?2, title), "
               "description = coalesce(?3, description), "
               "system_id = CASE WHEN ?4 THEN ?5 ELSE system_id END, "
               "hours = CASE WHEN ?6 THEN ?7 ELSE hours END, "
               "elearning_during = CASE WHEN ?8 THEN ?9 ELSE elearning_during END, "
               "elearning_after = CASE WHEN ?10 THEN ?11 ELSE elearning_after END, "
               "series = CASE WHEN ?12 THEN ?13 ELSE series END, "
               "series_order = CASE WHEN ?14 THEN ?15 ELSE series_order END, "
               "archived = CASE WHEN ?16 >= 0 THEN ?16 ELSE archived END WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, f.title);
    bind_text_or_null(st, 3, f.description);
    sqlite3_bind_int(st, 4, f.has_system);
    bind_id_or_null(st, 5, f.system_id);
    sqlite3_bind_int(st, 6, f.has_hours);
    sqlite3_bind_double(st, 7, f.hours);
    sqlite3_bind_int(st, 8, f.has_during);
    bind_text_or_null(st, 9, f.during);
    sqlite3_bind_int(st, 10, f.has_after);
    bind_text_or_null(st, 11, f.after);
    sqlite3_bind_int(st, 12, f.has_series);
    bind_text_or_null(st, 13, f.series);
    sqlite3_bind_int(st, 14, f.has_order);
    bind_id_or_null(st, 15, f.series_order);
    sqlite3_bind_int(st, 16, f.archived);
    int ok = db_exec_stmt(a->db, st) == 0;
    if (ok && f.has_series && !f.series && !f.has_order) {
        /* out of its series: no order either */
        st = db_stmt(a->db, "UPDATE course SET series_order = NULL WHERE id = ?");
        sqlite3_bind_int64(st, 1, id);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    ok = ok && course_links_write(a, id, &f) == 0;
    return commit_or_fail(a, ok, e);
}

int course_delete(struct app *a, int64_t id, struct derr *e)
{
    if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", id))
        return derr(e, 404, "not_found", NULL, "there is no course %lld", (long long)id);
    if (dom_exists(a->db, "SELECT 1 FROM enrolment en JOIN session s ON s.id = en.session_id "
                          "WHERE s.course_id = ? LIMIT 1", id))
        return derr(e, 409, "has_history", NULL, "course %lld has sessions with enrolments; "
                    "archive it instead (PATCH {\"archived\": true})", (long long)id);
    sqlite3_stmt *st = db_stmt(a->db, "SELECT course_id FROM course_prerequisite "
                                      "WHERE prerequisite_id = ? ORDER BY course_id LIMIT 1");
    sqlite3_bind_int64(st, 1, id);
    int64_t needed_by = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (needed_by)
        return derr(e, 409, "conflict", NULL, "course %lld is a prerequisite of course %lld; "
                    "remove it there first, or archive it", (long long)id, (long long)needed_by);
    if (db_begin(a->db))
        return derr_db(e);
    static const char *const steps[] = {
        "DELETE FROM evaluation_question WHERE course_id = ?",
        "DELETE FROM course_requirement WHERE course_id = ?",
        "DELETE FROM course_prerequisite WHERE course_id = ?",
        "DELETE FROM session WHERE course_id = ?",
        "DELETE FROM course WHERE id = ?",
    };
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++) {
        st = db_stmt(a->db, steps[i]);
        sqlite3_bind_int64(st, 1, id);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    return commit_or_fail(a, ok, e);
}

/* --- sessions -------------------------------------------------------------------------------- */

json_t *course_session_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT s.course_id, c.title, s.starts_at, s.ends_at, s.place, s.trainer, "
               "s.capacity, s.cancelled FROM session s JOIN course c ON c.id = s.course_id "
               "WHERE s.id = ?");
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return NULL;
    }
    int64_t capacity = sqlite3_column_int64(st, 6);
    json_t *o = json_pack("{s:I, s:I, s:s, s:o, s:o, s:s, s:s, s:I, s:b}", "id", (json_int_t)id,
                          "course_id", (json_int_t)sqlite3_column_int64(st, 0), "course_title",
                          db_text(st, 1), "starts_at", iso_json(sqlite3_column_int64(st, 2)),
                          "ends_at", iso_json(sqlite3_column_int64(st, 3)), "place",
                          db_text(st, 4), "trainer", db_text(st, 5), "capacity",
                          (json_int_t)capacity, "cancelled", sqlite3_column_int(st, 7));
    sqlite3_reset(st);
    json_t *counts = json_object();
    for (int i = 0; i < S_NSTATES; i++)
        json_object_set_new(counts, state_names[i], json_integer(0));
    st = db_stmt(a->db, "SELECT state, count(*) FROM enrolment WHERE session_id = ? "
                        "GROUP BY state");
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(counts, db_text(st, 0), json_integer(sqlite3_column_int64(st, 1)));
    sqlite3_reset(st);
    int64_t taken = places_taken(a, id);
    json_object_set_new(o, "taken", json_integer(taken));
    json_object_set_new(o, "free", json_integer(capacity > taken ? capacity - taken : 0));
    json_object_set_new(o, "enrolments", counts);
    return o;
}

json_t *course_session_list(struct app *a, int64_t course_id)
{
    int64_t *ids;
    size_t n = ids_of(a, "SELECT id FROM session WHERE course_id = ? ORDER BY starts_at, id",
                      course_id, &ids);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, course_session_json(a, ids[i]));
    free(ids);
    return items;
}

/* A time field: an ISO 8601 UTC string. 1 present, 0 absent, -1 error. */
static int time_field(const json_t *body, const char *key, int required, int64_t *out,
                      struct derr *e)
{
    const char *s = NULL;
    int rc = dom_string(body, key, required, 1, 40, &s, e);
    if (rc <= 0)
        return rc;
    if (course_parse_utc(s, out))
        return derr(e, 422, "invalid", key, "'%s' must be a UTC time such as "
                    "\"2026-12-03T08:00:00Z\"", key);
    return 1;
}

struct session_fields {
    int64_t starts, ends, capacity;
    const char *place, *trainer;
    int has_starts, has_ends, has_capacity, cancelled;   /* cancelled -1: absent */
};

static int session_fields_read(const json_t *body, int creating, struct session_fields *f,
                               struct derr *e)
{
    static const char *const create_fields[] = {"starts_at", "ends_at", "place", "trainer",
                                                "capacity", NULL};
    static const char *const update_fields[] = {"starts_at", "ends_at", "place", "trainer",
                                                "capacity", "cancelled", NULL};
    *f = (struct session_fields){.cancelled = -1};
    if (dom_only(body, creating ? create_fields : update_fields, e) ||
        (f->has_starts = time_field(body, "starts_at", creating, &f->starts, e)) < 0 ||
        (f->has_ends = time_field(body, "ends_at", creating, &f->ends, e)) < 0 ||
        dom_string(body, "place", 0, 0, PLACE_MAX_BYTES, &f->place, e) < 0 ||
        dom_string(body, "trainer", 0, 0, PLACE_MAX_BYTES, &f->trainer, e) < 0 ||
        (!creating && dom_bool(body, "cancelled", &f->cancelled, e) < 0))
        return -1;
    if (creating && !json_object_get(body, "capacity"))
        return derr(e, 422, "invalid", "capacity", "'capacity' is required");
    if ((f->has_capacity = int_field(body, "capacity", 1, MAX_CAPACITY, &f->capacity, e)) < 0)
        return -1;
    return 0;
}

int course_session_create(struct app *a, int64_t course_id, const json_t *body, int64_t *id,
                          struct derr *e)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT archived FROM course WHERE id = ?");
    sqlite3_bind_int64(st, 1, course_id);
    int archived = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    if (archived < 0)
        return derr(e, 404, "not_found", NULL, "there is no course %lld", (long long)course_id);
    struct session_fields f;
    if (session_fields_read(body, 1, &f, e))
        return -1;
    if (f.ends <= f.starts)
        return derr(e, 422, "invalid", "ends_at", "'ends_at' must be after 'starts_at'");
    if (archived)
        return derr(e, 409, "conflict", NULL, "course %lld is archived; unarchive it first",
                    (long long)course_id);
    if (db_begin(a->db))
        return derr_db(e);
    st = db_stmt(a->db, "INSERT INTO session (course_id, starts_at, ends_at, place, trainer, "
                        "capacity) VALUES (?, ?, ?, ?, ?, ?)");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, f.starts);
    sqlite3_bind_int64(st, 3, f.ends);
    sqlite3_bind_text(st, 4, f.place ? f.place : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, f.trainer ? f.trainer : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, f.capacity);
    int ok = db_exec_stmt(a->db, st) == 0;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    return commit_or_fail(a, ok, e);
}

/* Mails to every open enrolment of a session: cancelled (cancel set: each enrolment goes to
 * cancelled) or moved (a new time or place, with the updated calendar event). */
static int session_mails(struct app *a, const struct sctx *s, int64_t by, int cancel)
{
    int64_t *ids;
    size_t n = ids_of(a, "SELECT id FROM enrolment WHERE session_id = ? AND state IN " OPEN_SQL
                         " ORDER BY id", s->session_id, &ids);
    int ok = 1;
    int64_t sequence = util_now();   /* later than the invitation's 0 and any earlier change */
    for (size_t i = 0; ok && i < n; i++) {
        struct course_enrolment en;
        if (course_enrolment_get(a, ids[i], &en)) {
            ok = 0;
            break;
        }
        struct person emp;
        person_load(a, en.employee_id, &emp);
        if (cancel)
            ok = set_state(a, en.id, en.state, S_CANCELLED, by, NULL) == 0;
        struct calendar cal = {.method = cancel ? "CANCEL" : "REQUEST", .sequence = sequence};
        const char *kind = cancel ? "session_cancelled" : "session_changed";
        json_t *vars = mail_vars(s, &emp, NULL);
        /* by 0: the person who changed it is told too, if they are enrolled */
        ok = ok && send_mail(a, kind, kind, &emp, 0, s, &emp, &cal, vars) == 0;
        json_decref(vars);
        person_free(&emp);
    }
    free(ids);
    return ok ? 0 : -1;
}

int course_session_update(struct app *a, int64_t id, int64_t by, const json_t *body,
                          struct derr *e)
{
    struct sctx s;
    if (sctx_load(a, id, &s))
        return derr(e, 404, "not_found", NULL, "there is no session %lld", (long long)id);
    struct session_fields f;
    int rc = 0;
    if (session_fields_read(body, 0, &f, e)) {
        rc = -1;
        goto out;
    }
    int64_t starts = f.has_starts ? f.starts : s.starts, ends = f.has_ends ? f.ends : s.ends;
    if (ends <= starts) {
        rc = derr(e, 422, "invalid", f.has_ends ? "ends_at" : "starts_at",
                  "'ends_at' must be after 'starts_at'");
        goto out;
    }
    int64_t taken = places_taken(a, id);
    if (f.has_capacity && f.capacity < taken) {
        rc = derr(e, 422, "invalid", "capacity", "%lld places are taken already; the capacity "
                  "cannot be less", (long long)taken);
        goto out;
    }
    if (s.cancelled) {
        rc = derr(e, 409, "wrong_state", NULL, "session %lld is cancelled and stays so",
                  (long long)id);
        goto out;
    }
    int cancel = f.cancelled == 1;
    int moved = (f.has_starts && starts != s.starts) || (f.has_ends && ends != s.ends) ||
                (f.place && strcmp(f.place, s.place));
    if (db_begin(a->db)) {
        rc = derr_db(e);
        goto out;
    }
    sqlite3_stmt *st = db_stmt(
        a->db, "UPDATE session SET starts_at = ?2, ends_at = ?3, place = coalesce(?4, place), "
               "trainer = coalesce(?5, trainer), capacity = coalesce(?6, capacity), "
               "cancelled = ?7 WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, starts);
    sqlite3_bind_int64(st, 3, ends);
    bind_text_or_null(st, 4, f.place);
    bind_text_or_null(st, 5, f.trainer);
    if (f.has_capacity)
        sqlite3_bind_int64(st, 6, f.capacity);
    sqlite3_bind_int(st, 7, cancel);
    int ok = db_exec_stmt(a->db, st) == 0;
    /* the mails tell what the session is now */
    s.starts = starts;
    s.ends = ends;
    if (f.place) {
        free(s.place);
        s.place = xstrdup(f.place);
    }
    if (f.trainer) {
        free(s.trainer);
        s.trainer = xstrdup(f.trainer);
    }
    if (f.has_capacity)
        s.capacity = f.capacity;
    if (ok && cancel)
        ok = session_mails(a, &s, by, 1) == 0;
    else if (ok && moved)
        ok = session_mails(a, &s, by, 0) == 0;
    if (ok && !cancel && f.has_capacity)
        ok = promote_waitlist(a, &s) == 0;
    rc = commit_with_mail(a, ok, e);
out:
    sctx_free(&s);
    return rc;
}

/* --- matches --------------------------------------------------------------------------------- */

/* The employees who attended a course, sorted. */
static size_t attendees_of(struct app *a, int64_t course_id, int64_t **ids)
{
    return ids_of(a, "SELECT DISTINCT en.employee_id FROM enrolment en JOIN session s "
                     "ON s.id = en.session_id WHERE s.course_id = ? AND en.state = 'attended' "
                     "ORDER BY 1", course_id, ids);
}

/* One course as the matching policy gets it (docs/rules.md), completed false; its coming
 * sessions, or only session only_session when that is not 0. */
static json_t *policy_course(struct app *a, int64_t course_id, int64_t only_session, int64_t now)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT title, system_id, series, series_order "
                                      "FROM course WHERE id = ?");
    sqlite3_bind_int64(st, 1, course_id);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        o = json_pack("{s:I, s:s, s:o, s:o, s:o, s:b}", "id", (json_int_t)course_id, "title",
                      db_text(st, 0), "system_id", int_or_null(st, 1), "series",
                      text_or_null(st, 2), "series_order", int_or_null(st, 3), "completed", 0);
    sqlite3_reset(st);
    if (!o)
        return NULL;
    int64_t *pre;
    size_t np = prerequisites_of(a, course_id, &pre);
    json_t *list = json_array();
    for (size_t i = 0; i < np; i++)
        json_array_append_new(list, json_integer(pre[i]));
    free(pre);
    json_object_set_new(o, "prerequisites", list);
    list = json_array();
    st = db_stmt(a->db, "SELECT requirement_id, target_level FROM course_requirement "
                        "WHERE course_id = ? ORDER BY requirement_id");
    sqlite3_bind_int64(st, 1, course_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(list, json_pack("{s:I, s:i}", "requirement_id",
                                              (json_int_t)sqlite3_column_int64(st, 0),
                                              "target_level", sqlite3_column_int(st, 1)));
    sqlite3_reset(st);
    json_object_set_new(o, "requirements", list);
    list = json_array();
    st = db_stmt(a->db, "SELECT id, starts_at, capacity, (SELECT count(*) FROM enrolment WHERE "
                        "session_id = session.id AND state IN " TAKEN_SQL ") FROM session "
                        "WHERE course_id = ?1 AND cancelled = 0 AND starts_at > ?2 AND "
                        "(?3 = 0 OR id = ?3) ORDER BY starts_at, id");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, only_session);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t capacity = sqlite3_column_int64(st, 2), taken = sqlite3_column_int64(st, 3);
        json_array_append_new(list, json_pack("{s:I, s:I, s:I, s:I}", "id",
                                              (json_int_t)sqlite3_column_int64(st, 0),
                                              "starts_at",
                                              (json_int_t)sqlite3_column_int64(st, 1),
                                              "capacity", (json_int_t)capacity, "free",
                                              (json_int_t)(capacity > taken ? capacity - taken
                                                                            : 0)));
    }
    sqlite3_reset(st);
    json_object_set_new(o, "sessions", list);
    return o;
}

/* A course the policy gets, with who attended it. */
struct table_course {
    int64_t id;
    json_t *json;            /* borrowed from the courses array */
    int64_t *attended;       /* sorted employee ids */
    size_t nattended;
};

/* An open enrolment in a session of the course that has not ended. */
struct open_enrolment {
    int64_t employee_id, enrolment_id, session_id;
    char state[16];
};

static int cmp_open(const void *x, const void *y)
{
    const struct open_enrolment *a = x, *b = y;
    return (a->employee_id > b->employee_id) - (a->employee_id < b->employee_id);
}

/* One employee of the answer: a proposal, someone lacking a prerequisite, or someone enrolled
 * already. Their ids lists live in the answer's pool (offsets, since the pool grows). */
struct match_row {
    int64_t employee_id, department_id;
    const char *name;        /* borrowed from the gap index's roll-up */
    size_t gaps, ngaps;      /* the requirements the course closes for them: pool[gaps..] */
    size_t missing, nmissing;   /* lacking: the courses they need first: pool[missing..] */
    json_t *reason, *priority, *session;   /* a proposal's; owned references */
    const struct open_enrolment *enrolment; /* enrolled */
};

struct match_list {
    struct match_row *rows;
    size_t n, cap;
};

static struct match_row *match_add(struct match_list *l)
{
    if (l->n == l->cap)
        l->rows = xrealloc(l->rows, (l->cap = l->cap ? 2 * l->cap : 64) * sizeof *l->rows);
    struct match_row *r = &l->rows[l->n++];
    *r = (struct match_row){0};
    return r;
}

static void match_list_free(struct match_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        json_decref(l->rows[i].reason);
        json_decref(l->rows[i].priority);
        json_decref(l->rows[i].session);
    }
    free(l->rows);
}

struct id_pool {
    int64_t *ids;
    size_t n, cap;
};

static void pool_add(struct id_pool *p, int64_t id)
{
    if (p->n == p->cap)
        p->ids = xrealloc(p->ids, (p->cap = p->cap ? 2 * p->cap : 1024) * sizeof *p->ids);
    p->ids[p->n++] = id;
}

static int cmp_name_id(const struct match_row *a, const struct match_row *b)
{
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return (a->employee_id > b->employee_id) - (a->employee_id < b->employee_id);
}

static int cmp_by_name(const void *x, const void *y) { return cmp_name_id(x, y); }

/* The highest priority first; equal ones by name, so that the order never changes by chance. */
static int cmp_by_priority(const void *x, const void *y)
{
    const struct match_row *a = x, *b = y;
    double pa = json_number_value(a->priority), pb = json_number_value(b->priority);
    if (pa != pb)
        return pa < pb ? 1 : -1;
    return cmp_name_id(a, b);
}


static void put_ids(struct buf *b, const char *key, const struct id_pool *p, size_t at, size_t n)
{
    buf_puts(b, key);
    buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_puts(b, ",");
        buf_putint(b, p->ids[at + i]);
    }
    buf_puts(b, "]");
}

/* A number as the policy gave it: 3 or 2.5. */
static void put_number(struct buf *b, const json_t *v)
{
    if (json_is_integer(v))
        buf_putint(b, json_integer_value(v));
    else
        buf_printf(b, "%.17g", json_number_value(v));
}

static void put_person(struct buf *b, const struct match_row *r)
{
    buf_puts(b, "{\"employee_id\":");
    buf_putint(b, r->employee_id);
    buf_puts(b, ",\"name\":");
    buf_json_string(b, r->name);
    buf_puts(b, ",\"department_id\":");
    buf_putint(b, r->department_id);
}

/* The answer, written straight into one buffer: with thousands of proposals, building and
 * dumping a JSON tree took as long as the policy. */
static void matches_write(struct buf *b, int64_t course_id, int64_t session_id,
                          const struct match_list *items, const struct match_list *lacking,
                          const struct match_list *enrolled, const struct id_pool *pool)
{
    buf_reserve(b, 256 + items->n * 200 + lacking->n * 120 + enrolled->n * 160);
    buf_puts(b, "{\"course_id\":");
    buf_putint(b, course_id);
    buf_puts(b, ",\"session_id\":");
    if (session_id)
        buf_putint(b, session_id);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"items\":[");
    for (size_t i = 0; i < items->n; i++) {
        const struct match_row *r = &items->rows[i];
        buf_puts(b, i ? ",": "");
        put_person(b, r);
        buf_puts(b, ",\"reason\":");
        buf_json_string(b, json_string_value(r->reason));
        buf_puts(b, ",\"priority\":");
        put_number(b, r->priority);
        buf_puts(b, ",\"session_id\":");
        if (json_is_integer(r->session))
            buf_putint(b, json_integer_value(r->session));
        else
            buf_puts(b, "null");
        put_ids(b, ",\"gaps\":", pool, r->gaps, r->ngaps);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"lacking_prerequisite\":[");
    for (size_t i = 0; i < lacking->n; i++) {
        const struct match_row *r = &lacking->rows[i];
        buf_puts(b, i ? ",": "");
        put_person(b, r);
        put_ids(b, ",\"missing\":", pool, r->missing, r->nmissing);
        put_ids(b, ",\"gaps\":", pool, r->gaps, r->ngaps);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"enrolled\":[");
    for (size_t i = 0; i < enrolled->n; i++) {
        const struct match_row *r = &enrolled->rows[i];
        buf_puts(b, i ? ",": "");
        put_person(b, r);
        buf_puts(b, ",\"enrolment_id\":");
        buf_putint(b, r->enrolment->enrolment_id);
        buf_puts(b, ",\"session_id\":");
        buf_putint(b, r->enrolment->session_id);
        buf_puts(b, ",\"state\":");
        buf_json_string(b, r->enrolment->state);
        put_ids(b, ",\"gaps\":", pool, r->gaps, r->ngaps);
        buf_puts(b, "}");
    }
    buf_puts(b, "]}");
}

/* The names the matching policy gets with each gap, by requirement id, loaded once per
 * request. */
struct gap_names {
    char **text, **system;
    size_t n;
};

static void gap_names_load(struct app *a, struct gap_names *g)
{
    *g = (struct gap_names){0};
    sqlite3_stmt *st = db_stmt(a->db, "SELECT r.id, r.text, s.name FROM requirement r "
                                      "JOIN system s ON s.id = r.system_id ORDER BY r.id DESC");
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (!g->n) {   /* the first row has the highest id */
            g->n = (size_t)id + 1;
            g->text = xcalloc(g->n, sizeof *g->text);
            g->system = xcalloc(g->n, sizeof *g->system);
        }
        g->text[id] = dup_text(st, 1);
        g->system[id] = dup_text(st, 2);
    }
    sqlite3_reset(st);
}

static void gap_names_free(struct gap_names *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->system[i]);
    }
    free(g->text);
    free(g->system);
}

/* What course_matches hands the matching policy (lh_match_many): the employees with an open
 * gap the course closes, one at a time; those enrolled already or lacking a prerequisite go
 * straight to their lists on the way. */
struct match_feed {
    struct app *a;
    int64_t course_id;
    const struct covered *cov;
    size_t ncov;
    const struct table_course *table;   /* [0] is the course */
    size_t ntable;
    const struct open_enrolment *open;
    size_t nopen;
    const struct gap_row *rows;
    size_t nrows, at;
    struct gap_names names;
    struct match_list items, lacking, enrolled;
    struct id_pool pool;
    /* the employee given last, and what it was made of */
    struct match_row row;
    struct gap_cell *cells;
    struct lh_gap *gaps;
    size_t gaps_cap;
    int64_t *profiles;
    size_t profiles_cap;
    unsigned char *completed;
};

static int feed_next(void *arg, struct lh_match_employee *e)
{
    struct match_feed *f = arg;
    struct app *a = f->a;
    while (f->at < f->nrows) {
        const struct gap_row *gr = &f->rows[f->at++];
        if (gr->open_gaps == 0)
            continue;
        int64_t emp = gr->id;
        free(f->cells);
        f->cells = NULL;
        size_t ncells;
        if (gap_employee(a->gap, emp, &f->cells, &ncells, NULL)) {
            f->cells = NULL;
            continue;
        }
        struct id_pool *pool = &f->pool;
        size_t gaps_at = pool->n;
        for (size_t i = 0; i < f->ncov; i++)
            if (closes(cell_of(f->cells, ncells, f->cov[i].requirement_id), f->cov[i].target))
                pool_add(pool, f->cov[i].requirement_id);
        size_t ngaps = pool->n - gaps_at;
        if (ngaps == 0)
            continue;
        struct match_row row = {.employee_id = emp, .name = gr->name,
                                .department_id = gap_employee_department(a->gap, emp),
                                .gaps = gaps_at, .ngaps = ngaps};
        struct open_enrolment key = {.employee_id = emp};
        row.enrolment = f->nopen ? bsearch(&key, f->open, f->nopen, sizeof *f->open, cmp_open)
                                 : NULL;
        if (row.enrolment) {
            *match_add(&f->enrolled) = row;
            continue;
        }
        row.missing = pool->n;
        for (size_t i = 1; i < f->ntable; i++)
            if (!has_id(f->table[i].attended, f->table[i].nattended, emp))
                pool_add(pool, f->table[i].id);
        row.nmissing = pool->n - row.missing;
        if (row.nmissing) {
            *match_add(&f->lacking) = row;
            continue;
        }
        /* asked: their open gaps, profiles and completed courses */
        if (ncells > f->gaps_cap)
            f->gaps = xrealloc(f->gaps, (f->gaps_cap = ncells) * sizeof *f->gaps);
        size_t n = 0;
        for (size_t i = 0; i < ncells; i++) {
            const struct gap_cell *c = &f->cells[i];
            int64_t rid = c->requirement_id;
            if (c->gap <= 0 || rid < 0 || (size_t)rid >= f->names.n)
                continue;
            f->gaps[n++] = (struct lh_gap){
                .requirement_id = rid, .system_id = c->system_id,
                .requirement = f->names.text[rid], .system = f->names.system[rid],
                .required = c->required, .actual = c->actual, .gap = c->gap,
                .class_id = c->class_id};
        }
        size_t nprofiles = 0;
        sqlite3_stmt *st = db_stmt(a->db, "SELECT profile_id FROM assignment "
                                          "WHERE employee_id = ? ORDER BY profile_id");
        sqlite3_bind_int64(st, 1, emp);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (nprofiles == f->profiles_cap)
                f->profiles = xrealloc(f->profiles, (f->profiles_cap = 2 * f->profiles_cap + 8) *
                                                        sizeof *f->profiles);
            f->profiles[nprofiles++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < f->ntable; i++)
            f->completed[i] = (unsigned char)has_id(f->table[i].attended, f->table[i].nattended,
                                                    emp);
        f->row = row;
        *e = (struct lh_match_employee){.id = emp, .department_id = row.department_id,
                                        .name = gr->name, .profiles = f->profiles,
                                        .nprofiles = nprofiles, .gaps = f->gaps, .ngaps = n,
                                        .completed = f->completed};
        return 1;
    }
    return 0;
}

/* The policy's proposals for the employee given last: theirs of this course, if any. */
static void feed_done(void *arg, const struct lh_match_employee *e, const json_t *proposals)
{
    struct match_feed *f = arg;
    (void)e;
    size_t i;
    json_t *p;
    json_array_foreach(proposals, i, p) {
        if (json_integer_value(json_object_get(p, "course")) == f->course_id) {
            struct match_row row = f->row;
            row.reason = json_incref(json_object_get(p, "reason"));
            row.priority = json_incref(json_object_get(p, "priority"));
            row.session = json_incref(json_object_get(p, "session"));
            *match_add(&f->items) = row;
            break;
        }
    }
}

int course_matches(struct app *a, int64_t course_id, const int64_t *departments,
                   size_t ndepartments, int64_t session_id, struct buf *out, struct derr *e)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT archived, series, coalesce(series_order, 0) "
                                      "FROM course WHERE id = ?");
    sqlite3_bind_int64(st, 1, course_id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return derr(e, 404, "not_found", NULL, "there is no course %lld", (long long)course_id);
    }
    int archived = sqlite3_column_int(st, 0);
    char *series = db_text(st, 1) ? xstrdup(db_text(st, 1)) : NULL;
    int64_t series_order = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    int64_t now = util_now();
    if (session_id && !dom_exists(a->db, "SELECT 1 FROM session WHERE id = ? AND cancelled = 0",
                                  session_id)) {
        free(series);
        return derr(e, 422, "invalid", "session_id", "there is no session %lld",
                    (long long)session_id);
    }
    if (session_id) {
        st = db_stmt(a->db, "SELECT course_id, starts_at FROM session WHERE id = ?");
        sqlite3_bind_int64(st, 1, session_id);
        sqlite3_step(st);
        int64_t of = sqlite3_column_int64(st, 0), starts = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
        if (of != course_id || starts <= now) {
            free(series);
            return derr(e, 422, "invalid", "session_id", of != course_id
                        ? "session %lld is not a session of this course"
                        : "session %lld has started already", (long long)session_id);
        }
    }
    if (archived) {
        free(series);
        return derr(e, 409, "conflict", NULL, "course %lld is archived", (long long)course_id);
    }
    /* One read transaction for the whole answer: one snapshot, and no lock taken and released
     * for each of the thousands of small reads below. */
    int reading = db_exec(a->db, "BEGIN") == 0;

    /* The courses the policy gets: this one, what it needs first (its prerequisites and the
     * earlier courses of its series), so that the policy can tell what is completed. */
    int64_t *related;
    size_t nrelated = prerequisites_of(a, course_id, &related);
    if (series) {
        st = db_stmt(a->db, "SELECT id FROM course WHERE series = ?1 AND id != ?2 AND "
                            "archived = 0 AND coalesce(series_order, 0) < ?3 ORDER BY id");
        sqlite3_bind_text(st, 1, series, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, course_id);
        sqlite3_bind_int64(st, 3, series_order);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(st, 0);
            int dup = 0;
            for (size_t i = 0; i < nrelated && !dup; i++)
                dup = related[i] == id;
            if (!dup) {
                related = xrealloc(related, (nrelated + 1) * sizeof *related);
                related[nrelated++] = id;
            }
        }
        sqlite3_reset(st);
    }
    free(series);
    size_t ntable = nrelated + 1;
    struct table_course *table = xcalloc(ntable, sizeof *table);
    json_t *courses = json_array();
    for (size_t i = 0; i < ntable; i++) {
        table[i].id = i == 0 ? course_id : related[i - 1];
        json_t *c = policy_course(a, table[i].id, i == 0 ? session_id : 0, now);
        json_array_append_new(courses, c);
        table[i].json = c;
        table[i].nattended = attendees_of(a, table[i].id, &table[i].attended);
    }
    free(related);

    struct covered *cov;
    size_t ncov = covered_load(a, course_id, &cov);
    int64_t system_id = ncov ? cov[0].system_id : 0;
    for (size_t i = 1; i < ncov; i++)
        if (cov[i].system_id != system_id)
            system_id = 0;

    size_t nopen = 0, capopen = 16;
    struct open_enrolment *open = xmalloc(capopen * sizeof *open);
    st = db_stmt(a->db, "SELECT en.employee_id, en.id, en.session_id, en.state FROM enrolment en "
                        "JOIN session s ON s.id = en.session_id WHERE s.course_id = ?1 AND "
                        "s.cancelled = 0 AND s.ends_at > ?2 AND en.state IN " OPEN_SQL
                        " ORDER BY en.employee_id, s.starts_at");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, now);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nopen == capopen)
            open = xrealloc(open, (capopen *= 2) * sizeof *open);
        struct open_enrolment *o = &open[nopen++];
        o->employee_id = sqlite3_column_int64(st, 0);
        o->enrolment_id = sqlite3_column_int64(st, 1);
        o->session_id = sqlite3_column_int64(st, 2);
        snprintf(o->state, sizeof o->state, "%s", db_text(st, 3));
    }
    sqlite3_reset(st);

    struct match_feed f = {.a = a, .course_id = course_id, .cov = cov, .ncov = ncov,
                           .table = table, .ntable = ntable, .open = open, .nopen = nopen};
    gap_names_load(a, &f.names);
    f.completed = xcalloc(ntable, 1);
    struct gap_row *rows = NULL;
    size_t nrows = 0;
    if (ncov) {
        /* Only employees with an open gap on what the course covers reach the policy: the
         * index's roll-up names those with open gaps (within the system, when the course is of
         * one), their cells tell which gaps the course closes. */
        struct gap_filter gf = {.departments = departments, .ndepartments = ndepartments,
                                .system_id = system_id};
        gap_rollup(a->gap, GAP_BY_EMPLOYEE, &gf, &rows, &nrows);
    }
    f.rows = rows;
    f.nrows = nrows;
    int rc = 0;
    /* One call into Lua for everyone: the courses are made once, and each employee's gaps go
     * straight from the index into Lua tables. */
    struct lh_match_feed feed = {.next = feed_next, .done = feed_done, .arg = &f};
    int64_t failed = 0;
    char *err = NULL;
    if (a->rules && lh_match_many(a->rules, courses, &feed, &failed, &err)) {
        fprintf(stderr, "evne: matching employee %lld for course %lld: %s\n", (long long)failed,
                (long long)course_id, err);
        size_t line = strcspn(err, "\n");
        rc = derr(e, 500, "policy_failed", NULL, "the matching policy failed: %.*s",
                  (int)(line > 250 ? 250 : line), err);
        free(err);
    } else if (!a->rules) {
        struct lh_match_employee ignored;
        while (feed_next(&f, &ignored))
            ;
    }
    free(rows);
    free(f.cells);
    free(f.gaps);
    free(f.profiles);
    free(f.completed);
    gap_names_free(&f.names);
    struct match_list items = f.items, lacking = f.lacking, enrolled = f.enrolled;
    struct id_pool pool = f.pool;

    if (rc == 0) {
        if (items.n > 1)
            util_sort(items.rows, items.n, sizeof *items.rows, cmp_by_priority);
        if (lacking.n > 1)
            util_sort(lacking.rows, lacking.n, sizeof *lacking.rows, cmp_by_name);
        if (enrolled.n > 1)
            util_sort(enrolled.rows, enrolled.n, sizeof *enrolled.rows, cmp_by_name);
        matches_write(out, course_id, session_id, &items, &lacking, &enrolled, &pool);
    }
    match_list_free(&items);
    match_list_free(&lacking);
    match_list_free(&enrolled);
    free(pool.ids);
    free(open);
    covered_free(cov, ncov);
    for (size_t i = 0; i < ntable; i++)
        free(table[i].attended);
    free(table);
    json_decref(courses);
    if (reading)
        db_exec(a->db, "COMMIT");
    return rc;
}

/* --- after the course: reassessment --------------------------------------------------------- */

int course_reassess(struct app *a, int64_t enrolment_id, int64_t by, const json_t *body,
                    json_t **created, struct derr *e)
{
    static const char *const allowed[] = {"levels", NULL};
    struct course_enrolment en;
    if (course_enrolment_get(a, enrolment_id, &en))
        return derr(e, 404, "not_found", NULL, "there is no enrolment %lld",
                    (long long)enrolment_id);
    if (dom_only(body, allowed, e))
        return -1;
    const json_t *levels = json_object_get(body, "levels");
    if (!levels)
        return derr(e, 422, "invalid", "levels", "'levels' is required");
    if (!json_is_object(levels) || json_object_size(levels) == 0)
        return derr(e, 422, "invalid", "levels",
                    "'levels' must be a non-empty object of requirement id to level");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)levels, key, v) {
        char field[64];
        snprintf(field, sizeof field, "levels.%.40s", key);
        int64_t rid;
        int level;
        if (dom_key_id(key, field, &rid, e) || dom_level(v, field, &level, e))
            return -1;
        sqlite3_stmt *st = db_stmt(a->db, "SELECT 1 FROM course_requirement WHERE course_id = ? "
                                          "AND requirement_id = ?");
        sqlite3_bind_int64(st, 1, en.course_id);
        sqlite3_bind_int64(st, 2, rid);
        int covered = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!covered)
            return derr(e, 422, "invalid", field, "course %lld does not cover requirement %lld",
                        (long long)en.course_id, (long long)rid);
    }
    if (strcmp(en.state, "attended"))
        return derr(e, 409, "wrong_state", NULL, "enrolment %lld is %s; the reassessment comes "
                    "after attending (attended)", (long long)enrolment_id, en.state);
    sqlite3_stmt *st = db_stmt(a->db, "SELECT title FROM course WHERE id = ?");
    sqlite3_bind_int64(st, 1, en.course_id);
    char *note = xasprintf("etter kurset %s", sqlite3_step(st) == SQLITE_ROW ? db_text(st, 0)
                                                                              : "?");
    sqlite3_reset(st);
    /* assess_record checks the levels and requirements once more and moves the gap index */
    json_t *record = json_pack("{s:s, s:O, s:s}", "source", "course", "levels", levels, "note",
                               note);
    free(note);
    int rc = assess_record(a, en.employee_id, by, record, created, e);
    json_decref(record);
    return rc;
}

/* --- the evaluation --------------------------------------------------------------------------- */

#define QUESTION_COLUMNS "id, course_id, text, kind, position, archived"

static json_t *question_row(sqlite3_stmt *st)
{
    int global = sqlite3_column_type(st, 1) == SQLITE_NULL;
    return json_pack("{s:I, s:o, s:s, s:s, s:I, s:b, s:b}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "course_id", int_or_null(st, 1),
                     "text", db_text(st, 2), "kind", db_text(st, 3), "position",
                     (json_int_t)sqlite3_column_int64(st, 4), "archived",
                     sqlite3_column_int(st, 5), "global", global);
}

json_t *course_question_json(struct app *a, int64_t id)
{
    sqlite3_stmt *st = db_stmt(a->db, "SELECT " QUESTION_COLUMNS " FROM evaluation_question "
                                      "WHERE id = ?");
    sqlite3_bind_int64(st, 1, id);
    json_t *o = sqlite3_step(st) == SQLITE_ROW ? question_row(st) : NULL;
    sqlite3_reset(st);
    return o;
}

/* The questions asked after a course: the global ones and its own, by position. */
json_t *course_questions(struct app *a, int64_t course_id)
{
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT " QUESTION_COLUMNS " FROM evaluation_question "
                                      "WHERE (course_id = ? OR course_id IS NULL) AND "
                                      "archived = 0 ORDER BY position, id");
    sqlite3_bind_int64(st, 1, course_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(items, question_row(st));
    sqlite3_reset(st);
    return items;
}

static const char *question_kind(const char *s)
{
    return s && !strcmp(s, "scale") ? "scale" : s && !strcmp(s, "text") ? "text" : NULL;
}

int course_question_create(struct app *a, int64_t course_id, const json_t *body, int64_t *id,
                           struct derr *e)
{
    static const char *const allowed[] = {"text", "kind", "position", "global", NULL};
    if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", course_id))
        return derr(e, 404, "not_found", NULL, "there is no course %lld", (long long)course_id);
    const char *text = NULL, *kind = NULL;
    int global = 0;
    int64_t position = 0;
    if (dom_only(body, allowed, e) || dom_string(body, "text", 1, 1, 1000, &text, e) < 0 ||
        dom_string(body, "kind", 1, 1, 10, &kind, e) < 0 ||
        int_field(body, "position", 1, MAX_POSITION, &position, e) < 0 ||
        dom_bool(body, "global", &global, e) < 0)
        return -1;
    if (!question_kind(kind))
        return derr(e, 422, "invalid", "kind", "'kind' must be \"scale\" (1-5) or \"text\"");
    if (!position) {
        sqlite3_stmt *st = db_stmt(a->db, "SELECT coalesce(max(position), 0) + 1 FROM "
                                          "evaluation_question WHERE course_id = ? OR "
                                          "course_id IS NULL");
        sqlite3_bind_int64(st, 1, course_id);
        position = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
        sqlite3_reset(st);
    }
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO evaluation_question (course_id, text, kind, "
                                      "position) VALUES (?, ?, ?, ?)");
    bind_id_or_null(st, 1, global ? 0 : course_id);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, question_kind(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, position);
    int ok = db_exec_stmt(a->db, st) == 0;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    return commit_or_fail(a, ok, e);
}

int course_question_update(struct app *a, int64_t id, const json_t *body, struct derr *e)
{
    static const char *const allowed[] = {"text", "position", "archived", NULL};
    if (!dom_exists(a->db, "SELECT 1 FROM evaluation_question WHERE id = ?", id))
        return derr(e, 404, "not_found", NULL, "there is no evaluation question %lld",
                    (long long)id);
    const char *text = NULL;
    int64_t position = 0;
    int archived = -1;
    if (dom_only(body, allowed, e) || dom_string(body, "text", 0, 1, 1000, &text, e) < 0 ||
        int_field(body, "position", 1, MAX_POSITION, &position, e) < 0 ||
        dom_bool(body, "archived", &archived, e) < 0)
        return -1;
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "UPDATE evaluation_question SET text = coalesce(?2, text), "
                                      "position = CASE WHEN ?3 > 0 THEN ?3 ELSE position END, "
                                      "archived = CASE WHEN ?4 >= 0 THEN ?4 ELSE archived END "
                                      "WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    bind_text_or_null(st, 2, text);
    sqlite3_bind_int64(st, 3, position);
    sqlite3_bind_int(st, 4, archived);
    return commit_or_fail(a, db_exec_stmt(a->db, st) == 0, e);
}

#define FREE_TEXT_QUESTION "Kommentarer til kurset"

int course_evaluate(struct app *a, int64_t enrolment_id, const json_t *body, json_t **answers,
                    struct derr *e)
{
    static const char *const allowed[] = {"answers", NULL};
    static const char *const answer_fields[] = {"question_id", "score", "text", NULL};
    struct course_enrolment en;
    if (course_enrolment_get(a, enrolment_id, &en))
        return derr(e, 404, "not_found", NULL, "there is no enrolment %lld",
                    (long long)enrolment_id);
    if (dom_only(body, allowed, e))
        return -1;
    const json_t *list = json_object_get(body, "answers");
    if (!list)
        return derr(e, 422, "invalid", "answers", "'answers' is required");
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 100)
        return derr(e, 422, "invalid", "answers", "'answers' must be a list of 1 to 100 "
                    "{question_id, score | text}");
    json_t *questions = course_questions(a, en.course_id);
    int free_text = json_array_size(questions) == 0;
    size_t n = json_array_size(list);
    int64_t *qids = xcalloc(n, sizeof *qids);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char field[64];
        snprintf(field, sizeof field, "answers.%zu", i);
        const json_t *ans = json_array_get(list, i);
        struct derr inner;
        if (!json_is_object(ans)) {
            rc = derr(e, 422, "invalid", field, "'%s' must be {question_id, score | text}", field);
            break;
        }
        if (dom_only(ans, answer_fields, &inner)) {
            rc = derr(e, 422, "invalid", field, "'%s' has an unknown field '%s'", field,
                      inner.field);
            break;
        }
        const json_t *qid = json_object_get(ans, "question_id");
        const json_t *score = json_object_get(ans, "score");
        const json_t *text = json_object_get(ans, "text");
        char sub[80];
        snprintf(sub, sizeof sub, "%s.text", field);
        if (text && (!json_is_string(text) || json_string_length(text) > TEXT_MAX_BYTES ||
                     strlen(json_string_value(text)) != json_string_length(text))) {
            rc = derr(e, 422, "invalid", sub, "'%s' must be text of at most %d bytes", sub,
                      TEXT_MAX_BYTES);
            break;
        }
        int has_text = text && strspn(json_string_value(text), " \t\r\n") <
                                   json_string_length(text);
        if (free_text) {
            /* no questions at all: one free-text answer is the whole evaluation */
            if (qid || score || !has_text || n != 1) {
                rc = derr(e, 422, "invalid", field, "course %lld has no evaluation questions; "
                          "answer with one free text: {\"answers\": [{\"text\": \"...\"}]}",
                          (long long)en.course_id);
            }
            break;
        }
        snprintf(sub, sizeof sub, "%s.question_id", field);
        if (!qid) {
            rc = derr(e, 422, "invalid", sub, "'%s' is required", sub);
            break;
        }
        if (!json_is_integer(qid) || json_integer_value(qid) <= 0) {
            rc = derr(e, 422, "invalid", sub, "'%s' must be a question id", sub);
            break;
        }
        qids[i] = json_integer_value(qid);
        const char *kind = NULL;
        size_t k;
        json_t *q;
        json_array_foreach(questions, k, q) {
            if (json_integer_value(json_object_get(q, "id")) == qids[i])
                kind = json_string_value(json_object_get(q, "kind"));
        }
        if (!kind) {
            rc = derr(e, 422, "invalid", sub, "question %lld is not asked after course %lld",
                      (long long)qids[i], (long long)en.course_id);
            break;
        }
        for (k = 0; k < i; k++)
            if (qids[k] == qids[i])
                rc = derr(e, 422, "invalid", sub, "question %lld is answered twice",
                          (long long)qids[i]);
        if (rc)
            break;
        snprintf(sub, sizeof sub, "%s.score", field);
        if (!strcmp(kind, "scale")) {
            if (!score)
                rc = derr(e, 422, "invalid", sub, "question %lld wants a score from 1 to 5",
                          (long long)qids[i]);
            else if (!json_is_integer(score) || json_integer_value(score) < 1 ||
                     json_integer_value(score) > 5)
                rc = derr(e, 422, "invalid", sub, "'%s' must be an integer from 1 to 5", sub);
        } else if (score) {
            rc = derr(e, 422, "invalid", sub, "question %lld is a free-text question; it takes "
                      "'text', not 'score'", (long long)qids[i]);
        } else if (!has_text) {
            snprintf(sub, sizeof sub, "%s.text", field);
            rc = derr(e, 422, "invalid", sub, "question %lld wants a text", (long long)qids[i]);
        }
    }
    json_decref(questions);
    if (rc == 0 && strcmp(en.state, "attended"))
        rc = derr(e, 409, "wrong_state", NULL, "enrolment %lld is %s; the evaluation comes after "
                  "attending (attended)", (long long)enrolment_id, en.state);
    if (rc == 0 && dom_exists(a->db, "SELECT 1 FROM evaluation_answer WHERE enrolment_id = ?",
                              enrolment_id))
        rc = derr(e, 409, "conflict", NULL, "enrolment %lld has been evaluated already; an "
                  "evaluation is given once", (long long)enrolment_id);
    if (rc) {
        free(qids);
        return rc;
    }
    int64_t now = util_now();
    if (db_begin(a->db)) {
        free(qids);
        return derr_db(e);
    }
    int ok = 1;
    if (free_text) {
        sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO evaluation_question (course_id, text, "
                                          "kind, position) VALUES (?, '" FREE_TEXT_QUESTION
                                          "', 'text', 1)");
        sqlite3_bind_int64(st, 1, en.course_id);
        ok = db_exec_stmt(a->db, st) == 0;
        qids[0] = sqlite3_last_insert_rowid(db_handle(a->db));
    }
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *ans = json_array_get(list, i);
        const json_t *score = json_object_get(ans, "score");
        const char *text = json_string_value(json_object_get(ans, "text"));
        sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO evaluation_answer (enrolment_id, "
                                          "question_id, score, text, answered_at) "
                                          "VALUES (?, ?, ?, ?, ?)");
        sqlite3_bind_int64(st, 1, enrolment_id);
        sqlite3_bind_int64(st, 2, qids[i]);
        if (score)
            sqlite3_bind_int64(st, 3, json_integer_value(score));
        bind_text_or_null(st, 4, text && *text ? text : NULL);
        sqlite3_bind_int64(st, 5, now);
        ok = db_exec_stmt(a->db, st) == 0;
    }
    rc = commit_or_fail(a, ok, e);
    if (rc == 0) {
        *answers = json_array();
        for (size_t i = 0; i < n; i++) {
            const json_t *ans = json_array_get(list, i);
            const json_t *score = json_object_get(ans, "score");
            const json_t *text = json_object_get(ans, "text");
            json_array_append_new(*answers, json_pack("{s:I, s:O, s:O}", "question_id",
                                                      (json_int_t)qids[i], "score",
                                                      score ? score : json_null(), "text",
                                                      text ? text : json_null()));
        }
    }
    free(qids);
    return rc;
}

json_t *course_evaluations(struct app *a, int64_t course_id, int64_t session_id)
{
    if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", course_id))
        return NULL;
    sqlite3_stmt *st = db_stmt(
        a->db, "SELECT count(DISTINCT ea.enrolment_id) FROM evaluation_answer ea "
               "JOIN enrolment en ON en.id = ea.enrolment_id "
               "JOIN session s ON s.id = en.session_id "
               "WHERE s.course_id = ?1 AND (?2 = 0 OR s.id = ?2)");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, session_id);
    int64_t responses = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    int64_t attended = 0;
    st = db_stmt(a->db, "SELECT count(*) FROM enrolment en JOIN session s ON s.id = en.session_id "
                        "WHERE s.course_id = ?1 AND (?2 = 0 OR s.id = ?2) AND "
                        "en.state = 'attended'");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, session_id);
    attended = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    /* every question asked of this course, archived ones too when they have answers */
    json_t *items = json_array();
    st = db_stmt(a->db,
                 "SELECT q.id, q.text, q.kind, q.archived, count(ea.score), avg(ea.score), "
                 "count(ea.text) FROM evaluation_question q "
                 "LEFT JOIN (SELECT ea.* FROM evaluation_answer ea JOIN enrolment en ON "
                 "  en.id = ea.enrolment_id JOIN session s ON s.id = en.session_id "
                 "  WHERE s.course_id = ?1 AND (?2 = 0 OR s.id = ?2)) ea ON ea.question_id = q.id "
                 "WHERE q.course_id = ?1 OR q.course_id IS NULL "
                 "GROUP BY q.id ORDER BY q.position, q.id");
    sqlite3_bind_int64(st, 1, course_id);
    sqlite3_bind_int64(st, 2, session_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t scores = sqlite3_column_int64(st, 4), texts = sqlite3_column_int64(st, 6);
        if (sqlite3_column_int(st, 3) && scores + texts == 0)
            continue;
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:I, s:o, s:o}", "question_id",
                             (json_int_t)sqlite3_column_int64(st, 0), "text", db_text(st, 1),
                             "kind", db_text(st, 2), "count",
                             (json_int_t)(!strcmp(db_text(st, 2), "scale") ? scores : texts),
                             "average", scores ? json_real(sqlite3_column_double(st, 5))
                                               : json_null(),
                             "texts", json_array()));
    }
    sqlite3_reset(st);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        json_t *texts = json_object_get(item, "texts");
        st = db_stmt(a->db, "SELECT ea.text FROM evaluation_answer ea JOIN enrolment en ON "
                            "en.id = ea.enrolment_id JOIN session s ON s.id = en.session_id "
                            "WHERE ea.question_id = ?3 AND s.course_id = ?1 AND "
                            "(?2 = 0 OR s.id = ?2) AND ea.text IS NOT NULL "
                            "ORDER BY ea.answered_at, ea.enrolment_id");
        sqlite3_bind_int64(st, 1, course_id);
        sqlite3_bind_int64(st, 2, session_id);
        sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(item, "question_id")));
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(texts, json_string(db_text(st, 0)));
        sqlite3_reset(st);
    }
    return json_pack("{s:I, s:o, s:I, s:I, s:o}", "course_id", (json_int_t)course_id,
                     "session_id", session_id ? json_integer(session_id) : json_null(),
                     "attended", (json_int_t)attended, "responses", (json_int_t)responses,
                     "items", items);
}

/* --- the course's effect ---------------------------------------------------------------------- */

json_t *course_effect(struct app *a, int64_t course_id)
{
    if (!dom_exists(a->db, "SELECT 1 FROM course WHERE id = ?", course_id))
        return NULL;
    /* each attendee once, measured from the first session they attended */
    size_t n = 0, cap = 16;
    int64_t *emps = xmalloc(cap * sizeof *emps), *starts = xmalloc(cap * sizeof *starts);
    sqlite3_stmt *st = db_stmt(a->db, "SELECT en.employee_id, min(s.starts_at) FROM enrolment en "
                                      "JOIN session s ON s.id = en.session_id WHERE "
                                      "s.course_id = ? AND en.state = 'attended' "
                                      "GROUP BY en.employee_id ORDER BY en.employee_id");
    sqlite3_bind_int64(st, 1, course_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap *= 2;
            emps = xrealloc(emps, cap * sizeof *emps);
            starts = xrealloc(starts, cap * sizeof *starts);
        }
        emps[n] = sqlite3_column_int64(st, 0);
        starts[n++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    struct covered *cov;
    size_t ncov = covered_load(a, course_id, &cov);
    json_t *items = json_array();
    int64_t total_before = 0, total_after = 0;
    for (size_t r = 0; r < ncov; r++) {
        int64_t sum_before = 0, sum_after = 0, gap_before = 0, gap_after = 0, unassessed = 0;
        for (size_t i = 0; i < n; i++) {
            st = db_stmt(a->db, "SELECT level FROM assessment WHERE employee_id = ? AND "
                                "requirement_id = ? AND recorded_at < ? "
                                "ORDER BY recorded_at DESC, id DESC LIMIT 1");
            sqlite3_bind_int64(st, 1, emps[i]);
            sqlite3_bind_int64(st, 2, cov[r].requirement_id);
            sqlite3_bind_int64(st, 3, starts[i]);
            int before = 0;
            if (sqlite3_step(st) == SQLITE_ROW)
                before = sqlite3_column_int(st, 0);
            else
                unassessed++;
            sqlite3_reset(st);
            int after = 0;
            int64_t at;
            if (gap_actual(a->gap, emps[i], cov[r].requirement_id, &after, &at))
                after = 0;
            int required = 0;
            struct gap_cell *cells;
            size_t ncells;
            if (gap_employee(a->gap, emps[i], &cells, &ncells, NULL) == 0) {
                const struct gap_cell *c = cell_of(cells, ncells, cov[r].requirement_id);
                required = c ? c->required : 0;
                free(cells);
            }
            int goal = cov[r].target < required ? cov[r].target : required;
            sum_before += before;
            sum_after += after;
            gap_before += goal > before ? goal - before : 0;
            gap_after += goal > after ? goal - after : 0;
        }
        total_before += gap_before;
        total_after += gap_after;
        json_array_append_new(
            items,
            json_pack("{s:I, s:I, s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:I, s:I, s:I, s:o}",
                      "requirement_id", (json_int_t)cov[r].requirement_id, "system_id",
                      (json_int_t)cov[r].system_id, "system", cov[r].system, "text", cov[r].text,
                      "target_level", cov[r].target, "attendees", (json_int_t)n,
                      "unassessed_before", (json_int_t)unassessed, "average_before",
                      n ? json_real((double)sum_before / (double)n) : json_null(),
                      "average_after", n ? json_real((double)sum_after / (double)n) : json_null(),
                      "targeted_gap_before", (json_int_t)gap_before, "targeted_gap_after",
                      (json_int_t)gap_after, "gap_closed", (json_int_t)(gap_before - gap_after),
                      "share_closed", gap_before ? json_real((double)(gap_before - gap_after) /
                                                             (double)gap_before)
                                                 : json_null()));
    }
    covered_free(cov, ncov);
    free(emps);
    free(starts);
    return json_pack("{s:I, s:I, s:o, s:{s:I, s:I, s:I, s:o}}", "course_id",
                     (json_int_t)course_id, "attendees", (json_int_t)n, "items", items, "total",
                     "targeted_gap_before", (json_int_t)total_before, "targeted_gap_after",
                     (json_int_t)total_after, "gap_closed",
                     (json_int_t)(total_before - total_after), "share_closed",
                     total_before ? json_real((double)(total_before - total_after) /
                                              (double)total_before)
                                  : json_null());
}

/* --- the CV ---------------------------------------------------------------------------------- */

json_t *course_cv(struct app *a, int64_t employee_id)
{
    json_t *items = json_array();
    sqlite3_stmt *st = db_stmt(a->db, "SELECT id, title, happened_on, hours, detail, "
                                      "enrolment_id FROM cv_entry WHERE employee_id = ? "
                                      "ORDER BY happened_on DESC, id DESC");
    sqlite3_bind_int64(st, 1, employee_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int from_course = sqlite3_column_type(st, 5) != SQLITE_NULL;
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:o}", "id",
                             (json_int_t)sqlite3_column_int64(st, 0), "title", db_text(st, 1),
                             "happened_on", db_text(st, 2), "hours",
                             sqlite3_column_type(st, 3) == SQLITE_NULL
                                 ? json_null() : hours_json(sqlite3_column_double(st, 3)),
                             "detail", db_text(st, 4), "source",
                             from_course ? "course" : "manual", "enrolment_id",
                             int_or_null(st, 5)));
    }
    sqlite3_reset(st);
    return items;
}

int course_cv_add(struct app *a, int64_t employee_id, const json_t *body, int64_t *id,
                  struct derr *e)
{
    static const char *const allowed[] = {"title", "happened_on", "hours", "detail", NULL};
    if (!dom_exists(a->db, "SELECT 1 FROM employee WHERE id = ? AND archived = 0", employee_id))
        return derr(e, 404, "not_found", NULL, "there is no active employee %lld",
                    (long long)employee_id);
    const char *title = NULL, *day = NULL, *detail = "";
    if (dom_only(body, allowed, e) ||
        dom_string(body, "title", 1, 1, TITLE_MAX_BYTES, &title, e) < 0 ||
        dom_string(body, "happened_on", 1, 1, 10, &day, e) < 0 ||
        dom_string(body, "detail", 0, 0, TEXT_MAX_BYTES, &detail, e) < 0)
        return -1;
    if (course_parse_date(day))
        return derr(e, 422, "invalid", "happened_on", "'happened_on' must be a date such as "
                    "\"2025-06-12\"");
    const json_t *hours = json_object_get(body, "hours");
    if (hours && !json_is_null(hours) &&
        (!json_is_number(hours) || json_number_value(hours) < 0 ||
         json_number_value(hours) > 100000))
        return derr(e, 422, "invalid", "hours", "'hours' must be a number from 0 to 100000, or "
                    "null");
    if (db_begin(a->db))
        return derr_db(e);
    sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO cv_entry (employee_id, title, happened_on, "
                                      "hours, detail, created_at) VALUES (?, ?, ?, ?, ?, ?)");
    sqlite3_bind_int64(st, 1, employee_id);
    sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, day, -1, SQLITE_TRANSIENT);
    if (hours && !json_is_null(hours))
        sqlite3_bind_double(st, 4, json_number_value(hours));
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, util_now());
    int ok = db_exec_stmt(a->db, st) == 0;
    *id = sqlite3_last_insert_rowid(db_handle(a->db));
    return commit_or_fail(a, ok, e);
}
