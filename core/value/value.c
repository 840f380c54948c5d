#include "value/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value/jsondec.h"

/* ---- hashing -------------------------------------------------------- */

uint64_t rn_hash_str(const char *s, size_t n)
{
    return rn__hash_str_inline(s, n);
}

#define mix rn__hash_mix
#define load_le64 rn__load_le64
#define K0 RN__K0
#define K1 RN__K1
#define K2 RN__K2
#define K3 RN__K3

static uint64_t hash_u64(uint64_t x, uint64_t kind)
{
    return mix(x ^ K2, K1 ^ kind) ^ kind;
}

static uint64_t hash_rec(const rn_value *v, int depth)
{
    uint64_t h;
    switch (v->kind) {
    case RN_NULL:
        return hash_u64(0, 1);
    case RN_BOOL:
        return hash_u64((uint64_t)v->u.i, 2);
    case RN_INT:
        return hash_u64((uint64_t)v->u.i, 3);
    case RN_DOUBLE: {
        double d = v->u.d;
        /* equal numbers hash equal: integral doubles hash as ints */
        if (d == d && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18 &&
            (double)(int64_t)d == d)
            return hash_u64((uint64_t)(int64_t)d, 3);
        uint64_t bits;
        if (d != d)
            return hash_u64(0x7FF8000000000000ull, 4); /* NaNs compare equal */
        memcpy(&bits, &d, 8);
        return hash_u64(bits, 4);
    }
    case RN_STRING:
        return rn_hash_str(v->u.s, v->len);
    case RN_BYTES:
        return rn_hash_str((const char *)v->u.bytes, v->len) ^ K3;
    case RN_LIST:
        h = hash_u64(v->len, 6);
        if (depth < RN_VALUE_MAX_DEPTH)
            for (uint32_t i = 0; i < v->len; i++)
                h = mix(h ^ hash_rec(&v->u.items[i], depth + 1), K1);
        return h;
    case RN_RECORD:
        h = hash_u64(v->len, 7);
        if (depth < RN_VALUE_MAX_DEPTH)
            for (uint32_t i = 0; i < v->len; i++) {
                const rn_field *f = &v->u.fields[i];
                h = mix(h ^ rn_hash_str(f->name.ptr, f->name.len), K2);
                h = mix(h ^ hash_rec(&f->value, depth + 1), K1);
            }
        return h;
    default:
        return 0;
    }
}

uint64_t rn_value_hash(const rn_value *v)
{
    return hash_rec(v, 0);
}

/* ---- ordering ------------------------------------------------------- */

static int rank(uint32_t kind)
{
    switch (kind) {
    case RN_NULL:
        return 0;
    case RN_BOOL:
        return 1;
    case RN_INT:
    case RN_DOUBLE:
        return 2;
    case RN_STRING:
        return 3;
    case RN_BYTES:
        return 4;
    case RN_LIST:
        return 5;
    default:
        return 6;
    }
}

static int cmp_mem(const void *a, size_t na, const void *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return na < nb ? -1 : na > nb;
}

static int cmp_double(double x, double y)
{
    if (x < y)
        return -1;
    if (x > y)
        return 1;
    if (x == y)
        return 0;
    /* NaN sorts after every number, equal to itself */
    return (x != x) - (y != y);
}

/* Exact: converting i to double would round above 2^53 and make the order
 * non-transitive (2^53 + 1 "equal" to 2^53.0, itself equal to 2^53) and
 * disagree with the hash. */
static int cmp_int_double(int64_t i, double d)
{
    int64_t t;
    if (d != d)
        return -1;
    if (d >= 9.2233720368547758e18) /* 2^63 */
        return -1;
    if (d < -9.2233720368547758e18)
        return 1;
    t = (int64_t)d; /* exact: d is in range, truncated toward zero */
    if (i != t)
        return i < t ? -1 : 1;
    d -= (double)t; /* the fraction, exactly */
    return d > 0 ? -1 : d < 0;
}

static int cmp_num(const rn_value *a, const rn_value *b)
{
    if (a->kind == RN_INT && b->kind == RN_INT)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->kind == RN_INT)
        return cmp_int_double(a->u.i, b->u.d);
    if (b->kind == RN_INT)
        return -cmp_int_double(b->u.i, a->u.d);
    return cmp_double(a->u.d, b->u.d);
}

