#include "mail.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "app.h"
#include "db.h"
#include "schedule.h"
#include "util.h"

#define CONNECT_TIMEOUT_S 10
#define RESPONSE_TIMEOUT_S 60     /* per SMTP reply, also the QUIT when a connection closes */
#define TRANSFER_TIMEOUT_S 300    /* one whole mail */
#define ERROR_MAX 480             /* bytes of last_error */

static void bind_or_null(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

int mail_queue(struct db *db, const struct mail *m)
{
    int64_t now = util_now();
    sqlite3_stmt *st = db_stmt(db, "INSERT INTO outbox (kind, to_addr, subject, body, ics, "
                                   "html, attachment_name, attachment_type, attachment, "
                                   "next_attempt_at, created_at) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, m->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, m->body, -1, SQLITE_STATIC);
    bind_or_null(st, 5, m->ics);
    bind_or_null(st, 6, m->html);
    int attached = m->attachment_name != NULL;
    bind_or_null(st, 7, m->attachment_name);
    bind_or_null(st, 8, attached ? (m->attachment_type ? m->attachment_type
                                                       : "application/octet-stream") : NULL);
    bind_or_null(st, 9, attached ? (m->attachment ? m->attachment : "") : NULL);
    sqlite3_bind_int64(st, 10, now);
    sqlite3_bind_int64(st, 11, now);
    return db_exec_stmt(db, st);
}

/* --- the message ------------------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of p[0..n); with wrap, CRLF after every 76 characters (not after the last line). */
static void b64_append(struct buf *out, const unsigned char *p, size_t n, int wrap)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
                     i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64_alphabet[v & 63] : '='};
        if (wrap && col == 76) {
            buf_append(out, "\r\n", 2);
            col = 0;
        }
        buf_append(out, q, 4);
        col += 4;
    }
}

/* Quoted-printable (RFC 2045 6.7) of UTF-8 text: its line breaks (LF or CRLF) become CRLF,
 * lines are cut with soft breaks at 76 characters, and the result ends with CRLF. '=' is always
 * encoded, so the output never holds "=_" (the multipart boundary starts with it). */
static void qp_append(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            if (*p == '\r')
                p++;
            buf_append(out, "\r\n", 2);
            col = 0;
            continue;
        }
        int at_eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
        char tok[3];
        size_t n = 1;
        if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol)) {
            tok[0] = (char)*p;
        } else {
            tok[0] = '=';
            tok[1] = hex[*p >> 4];
            tok[2] = hex[*p & 15];
            n = 3;
        }
        if (col + n > 75) {   /* 75 and the soft break's '=' */
            buf_append(out, "=\r\n", 3);
            col = 0;
        }
        buf_append(out, tok, n);
        col += n;
    }
    if (col)
        buf_append(out, "\r\n", 2);
}

/* Text that can stand in a header as it is: printable ASCII words of at most 60 characters
 * between single spaces, so that it folds at a space into lines of 78 and nothing in it can be
 * taken for an encoded word. */
static int plain_header_text(const char *s)
{
    size_t word = 0;
    if (*s == ' ' || strstr(s, "=?"))
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e)
            return 0;
        if (*p != ' ') {
            if (++word > 60)
                return 0;
        } else if (p[1] == ' ' || p[1] == '\0') {
            return 0;
        } else {
            word = 0;
        }
    }
    return 1;
}

/* "Name: value" with the value folded at spaces (plain text) or as RFC 2047 B-encoded words of
 * at most 42 bytes each, never cut inside a UTF-8 character, one per line. */
static void put_text_header(struct buf *out, const char *name, const char *value)
{
    char *s = util_utf8_clean(xstrdup(value));
    buf_puts(out, name);
    buf_puts(out, ":");
    size_t col = strlen(name) + 1;
    if (!*s) {
        /* nothing more */
    } else if (plain_header_text(s)) {
        for (const char *p = s; *p;) {
            const char *sp = strchr(p + 1, ' ');
            size_t n = sp ? (size_t)(sp - p) : strlen(p);
            if (col + 1 + n > 78) {
                buf_append(out, "\r\n", 2);
                col = 0;
            }
            buf_append(out, " ", 1);
            buf_append(out, p, n);
            col += 1 + n;
            p += n;
            if (*p == ' ')
                p++;
        }
    } else {
        size_t len = strlen(s);
        for (size_t i = 0; i < len;) {
            size_t n = len - i < 42 ? len - i : 42;
            while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
                n--;
            if (i)
                buf_append(out, "\r\n", 2);
            buf_puts(out, " =?UTF-8?B?");
            b64_append(out, (const unsigned char *)s + i, n, 0);
            buf_puts(out, "?=");
            i += n;
        }
    }
    buf_append(out, "\r\n", 2);
    free(s);
}

