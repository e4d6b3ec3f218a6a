/* domain: what the domain modules (org, catalog, assess) share: the error they report and the
 * checks of JSON input they all make.
 *
 * Domain functions validate everything first, then write in one transaction, then update the gap
 * index, and only then return 0; on any failure they return -1 with a derr saying which field is
 * wrong and why, and nothing is stored. They do not check access: the API handlers do.
 */
#ifndef EVNE_DOMAIN_H
#define EVNE_DOMAIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct db;

struct derr {
    int status;              /* the HTTP status that fits: 404, 409, 422, 500 */
    const char *code;        /* "invalid", "not_found", "conflict", "has_history", "internal" */
    char field[96];          /* "" when no one field is at fault */
    char message[320];
};

/* Fills e and returns -1, so that `return derr(e, ...)` reads well. */
int derr(struct derr *e, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The derr for a failed database statement (logged already). */
int derr_db(struct derr *e);

/* Refuses keys of obj not in allowed (a NULL-terminated list). */
int dom_only(const json_t *obj, const char *const *allowed, struct derr *e);
/* A string field: required or optional (absent leaves *out untouched), at most max bytes,
 * non-empty when nonempty is set. *out is borrowed from obj. Returns 1 if present, 0 if absent,
 * -1 on error. */
int dom_string(const json_t *obj, const char *key, int required, int nonempty, size_t max,
               const char **out, struct derr *e);
/* An id field that may be null: 1 present (0 in *out for null), 0 absent, -1 error. */
int dom_id(const json_t *obj, const char *key, int required, int nullable, int64_t *out,
           struct derr *e);
/* A boolean field: 1 present, 0 absent, -1 error. */
int dom_bool(const json_t *obj, const char *key, int *out, struct derr *e);
/* A level: a JSON integer 0-4 (not 2.5, not "3"). */
int dom_level(const json_t *v, const char *field, int *out, struct derr *e);
/* An object key that must be a positive integer id ("17"). */
int dom_key_id(const char *key, const char *field, int64_t *out, struct derr *e);

/* Does a row exist: SELECT 1 FROM <table> WHERE id = ? [AND archived = 0]. table is a literal
 * from a fixed list. */
int dom_exists(struct db *db, const char *sql, int64_t id);

#endif
