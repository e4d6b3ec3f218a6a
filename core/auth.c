#include "auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

static const char *const role_names[] = {"employee", "manager", "adviser", "admin"};

void auth_principal_free(struct principal *p)
{
    free(p->managed);
    *p = (struct principal){0};
}

int auth_password_hash(const char *password, char **out)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -1;
    *out = xstrdup(hash);
    return 0;
}

int auth_password_verify(const char *hash, const char *password)
{
    return hash && password &&
           crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

int auth_login_check(const char *hash, const char *password)
{
    if (hash)
        return auth_password_verify(hash, password);
    char *h = NULL;
    if (auth_password_hash(password, &h) == 0)
        free(h);
    return 0;
}

static void token_hash(const char *hex, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)hex, strlen(hex), NULL, 0);
}

int auth_token_create(struct db *db, int64_t employee_id, char hex[AUTH_TOKEN_HEX + 1])
{
    unsigned char raw[32], h[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, AUTH_TOKEN_HEX + 1, raw, sizeof raw);
    token_hash(hex, h);
    int64_t now = util_now();
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO token (hash, employee_id, created_at, expires_at) "
                                   "VALUES (?, ?, ?, ?)");
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, employee_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, now + AUTH_TOKEN_SECONDS);
    if (db_exec_stmt(db, st))
        return -1;
    /* Expired tokens are useless; drop them while we are writing anyway. */
    st = db_stmt(db, "DELETE FROM token WHERE expires_at < ?");
    sqlite3_bind_int64(st, 1, now);
    return db_exec_stmt(db, st);
}

int auth_principal_load(struct db *db, int64_t employee_id, struct principal *who)
{
    *who = (struct principal){0};
    sqlite3_stmt *st = db_stmt(db, "SELECT roles FROM employee WHERE id = ? AND archived = 0");
    sqlite3_bind_int64(st, 1, employee_id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    who->employee_id = employee_id;
    who->roles = (unsigned)sqlite3_column_int(st, 0) | ROLE_EMPLOYEE;
    sqlite3_reset(st);
    st = db_stmt(db, "SELECT id FROM department WHERE manager_id = ? ORDER BY id");
    sqlite3_bind_int64(st, 1, employee_id);
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (who->nmanaged == cap) {
            cap = cap ? cap * 2 : 4;
            who->managed = xrealloc(who->managed, cap * sizeof *who->managed);
        }
        who->managed[who->nmanaged++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (who->nmanaged)
        who->roles |= ROLE_MANAGER;
    return 0;
}

int auth_token_check(struct db *db, const char *hex, struct principal *who)
{
    if (!hex || strlen(hex) != AUTH_TOKEN_HEX)
        return -1;
    unsigned char h[32];
    token_hash(hex, h);
    sqlite3_stmt *st = db_stmt(db, "SELECT employee_id FROM token WHERE hash = ? AND expires_at > ?");
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, util_now());
    int64_t id = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return id < 0 ? -1 : auth_principal_load(db, id, who);
}

int auth_token_revoke(struct db *db, const char *hex)
{
    unsigned char h[32];
    token_hash(hex, h);
    sqlite3_stmt *st = db_stmt(db, "DELETE FROM token WHERE hash = ?");
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    return db_exec_stmt(db, st);
}

int auth_tokens_revoke_all(struct db *db, int64_t employee_id)
{
    sqlite3_stmt *st = db_stmt(db, "DELETE FROM token WHERE employee_id = ?");
    sqlite3_bind_int64(st, 1, employee_id);
    return db_exec_stmt(db, st);
}

json_t *auth_roles_json(unsigned roles)
{
    json_t *a = json_array();
    for (unsigned i = 0; i < 4; i++)
        if (roles & (1u << i))
            json_array_append_new(a, json_string(role_names[i]));
    return a;
}

int auth_roles_parse(const json_t *arr, unsigned *roles, const char **bad)
{
    *roles = ROLE_EMPLOYEE;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        unsigned bit = 0;
        for (unsigned k = 0; s && k < 4; k++)
            if (!strcmp(s, role_names[k]))
                bit = 1u << k;
        if (!bit) {
            *bad = s ? s : "(not a string)";
            return -1;
        }
        *roles |= bit;
    }
    return 0;
}

/* --- the token cache --------------------------------------------------------------------- */