static void rfc5322_date(int64_t t, char out[40])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The calendar with CRLF line ends (RFC 5545), however it was written. Owned. */
static char *crlf_lines(const char *s)
{
    struct buf b = {0};
    buf_reserve(&b, strlen(s) + 64);
    for (const char *p = s; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            buf_append(&b, "\r\n", 2);
            if (*p == '\r' && p[1] == '\n')
                p++;
        } else {
            buf_append(&b, p, 1);
        }
    }
    if (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0)
        buf_append(&b, "\r\n", 2);
    return buf_steal(&b);
}

/* The calendar's METHOD (RFC 5546: REQUEST, CANCEL ...), which the part's Content-Type must
 * repeat (RFC 6047); REQUEST when it names none. */
static void ics_method(const char *ics, char out[16])
{
    snprintf(out, 16, "REQUEST");
    for (const char *p = ics; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "METHOD:", 7))
            continue;
        size_t n = strspn(p + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZ-");
        if (n && n < 16)
            snprintf(out, 16, "%.*s", (int)n, p + 7);
        return;
    }
}

/* A MIME type that can stand in the header as it is: type/subtype and parameters in printable
 * ASCII, short enough for one line. */
static int plain_mime_type(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || !slash[1] || strlen(s) > 60)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '\\')
            return 0;
    return 1;
}

/* A file name that can stand between quotes as it is: short printable ASCII without quotes,
 * backslashes or characters that mean something in a path. */
static int plain_file_name(const char *s)
{
    if (!*s || strlen(s) > 40)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e || strchr("\"\\/%*'", *p))
            return 0;
    return 1;
}

/* Content-Disposition: attachment with the file's name: filename="name" when it is plain, else
 * RFC 2231 filename*0*=UTF-8''..., filename*1*=... with the name percent-encoded in sections
 * of at most 50 characters, one per line (never cutting a %XX). */
static void put_disposition(struct buf *out, const char *name)
{
    char *clean = util_utf8_clean(xstrdup(name));
    for (char *p = clean; *p; p++)   /* no directories in a name that a mail client saves */
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = '_';
    if (!*clean) {
        free(clean);
        clean = xstrdup("attachment");
    }
    if (plain_file_name(clean)) {
        buf_printf(out, "Content-Disposition: attachment; filename=\"%s\"\r\n", clean);
        free(clean);
        return;
    }
    static const char hex[] = "0123456789ABCDEF";
    buf_puts(out, "Content-Disposition: attachment");
    size_t section = 0, col = 0;
    for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
        if (col == 0 || col + 3 > 50) {
            buf_printf(out, ";\r\n filename*%zu*=%s", section, section ? "" : "UTF-8''");
            section++;
            col = 0;
        }
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p)) {
            buf_append(out, (const char *)p, 1);
            col++;
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, esc, 3);
            col += 3;
        }
    }
    buf_puts(out, "\r\n");
    free(clean);
}

/* A text/SUBTYPE; charset=UTF-8 part in quoted-printable, its headers and its content. */
static void put_text_part(struct buf *out, const char *subtype, const char *content)
{
    char *clean = util_utf8_clean(xstrdup(content ? content : ""));
    buf_printf(out, "Content-Type: text/%s; charset=UTF-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", subtype);
    qp_append(out, clean);
    free(clean);
}

/* The body: text/plain alone, or multipart/alternative of text and HTML. A part's content
 * ends where the CRLF before the next delimiter begins (RFC 2046 5.1.1), so the text's own last
 * line break is kept by one more CRLF; the multipart ends with its close delimiter, no CRLF. */
static void put_body(struct buf *out, const struct mail_message *m)
{
    if (!m->html) {
        put_text_part(out, "plain", m->body);
        return;
    }
    /* Not a prefix of the mixed boundary "=_evne_ID" nor it of this one, so that no parser
     * takes one for the other. */
    char boundary[48];
    snprintf(boundary, sizeof boundary, "=_evne_alt_%lld", (long long)m->id);
    buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    buf_printf(out, "--%s\r\n", boundary);
    put_text_part(out, "plain", m->body);
    buf_printf(out, "\r\n--%s\r\n", boundary);
    put_text_part(out, "html", m->html);
    buf_printf(out, "\r\n--%s--", boundary);
}

