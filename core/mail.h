/* mail: the outbox. A mail is a row written in the same transaction as the event that causes it
 * (an invitation, an approval, a reminder), so that it is never lost and never made twice; a
 * delivery worker sends the pending rows over SMTP with libcurl, off the event loop, retrying
 * with backoff, and marks each row sent or failed with the server's answer.
 *
 * A row's life: pending (due at next_attempt_at) -> sending (claimed by the worker, committed
 * before a byte goes out) -> sent, or back to pending with attempts + 1 and a later
 * next_attempt_at, or failed (a 5xx answer, or MAIL_MAX_ATTEMPTS tries). One mail is on the
 * wire at a time, in a uv_queue_work job; its outcome is committed on the loop as soon as that
 * job ends, before the next mail is handed out.
 *
 * The guarantee is at-least-once, and exactly once except in one window: the server has
 * answered 250 to the message but the row's `sent` is not yet committed (a kill -9 or a power
 * cut in that instant, or an answer that never arrives after the whole message was written).
 * The row is then still `sending`, goes back to pending at the next start (or is retried), and
 * the mail may arrive twice; both copies carry the same Message-ID, so a mail client shows one.
 * The window is kept small: the job ends right after the server's answer (the connection's
 * QUIT is sent later, by the next job), and the loop commits before anything else of ours.
 * A stop (SIGTERM) aborts a send only before the message's last byte is handed to curl, so a
 * stop never opens that window; the aborted mail goes back to pending without an attempt.
 * One server process per database: rows left `sending` are taken as a crash's at start-up.
 *
 * mail_queue runs on the loop thread inside the caller's transaction; everything else here is
 * loop thread only too, except mail_format, mail_backoff and mail_classify (pure functions).
 */
#ifndef EVNE_MAIL_H
#define EVNE_MAIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct db;

struct mail {
    const char *kind;        /* "invitation", "approval", "reminder" ...; borrowed */
    const char *to;          /* one address; borrowed */
    const char *subject;     /* UTF-8; encoded for the header when sent */
    const char *body;        /* UTF-8 plain text */
    const char *ics;         /* a text/calendar attachment (an invitation), or NULL */
    const char *html;        /* an HTML alternative of body (multipart/alternative), or NULL */
    const char *attachment_name;  /* a file attached (a report's "rapport.csv"), or NULL */
    const char *attachment_type;  /* its MIME type, e.g. "text/csv; charset=UTF-8" */
    const char *attachment;       /* its bytes (text, NUL-terminated) */
};

/* Adds m to the outbox, due now. Call it inside the transaction of the event that causes it,
 * and mail_kick after the commit so that it goes out at once rather than at the next tick.
 * 0, or -1 on an SQLite error (logged). */
int mail_queue(struct db *db, const struct mail *m);

/* What the outbox holds, for the admin: {items: [{id, kind, to, subject, state, attempts,
 * next_attempt_at (pending rows only, else null), last_error, created_at, sent_at}] (the newest
 * limit rows in state, or in any state when state is NULL; times ISO UTC or null), counts:
 * {pending, sending, sent, failed}}. Owned. */
json_t *mail_outbox(struct db *db, const char *state, int limit);

/* --- keeping the outbox small ----------------------------------------------------------------- */

#define MAIL_KEEP_DAYS 30         /* a sent mail's contents are kept this long */

/* The schedule's job "outbox": empties the contents (body, HTML, attachment, calendar) of mail
 * sent more than MAIL_KEEP_DAYS days ago, keeping each row's kind, address, subject, state and
 * times for the admin; a month's reports at 50,000 employees are over a gigabyte of HTML and CSV
 * otherwise. Pending and failed mail is never touched. Summary {emptied}. */
struct sched_job;
extern const struct sched_job mail_prune_job;

/* Empties at most max sent mails older than `before` (unix seconds); how many, or -1 (logged). */
int mail_prune(struct db *db, int64_t before, int max);

/* --- the delivery worker --------------------------------------------------------------------- */

#define MAIL_MAX_ATTEMPTS 10
#define MAIL_BATCH 10             /* rows claimed at a time */
#define MAIL_TICK_MS 2000         /* how often the outbox is looked at without a kick */

enum mail_tls {
    MAIL_TLS_NONE,                /* plain SMTP (a relay on the same host or network) */
    MAIL_TLS_STARTTLS,            /* smtp:// upgraded with STARTTLS; refuses to go on without */
    MAIL_TLS_TLS,                 /* smtps://: TLS from the first byte */
};

struct mail_config {
    const char *host;             /* borrowed; copied by mail_start */
    int port;                     /* 0: 25, 587 or 465 by tls */
    enum mail_tls tls;
    const char *user;             /* NULL: no login */
    const char *password;         /* with user */
    const char *from;             /* the envelope sender and the From: header */
    const char *ca_file;          /* PEM certificates to trust instead of the system's, or NULL */
    int retry_seconds;            /* the first backoff (30 s); the later ones grow from it */
};

