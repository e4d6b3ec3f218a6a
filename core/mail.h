/* mail: the outbox. A mail is a row written in the same transaction as the event that causes it
 * (an invitation, an approval, a reminder), so that it is never lost and never made twice; a
 * delivery worker sends the pending rows over SMTP with libcurl, off the event loop, retrying
 * with backoff, and marks each row sent or failed with the server's answer.
 * mail_queue runs on the loop thread inside the caller's transaction.
 */
#ifndef EVNE_MAIL_H
#define EVNE_MAIL_H

#include <stdint.h>

struct db;

struct mail {
    const char *kind;        /* "invitation", "approval", "reminder" ...; borrowed */
    const char *to;          /* one address; borrowed */
    const char *subject;     /* UTF-8; encoded for the header when sent */
    const char *body;        /* UTF-8 plain text */
    const char *ics;         /* a text/calendar attachment (an invitation), or NULL */
};

/* Adds m to the outbox, due now. Call it inside the transaction of the event that causes it.
 * 0, or -1 on an SQLite error (logged). */
int mail_queue(struct db *db, const struct mail *m);

#endif