char *mail_format(const struct mail_message *m)
{
    struct buf b = {0};
    char date[40];
    rfc5322_date(m->created_at, date);
    const char *at = strrchr(m->from, '@');
    const char *domain = at && at[1] ? at + 1 : "evne.invalid";
    buf_printf(&b, "From: %s\r\nTo: %s\r\n", m->from, m->to);
    put_text_header(&b, "Subject", m->subject ? m->subject : "");
    /* The Date is when the mail was queued and the Message-ID names the outbox row, so every
     * attempt sends the same bytes and a copy that arrives twice is known as one. */
    buf_printf(&b,
               "Date: %s\r\n"
               "Message-ID: <evne.outbox.%lld.%lld@%s>\r\n"
               "MIME-Version: 1.0\r\n"
               "Auto-Submitted: auto-generated\r\n",
               date, (long long)m->id, (long long)m->created_at, domain);
    if (!m->ics && !m->attachment_name) {
        put_body(&b, m);
        if (m->html)
            buf_puts(&b, "\r\n");
        return buf_steal(&b);
    }
    char boundary[48];
    snprintf(boundary, sizeof boundary, "=_evne_%lld", (long long)m->id);
    buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
    buf_printf(&b, "--%s\r\n", boundary);
    put_body(&b, m);
    if (m->ics) {
        char method[16];
        ics_method(m->ics, method);
        buf_printf(&b,
                   "\r\n--%s\r\n"
                   "Content-Type: text/calendar; method=%s; charset=UTF-8;\r\n"
                   " name=\"invitation.ics\"\r\n"
                   "Content-Disposition: attachment; filename=\"invitation.ics\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n",
                   boundary, method);
        char *ics = util_utf8_clean(crlf_lines(m->ics));
        b64_append(&b, (const unsigned char *)ics, strlen(ics), 1);
        free(ics);
    }
    if (m->attachment_name) {
        const char *type = plain_mime_type(m->attachment_type) ? m->attachment_type
                                                               : "application/octet-stream";
        buf_printf(&b, "\r\n--%s\r\nContent-Type: %s\r\n", boundary, type);
        put_disposition(&b, m->attachment_name);
        buf_puts(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
        const char *bytes = m->attachment ? m->attachment : "";
        b64_append(&b, (const unsigned char *)bytes, strlen(bytes), 1);
    }
    buf_printf(&b, "\r\n--%s--\r\n", boundary);
    return buf_steal(&b);
}

/* --- the rules of delivery -------------------------------------------------------------------- */

int mail_tls_parse(const char *s, enum mail_tls *out)
{
    static const char *const names[] = {"none", "starttls", "tls"};
    for (int i = 0; i < 3; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum mail_tls)i;
            return 0;
        }
    }
    return -1;
}

int mail_address_ok(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t len = strlen(addr);
    if (!at || at == addr || !at[1] || len > 254)
        return 0;
    for (const char *p = addr; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>\"(),;:\\[]", *p))
            return 0;
    return 1;
}

int64_t mail_backoff(int base, int attempts)
{
    static const int factor[] = {1, 4, 20, 120};
    int i = attempts < 1 ? 0 : attempts > 4 ? 3 : attempts - 1;
    return (int64_t)base * factor[i];
}

enum mail_outcome mail_classify(int curl_code, int reply_code, int aborted)
{
    if (aborted)
        return MAIL_RELEASED;
    if (curl_code == CURLE_OK)
        return MAIL_SENT;
    if (reply_code >= 500 && reply_code <= 599)
        return MAIL_FAILED;
    return MAIL_RETRY;
}

/* --- the outbox's rows ------------------------------------------------------------------------ */

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void mail_rows_free(struct mail_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].kind);
        free(rows[i].to);
        free(rows[i].subject);
        free(rows[i].body);
        free(rows[i].ics);
        free(rows[i].html);
        free(rows[i].attachment_name);
        free(rows[i].attachment_type);
        free(rows[i].attachment);
    }
    free(rows);
}

int mail_recover(struct db *db)
{
    sqlite3_stmt *st = db_stmt(db, "UPDATE outbox SET state = 'pending', next_attempt_at = "
                                   "min(next_attempt_at, ?) WHERE state = 'sending'");
    sqlite3_bind_int64(st, 1, util_now());
    if (db_exec_stmt(db, st))
        return -1;
    return sqlite3_changes(db_handle(db));
}

