/*
 * JSON text -> rn_value in one pass (contract: jsondec.h).
 *
 * A recursive descent over the bytes, one C frame per nesting level (at
 * most RN_VALUE_MAX_DEPTH + 1). The items of the open lists and the
 * fields of the open records sit on two stacks of the decoder (on the C
 * stack until they outgrow it); a list or record is allocated from the
 * arena once, at its closing bracket, with its exact size.
 *
 * Strings are scanned 8 bytes at a time for the bytes that need a look
 * (quote, backslash, control bytes, non-ASCII, which is checked as
 * UTF-8 then passed over). One without escapes is viewed or copied
 * whole; one with escapes is decoded into an arena buffer of its raw
 * length (an escape never decodes longer than it is written).
 */
#include "value/jsondec.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "value/value.h"

/* Items and fields kept on the C stack before the decoder's stacks move
 * to the heap: a record of a log line is a handful. */
#define VALS_INLINE 64
#define FIELDS_INLINE 64
/* A record looks a repeated key up by comparing with every key before it
 * until it has this many; then through a hash index of its keys. */
#define DUP_LINEAR 16
/* Bytes of the text quoted in an error message. */
#define EXCERPT_MAX 40
/* A number this long or shorter is copied for strtod on the C stack. */
#define NUM_INLINE 128

/* Internal result of a frame that found a big integer under DOC_REAL:
 * the whole text is decoded again with every integer a double. */
#define RESTART 1

typedef struct dec {
    const char *base, *end;
    rn_arena *a;
    unsigned flags;
    int ints_real; /* DOC_REAL's second pass: every integer a double */

    rn_value *vals; /* items of the open lists */
    size_t nvals, capvals;
    rn_field *flds; /* fields of the open records */
    size_t nflds, capflds;

    int code;        /* the error: rn_err, or RESTART */
    const char *why; /* static text */
    size_t at;       /* byte offset */

    rn_value vals0[VALS_INLINE];
    rn_field flds0[FIELDS_INLINE];
} dec;

/* ---- errors --------------------------------------------------------- */

static const char *fail(dec *d, const char *p, int code, const char *why)
{
    d->code = code;
    d->why = why;
    d->at = (size_t)(p - d->base);
    return NULL;
}

static const char *bad(dec *d, const char *p, const char *why)
{
    return fail(d, p, RN_EFORMAT, why);
}

/* Up to max bytes of p, C-escaped into out (4 * max + 4 bytes), "..."
 * when cut: the message stays printable whatever the text held. */
