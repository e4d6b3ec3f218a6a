#include "mail.h"

#include "db.h"
#include "util.h"

int mail_queue(struct db *db, const struct mail *m)
{
    int64_t now = util_now();
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO outbox (kind, to_addr, subject, body, ics, "
                                   "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, m->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->body, -1, SQLITE_STATIC);
    if (m->ics)
        sqlite3_bind_text(st, 5, m->ics, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int64(st, 7, now);
    return db_exec_stmt(db, st);
}