int mail_claim(struct db *db, int64_t now, int max, struct mail_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (db_begin(db))
        return -1;
    sqlite3_stmt *st = db_stmt(db, "SELECT id, kind, to_addr, subject, body, ics, attempts, "
                                   "created_at, html, attachment_name, attachment_type, "
                                   "attachment FROM outbox WHERE state = 'pending' AND "
                                   "next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    struct mail_row *r = xcalloc((size_t)(max > 0 ? max : 1), sizeof *r);
    size_t len = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && len < (size_t)max) {
        r[len] = (struct mail_row){.id = sqlite3_column_int64(st, 0),
                                   .kind = dup_or_null(db_text(st, 1)),
                                   .to = dup_or_null(db_text(st, 2)),
                                   .subject = dup_or_null(db_text(st, 3)),
                                   .body = dup_or_null(db_text(st, 4)),
                                   .ics = dup_or_null(db_text(st, 5)),
                                   .attempts = sqlite3_column_int(st, 6),
                                   .created_at = sqlite3_column_int64(st, 7),
                                   .html = dup_or_null(db_text(st, 8)),
                                   .attachment_name = dup_or_null(db_text(st, 9)),
                                   .attachment_type = dup_or_null(db_text(st, 10)),
                                   .attachment = dup_or_null(db_text(st, 11))};
        len++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        db_log_error(db, st);
        sqlite3_reset(st);
        goto fail;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < len; i++) {
        st = db_stmt(db, "UPDATE outbox SET state = 'sending' WHERE id = ?");
        sqlite3_bind_int64(st, 1, r[i].id);
        if (db_exec_stmt(db, st))
            goto fail;
    }
    if (db_commit(db))
        goto fail;
    if (!len) {
        free(r);
        r = NULL;
    }
    *rows = r;
    *n = len;
    return 0;
fail:
    db_rollback(db);
    mail_rows_free(r, len);
    return -1;
}

int mail_record(struct db *db, int64_t id, enum mail_outcome outcome, const char *error,
                int64_t now, int retry_base)
{
    sqlite3_stmt *st;
    if (db_begin(db))
        return -1;
    st = db_stmt(db, "SELECT attempts FROM outbox WHERE id = ? AND state = 'sending'");
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    int attempts = found ? sqlite3_column_int(st, 0) + 1 : 0;
    sqlite3_reset(st);
    if (!found) {   /* not ours any more (nothing else moves a sending row): nothing to do */
        db_rollback(db);
        return 0;
    }
    char *gave_up = NULL;
    if (outcome == MAIL_RETRY && attempts >= MAIL_MAX_ATTEMPTS) {
        outcome = MAIL_FAILED;
        error = gave_up = xasprintf("%s (gave up after %d attempts)", error ? error : "no answer",
                                    attempts);
    }
    switch (outcome) {
    case MAIL_SENT:
        st = db_stmt(db, "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, "
                         "last_error = NULL WHERE id = ?");
        sqlite3_bind_int(st, 1, attempts);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, id);
        break;
    case MAIL_RETRY:
        st = db_stmt(db, "UPDATE outbox SET state = 'pending', attempts = ?, next_attempt_at = ?, "
                         "last_error = ? WHERE id = ?");
        sqlite3_bind_int(st, 1, attempts);
        sqlite3_bind_int64(st, 2, now + mail_backoff(retry_base, attempts));
        sqlite3_bind_text(st, 3, error ? error : "no answer", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, id);
        break;
    case MAIL_FAILED:
        st = db_stmt(db, "UPDATE outbox SET state = 'failed', attempts = ?, last_error = ? "
                         "WHERE id = ?");
        sqlite3_bind_int(st, 1, attempts);
        sqlite3_bind_text(st, 2, error ? error : "refused", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        break;
    case MAIL_RELEASED:
    default:
        st = db_stmt(db, "UPDATE outbox SET state = 'pending' WHERE id = ?");
        sqlite3_bind_int64(st, 1, id);
        break;
    }
    int rc = db_exec_stmt(db, st) || db_commit(db) ? -1 : 0;
    if (rc)
        db_rollback(db);
    free(gave_up);
    return rc;
}

/* --- the worker ------------------------------------------------------------------------------- */

struct mail_worker {
    uv_timer_t timer;
    uv_work_t work;
    struct app *app;
    /* the settings, owned */
    char *url, *from, *envelope_from, *user, *password, *ca_file;
    enum mail_tls tls;
    int retry_base;
    /* the claimed batch; rows[next] is the one being sent */
    struct mail_row *rows;
    size_t n, next;
    int look_again;           /* the claim was full, or a kick came while busy: look again
                               * as soon as the batch is done */
    int busy;                 /* a job is queued or running */
    int closing_job;          /* the job only closes the connection */
    int unrecorded;           /* rows[next]'s outcome did not reach the database yet */
    enum mail_outcome outcome;
    char *error;              /* rows[next]'s last_error; owned */
    /* The job: set up on the loop, run in the thread pool, read on the loop after it. curl
     * lives across jobs so that one connection serves a batch; a closing job ends it. */
    CURL *curl;
    char *message;
    size_t message_len, message_off;
    int message_done;         /* the last byte went to curl: from here a stop must not abort */
    char rcpt[260];
    int curl_code, reply_code;
    int quitting;
    char reply[256];          /* the server's last answer, as it said it */
    char errbuf[CURL_ERROR_SIZE];
    atomic_int stopping;      /* written on the loop, read by the job */
    int timer_closed;
    void (*on_stopped)(void *);
    void *arg;
};