static void excerpt(char *out, const char *p, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, m = n < max ? n : max;

    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)p[i];
        char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n'
               : c == '\t' ? 't' : c == '\r' ? 'r' : 0;
        if (e) {
            out[k++] = '\\';
            out[k++] = e;
        } else if (c >= 0x20 && c < 0x7f) {
            out[k++] = (char)c;
        } else {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    if (m < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static int report(const dec *d, rn_errbuf *err)
{
    char ex[4 * EXCERPT_MAX + 4];
    size_t line = 1, col = 1;

    if (d->code == RN_ENOMEM)
        return rn_error_set(err, RN_ENOMEM, "out of memory for a JSON value");
    for (size_t i = 0; i < d->at; i++) {
        if (d->base[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    excerpt(ex, d->base, (size_t)(d->end - d->base), EXCERPT_MAX);
    if (d->code == RN_ELIMIT)
        return rn_error_set(err, RN_ELIMIT,
                            "JSON %s at byte %zu (line %zu, column %zu) "
                            "in \"%s\"",
                            d->why, d->at, line, col, ex);
    return rn_error_set(err, d->code,
                        "invalid JSON: %s at byte %zu (line %zu, column %zu) "
                        "in \"%s\"",
                        d->why, d->at, line, col, ex);
}

/* ---- the decoder's stacks ------------------------------------------- */

static int grow(void **p, size_t *cap, size_t size, void *inline_buf,
                size_t used)
{
    size_t ncap = *cap * 2;
    void *np;
    if (ncap > SIZE_MAX / size)
        return RN_ENOMEM;
    if (*p == inline_buf) {
        np = rn_malloc(ncap * size);
        if (np)
            memcpy(np, *p, used * size);
    } else {
        np = rn_realloc(*p, ncap * size);
    }
    if (!np)
        return RN_ENOMEM;
    *p = np;
    *cap = ncap;
    return 0;
}

static int push_val(dec *d, const rn_value *v)
{
    if (d->nvals == d->capvals &&
        grow((void **)&d->vals, &d->capvals, sizeof(rn_value), d->vals0,
             d->nvals))
        return RN_ENOMEM;
    d->vals[d->nvals++] = *v;
    return 0;
}

/* ---- scanning ------------------------------------------------------- */

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Which of the 8 bytes at p is a quote, a backslash, a control byte or
 * non-ASCII: the high bit of each such byte (bytes numbered from p up,
 * low bits first). Above the first such byte there may be false ones (a
 * borrow), never below it: the lowest bit set is exact. */
static inline uint64_t look_mask(const char *p)
{
    uint64_t w = rn__load_le64((const unsigned char *)p), q, b, lt;
    q = w ^ (ONES * '"');
    b = w ^ (ONES * '\\');
    lt = (w - ONES * 0x20) & ~w; /* a byte below 0x20 */
    q = (q - ONES) & ~q;         /* a zero byte: a quote */
    b = (b - ONES) & ~b;         /* a backslash */
    return (lt | q | b | w) & HIGHS;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong form,
 * no surrogate, nothing past U+10FFFF), 0 when there is none. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0xC2)
        return 0; /* ASCII is not asked for; continuation, C0, C1 */
    if (c < 0xE0)
        n = 2;
    else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static char *put_utf8(char *q, unsigned cp)
{
    if (cp < 0x80) {
        *q++ = (char)cp;
    } else if (cp < 0x800) {
        *q++ = (char)(0xC0 | cp >> 6);
        *q++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *q++ = (char)(0xE0 | cp >> 12);
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *q++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *q++ = (char)(0xF0 | cp >> 18);
        *q++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *q++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *q++ = (char)(0x80 | (cp & 0x3F));
    }
    return q;
}

/* Decodes the escapes of the raw string s[0..n) (checked already for
 * control bytes and UTF-8; escapes not yet) into q. Returns the end of
 * the output, NULL on a bad escape (d says which). A key may not hold
 * U+0000 (jansson refuses it: its keys are C strings). */
static char *unescape(dec *d, const char *s, size_t n, char *q, int key)
{
    const char *r = s, *end = s + n;

    while (r < end) {
        const char *bs = memchr(r, '\\', (size_t)(end - r));
        int cp, lo;
        if (!bs)
            bs = end;
        memcpy(q, r, (size_t)(bs - r));
        q += bs - r;
        r = bs;
        if (r == end)
            break;
        if (r + 1 == end) /* the scan ends a string only at a quote */
            return (char *)bad(d, r, "invalid escape");
        switch (r[1]) {
        case '"':
        case '\\':
        case '/':
            *q++ = r[1];
            break;
        case 'b':
            *q++ = '\b';
            break;
        case 'f':
            *q++ = '\f';
            break;
        case 'n':
            *q++ = '\n';
            break;
        case 'r':
            *q++ = '\r';
            break;
        case 't':
            *q++ = '\t';
            break;
        case 'u':
            if (end - r < 6 || (cp = hex4(r + 2)) < 0)
                return (char *)bad(d, r, "invalid \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - r < 8 || r[6] != '\\' || r[7] != 'u')
                    return (char *)bad(d, r, "lone surrogate in \\u escape");
                if (end - r < 12 || (lo = hex4(r + 8)) < 0)
                    return (char *)bad(d, r + 6, "invalid \\u escape");
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return (char *)bad(d, r,
                                       "invalid surrogate pair in \\u escapes");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                r += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return (char *)bad(d, r, "lone surrogate in \\u escape");
            } else if (cp == 0 && key) {
                return (char *)bad(d, r, "U+0000 in an object key");
            }
            q = put_utf8(q, (unsigned)cp);
            r += 4;
            break;
        default:
            return (char *)bad(d, r, "invalid escape");
        }
        r += 2;
    }
    return q;
}

/* The string whose opening quote is just before p; returns the byte past
 * its closing quote. */
static const char *parse_string(dec *d, const char *p, rn_str *out, int key)
{
    const char *s = p, *end = d->end;
    int escaped = 0;
    size_t n;
    char *buf, *q;

    for (;;) {
        unsigned char c;
        if (end - s >= 8) {
            uint64_t m = look_mask(s);
            if (!m) {
                s += 8;
                continue;
            }
            s += __builtin_ctzll(m) >> 3; /* the first byte to look at */
        } else if (s == end) {
            return bad(d, p - 1, "unterminated string");
        }
        c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\\') {
            /* the escaped byte is never the end of the string */
            if (end - s < 2)
                return bad(d, p - 1, "unterminated string");
            escaped = 1;
            s += 2;
        } else if (c < 0x20) {
            return bad(d, s, "control byte in a string");
        } else if (c >= 0x80) {
            size_t k = utf8_len((const unsigned char *)s,
                                (const unsigned char *)end);
            if (!k)
                return bad(d, s, "invalid UTF-8 in a string");
            s += k;
        } else {
            s++;
        }
    }
    n = (size_t)(s - p);
    if (!escaped) {
        if (n == 0) {
            out->ptr = "";
        } else if (d->flags & RN_JSONDEC_VIEW) {
            out->ptr = p;
        } else {
            if (!(buf = rn_arena_alloc_fast(d->a, n)))
                return fail(d, p, RN_ENOMEM, "out of memory");
            memcpy(buf, p, n);
            out->ptr = buf;
        }
        out->len = n;
    } else {
        if (!(buf = rn_arena_alloc_fast(d->a, n)))
            return fail(d, p, RN_ENOMEM, "out of memory");
        if (!(q = unescape(d, p, n, buf, key)))
            return NULL;
        out->ptr = buf;
        out->len = (size_t)(q - buf);
    }
    if (out->len > UINT32_MAX)
        return fail(d, p - 1, RN_ELIMIT, "string of 4 GiB or more");
    return s + 1;
}

/* ---- numbers -------------------------------------------------------- */

/* Powers of ten a double holds exactly. */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy of the token (JSON's number grammar is
 * a subset of strtod's). */
static const char *slow_double(dec *d, const char *start, size_t n,
                               double *out)
{
    char tmp[NUM_INLINE + 1], *buf = tmp, *endp;
    double v;
    int overflow;

    if (n > NUM_INLINE && !(buf = rn_malloc(n + 1)))
        return fail(d, start, RN_ENOMEM, "out of memory");
    memcpy(buf, start, n);
    buf[n] = '\0';
    errno = 0;
    v = strtod(buf, &endp);
    overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
    if (buf != tmp)
        rn_free(buf);
    if (overflow)
        return bad(d, start, "number beyond the range of a double");
    *out = v;
    return start + n;
}

static const char *parse_number(dec *d, const char *p, rn_value *out)
{
    const char *start = p, *end = d->end;
    uint64_t m = 0;   /* the first 19 significant digits */
    int sig = 0;      /* how many of them */
    int many = 0;     /* more significant digits than that */
    int64_t frac = 0; /* digits of m after the point */
    int real = 0;     /* a fraction or an exponent */
    int neg = 0;
    int64_t e = 0;
    double v;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p == end || *p < '0' || *p > '9')
        return bad(d, start, "invalid number");
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return bad(d, start, "leading zero in a number");
    } else {
        do {
            if (sig < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                sig++;
            } else {
                many = 1;
            }
            p++;
        } while (p < end && *p >= '0' && *p <= '9');
    }
    if (p < end && *p == '.') {
        real = 1;
        p++;
        if (p == end || *p < '0' || *p > '9')
            return bad(d, start, "digit expected after the decimal point");
        do {
            if (m == 0 && *p == '0') {
                frac++; /* a leading zero: only shifts the point */
            } else if (sig < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                sig++;
                frac++;
            } else {
                many = 1;
            }
            p++;
        } while (p < end && *p >= '0' && *p <= '9');
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || *p < '0' || *p > '9')
            return bad(d, start, "digit expected in the exponent");
        do {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            else
                many = 1; /* beyond: only strtod decides */
            p++;
        } while (p < end && *p >= '0' && *p <= '9');
        if (eneg)
            e = -e;
    }

    if (!real && !d->ints_real) {
        /* an integer: sig counts all its digits (no leading zeros) */
        uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (!many && m <= lim) {
            *out = rn_int(neg ? (int64_t)(0 - m) : (int64_t)m);
            return p;
        }
        if (d->flags & RN_JSONDEC_DOC_REAL)
            return fail(d, start, RESTART, "integer beyond int64");
    }

    e -= frac;
#if FLT_EVAL_METHOD == 0
    /* m and 10^|e| are exact doubles: one correctly rounded operation,
     * which is what strtod gives (Clinger's fast path) */
    if (!many && m <= ((uint64_t)1 << 53) && e >= -22 && e <= 22) {
        v = (double)m;
        v = e < 0 ? v / pow10_exact[-e] : v * pow10_exact[e];
        *out = rn_double(neg ? -v : v);
        return p;
    }
#endif
    if (!slow_double(d, start, (size_t)(p - start), &v))
        return NULL;
    *out = rn_double(v);
    return p;
}

/* ---- values --------------------------------------------------------- */

static const char *parse_value(dec *d, const char *p, int depth,
                               rn_value *out);

static const char *parse_array(dec *d, const char *p, int depth,
                               rn_value *out)
{
    size_t base = d->nvals, n;
    rn_value *items = NULL;

    p = skip_ws(p, d->end);
    if (p < d->end && *p == ']') {
        *out = rn_list(NULL, 0);
        return p + 1;
    }
    for (;;) {
        rn_value v;
        if (!(p = parse_value(d, p, depth + 1, &v)))
            return NULL;
        if (push_val(d, &v))
            return fail(d, p, RN_ENOMEM, "out of memory");
        p = skip_ws(p, d->end);
        if (p == d->end)
            return bad(d, p, "',' or ']' expected");
        if (*p == ']')
            break;
        if (*p != ',')
            return bad(d, p, "',' or ']' expected");
        p = skip_ws(p + 1, d->end);
    }
    n = d->nvals - base;
    if (n > UINT32_MAX)
        return fail(d, p, RN_ELIMIT, "list of 2^32 items or more");
    if (!(items = rn_arena_alloc_fast(d->a, n * sizeof(rn_value))))
        return fail(d, p, RN_ENOMEM, "out of memory");
    memcpy(items, d->vals + base, n * sizeof(rn_value));
    d->nvals = base;
    *out = rn_list(items, n);
    return p + 1;
}

/* The keys of a record with many of them, hashed: slots hold the field's
 * place in the record + 1 (0: empty), open addressing. */
typedef struct keyindex {
    uint32_t *slots;
    size_t mask;
} keyindex;

/* Finds f's key among fields[0..n) through ix, adding field n when it is
 * new; returns its place. */
static size_t ix_find_add(keyindex *ix, const rn_field *fields, size_t n)
{
    const rn_str *k = &fields[n].name;
    size_t h = (size_t)rn__hash_str_inline(k->ptr, k->len) & ix->mask;
    for (;; h = (h + 1) & ix->mask) {
        uint32_t s = ix->slots[h];
        const rn_str *o;
        if (!s) {
            ix->slots[h] = (uint32_t)n + 1;
            return n;
        }
        o = &fields[s - 1].name;
        if (o->len == k->len && memcmp(o->ptr, k->ptr, k->len) == 0)
            return s - 1;
    }
}

/* (Re)builds ix for the n fields, with room for twice as many. */
static int ix_build(keyindex *ix, const rn_field *fields, size_t n)
{
    size_t cap = 64;
    while (cap < 4 * n)
        cap *= 2;
    if (n >= UINT32_MAX || cap > SIZE_MAX / sizeof(uint32_t))
        return RN_ENOMEM;
    rn_free(ix->slots);
    if (!(ix->slots = rn_calloc(cap, sizeof(uint32_t))))
        return RN_ENOMEM;
    ix->mask = cap - 1;
    for (size_t i = 0; i < n; i++)
        ix_find_add(ix, fields, i);
    return 0;
}

static const char *parse_object(dec *d, const char *p, int depth,
                                rn_value *out)
{
    size_t base = d->nflds, n = 0;
    keyindex ix = {NULL, 0};
    rn_field *fields;
    const char *ret = NULL;

    p = skip_ws(p, d->end);
    if (p < d->end && *p == '}') {
        *out = rn_record(NULL, 0);
        return p + 1;
    }
    for (;;) {
        rn_field *f;
        rn_str name;
        rn_value v;
        size_t at;
        if (p == d->end || *p != '"') {
            bad(d, p, "string or '}' expected");
            goto done;
        }
        if (!(p = parse_string(d, p + 1, &name, 1)))
            goto done;
        p = skip_ws(p, d->end);
        if (p == d->end || *p != ':') {
            bad(d, p, "':' expected");
            goto done;
        }
        p = skip_ws(p + 1, d->end);
        /* a nested record uses the stack above d->nflds: the field goes
         * on it only once its value is made */
        if (!(p = parse_value(d, p, depth + 1, &v)))
            goto done;
        if (d->nflds == d->capflds &&
            grow((void **)&d->flds, &d->capflds, sizeof(rn_field), d->flds0,
                 d->nflds)) {
            fail(d, p, RN_ENOMEM, "out of memory");
            goto done;
        }
        f = &d->flds[d->nflds];
        f->name = name;
        f->value = v;
        /* a repeated key: its first place, the last value */
        n = d->nflds - base;
        fields = d->flds + base;
        if (ix.slots) {
            if ((n + 1) * 2 > ix.mask + 1 &&
                ix_build(&ix, fields, n)) {
                fail(d, p, RN_ENOMEM, "out of memory");
                goto done;
            }
            at = ix_find_add(&ix, fields, n);
        } else {
            at = n;
            for (size_t i = 0; i < n; i++) {
                if (fields[i].name.len == f->name.len &&
                    memcmp(fields[i].name.ptr, f->name.ptr, f->name.len) ==
                        0) {
                    at = i;
                    break;
                }
            }
            if (at == n && n + 1 == DUP_LINEAR &&
                ix_build(&ix, fields, n + 1)) {
                fail(d, p, RN_ENOMEM, "out of memory");
                goto done;
            }
        }
        if (at == n)
            d->nflds++;
        else
            fields[at].value = v;
        p = skip_ws(p, d->end);
        if (p == d->end) {
            bad(d, p, "',' or '}' expected");
            goto done;
        }
        if (*p == '}')
            break;
        if (*p != ',') {
            bad(d, p, "',' or '}' expected");
            goto done;
        }
        p = skip_ws(p + 1, d->end);
    }
    n = d->nflds - base;
    if (n > UINT32_MAX) {
        fail(d, p, RN_ELIMIT, "record of 2^32 fields or more");
        goto done;
    }
    if (!(fields = rn_arena_alloc_fast(d->a, n * sizeof(rn_field)))) {
        fail(d, p, RN_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(fields, d->flds + base, n * sizeof(rn_field));
    d->nflds = base;
    *out = rn_record(fields, n);
    ret = p + 1;
done:
    rn_free(ix.slots);
    return ret;
}

/* The value starting at p (whitespace skipped). */
static const char *parse_value(dec *d, const char *p, int depth,
                               rn_value *out)
{
    const char *end = d->end;

    if (depth > RN_VALUE_MAX_DEPTH)
        return fail(d, p, RN_ELIMIT, "nested deeper than 64 levels");
    if (p == end)
        return bad(d, p, "value expected, end of input found");
    switch (*p) {
    case '{':
        return parse_object(d, p + 1, depth, out);
    case '[':
        return parse_array(d, p + 1, depth, out);
    case '"': {
        rn_str s;
        if (!(p = parse_string(d, p + 1, &s, 0)))
            return NULL;
        *out = rn_string(s.ptr, s.len);
        return p;
    }
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            *out = rn_bool(1);
            return p + 4;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            *out = rn_bool(0);
            return p + 5;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            *out = rn_null();
            return p + 4;
        }
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return parse_number(d, p, out);
    default:
        break;
    }
    return bad(d, p, "invalid token");
}

/* ---- the entry point ------------------------------------------------ */

int rn_jsondec_parse(rn_arena *a, const char *text, size_t len,
                     unsigned flags, rn_value *out, rn_errbuf *err)
{
    dec d;
    const char *p;
    rn_value v;
    int rc = 0;

    if (flags & ~RN_JSONDEC_FLAGS)
        return rn_error_set(err, RN_EINVAL, "unknown JSON decoding flags 0x%x",
                            flags & ~RN_JSONDEC_FLAGS);
    if (!text)
        text = "";
    d.base = text;
    d.end = text + len;
    d.a = a;
    d.flags = flags;
    d.ints_real = 0;
    d.vals = d.vals0;
    d.capvals = VALS_INLINE;
    d.flds = d.flds0;
    d.capflds = FIELDS_INLINE;
    for (;;) {
        d.nvals = d.nflds = 0;
        d.code = 0;
        p = parse_value(&d, skip_ws(text, d.end), 0, &v);
        if (p && (p = skip_ws(p, d.end)) != d.end)
            p = bad(&d, p, "end of input expected after the value");
        if (p || d.code != RESTART || d.ints_real)
            break;
        d.ints_real = 1; /* DOC_REAL met a big integer: all are doubles */
    }
    if (p)
        *out = v;
    else
        rc = report(&d, err);
    if (d.vals != d.vals0)
        rn_free(d.vals);
    if (d.flds != d.flds0)
        rn_free(d.flds);
    return rc;
}