static int cmp_rec(const rn_value *a, const rn_value *b, int depth)
{
    int ra = rank(a->kind), rb = rank(b->kind), c;
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (depth > RN_VALUE_MAX_DEPTH)
        return 0;
    switch (a->kind) {
    case RN_NULL:
        return 0;
    case RN_BOOL:
        return (a->u.i > b->u.i) - (a->u.i < b->u.i);
    case RN_INT:
    case RN_DOUBLE:
        return cmp_num(a, b);
    case RN_STRING:
    case RN_BYTES:
        return cmp_mem(a->u.s, a->len, b->u.s, b->len);
    case RN_LIST:
        for (uint32_t i = 0; i < a->len && i < b->len; i++)
            if ((c = cmp_rec(&a->u.items[i], &b->u.items[i], depth + 1)))
                return c;
        return (a->len > b->len) - (a->len < b->len);
    default:
        for (uint32_t i = 0; i < a->len && i < b->len; i++) {
            const rn_field *fa = &a->u.fields[i], *fb = &b->u.fields[i];
            if ((c = cmp_mem(fa->name.ptr, fa->name.len, fb->name.ptr,
                             fb->name.len)))
                return c;
            if ((c = cmp_rec(&fa->value, &fb->value, depth + 1)))
                return c;
        }
        return (a->len > b->len) - (a->len < b->len);
    }
}

int rn_value_compare(const rn_value *a, const rn_value *b)
{
    return cmp_rec(a, b, 0);
}