static void send_next(struct mail_worker *w);
static void job_done(uv_work_t *req, int status);
static void wind_down(struct mail_worker *w);

static size_t read_message(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct mail_worker *w = ud;
    size_t room = size * nmemb, left = w->message_len - w->message_off;
    size_t n = left < room ? left : room;
    memcpy(ptr, w->message + w->message_off, n);
    w->message_off += n;
    if (n == 0)
        w->message_done = 1;
    return n;
}

/* A stop aborts a send only while the message is not all written: once it is, the server may
 * take it, and an abort then could make the mail go twice. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct mail_worker *w = ud;
    return atomic_load(&w->stopping) && !w->message_done;
}

/* Keeps the server's last answer (not the one to QUIT, which curl sends when it closes). */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    struct mail_worker *w = ud;
    if (type == CURLINFO_HEADER_OUT && size >= 4 && !strncmp(data, "QUIT", 4))
        w->quitting = 1;
    if (type != CURLINFO_HEADER_IN || w->quitting)
        return 0;
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    if (size) {
        size_t n = size < sizeof w->reply - 1 ? size : sizeof w->reply - 1;
        memcpy(w->reply, data, n);
        w->reply[n] = '\0';
    }
    return 0;
}

static void send_job(struct mail_worker *w)
{
    w->errbuf[0] = w->reply[0] = '\0';
    w->quitting = 0;
    w->reply_code = 0;
    if (!w->curl && !(w->curl = curl_easy_init())) {
        w->curl_code = CURLE_FAILED_INIT;
        return;
    }
    CURL *c = w->curl;
    curl_easy_reset(c);   /* keeps the connection */
    struct curl_slist *rcpt = curl_slist_append(NULL, w->rcpt);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, w->envelope_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, w);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)RESPONSE_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)TRANSFER_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     w->tls == MAIL_TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    if (w->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_file);
    if (w->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, w->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, w->password);
    }
    w->curl_code = (int)curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    int code = 0;
    if (w->reply[0] >= '2' && w->reply[0] <= '5' && sscanf(w->reply, "%3d", &code) != 1)
        code = 0;
    if (!code) {
        long rc = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rc);
        code = (int)rc;
    }
    w->reply_code = code;
}

static void run_job(uv_work_t *req)
{
    struct mail_worker *w = req->data;
    if (w->closing_job) {
        curl_easy_cleanup(w->curl);   /* QUIT, after the outcome is committed */
        w->curl = NULL;
    } else {
        send_job(w);
    }
}

/* The last_error of the job that just ended: the server's answer and curl's reason. Owned. */
static char *describe_failure(struct mail_worker *w)
{
    const char *why = w->errbuf[0] ? w->errbuf : curl_easy_strerror((CURLcode)w->curl_code);
    char *s = w->reply[0] && w->reply_code >= 400 ? xasprintf("%s (%s)", w->reply, why)
                                                  : xasprintf("%s", why);
    if (strlen(s) > ERROR_MAX)
        s[ERROR_MAX] = '\0';
    return util_utf8_clean(s);
}

static void log_outcome(struct mail_worker *w, const struct mail_row *r)
{
    switch (w->outcome) {
    case MAIL_SENT:
        fprintf(stderr, "evne: mail %lld (%s) to %s: sent\n", (long long)r->id, r->kind, r->to);
        break;
    case MAIL_RETRY:
    case MAIL_FAILED:
        if (w->outcome == MAIL_RETRY && r->attempts + 1 < MAIL_MAX_ATTEMPTS)
            fprintf(stderr, "evne: mail %lld (%s) to %s: tries again in %lld s: %s\n",
                    (long long)r->id, r->kind, r->to,
                    (long long)mail_backoff(w->retry_base, r->attempts + 1), w->error);
        else
            fprintf(stderr, "evne: mail %lld (%s) to %s: failed: %s\n", (long long)r->id,
                    r->kind, r->to, w->error);
        break;
    case MAIL_RELEASED:
        fprintf(stderr, "evne: mail %lld (%s) to %s: not sent, stopping; it goes at the next "
                        "start\n", (long long)r->id, r->kind, r->to);
        break;
    }
}

