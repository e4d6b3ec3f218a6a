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