int rn_value_equal(const rn_value *a, const rn_value *b)
{
    if (a->kind == RN_STRING && b->kind == RN_STRING)
        return a->len == b->len &&
               (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    return cmp_rec(a, b, 0) == 0;
}

/* ---- deep copy ------------------------------------------------------ */

static int copy_rec(rn_arena *a, const rn_value *in, rn_value *out, int depth)
{
    if (depth > RN_VALUE_MAX_DEPTH)
        return RN_ELIMIT;
    *out = *in;
    switch (in->kind) {
    case RN_STRING:
    case RN_BYTES: {
        char *p = rn_arena_alloc_fast(a, in->len ? in->len : 1);
        if (!p)
            return RN_ENOMEM;
        if (in->len)
            memcpy(p, in->u.s, in->len);
        out->u.s = p;
        return 0;
    }
    case RN_LIST: {
        rn_value *items;
        if (!in->len) {
            out->u.items = NULL;
            return 0;
        }
        items = rn_arena_alloc_fast(a, sizeof(rn_value) * in->len);
        if (!items)
            return RN_ENOMEM;
        for (uint32_t i = 0; i < in->len; i++) {
            int rc = copy_rec(a, &in->u.items[i], &items[i], depth + 1);
            if (rc)
                return rc;
        }
        out->u.items = items;
        return 0;
    }
    case RN_RECORD: {
        rn_field *fields;
        if (!in->len) {
            out->u.fields = NULL;
            return 0;
        }
        fields = rn_arena_alloc_fast(a, sizeof(rn_field) * in->len);
        if (!fields)
            return RN_ENOMEM;
        for (uint32_t i = 0; i < in->len; i++) {
            const rn_field *f = &in->u.fields[i];
            char *name = rn_arena_alloc_fast(a, f->name.len ? f->name.len : 1);
            int rc;
            if (!name)
                return RN_ENOMEM;
            if (f->name.len)
                memcpy(name, f->name.ptr, f->name.len);
            fields[i].name.ptr = name;
            fields[i].name.len = f->name.len;
            rc = copy_rec(a, &f->value, &fields[i].value, depth + 1);
            if (rc)
                return rc;
        }
        out->u.fields = fields;
        return 0;
    }
    default:
        return 0;
    }
}

int rn_value_copy(rn_arena *a, const rn_value *in, rn_value *out)
{
    return copy_rec(a, in, out, 0);
}

static size_t deep_size_rec(const rn_value *v, int depth)
{
    size_t n = 0;
    if (depth > RN_VALUE_MAX_DEPTH)
        return 0;
    switch (v->kind) {
    case RN_STRING:
    case RN_BYTES:
        return ((size_t)v->len + 15) & ~(size_t)15;
    case RN_LIST:
        n = sizeof(rn_value) * v->len;
        for (uint32_t i = 0; i < v->len; i++)
            n += deep_size_rec(&v->u.items[i], depth + 1);
        return n;
    case RN_RECORD:
        n = sizeof(rn_field) * v->len;
        for (uint32_t i = 0; i < v->len; i++)
            n += ((v->u.fields[i].name.len + 15) & ~(size_t)15) +
                 deep_size_rec(&v->u.fields[i].value, depth + 1);
        return n;
    default:
        return 0;
    }
}

size_t rn_value_deep_size(const rn_value *v)
{
    return deep_size_rec(v, 0);
}

int rn_value_identical(const rn_value *a, const rn_value *b)
{
    if (a->kind != b->kind || a->len != b->len)
        return 0;
    switch (a->kind) {
    case RN_NULL:
        return 1;
    case RN_BOOL:
    case RN_INT:
        return a->u.i == b->u.i;
    case RN_DOUBLE:
        return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case RN_STRING:
    case RN_BYTES:
        return a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0;
    case RN_LIST:
        for (uint32_t i = 0; i < a->len; i++)
            if (!rn_value_identical(&a->u.items[i], &b->u.items[i]))
                return 0;
        return 1;
    case RN_RECORD:
        for (uint32_t i = 0; i < a->len; i++) {
            const rn_field *fa = &a->u.fields[i], *fb = &b->u.fields[i];
            if (fa->name.len != fb->name.len ||
                (fa->name.len &&
                 memcmp(fa->name.ptr, fb->name.ptr, fa->name.len)) ||
                !rn_value_identical(&fa->value, &fb->value))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

/* ---- JSON out ------------------------------------------------------- */

static int json_put_string(rn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    int rc = rn_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    if (!n) /* s may be NULL: no arithmetic on it */
        return rn_buf_append(b, "\"\"", 2);
    b->ptr[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if ((rc = rn_buf_append(b, s + start, i - start)))
            return rc;
        start = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if ((rc = rn_buf_append(b, esc, elen)))
            return rc;
    }
    if ((rc = rn_buf_append(b, s + start, n - start)))
        return rc;
    return rn_buf_putc(b, '"');
}

static int json_base64(rn_buf *b, const uint8_t *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = rn_buf_puts(b, "\"base64:");
    size_t i;
    if (rc)
        return rc;
    if ((rc = rn_buf_reserve(b, (n + 2) / 3 * 4 + 1)))
        return rc;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {tab[x >> 18], tab[(x >> 12) & 63], tab[(x >> 6) & 63],
                     tab[x & 63]};
        rn_buf_append(b, q, 4);
    }
    if (i < n) {
        uint32_t x = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            x |= (uint32_t)p[i + 1] << 8;
        char q[4] = {tab[x >> 18], tab[(x >> 12) & 63],
                     i + 1 < n ? tab[(x >> 6) & 63] : '=', '='};
        rn_buf_append(b, q, 4);
    }
    return rn_buf_putc(b, '"');
}

static int json_double(rn_buf *b, double d)
{
    char tmp[40];
    if (d != d || d == HUGE_VAL || d == -HUGE_VAL)
        return rn_buf_puts(b, "null");
    snprintf(tmp, sizeof(tmp), "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof(tmp), "%.17g", d);
    if (!strpbrk(tmp, ".eEn")) {
        size_t n = strlen(tmp); /* <= 24: "%.17g" of a finite double */
        memcpy(tmp + n, ".0", 3); /* keep it a double when read back */
    }
    return rn_buf_puts(b, tmp);
}

static int json_rec(rn_buf *b, const rn_value *v, int depth)
{
    int rc = 0;
    char tmp[32];
    if (depth > RN_VALUE_MAX_DEPTH)
        return RN_ELIMIT;
    switch (v->kind) {
    case RN_NULL:
        return rn_buf_append(b, "null", 4);
    case RN_BOOL:
        return v->u.i ? rn_buf_append(b, "true", 4)
                      : rn_buf_append(b, "false", 5);
    case RN_INT: {
        int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.i);
        return rn_buf_append(b, tmp, (size_t)n);
    }
    case RN_DOUBLE:
        return json_double(b, v->u.d);
    case RN_STRING:
        return json_put_string(b, v->u.s, v->len);
    case RN_BYTES:
        return json_base64(b, v->u.bytes, v->len);
    case RN_LIST:
        if ((rc = rn_buf_putc(b, '[')))
            return rc;
        for (uint32_t i = 0; i < v->len; i++) {
            if (i && (rc = rn_buf_append(b, ", ", 2)))
                return rc;
            if ((rc = json_rec(b, &v->u.items[i], depth + 1)))
                return rc;
        }
        return rn_buf_putc(b, ']');
    case RN_RECORD:
        if ((rc = rn_buf_putc(b, '{')))
            return rc;
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            if (i && (rc = rn_buf_append(b, ", ", 2)))
                return rc;
            if ((rc = json_put_string(b, f->name.ptr, f->name.len)) ||
                (rc = rn_buf_append(b, ": ", 2)) ||
                (rc = json_rec(b, &f->value, depth + 1)))
                return rc;
        }
        return rn_buf_putc(b, '}');
    default:
        return RN_ETYPE;
    }
}

int rn_value_to_json(rn_buf *b, const rn_value *v)
{
    return json_rec(b, v, 0);
}

/* ---- JSON in -------------------------------------------------------- */

int rn_value_from_json(rn_arena *a, const char *text, size_t len,
                       rn_value *out, rn_errbuf *err)
{
    return rn_jsondec_parse(a, text, len, 0, out, err);
}