/* Commits rows[next]'s outcome; on success moves on to the next row. */
static int record_current(struct mail_worker *w)
{
    struct mail_row *r = &w->rows[w->next];
    if (mail_record(w->app->db, r->id, w->outcome, w->error, util_now(), w->retry_base)) {
        if (!w->unrecorded)
            fprintf(stderr, "evne: mail %lld: cannot record its outcome yet; trying again\n",
                    (long long)r->id);
        w->unrecorded = 1;
        return -1;
    }
    w->unrecorded = 0;
    log_outcome(w, r);
    free(w->error);
    w->error = NULL;
    w->next++;
    return 0;
}

static void queue_job(struct mail_worker *w, int closing)
{
    w->busy = 1;
    w->closing_job = closing;
    w->work.data = w;
    if (uv_queue_work(w->app->loop, &w->work, run_job, job_done) != 0)
        UTIL_ABORT("uv_queue_work failed");
}

static void job_done(uv_work_t *req, int status)
{
    struct mail_worker *w = req->data;
    w->busy = 0;
    free(w->message);
    w->message = NULL;
    if (w->closing_job) {
        w->closing_job = 0;
        if (atomic_load(&w->stopping))
            wind_down(w);
        else if (w->look_again)
            mail_kick(w->app);
        return;
    }
    if (status == UV_ECANCELED) {
        w->outcome = MAIL_RELEASED;
    } else {
        w->outcome = mail_classify(w->curl_code, w->reply_code,
                                   w->curl_code == CURLE_ABORTED_BY_CALLBACK);
        if (w->outcome == MAIL_RETRY || w->outcome == MAIL_FAILED)
            w->error = describe_failure(w);
    }
    if (record_current(w) == 0 && !atomic_load(&w->stopping)) {
        send_next(w);
        return;
    }
    if (atomic_load(&w->stopping))
        wind_down(w);
    /* else the database refused the outcome: the next tick tries again */
}

/* Hands rows[next] to a job, after failing the rows that cannot be sent; when the batch is
 * done, closes the connection. */
static void send_next(struct mail_worker *w)
{
    while (w->next < w->n) {
        struct mail_row *r = &w->rows[w->next];
        if (!r->to || !mail_address_ok(r->to)) {
            w->outcome = MAIL_FAILED;
            w->error = xasprintf("'%s' is not an address evne can send to",
                                 r->to ? r->to : "");
            util_utf8_clean(w->error);
            if (record_current(w))
                return;
            continue;
        }
        struct mail_message m = {.id = r->id, .created_at = r->created_at, .from = w->from,
                                 .to = r->to, .subject = r->subject, .body = r->body,
                                 .ics = r->ics, .html = r->html,
                                 .attachment_name = r->attachment_name,
                                 .attachment_type = r->attachment_type,
                                 .attachment = r->attachment};
        w->message = mail_format(&m);
        w->message_len = strlen(w->message);
        w->message_off = 0;
        w->message_done = 0;
        snprintf(w->rcpt, sizeof w->rcpt, "<%s>", r->to);
        queue_job(w, 0);
        return;
    }
    mail_rows_free(w->rows, w->n);
    w->rows = NULL;
    w->n = w->next = 0;
    if (w->curl)
        queue_job(w, 1);
    else if (w->look_again)
        mail_kick(w->app);
}

static void on_tick(uv_timer_t *t)
{
    struct mail_worker *w = t->data;
    if (atomic_load(&w->stopping))
        return;
    if (w->busy) {
        w->look_again = 1;   /* a mail queued now need not wait for the next tick */
        return;
    }
    if (w->unrecorded && record_current(w))
        return;
    if (w->next < w->n) {
        send_next(w);
        return;
    }
    if (mail_claim(w->app->db, util_now(), MAIL_BATCH, &w->rows, &w->n))
        return;
    w->next = 0;
    w->look_again = w->n == MAIL_BATCH;
    if (w->n)
        send_next(w);
}

void mail_kick(struct app *a)
{
    struct mail_worker *w = a->mail;
    if (w && !atomic_load(&w->stopping))
        uv_timer_start(&w->timer, on_tick, 0, MAIL_TICK_MS);
}

static void worker_free(struct mail_worker *w)
{
    if (w->curl)
        curl_easy_cleanup(w->curl);
    mail_rows_free(w->rows, w->n);
    free(w->error);
    free(w->message);
    free(w->url);
    free(w->from);
    free(w->envelope_from);
    free(w->user);
    free(w->ca_file);
    if (w->password) {
        memset(w->password, 0, strlen(w->password));
        free(w->password);
    }
    free(w);
    curl_global_cleanup();
}

