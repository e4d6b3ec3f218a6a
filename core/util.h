/* util: the few helpers every module uses.
 *
 * Allocation that aborts on out-of-memory (evne cannot serve half a request), a growable byte
 * buffer, the wall clock (which tests may shift, see util_clock_set), and ISO 8601 formatting.
 * Everything here is callable from any thread; util_clock_set is for tests (serve --clock).
 */
#ifndef EVNE_UTIL_H
#define EVNE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define UTIL_ABORT(...) util_abort(__FILE__, __LINE__, __VA_ARGS__)
#define UTIL_ASSERT(c) ((c) ? (void)0 : UTIL_ABORT("assertion failed: %s", #c))

_Noreturn void util_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void *xmalloc(size_t n);                 /* owned; never NULL */
void *xcalloc(size_t n, size_t size);    /* owned; never NULL */
void *xrealloc(void *p, size_t n);       /* consumes p; owned; never NULL */
char *xstrdup(const char *s);            /* owned copy */
char *xasprintf(const char *fmt, ...)    /* owned */
    __attribute__((format(printf, 1, 2)));

/* A growable byte buffer. data is owned by the buffer; always NUL-terminated after any append. */
struct buf {
    char *data;
    size_t len, cap;
};
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string, quoted and escaped (hot JSON answers written by hand). */
void buf_json_string(struct buf *b, const char *s);
/* Appends s (NULL: nothing) as one cell of a semicolon-separated CSV for Excel: quoted when it
 * holds ; " CR or LF, and with a ' before a leading = + - @ TAB or CR, so that Excel does not
 * take the cell for a formula. */
void buf_csv_cell(struct buf *b, const char *s);
/* Appends a decimal integer, without printf's machinery (hot JSON answers). */
void buf_putint(struct buf *b, int64_t v);
void buf_free(struct buf *b);
char *buf_steal(struct buf *b);          /* owned string; the buffer is left empty */

/* qsort, which must not be given a NULL array even to sort nothing: an empty list often is NULL
 * here. Sorts only when there are two elements or more. */
static inline void util_sort(void *base, size_t n, size_t size,
                             int (*cmp)(const void *, const void *))
{
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* Seconds since the epoch, shifted by the offset set with util_clock_set (tests run the server
 * "at" a given time). */
int64_t util_now(void);
void util_clock_set(int64_t now);        /* makes util_now() answer `now` at this instant */
int64_t util_monotonic_us(void);         /* for durations only */

/* "2026-11-26T21:55:01Z" into out (at least 21 bytes). */
void util_iso8601(int64_t t, char out[21]);

/* Replaces every byte that is not part of valid UTF-8 with '?', in place; returns s. Text from
 * a request goes through this before it can reach JSON or a page. */
char *util_utf8_clean(char *s);
/* True when s is valid UTF-8 (no overlong forms, no surrogates). */
int util_utf8_valid(const char *s);

/* Parses a decimal integer that is the whole string; 0 on success. */
int util_parse_i64(const char *s, int64_t *out);

#endif
