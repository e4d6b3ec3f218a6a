#include "checkpoint.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "db.h"
#include "util.h"

static int in_flight;              /* a checkpoint is on its way (loop thread) */
static long made, failed;

struct job {
    char *path;
    int ok;
};

static void work(void *arg)
{
    struct job *j = arg;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(j->path, &h, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(h, 1000);
        rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    j->ok = rc == SQLITE_OK;
    if (!j->ok)
        fprintf(stderr, "evne: a checkpoint of %s failed: %s\n", j->path,
                h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
    sqlite3_close(h);
}

static void done(void *arg, int status)
{
    struct job *j = arg;
    if (status == 0 && j->ok)
        made++;
    else
        failed++;
    free(j->path);
    free(j);
    in_flight = 0;
}

static int on_commit(void *arg, sqlite3 *h, const char *name, int pages)
{
    struct app *a = arg;
    if (pages >= CHECKPOINT_PAGES && !in_flight) {
        const char *path = sqlite3_db_filename(h, name);
        if (path && *path) {
            struct job *j = xcalloc(1, sizeof *j);
            j->path = xstrdup(path);
            in_flight = 1;
            app_defer(a, work, done, j);
        }
    }
    return SQLITE_OK;
}

void checkpoint_start(struct app *a)
{
    UTIL_ASSERT(a->loop);
    /* sqlite3_wal_hook replaces the automatic checkpoint's own hook: this one takes its place. */
    sqlite3_wal_hook(db_handle(a->db), on_commit, a);
}

void checkpoint_counts(long *m, long *f)
{
    *m = made;
    *f = failed;
}