/* Once nothing is on the wire: the outcome not yet recorded gets one more try, the claimed
 * rows not sent go back to pending, the connection closes; then the worker is freed. */
static void wind_down(struct mail_worker *w)
{
    if (w->busy)
        return;
    if (w->unrecorded && record_current(w)) {
        fprintf(stderr, "evne: mail %lld stays 'sending'; it goes again at the next start\n",
                (long long)w->rows[w->next].id);
        w->unrecorded = 0;
        free(w->error);
        w->error = NULL;
        w->next++;
    }
    for (; w->next < w->n; w->next++)
        if (mail_record(w->app->db, w->rows[w->next].id, MAIL_RELEASED, NULL, util_now(),
                        w->retry_base))
            fprintf(stderr, "evne: mail %lld stays 'sending'; it goes at the next start\n",
                    (long long)w->rows[w->next].id);
    if (w->curl) {
        queue_job(w, 1);
        return;
    }
    if (!w->timer_closed)
        return;
    void (*cb)(void *) = w->on_stopped;
    void *arg = w->arg;
    w->app->mail = NULL;
    worker_free(w);
    if (cb)
        cb(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct mail_worker *w = h->data;
    w->timer_closed = 1;
    wind_down(w);
}

void mail_stop(struct app *a, void (*on_stopped)(void *arg), void *arg)
{
    struct mail_worker *w = a->mail;
    if (!w || atomic_load(&w->stopping)) {
        if (on_stopped)
            on_stopped(arg);
        return;
    }
    w->on_stopped = on_stopped;
    w->arg = arg;
    atomic_store(&w->stopping, 1);
    if (w->busy && !w->closing_job)
        uv_cancel((uv_req_t *)&w->work);   /* when it has not started: it is not sent */
    if (!uv_is_closing((uv_handle_t *)&w->timer))
        uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

int mail_start(struct app *a, const struct mail_config *cfg, char **err)
{
    if (!a->loop || a->mail) {
        *err = xstrdup("mail: no event loop, or the worker runs already");
        return -1;
    }
    if (!cfg->host || !*cfg->host || !cfg->from || !mail_address_ok(cfg->from)) {
        *err = xasprintf("mail: an SMTP host and a plain sender address are needed (not '%s')",
                         cfg->from ? cfg->from : "");
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        *err = xstrdup("mail: libcurl cannot start");
        return -1;
    }
    int recovered = mail_recover(a->db);
    if (recovered < 0) {
        curl_global_cleanup();
        *err = xstrdup("mail: cannot read the outbox (see the log)");
        return -1;
    }
    if (recovered)
        fprintf(stderr, "evne: mail: %d %s being sent when evne last stopped without "
                        "finishing; they go again (a server may have taken one already)\n",
                recovered, recovered == 1 ? "mail was" : "mails were");
    struct mail_worker *w = xcalloc(1, sizeof *w);
    w->app = a;
    int port = cfg->port ? cfg->port
                         : cfg->tls == MAIL_TLS_TLS ? 465 : cfg->tls == MAIL_TLS_STARTTLS ? 587 : 25;
    const char *domain = strrchr(cfg->from, '@') + 1;
    int v6 = strchr(cfg->host, ':') != NULL;
    /* The URL's path is the name we greet the server with (EHLO): the sender's domain. */
    w->url = xasprintf("%s://%s%s%s:%d/%s", cfg->tls == MAIL_TLS_TLS ? "smtps" : "smtp",
                       v6 ? "[" : "", cfg->host, v6 ? "]" : "", port, domain);
    w->from = xstrdup(cfg->from);
    w->envelope_from = xasprintf("<%s>", cfg->from);
    w->user = cfg->user ? xstrdup(cfg->user) : NULL;
    w->ca_file = cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
    w->password = cfg->user ? xstrdup(cfg->password ? cfg->password : "") : NULL;
    w->tls = cfg->tls;
    w->retry_base = cfg->retry_seconds > 0 ? cfg->retry_seconds : 30;
    atomic_init(&w->stopping, 0);
    uv_timer_init(a->loop, &w->timer);
    w->timer.data = w;
    a->mail = w;
    uv_timer_start(&w->timer, on_tick, 0, MAIL_TICK_MS);
    fprintf(stderr, "evne: mail: delivering through %s%s as %s%s%s\n", w->url,
            cfg->tls == MAIL_TLS_STARTTLS ? " (STARTTLS)" : "", cfg->from,
            w->ca_file ? ", trusting the certificates in " : "", w->ca_file ? w->ca_file : "");
    return 0;
}

/* --- the outbox, for the admin ------------------------------------------------------------------ */

static json_t *outbox_time(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return json_null();
    char at[21];
    util_iso8601(sqlite3_column_int64(st, col), at);
    return json_string(at);
}

/* Text from the outbox as JSON; a server's answer is cleaned when stored, but a row may have
 * been written by other hands. */
static json_t *outbox_text(sqlite3_stmt *st, int col)
{
    const char *s = db_text(st, col);
    if (!s)
        return json_null();
    if (util_utf8_valid(s))
        return json_string(s);
    char *c = util_utf8_clean(xstrdup(s));
    json_t *j = json_string(c);
    free(c);
    return j;
}

json_t *mail_outbox(struct db *db, const char *state, int limit)
{
    sqlite3_stmt *st;
    if (state) {
        st = db_stmt(db, "SELECT id, kind, to_addr, subject, state, attempts, next_attempt_at, "
                         "last_error, created_at, sent_at FROM outbox WHERE state = ? "
                         "ORDER BY id DESC LIMIT ?");
        sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, limit);
    } else {
        st = db_stmt(db, "SELECT id, kind, to_addr, subject, state, attempts, next_attempt_at, "
                         "last_error, created_at, sent_at FROM outbox ORDER BY id DESC LIMIT ?");
        sqlite3_bind_int(st, 1, limit);
    }
    json_t *items = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *row_state = db_text(st, 4);
        int waiting = row_state && !strcmp(row_state, "pending");
        json_array_append_new(
            items, json_pack("{s:I, s:o, s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:o}",
                             "id", (json_int_t)sqlite3_column_int64(st, 0),
                             "kind", outbox_text(st, 1),
                             "to", outbox_text(st, 2),
                             "subject", outbox_text(st, 3),
                             "state", outbox_text(st, 4),
                             "attempts", sqlite3_column_int(st, 5),
                             "next_attempt_at", waiting ? outbox_time(st, 6) : json_null(),
                             "last_error", outbox_text(st, 7),
                             "created_at", outbox_time(st, 8),
                             "sent_at", outbox_time(st, 9)));
    }
    sqlite3_reset(st);
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i}", "pending", 0, "sending", 0, "sent", 0,
                               "failed", 0);
    st = db_stmt(db, "SELECT state, count(*) FROM outbox GROUP BY state");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (db_text(st, 0))
            json_object_set_new(counts, db_text(st, 0),
                                json_integer(sqlite3_column_int64(st, 1)));
    sqlite3_reset(st);
    return json_pack("{s:o, s:o}", "items", items, "counts", counts);
}

