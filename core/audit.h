/* audit: the append-only record of who changed what, when, from which address, with the values
 * before and after.
 *
 * Changes are recorded by SQLite triggers (schema 6, core/db.c) on the tables people change, in
 * the same transaction as the change itself: a change that is rolled back leaves no entry, and no
 * committed change lacks one. The triggers ask the connection who is acting through SQL functions
 * that audit_register puts on every connection db_open makes: evne_actor() and evne_addr() read
 * the current request's context (audit_context_set, called by api.c and web.c before a handler
 * runs and cleared after), evne_now() the clock (util_now), evne_audit_on() whether this
 * connection records at all (always, except for bench/gen.c's bulk loads). Jobs and the CLI run
 * with no context: their changes are the system's (actor NULL).
 *
 * Events that change no row (logins, failed logins, rule reloads, imports) are written with
 * audit_note. Triggers refuse any UPDATE or DELETE of the audit table itself, whoever asks.
 *
 * The context is per thread (the loop thread serves requests); the other functions are called
 * by the thread that owns the struct db.
 */
#ifndef EVNE_AUDIT_H
#define EVNE_AUDIT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

struct db;

/* Puts evne_actor(), evne_addr(), evne_now() and evne_audit_on() on h. 0, or an SQLite code. */
int audit_register(sqlite3 *h);

/* Who is acting on this thread: actor_id 0 for nobody logged in (a login form, a failed login);
 * addr (copied; NULL for none) the client's address as http_client_addr gives it. */
struct audit_context {
    int64_t actor_id;
    char addr[64];
    int set;
};
void audit_context_set(int64_t actor_id, const char *addr);
void audit_context_clear(void);
/* For work that a request defers and finishes later on the loop (app_defer): */
void audit_context_save(struct audit_context *out);
void audit_context_restore(const struct audit_context *c);

/* Writes one explicit entry, actor and address from the current context, in the caller's open
 * transaction (or on its own when none is open). action: what happened ("login",
 * "login_failed", "reload", "import" ...); entity: what it happened to ("login", "rules",
 * "import" ...); entity_id and employee_id (the person it is about) 0 for none; detail: a JSON
 * object's text (borrowed; NULL for none), shown as the entry's values after.
 * 0, or -1 (logged). */
int audit_note(struct db *d, const char *action, const char *entity, int64_t entity_id,
               int64_t employee_id, const char *detail);

/* A login through the API or the login page: ok = 1 records "login" by employee_id (the actor),
 * ok = 0 records "login_failed" with the login name that was tried when it is someone's
 * (employee_id), and only {"unknown_login": true} when nobody has it (employee_id 0): what
 * was typed may be a password. addr borrowed. */
int audit_login(struct db *d, int ok, int64_t employee_id, const char *login, const char *addr);

/* --- reading the trail (GET /api/v1/admin/audit, the admin's page /admin/audit) ----------- */

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 500

/* Which entries: each field 0 (or "") for any. from and to are unix seconds, both inclusive;
 * before_id pages: only entries older than that id. */
struct audit_filter {
    int64_t employee_id;        /* the person an entry is about */
    int64_t actor_id;           /* who acted */
    char entity[32];            /* "employee", "assessment", "login" ... */
    int64_t entity_id;
    int64_t from, to;
    int64_t before_id;
    int limit;                  /* 1..AUDIT_LIMIT_MAX */
};

struct http_request;

/* Reads employee_id, actor_id, entity, entity_id, from, to, limit and before_id from req's query.
 * from and to: a date "2026-11-26" (a whole day in Norwegian time) or a UTC time
 * "2026-11-26T21:55:01Z". 0, or -1 with *field (static) the parameter at fault and *msg (owned)
 * why. */
int audit_filter_from_query(const struct http_request *req, struct audit_filter *f,
                            const char **field, char **msg);

/* The entries f selects, newest first: {"items": [{id, at (ISO), actor_id, actor_name, addr,
 * action, entity, entity_id, employee_id, employee_name, before, after}], "next_before_id": the
 * before_id of the next (older) page, or null}. actor_id null is the system; before and after
 * are the row's values as JSON objects (or null). Owned; NULL on a database error (logged). */
json_t *audit_list(struct db *d, const struct audit_filter *f);

/* For bench/gen.c only, which loads hundreds of thousands of rows into a new database by SQL:
 * changes made through h from now on are not recorded. Nothing the server or the CLI runs calls
 * this. 0, or an SQLite code. */
int audit_disable_for_bulk_load(sqlite3 *h);

#endif
