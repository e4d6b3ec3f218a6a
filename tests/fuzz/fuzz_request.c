/* libFuzzer harness for the whole request path: bytes -> http_conn -> app_handle_request -> the
 * API handlers and the database -> an answer, as a real socket would drive it, but without one.
 *
 * Input: the first byte chooses where the rest is cut in two (the two halves are fed one after
 * the other, as two reads would); the rest is what a client sends. The seeds in corpus/ follow
 * that shape. The app is opened once, on the demo organisation in a fresh temporary folder, with
 * the rules from $EVNE_RULES (default "rules"); it runs without a loop, so deferred work runs
 * inline and every request is answered before http_conn_free(). Every "TOKEN" in the input is
 * replaced by a live admin token, so that inputs get past authentication into the handlers and
 * their JSON bodies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "db.h"
#include "demo.h"
#include "http.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct app *app;
static char dir[] = "/tmp/evne-fuzz-XXXXXX";
static char db_path[sizeof dir + 16];
static char token[AUTH_TOKEN_HEX + 1];

static void fuzz_write(struct http_conn *c, char *answer, size_t len, void *ctx)
{
    (void)c;
    (void)len;
    (void)ctx;
    free(answer);
}

static void remove_db(void)
{
    app_close(app);
    app = NULL;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char path[sizeof db_path + 16];
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void open_app(void)
{
    if (!mkdtemp(dir))
        UTIL_ABORT("mkdtemp %s failed", dir);
    snprintf(db_path, sizeof db_path, "%s/evne.db", dir);
    struct db *db;
    char *err = NULL;
    if (db_open(db_path, 1, &db, &err) || demo_create(db, &err))
        UTIL_ABORT("demo database %s: %s", db_path, err ? err : "?");
    db_close(db);
    const char *rules = getenv("EVNE_RULES");
    struct app_config cfg = {
        .db_path = db_path,
        .rules_dir = rules && *rules ? rules : "rules",
        .web_dir = "web",
        .lua_dir = "lua",
        .loop = NULL,
        .create = 1,
    };
    if (app_open(&cfg, &app, &err) != 0)
        UTIL_ABORT("app_open(%s, rules %s): %s", db_path, cfg.rules_dir, err ? err : "?");
    /* Durability is not what is fuzzed; an fsync per write would only slow the search. */
    db_exec(app->db, "PRAGMA synchronous = OFF");
    sqlite3_stmt *st = db_stmt(app->db, "SELECT id FROM employee WHERE login = 'admin'");
    if (sqlite3_step(st) != SQLITE_ROW)
        UTIL_ABORT("the demo has no admin");
    int64_t admin = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (auth_token_create(app->db, admin, token))
        UTIL_ABORT("cannot create a token");
    atexit(remove_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app)
        open_app();
    if (size == 0)
        return 0;
    struct buf in = {0};
    for (size_t i = 1; i < size; i++) {
        if (size - i >= 5 && !memcmp(data + i, "TOKEN", 5)) {
            buf_append(&in, token, AUTH_TOKEN_HEX);
            i += 4;
        } else {
            buf_append(&in, data + i, 1);
        }
    }
    size_t cut = data[0] % (in.len + 1);
    struct http_conn *c = http_conn_new(app_handle_request, fuzz_write, app, "192.0.2.1");
    if (http_conn_feed(c, in.data ? in.data : "", cut) == 0)
        http_conn_feed(c, in.data + cut, in.len - cut);
    http_conn_free(c);
    buf_free(&in);
    return 0;
}