#define CACHE_SLOTS 4096          /* a power of two; cleared whole when half full */

struct cached_token {
    unsigned char hash[32];
    uint64_t generation;
    int64_t expires_at;
    struct principal who;
    int used;
};

struct auth_cache {
    struct cached_token slot[CACHE_SLOTS];
    size_t used;
};

struct auth_cache *auth_cache_new(void) { return xcalloc(1, sizeof(struct auth_cache)); }

static void cache_clear(struct auth_cache *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (c->slot[i].used)
            auth_principal_free(&c->slot[i].who);
    memset(c, 0, sizeof *c);
}

void auth_cache_free(struct auth_cache *c)
{
    if (c)
        cache_clear(c);
    free(c);
}

static void principal_copy(struct principal *dst, const struct principal *src)
{
    *dst = *src;
    dst->managed = NULL;
    if (src->nmanaged) {
        dst->managed = xmalloc(src->nmanaged * sizeof *dst->managed);
        memcpy(dst->managed, src->managed, src->nmanaged * sizeof *dst->managed);
    }
}

int auth_cache_check(struct auth_cache *c, struct db *db, const char *hex, uint64_t generation,
                     struct principal *who)
{
    if (!hex || strlen(hex) != AUTH_TOKEN_HEX)
        return -1;
    unsigned char h[32];
    token_hash(hex, h);
    uint64_t k;
    memcpy(&k, h, sizeof k);   /* the hash of a random token is itself random */
    size_t i = k & (CACHE_SLOTS - 1);
    while (c->slot[i].used && memcmp(c->slot[i].hash, h, sizeof h))
        i = (i + 1) & (CACHE_SLOTS - 1);
    struct cached_token *t = &c->slot[i];
    if (t->used && t->generation == generation && t->expires_at > util_now()) {
        principal_copy(who, &t->who);
        return 0;
    }
    /* Ask the database; remember the answer only when it is yes. */
    sqlite3_stmt *st = db_stmt(db, "SELECT employee_id, expires_at FROM token "
                                   "WHERE hash = ? AND expires_at > ?");
    sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, util_now());
    int64_t id = -1, expires = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        expires = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (t->used) {
        auth_principal_free(&t->who);
        t->used = 0;
        c->used--;
    }
    if (id < 0 || auth_principal_load(db, id, who))
        return -1;
    if (c->used >= CACHE_SLOTS / 2) {
        cache_clear(c);
        return 0;   /* the next request of this token fills the emptied cache */
    }
    memcpy(t->hash, h, sizeof h);
    t->generation = generation;
    t->expires_at = expires;
    principal_copy(&t->who, who);
    t->used = 1;
    c->used++;
    return 0;
}

/* --- failed logins ------------------------------------------------------------------------ */

struct attempts {
    char key[96];
    int64_t since;
    int failures;
};

static struct attempts attempts[1024];

static struct attempts *attempts_of(const char *key, int create)
{
    int64_t now = util_now();
    struct attempts *free_slot = NULL;
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        struct attempts *a = &attempts[i];
        if (a->key[0] && now - a->since >= AUTH_LOGIN_WINDOW)
            a->key[0] = '\0';                    /* its window is over */
        if (a->key[0] && !strcmp(a->key, key))
            return a;
        if (!a->key[0] && !free_slot)
            free_slot = a;
    }
    if (!create)
        return NULL;
    if (!free_slot)
        free_slot = &attempts[randombytes_uniform(sizeof attempts / sizeof attempts[0])];
    snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
    free_slot->since = now;
    free_slot->failures = 0;
    return free_slot;
}

int auth_login_blocked(const char *login, const char *addr)
{
    char k1[96], k2[96];
    snprintf(k1, sizeof k1, "login:%s", login);
    snprintf(k2, sizeof k2, "addr:%s", addr);
    struct attempts *a = attempts_of(k1, 0), *b = attempts_of(k2, 0);
    return (a && a->failures >= AUTH_LOGIN_FAILURES) || (b && b->failures >= AUTH_LOGIN_FAILURES);
}

void auth_login_failed(const char *login, const char *addr)
{
    char k[96];
    snprintf(k, sizeof k, "login:%s", login);
    attempts_of(k, 1)->failures++;
    snprintf(k, sizeof k, "addr:%s", addr);
    attempts_of(k, 1)->failures++;
}

