#include "multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define BOUNDARY_MAX 70

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* RFC 2046's bchars: what a boundary may hold (a space, but not at its end). */
static int is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("'()+_,-./:=? ", c) != NULL;
}

/* RFC 7230's tchar: what a header name or a parameter name is made of. */
static int is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char *copy(const char *s, size_t n)
{
    char *o = xmalloc(n + 1);
    memcpy(o, s, n);
    o[n] = '\0';
    return o;
}

static int fail(char **err, const char *msg)
{
    *err = xstrdup(msg);
    return -1;
}

/* A parameter list "; a=b; c="d"" from s[0..n): calls back for each (name, value). Quoted values
 * run to the next '"' (browsers percent-encode a '"' in a name; there is no backslash escape).
 * -1 and *err when it is malformed. */
struct param {
    const char *name, *value;
    size_t name_len, value_len;
};

static int next_param(const char **s, const char *end, struct param *p, char **err)
{
    const char *q = *s;
    while (q < end && is_space(*q))
        q++;
    if (q == end) {
        *s = q;
        return 0;
    }
    if (*q != ';')
        return fail(err, "a parameter list is not separated by ';'");
    q++;
    while (q < end && is_space(*q))
        q++;
    p->name = q;
    while (q < end && is_tchar(*q))
        q++;
    p->name_len = (size_t)(q - p->name);
    if (!p->name_len || q == end || *q != '=')
        return fail(err, "a parameter has no name=value");
    q++;
    if (q < end && *q == '"') {
        q++;
        p->value = q;
        while (q < end && *q != '"')
            q++;
        if (q == end)
            return fail(err, "a quoted parameter value is not closed");
        p->value_len = (size_t)(q - p->value);
        q++;
    } else {
        p->value = q;
        while (q < end && is_tchar(*q))
            q++;
        p->value_len = (size_t)(q - p->value);
        if (!p->value_len)
            return fail(err, "a parameter has an empty value");
    }
    *s = q;
    return 1;
}

static int param_is(const struct param *p, const char *name)
{
    return p->name_len == strlen(name) && !strncasecmp(p->name, name, p->name_len);
}

int mp_is_form_data(const char *ct)
{
    if (!ct)
        return 0;
    while (is_space(*ct))
        ct++;
    static const char type[] = "multipart/form-data";
    return !strncasecmp(ct, type, sizeof type - 1) &&
           (ct[sizeof type - 1] == '\0' || ct[sizeof type - 1] == ';' ||
            is_space(ct[sizeof type - 1]));
}

/* The boundary parameter of the Content-Type into out (at most BOUNDARY_MAX + 1 bytes). */
static int boundary_of(const char *ct, char *out, char **err)
{
    if (!mp_is_form_data(ct))
        return fail(err, "the body is not multipart/form-data");
    const char *s = strchr(ct, ';');
    const char *end = ct + strlen(ct);
    struct param p;
    int rc;
    out[0] = '\0';
    while (s && (rc = next_param(&s, end, &p, err)) != 0) {
        if (rc < 0)
            return -1;
        if (!param_is(&p, "boundary"))
            continue;
        if (out[0])
            return fail(err, "the Content-Type names two boundaries");
        if (p.value_len == 0 || p.value_len > BOUNDARY_MAX || p.value[p.value_len - 1] == ' ')
            return fail(err, "the boundary must have 1 to 70 characters and not end in a space");
        for (size_t i = 0; i < p.value_len; i++)
            if (!is_bchar(p.value[i]))
                return fail(err, "the boundary holds a character that a boundary may not");
        memcpy(out, p.value, p.value_len);
        out[p.value_len] = '\0';
    }
    if (!out[0])
        return fail(err, "the Content-Type has no boundary");
    return 0;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] */
static int disposition(const char *v, const char *end, struct mp_part *part, char **err)
{
    static const char type[] = "form-data";
    const char *s = v;
    while (s < end && is_tchar(*s))
        s++;
    if ((size_t)(s - v) != sizeof type - 1 || strncasecmp(v, type, sizeof type - 1))
        return fail(err, "a part's Content-Disposition is not form-data");
    struct param p;
    int rc;
    while ((rc = next_param(&s, end, &p, err)) != 0) {
        if (rc < 0)
            return -1;
        char **slot = param_is(&p, "name") ? &part->name
                      : param_is(&p, "filename") ? &part->filename : NULL;
        if (!slot)
            continue;   /* filename* and the like: not sent by browsers for forms */
        if (*slot)
            return fail(err, "a part's Content-Disposition repeats a parameter");
        *slot = copy(p.value, p.value_len);
        if (memchr(p.value, '\0', p.value_len) || !util_utf8_valid(*slot))
            return fail(err, "a part's name or file name is not UTF-8 text");
    }
    if (!part->name || !*part->name)
        return fail(err, "a part's Content-Disposition has no name");
    return 0;
}

