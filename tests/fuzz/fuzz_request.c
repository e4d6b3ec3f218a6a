/* libFuzzer harness for the whole request path: bytes -> http_conn -> app_handle_request -> the
 * API handlers and the database -> an answer, as a real socket would drive it, but without one.
 *
 * Input: the first byte chooses where the rest is cut in two (the two halves are fed one after
 * the other, as two reads would); the rest is what a client sends. The seeds in corpus/ follow
 * that shape. The app is opened once, on a database in a fresh temporary folder, with the rules
 * from $EVNE_RULES (default "rules"); it runs without a loop, so deferred work runs inline and
 * every request is answered before http_conn_free().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "http.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct app *app;
static char dir[] = "/tmp/evne-fuzz-XXXXXX";
static char db_path[sizeof dir + 16];

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
    const char *rules = getenv("EVNE_RULES");
    struct app_config cfg = {
        .db_path = db_path,
        .rules_dir = rules && *rules ? rules : "rules",
        .loop = NULL,
        .create = 1,
    };
    char *err = NULL;
    if (app_open(&cfg, &app, &err) != 0)
        UTIL_ABORT("app_open(%s, rules %s): %s", db_path, cfg.rules_dir, err ? err : "?");
    atexit(remove_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app)
        open_app();
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t cut = data[0] % (len + 1);
    struct http_conn *c = http_conn_new(app_handle_request, fuzz_write, app, "192.0.2.1");
    if (http_conn_feed(c, in, cut) == 0)
        http_conn_feed(c, in + cut, len - cut);
    http_conn_free(c);
    return 0;
}