/* Parses "none", "starttls" or "tls"; -1 for anything else. */
int mail_tls_parse(const char *s, enum mail_tls *out);
/* True for an address the worker can send to: plain ASCII local@domain without spaces, angle
 * brackets, quotes or control characters (addresses in UTF-8 are not supported). */
int mail_address_ok(const char *addr);

/* Starts delivering: rows left `sending` by a crash go back to pending, and a timer looks at
 * the outbox every MAIL_TICK_MS. Needs a->loop. -1 and *err (owned) on failure (nothing
 * started; the mail waits in the outbox). */
int mail_start(struct app *a, const struct mail_config *cfg, char **err);
/* Looks at the outbox at the next turn of the loop. Safe to call at any time, also inside a
 * transaction (it only arms a timer), and a no-op when no worker runs. */
void mail_kick(struct app *a);
/* Stops delivering: a send in flight is aborted when it can still be, or else allowed to end
 * and recorded; claimed rows not yet sent go back to pending. on_stopped(arg) runs once the
 * worker's handles are closed and its memory freed (at once when no worker runs). */
void mail_stop(struct app *a, void (*on_stopped)(void *arg), void *arg);

/* --- the parts, reachable from the unit tests -------------------------------------------------- */

/* What a formatted message is made of. All borrowed. */
struct mail_message {
    int64_t id;                   /* the outbox row: part of the Message-ID */
    int64_t created_at;           /* the Date: header */
    const char *from, *to, *subject, *body;
    const char *ics;              /* NULL: no calendar part */
    const char *html;             /* NULL: no HTML alternative */
    const char *attachment_name, *attachment_type, *attachment;   /* NULL name: none */
};

/* The whole message as it goes over SMTP: RFC 5322 headers (a non-ASCII or long Subject as
 * RFC 2047 =?UTF-8?B?...?= words) and the body as text/plain; charset=UTF-8 in
 * quoted-printable. With html, the text and the HTML (text/html; charset=UTF-8, also
 * quoted-printable) are the two halves of a multipart/alternative. With ics or an attachment
 * (or both), that body is the first part of a multipart/mixed, followed by the text/calendar;
 * method=REQUEST part (attachment invitation.ics, base64; the method is the calendar's own
 * METHOD when it has one, e.g. CANCEL) and then the attachment (base64 of its bytes as they are,
 * its type as given, or application/octet-stream when that is not a plain MIME type; its name
 * as filename, RFC 2231-encoded when it is not short plain ASCII). The bytes are ASCII; every
 * line ends in CRLF and is at most 78 characters (but for From: or To: with a very long
 * address; still under RFC 5322's 998). Invalid UTF-8 in the subject, body or html is replaced
 * with '?'. Owned. */
char *mail_format(const struct mail_message *m);

/* Seconds to wait after the attempts-th failed attempt (1-based): 1, 4, 20, 120, 120 ...
 * times base (with base 30: 30 s, 2 min, 10 min, 1 h, capped at 1 h). */
int64_t mail_backoff(int base, int attempts);

enum mail_outcome {
    MAIL_SENT,                    /* the server took it */
    MAIL_RETRY,                   /* a 4xx answer, no answer, a network or TLS error */
    MAIL_FAILED,                  /* a 5xx answer, or an address we cannot send to */
    MAIL_RELEASED,                /* not sent (a stop): back to pending, no attempt counted */
};

/* From curl's result, the SMTP reply code (0 when none came) and whether the stop flag aborted
 * the transfer. */
enum mail_outcome mail_classify(int curl_code, int reply_code, int aborted);

/* A claimed row. Owned strings. */
struct mail_row {
    int64_t id, created_at;
    int attempts;
    char *kind, *to, *subject, *body, *ics, *html, *attachment_name, *attachment_type,
        *attachment;
};
void mail_rows_free(struct mail_row *rows, size_t n);

/* Rows left `sending` go back to pending, due now. The number of rows, or -1 (logged). */
int mail_recover(struct db *db);
/* In one transaction: up to max rows that are pending and due at `now`, oldest due first,
 * marked sending. 0 and *rows (owned, NULL when none) and *n; -1 on an SQLite error (logged). */
int mail_claim(struct db *db, int64_t now, int max, struct mail_row **rows, size_t *n);
/* Records the outcome of one attempt at a `sending` row at time now. error (borrowed, may be
 * NULL) becomes last_error for RETRY and FAILED. A RETRY that was the MAIL_MAX_ATTEMPTS-th
 * attempt becomes FAILED. 0, or -1 on an SQLite error (logged). */
int mail_record(struct db *db, int64_t id, enum mail_outcome outcome, const char *error,
                int64_t now, int retry_base);

#endif