/* The head of one part: header lines in s[0..n), each without its CRLF. */
static int part_head(const char *s, size_t n, struct mp_part *part, char **err)
{
    const char *end = s + n;
    int seen_disposition = 0;
    for (const char *c = s; c + 2 < end; c++)
        if (c[0] == '\r' && c[1] == '\n' && is_space(c[2]))
            return fail(err, "a part's header is folded over lines");
    while (s < end) {
        const char *eol = s;
        while (eol < end && !(eol[0] == '\r' && eol + 1 < end && eol[1] == '\n'))
            eol++;
        if (memchr(s, '\n', (size_t)(eol - s)) || memchr(s, '\r', (size_t)(eol - s)))
            return fail(err, "a part's header line does not end in CRLF");
        if (is_space(*s))
            return fail(err, "a part's header is folded over lines");
        const char *colon = s;
        while (colon < eol && is_tchar(*colon))
            colon++;
        if (colon == s || colon == eol || *colon != ':')
            return fail(err, "a part's header line is not Name: value");
        const char *v = colon + 1, *ve = eol;
        while (v < ve && is_space(*v))
            v++;
        while (ve > v && is_space(ve[-1]))
            ve--;
        size_t name_len = (size_t)(colon - s);
        if (name_len == 19 && !strncasecmp(s, "content-disposition", 19)) {
            if (seen_disposition++)
                return fail(err, "a part has two Content-Disposition headers");
            if (disposition(v, ve, part, err))
                return -1;
        } else if (name_len == 12 && !strncasecmp(s, "content-type", 12)) {
            if (part->content_type)
                return fail(err, "a part has two Content-Type headers");
            for (const char *c = v; c < ve; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                    return fail(err, "a part's Content-Type is not plain text");
            part->content_type = copy(v, (size_t)(ve - v));
        } else if (name_len == 25 && !strncasecmp(s, "content-transfer-encoding", 25)) {
            size_t vl = (size_t)(ve - v);
            if (!((vl == 4 && !strncasecmp(v, "7bit", 4)) || (vl == 4 && !strncasecmp(v, "8bit", 4)) ||
                  (vl == 6 && !strncasecmp(v, "binary", 6))))
                return fail(err, "a part's Content-Transfer-Encoding is not 7bit, 8bit or binary");
        }
        s = eol + 2;
    }
    if (!seen_disposition)
        return fail(err, "a part has no Content-Disposition");
    return 0;
}

static void part_free(struct mp_part *p)
{
    free(p->name);
    free(p->filename);
    free(p->content_type);
}

void mp_free(struct mp_form *f)
{
    for (size_t i = 0; i < f->n; i++)
        part_free(&f->parts[i]);
    free(f->parts);
    f->parts = NULL;
    f->n = 0;
}

int mp_parse(const char *body, size_t len, const char *content_type, struct mp_form *out,
             char **err)
{
    *out = (struct mp_form){0};
    char boundary[BOUNDARY_MAX + 1];
    if (boundary_of(content_type, boundary, err))
        return -1;
    /* "\r\n--boundary": what ends a part's data */
    char delim[BOUNDARY_MAX + 5];
    size_t dlen = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = body + len;
    if (len < dlen - 2 || memcmp(body, delim + 2, dlen - 2) != 0)
        return fail(err, "the body does not start with the boundary");
    const char *p = body + dlen - 2;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0;   /* the closing delimiter; the epilogue is ignored */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            mp_free(out);
            return fail(err, "a boundary is followed by neither a line break nor --");
        }
        p += 2;
        if (out->n == MP_MAX_PARTS) {
            mp_free(out);
            *err = xasprintf("the form has more than %d parts", MP_MAX_PARTS);
            return -1;
        }
        size_t room = (size_t)(end - p);
        const char *head_end = NULL;
        if (room >= 2 && p[0] == '\r' && p[1] == '\n')
            head_end = p - 2;   /* no header lines at all */
        else
            head_end = memmem(p, room < MP_MAX_HEAD_BYTES + 4 ? room : MP_MAX_HEAD_BYTES + 4,
                              "\r\n\r\n", 4);
        if (!head_end) {
            mp_free(out);
            return fail(err, room > MP_MAX_HEAD_BYTES
                                 ? "a part's header lines exceed 4096 bytes"
                                 : "a part's header lines do not end");
        }
        out->parts = xrealloc(out->parts, (out->n + 1) * sizeof *out->parts);
        struct mp_part *part = &out->parts[out->n++];
        *part = (struct mp_part){0};
        if (part_head(p, head_end >= p ? (size_t)(head_end - p) : 0, part, err)) {
            mp_free(out);
            return -1;
        }
        const char *data = head_end + 4;
        const char *stop = memmem(data, (size_t)(end - data), delim, dlen);
        if (!stop) {
            mp_free(out);
            return fail(err, "the body ends before the closing boundary");
        }
        part->data = data;
        part->len = (size_t)(stop - data);
        p = stop + dlen;
    }
}

const struct mp_part *mp_get(const struct mp_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->parts[i].name, name))
            return &f->parts[i];
    return NULL;
}
