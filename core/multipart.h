/* multipart: a strict parser of multipart/form-data bodies (RFC 7578), for the pages' file
 * uploads (an HR file to import). web.c's form parsing is urlencoded only.
 *
 * Strict means: the body starts with the first delimiter (no preamble), every line of a part's
 * head ends in CRLF, every part has "Content-Disposition: form-data" with a name, no
 * Content-Transfer-Encoding but 7bit, 8bit or binary, and the body ends with the closing
 * delimiter (what follows it, the epilogue, is ignored, as the RFC says). Names and file names
 * are taken as browsers write them (HTML's rule: '"' and line breaks percent-encoded, nothing
 * backslash-escaped) and must be UTF-8. Anything else is refused with a reason, never guessed.
 *
 * Parts borrow their data from the body, which must outlive them; names are owned copies.
 * Pure: any thread. Public names carry the prefix mp_.
 */
#ifndef EVNE_MULTIPART_H
#define EVNE_MULTIPART_H

#include <stddef.h>

#define MP_MAX_PARTS 64
#define MP_MAX_HEAD_BYTES 4096      /* one part's header lines */

struct mp_part {
    char *name;                     /* owned: the form field's name */
    char *filename;                 /* owned: NULL for a plain field; "" for a file input left
                                       empty */
    char *content_type;             /* owned: NULL when the part names none */
    const char *data;               /* borrowed from the body; not NUL-terminated */
    size_t len;
};

struct mp_form {
    struct mp_part *parts;          /* owned */
    size_t n;
};

/* True when a Content-Type header's value (may be NULL) is multipart/form-data. */
int mp_is_form_data(const char *content_type);

/* Parses body[0..len) as sent with content_type (its boundary parameter). 0 and *out (free with
 * mp_free), or -1 and *err (owned, lowercase, saying what is wrong); *out is then empty. */
int mp_parse(const char *body, size_t len, const char *content_type, struct mp_form *out,
             char **err);
void mp_free(struct mp_form *f);

/* The first part named name; borrowed; NULL when there is none. */
const struct mp_part *mp_get(const struct mp_form *f, const char *name);

#endif
