/* auth: who is asking. Passwords (argon2id via libsodium), bearer tokens, roles.
 *
 * A token is 32 random bytes shown once to the client as hex; only its BLAKE2b hash is stored,
 * so a copy of the database holds no usable token. Tokens expire AUTH_TOKEN_SECONDS after login.
 * Password hashing is deliberately slow (tens of milliseconds): callers on the event loop hash in
 * a worker (see api's login). Functions that touch the database run on the loop thread;
 * auth_password_* may run on any thread.
 */
#ifndef EVNE_AUTH_H
#define EVNE_AUTH_H

#include <stdint.h>

#include <jansson.h>

struct db;

#define AUTH_TOKEN_SECONDS (12 * 3600)
#define AUTH_TOKEN_HEX 64

enum auth_role { ROLE_EMPLOYEE = 1, ROLE_MANAGER = 2, ROLE_ADVISER = 4, ROLE_ADMIN = 8 };

/* The person behind a request. */
struct principal {
    int64_t employee_id;
    unsigned roles;              /* stored roles; ROLE_MANAGER added when they manage a department */
    int64_t *managed;            /* ids of the departments they manage; owned by the principal */
    size_t nmanaged;
};
void auth_principal_free(struct principal *p);

/* 0 and an owned hash string, or -1 (out of memory in argon2). */
int auth_password_hash(const char *password, char **out);
/* 1 if password matches hash, else 0. */
int auth_password_verify(const char *hash, const char *password);
/* A login's password check, to run off the loop: 1 when password matches hash. Without a hash
 * (an unknown login) it spends the same time hashing, so that timing does not tell who exists. */
int auth_login_check(const char *hash, const char *password);

/* Creates a token for employee_id; hex gets AUTH_TOKEN_HEX chars + NUL. 0 or -1 (db error). */
int auth_token_create(struct db *db, int64_t employee_id, char hex[AUTH_TOKEN_HEX + 1]);
/* Looks up a presented token; 0 and *who filled (caller frees with auth_principal_free) when it
 * is valid and unexpired and its employee is active; -1 otherwise. */
int auth_token_check(struct db *db, const char *hex, struct principal *who);
int auth_token_revoke(struct db *db, const char *hex);
/* Ends every session of employee_id (archived, or a new password): 0 or -1 (db error, logged).
 * Inside the caller's transaction. */
int auth_tokens_revoke_all(struct db *db, int64_t employee_id);

/* A cache of checked tokens, so that a request does not ask the database who is calling.
 * Entries carry the generation they were checked at; the caller bumps its generation after any
 * write that could change a session, a role or a managed department, and older entries are then
 * checked against the database again. Loop thread only. */
struct auth_cache;
struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);
/* As auth_token_check, through the cache. */
int auth_cache_check(struct auth_cache *c, struct db *db, const char *hex, uint64_t generation,
                     struct principal *who);

/* Failed logins, per login and per client address, in memory: after AUTH_LOGIN_FAILURES within
 * AUTH_LOGIN_WINDOW seconds, the login page and POST /api/v1/session answer 429 for a while.
 * Loop thread only. */
#define AUTH_LOGIN_FAILURES 5
#define AUTH_LOGIN_WINDOW 60
int auth_login_blocked(const char *login, const char *addr);
void auth_login_failed(const char *login, const char *addr);

/* Loads the principal of an employee (roles, managed departments). -1 when unknown/archived. */
int auth_principal_load(struct db *db, int64_t employee_id, struct principal *who);

/* Roles between their bitmask and JSON names ["employee","manager","adviser","admin"].
 * auth_roles_parse: 0, or -1 naming the bad entry in *bad (borrowed from arr). */
json_t *auth_roles_json(unsigned roles);
int auth_roles_parse(const json_t *arr, unsigned *roles, const char **bad);

#endif