/* --- keeping the outbox small ----------------------------------------------------------------- */

int mail_prune(struct db *db, int64_t before, int max)
{
    sqlite3_stmt *st = db_stmt(db, "UPDATE outbox SET body = '', html = NULL, attachment = NULL, "
                                   "ics = NULL WHERE id IN (SELECT id FROM outbox WHERE state = "
                                   "'sent' AND sent_at < ? AND (body != '' OR html IS NOT NULL "
                                   "OR attachment IS NOT NULL OR ics IS NOT NULL) LIMIT ?)");
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, max);
    if (db_exec_stmt(db, st))
        return -1;
    return sqlite3_changes(db_handle(db));
}

#define PRUNE_BATCH 200

struct prune {
    int64_t before, emptied;
};

static void *prune_start(struct app *a, const struct sched_run *run, char **err)
{
    (void)a;
    (void)err;
    struct prune *p = xcalloc(1, sizeof *p);
    p->before = run->now - (int64_t)MAIL_KEEP_DAYS * 86400;
    return p;
}

static int prune_step(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                      char **err)
{
    (void)run;
    struct prune *p = state;
    int64_t t0 = util_monotonic_us();
    int n;
    do {
        n = mail_prune(a->db, p->before, PRUNE_BATCH);
        if (n < 0) {
            *err = xstrdup("the outbox could not be emptied (see the log)");
            return -1;
        }
        p->emptied += n;
    } while (n == PRUNE_BATCH && util_monotonic_us() - t0 < budget_us / 2);
    return n == PRUNE_BATCH;
}

static json_t *prune_finish(struct app *a, void *state)
{
    (void)a;
    struct prune *p = state;
    json_t *summary = json_pack("{s:I}", "emptied", (json_int_t)p->emptied);
    free(p);
    return summary;
}

const struct sched_job mail_prune_job = {
    .name = "outbox",
    .mails = 0,
    .start = prune_start,
    .step = prune_step,
    .finish = prune_finish,
};
