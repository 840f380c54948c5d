#include "value/codec.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "value/value.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RN_CRC_X86 1
#include <nmmintrin.h> /* _mm_crc32_*, used under target("sse4.2") */
#endif

/* Byte layout and rules: docs/ENCODING.md. Keep the two in step. */

static const uint8_t magic[4] = {0x89, 'R', 'N', 'P'};

/* enc_grow's answer when writing into a fixed piece (rn_codec_enc_next)
 * that is full: not an error, the caller cuts the piece there. */
#define ENC_FULL 1

/* The encoder reserves output in steps of at least this much, so the
 * bounds check per value almost never leaves the fast path. */
#define ENC_STEP ((size_t)64 * 1024)

/* Decoded strings are packed into pool blocks of this size taken from the
 * partition arena (arena allocations round up to 16 bytes: a pool keeps a
 * partition of short words dense). Strings of POOL_BIG bytes or more get
 * their own arena allocation. */
#define POOL_CHUNK ((size_t)64 * 1024)
#define POOL_BIG ((size_t)4096)

/* ---- little-endian helpers ----------------------------------------- */

static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}

static inline uint32_t get_le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

/* ---- CRC32C --------------------------------------------------------- */

/* Table-driven, slicing by 8 (about 1.5 bytes a cycle), with the SSE4.2
 * instruction where the CPU has it (several times faster). Partitions are
 * checksummed whole on every send and every receive, so this matters. */

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[8][256];
static uint32_t x2n_table[32]; /* x^(2^n) modulo the polynomial */
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_use_hw;

/* Combining the CRCs of two pieces (zlib's crc32_combine, for this
 * polynomial): a * b modulo the polynomial, bits reflected. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
    }
    return p;
}

/* x^(8 len) modulo the polynomial: what appending len bytes multiplies a
 * CRC by. The CRC of A then B is crc_shift(len(B)) * crc(A) ^ crc(B). */
static uint32_t crc_shift(size_t len)
{
    uint32_t p = (uint32_t)1 << 31; /* x^0 */
    unsigned k = 3;                 /* x^(8 len) = product of x^(2^k) */
    for (; len; len >>= 1, k++)
        if (len & 1)
            p = multmodp(x2n_table[k & 31], p);
    return p;
}

#ifdef RN_CRC_X86
/* Below this, one instruction chain; above, three interleaved. */
#define CRC_SPLIT ((size_t)16 * 1024)

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw1(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = (uint32_t)~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

/* The instruction takes 3 cycles but a new one can start every cycle:
 * three independent chains over three thirds of the buffer run about
 * three times as fast, and their CRCs are combined at the end. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    const uint8_t *pa, *pb, *pc;
    uint64_t a, b = 0xffffffffu, c = 0xffffffffu;
    uint32_t shift;
    size_t third, head;
    if (n < CRC_SPLIT)
        return crc32c_hw1(crc, p, n);
    head = (8 - ((uintptr_t)p & 7)) & 7;
    crc = crc32c_hw1(crc, p, head);
    p += head;
    n -= head;
    third = (n / 3) & ~(size_t)7;
    pa = p;
    pb = p + third;
    pc = p + 2 * third;
    a = (uint32_t)~crc;
    for (size_t i = 0; i < third; i += 8) {
        uint64_t wa, wb, wc;
        memcpy(&wa, pa + i, 8);
        memcpy(&wb, pb + i, 8);
        memcpy(&wc, pc + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        c = _mm_crc32_u64(c, wc);
    }
    shift = crc_shift(third);
    crc = multmodp(shift, ~(uint32_t)a) ^ ~(uint32_t)b;
    crc = multmodp(shift, crc) ^ ~(uint32_t)c;
    return crc32c_hw1(crc, p + 3 * third, n - 3 * third);
}
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
    x2n_table[0] = (uint32_t)1 << 30; /* x^1 */
    for (int k = 1; k < 32; k++)
        x2n_table[k] = multmodp(x2n_table[k - 1], x2n_table[k - 1]);
#ifdef RN_CRC_X86
    __builtin_cpu_init();
    crc_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint32_t c = ~crc;
    pthread_once(&crc_once, crc_init);
    while (n && ((uintptr_t)p & 7)) {
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w = get_le64(p) ^ c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
            crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
            crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

uint32_t rn__codec_crc32c_sw(uint32_t crc, const void *data, size_t n)
{
    return crc32c_sw(crc, data, n);
}

uint32_t rn_codec_crc32c(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    if (!n)
        return crc;
#ifdef RN_CRC_X86
    if (crc_use_hw)
        return crc32c_hw(crc, data, n);
#endif
    return crc32c_sw(crc, data, n);
}

uint32_t rn_codec_crc32c_combine(uint32_t crc_a, uint32_t crc_b,
                                uint64_t len_b)
{
    pthread_once(&crc_once, crc_init);
    return multmodp(crc_shift((size_t)len_b), crc_a) ^ crc_b;
}

/* ---- varints -------------------------------------------------------- */

static inline uint64_t zigzag(int64_t i)
{
    return ((uint64_t)i << 1) ^ (0 - ((uint64_t)i >> 63));
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/* Writes v as unsigned LEB128 (1 to 10 bytes); returns the end. */
static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* ---- encoding ------------------------------------------------------- */

/* The write position travels as a local `p`, passed in and returned,
 * rather than living in the struct: stores through a uint8_t pointer may
 * alias anything, so a position kept in memory would be reloaded after
 * every byte written and chain each value to the previous store. A NULL
 * return means failure, with the code in e->rc. */
typedef struct enc {
    rn_buf *out;  /* NULL: a fixed piece ending at `end`, never grown */
    uint8_t *end; /* end of reserved space (one byte kept for the NUL) */
    int rc;
} enc;

static uint8_t *enc_grow(enc *e, uint8_t *p, size_t need)
{
    rn_buf *b = e->out;
    int rc;
    if (!b) {
        e->rc = ENC_FULL;
        return NULL;
    }
    if (p) /* NULL before the first reservation */
        b->len = (size_t)(p - (uint8_t *)b->ptr);
    /* rn_buf_reserve doubles the capacity, so growth stays geometric */
    rc = rn_buf_reserve(b, need > ENC_STEP ? need : ENC_STEP);
    if (rc == RN_ELIMIT && need < ENC_STEP)
        rc = rn_buf_reserve(b, need); /* close to b->max: take just this */
    if (rc) {
        e->rc = rc;
        return NULL;
    }
    e->end = (uint8_t *)b->ptr + b->cap - 1;
    return (uint8_t *)b->ptr + b->len;
}

#define ENSURE(e, p, n)                                                      \
    do {                                                                     \
        if ((size_t)((e)->end - (p)) < (size_t)(n) &&                        \
            !((p) = enc_grow((e), (p), (size_t)(n))))                        \
            return NULL;                                                     \
    } while (0)

static uint8_t *enc_container(enc *e, uint8_t *p, const rn_value *v,
                              int depth);

/* One value. Scalars and strings, most of a partition, are written inline
 * in the loops over items. */
static inline uint8_t *enc_value(enc *e, uint8_t *p, const rn_value *v,
                                 int depth)
{
    uint64_t bits;
    switch (v->kind) {
    case RN_NULL:
        ENSURE(e, p, 1);
        *p++ = RN_NULL;
        return p;
    case RN_BOOL:
        ENSURE(e, p, 2);
        p[0] = RN_BOOL;
        p[1] = v->u.i != 0;
        return p + 2;
    case RN_INT:
        ENSURE(e, p, 11);
        *p++ = RN_INT;
        return put_varint(p, zigzag(v->u.i));
    case RN_DOUBLE:
        ENSURE(e, p, 9);
        memcpy(&bits, &v->u.d, 8);
        p[0] = RN_DOUBLE;
        put_le64(p + 1, bits);
        return p + 9;
    case RN_STRING:
    case RN_BYTES:
        ENSURE(e, p, 6 + (size_t)v->len);
        *p++ = (uint8_t)v->kind;
        p = put_varint(p, v->len);
        if (v->len)
            memcpy(p, v->u.s, v->len);
        return p + v->len;
    default:
        return enc_container(e, p, v, depth);
    }
}

static uint8_t *enc_container(enc *e, uint8_t *p, const rn_value *v,
                              int depth)
{
    /* children sit at depth + 1: the decoder's limit, and rn_value_copy's */
    if (v->len && depth >= RN_VALUE_MAX_DEPTH) {
        e->rc = RN_ELIMIT;
        return NULL;
    }
    switch (v->kind) {
    case RN_LIST:
        ENSURE(e, p, 6);
        *p++ = RN_LIST;
        p = put_varint(p, v->len);
        for (uint32_t i = 0; i < v->len; i++)
            if (!(p = enc_value(e, p, &v->u.items[i], depth + 1)))
                return NULL;
        return p;
    case RN_RECORD:
        ENSURE(e, p, 6);
        *p++ = RN_RECORD;
        p = put_varint(p, v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            if (f->name.len > UINT32_MAX) {
                e->rc = RN_ELIMIT;
                return NULL;
            }
            ENSURE(e, p, 5 + f->name.len);
            p = put_varint(p, f->name.len);
            if (f->name.len)
                memcpy(p, f->name.ptr, f->name.len);
            p += f->name.len;
            if (!(p = enc_value(e, p, &f->value, depth + 1)))
                return NULL;
        }
        return p;
    default:
        e->rc = RN_ETYPE;
        return NULL;
    }
}

/* The header (body length patched in at the end) and the element count. */
static uint8_t *enc_head(enc *e, size_t n)
{
    uint8_t *p;
    /* A first guess of 4 bytes a value; growth is geometric after it. */
    size_t guess = RN_CODEC_HEADER_SIZE + 10 + RN_CODEC_TRAILER_SIZE;
    guess += n < ((size_t)1 << 40) ? n * 4 : 0;
    if (!(p = enc_grow(e, NULL, guess)))
        return NULL;
    memcpy(p, magic, 4);
    p[4] = RN_CODEC_MAJOR;
    p[5] = RN_CODEC_MINOR;
    p[6] = p[7] = 0; /* flags: none defined */
    return put_varint(p + RN_CODEC_HEADER_SIZE, n);
}

/* The body length and the CRC trailer over what is at out->ptr + start. */
static uint8_t *enc_tail(enc *e, uint8_t *p, size_t start)
{
    uint8_t *h;
    ENSURE(e, p, RN_CODEC_TRAILER_SIZE);
    h = (uint8_t *)e->out->ptr + start; /* the buffer may have moved */
    put_le64(h + 8, (uint64_t)(p - h) - RN_CODEC_HEADER_SIZE);
    put_le32(p, rn_codec_crc32c(0, h, (size_t)(p - h)));
    return p + RN_CODEC_TRAILER_SIZE;
}

int rn_codec_encode(rn_buf *out, const rn_value *items, size_t n)
{
    enc e = {out, NULL, 0};
    size_t start = out->len;
    uint8_t *p = enc_head(&e, n);

    for (size_t i = 0; p && i < n; i++)
        p = enc_value(&e, p, &items[i], 0);
    if (p)
        p = enc_tail(&e, p, start);
    if (!p) {
        out->len = start;
        if (out->ptr)
            out->ptr[start] = '\0';
        return e.rc;
    }
    out->len = (size_t)(p - (uint8_t *)out->ptr);
    out->ptr[out->len] = '\0';
    return 0;
}

/* ---- decoding ------------------------------------------------------- */

/* The value reader: the same struct serves whole partitions, the
 * streaming decoder's window and rn_codec_vdec's callers (codec.h). Its
 * fields:
 *   base      offsets in messages count from it, plus base_off
 *   base_off  offset of base (streaming: the window's stream offset)
 *   p, end    next byte to read, end of the values (a partition's body)
 *   arena     where strings, lists and records go
 *   pool      free string space in the current pool block, pool_left
 *   err       where failures are described
 *   what      the bytes' name in messages ("encoded partition") */
typedef rn_codec_vdec dec;

static const char partition_what[] = "encoded partition";

RN_FMT(5, 0)
static int fail_whatv(rn_errbuf *err, const char *what, size_t off, int code,
                      const char *fmt, va_list ap)
{
    char msg[RN_ERRBUF_SIZE / 2];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    return rn_error_set(err, code, "bad %s at byte offset %zu: %s", what, off,
                        msg);
}

RN_FMT(4, 5)
static int fail_at(rn_errbuf *err, size_t off, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = fail_whatv(err, partition_what, off, code, fmt, ap);
    va_end(ap);
    return rc;
}

RN_FMT(4, 5)
static int fail_dec(const dec *d, const uint8_t *at, int code,
                    const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = fail_whatv(d->err, d->what, (size_t)(at - d->base) + d->base_off,
                    code, fmt, ap);
    va_end(ap);
    return rc;
}

#define FAIL(d, at, code, ...) fail_dec((d), (at), (code), __VA_ARGS__)

static size_t left(const dec *d)
{
    return (size_t)(d->end - d->p);
}

static int varint_slow(dec *d, uint64_t *out, const char *what)
{
    const uint8_t *at = d->p, *p = d->p;
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t b;
        if (p == d->end)
            return FAIL(d, at, RN_EFORMAT, "truncated %s", what);
        b = *p++;
        if (shift == 63 && b > 1)
            return FAIL(d, at, RN_EFORMAT, "%s overflows 64 bits", what);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            /* one encoding per number: an encoded partition re-encodes
             * to the same bytes */
            if (b == 0 && shift)
                return FAIL(d, at, RN_EFORMAT, "%s is not minimally encoded",
                            what);
            break;
        }
    }
    d->p = p;
    *out = v;
    return 0;
}

static inline int get_varint(dec *d, uint64_t *out, const char *what)
{
    if (d->p < d->end && *d->p < 0x80) {
        *out = *d->p++;
        return 0;
    }
    return varint_slow(d, out, what);
}

/* Space for n string bytes in the arena. The block size never passes the
 * bytes left in the input, which holds the decoder's memory to a multiple
 * of its input. */
static char *pool_take(dec *d, size_t n)
{
    char *s;
    size_t size;
    if (d->pool_left >= n) {
        s = d->pool;
        d->pool += n;
        d->pool_left -= n;
        return s;
    }
    if (n >= POOL_BIG)
        return rn_arena_alloc(d->arena, n);
    size = left(d); /* >= n: the string's bytes are among them */
    if (size > POOL_CHUNK)
        size = POOL_CHUNK;
    s = rn_arena_alloc(d->arena, size);
    if (!s)
        return NULL;
    d->pool = s + n;
    d->pool_left = size - n;
    return s;
}

/* A length-prefixed run of bytes (string, bytes, field name), copied into
 * the arena. Empty ones view a static "". */
static int get_bytes(dec *d, const char **out, uint32_t *len, const char *what)
{
    const uint8_t *at = d->p;
    uint64_t n;
    char *s;
    int rc;
    if ((rc = get_varint(d, &n, what)))
        return rc;
    if (n > left(d))
        return FAIL(d, at, RN_EFORMAT,
                    "%s of %llu bytes but only %zu bytes are left", what,
                    (unsigned long long)n, left(d));
    if (n > UINT32_MAX)
        return FAIL(d, at, RN_ELIMIT, "%s of %llu bytes (the limit is %lu)",
                    what, (unsigned long long)n, (unsigned long)UINT32_MAX);
    if (n == 0) {
        *out = "";
        *len = 0;
        return 0;
    }
    if (!(s = pool_take(d, (size_t)n)))
        return FAIL(d, at, RN_ENOMEM, "out of memory for a %s of %llu bytes",
                    what, (unsigned long long)n);
    memcpy(s, d->p, (size_t)n);
    d->p += n;
    *out = s;
    *len = (uint32_t)n;
    return 0;
}

/* Reads a list or record length: at most UINT32_MAX, and no more than the
 * bytes left allow (min_size bytes each), so it can be allocated. */
static int get_count(dec *d, uint64_t *out, size_t min_size, const char *what)
{
    const uint8_t *at = d->p;
    int rc;
    if ((rc = get_varint(d, out, what)))
        return rc;
    if (*out > left(d) / min_size)
        return FAIL(d, at, RN_EFORMAT,
                    "%s of %llu but only %zu bytes are left", what,
                    (unsigned long long)*out, left(d));
    if (*out > UINT32_MAX)
        return FAIL(d, at, RN_ELIMIT, "%s of %llu (the limit is %lu)", what,
                    (unsigned long long)*out, (unsigned long)UINT32_MAX);
    return 0;
}

static int get_value(dec *d, rn_value *v, int depth)
{
    const uint8_t *at = d->p;
    uint64_t u;
    uint32_t len;
    const char *s;
    int rc;

    if (depth > RN_VALUE_MAX_DEPTH)
        return FAIL(d, at, RN_ELIMIT, "values nested deeper than %d levels",
                    RN_VALUE_MAX_DEPTH);
    if (at == d->end)
        return FAIL(d, at, RN_EFORMAT, "truncated: expected a value");
    switch (*d->p++) {
    case RN_NULL:
        *v = rn_null();
        return 0;
    case RN_BOOL:
        if (d->p == d->end)
            return FAIL(d, d->p, RN_EFORMAT, "truncated bool");
        if (*d->p > 1)
            return FAIL(d, d->p, RN_EFORMAT, "bool must be 0 or 1, got %u",
                        *d->p);
        *v = rn_bool(*d->p++);
        return 0;
    case RN_INT:
        if ((rc = get_varint(d, &u, "integer")))
            return rc;
        *v = rn_int(unzigzag(u));
        return 0;
    case RN_DOUBLE: {
        double x;
        if (left(d) < 8)
            return FAIL(d, d->p, RN_EFORMAT, "truncated double: %zu of 8 bytes",
                        left(d));
        u = get_le64(d->p);
        memcpy(&x, &u, 8);
        d->p += 8;
        *v = rn_double(x);
        return 0;
    }
    case RN_STRING:
        if ((rc = get_bytes(d, &s, &len, "string")))
            return rc;
        *v = rn_string(s, len);
        return 0;
    case RN_BYTES:
        if ((rc = get_bytes(d, &s, &len, "bytes value")))
            return rc;
        *v = rn_bytes(s, len);
        return 0;
    case RN_LIST: {
        rn_value *items = NULL;
        if ((rc = get_count(d, &u, 1, "list length")))
            return rc;
        if (u &&
            !(items = rn_arena_alloc_fast(d->arena, u * sizeof(rn_value))))
            return FAIL(d, at, RN_ENOMEM, "out of memory for a list of %llu",
                        (unsigned long long)u);
        for (uint64_t i = 0; i < u; i++)
            if ((rc = get_value(d, &items[i], depth + 1)))
                return rc;
        *v = rn_list(items, (size_t)u);
        return 0;
    }
    case RN_RECORD: {
        rn_field *fields = NULL;
        /* a field takes at least 2 bytes: name length and value tag */
        if ((rc = get_count(d, &u, 2, "record length")))
            return rc;
        if (u &&
            !(fields = rn_arena_alloc_fast(d->arena, u * sizeof(rn_field))))
            return FAIL(d, at, RN_ENOMEM,
                        "out of memory for a record of %llu fields",
                        (unsigned long long)u);
        for (uint64_t i = 0; i < u; i++) {
            if ((rc = get_bytes(d, &fields[i].name.ptr, &len, "field name")))
                return rc;
            fields[i].name.len = len;
            if ((rc = get_value(d, &fields[i].value, depth + 1)))
                return rc;
        }
        *v = rn_record(fields, (size_t)u);
        return 0;
    }
    default:
        return FAIL(d, at, RN_EFORMAT, "unknown value tag 0x%02x", *at);
    }
}

/* Magic, major version and flags; *body gets the declared body length. */
static int check_header(const uint8_t *b, size_t len, uint64_t *body,
                        rn_errbuf *err)
{
    uint32_t flags;
    for (size_t i = 0; i < 4 && i < len; i++)
        if (b[i] != magic[i])
            return fail_at(err, i, RN_EFORMAT,
                           "not an encoded partition (bad magic byte 0x%02x, "
                           "expected 0x%02x)",
                           b[i], magic[i]);
    if (len < 5)
        return fail_at(err, len, RN_EFORMAT,
                       "truncated header: %zu of %d bytes", len,
                       RN_CODEC_HEADER_SIZE);
    if (b[4] != RN_CODEC_MAJOR)
        return fail_at(err, 4, RN_EFORMAT,
                       "expected encoding version %d, got %u", RN_CODEC_MAJOR,
                       b[4]);
    if (len < RN_CODEC_HEADER_SIZE)
        return fail_at(err, len, RN_EFORMAT,
                       "truncated header: %zu of %d bytes", len,
                       RN_CODEC_HEADER_SIZE);
    /* Flags would change how the body reads; version 1 defines none, so a
     * set one means data this decoder cannot read correctly. */
    if ((flags = get_le16(b + 6)))
        return fail_at(err, 6, RN_EFORMAT,
                       "unknown flags 0x%04x in encoding version %u.%u", flags,
                       b[4], b[5]);
    *body = get_le64(b + 8);
    return 0;
}

int rn_codec_frame_size(const void *data, size_t len, uint64_t *total,
                        rn_errbuf *err)
{
    uint64_t body;
    int rc = check_header(data, len, &body, err);
    if (rc)
        return rc;
    if (body > UINT64_MAX - RN_CODEC_HEADER_SIZE - RN_CODEC_TRAILER_SIZE)
        return fail_at(err, 8, RN_EFORMAT, "body length %llu is impossible",
                       (unsigned long long)body);
    *total = RN_CODEC_HEADER_SIZE + body + RN_CODEC_TRAILER_SIZE;
    return 0;
}

/* Header, length and checksum of a whole encoding: *body gets the body's
 * length. */
static int check_frame(const uint8_t *b, size_t len, uint64_t *body_out,
                       rn_errbuf *err)
{
    uint64_t body;
    uint32_t stored, computed;
    size_t avail;
    int rc;

    if ((rc = check_header(b, len, &body, err)))
        return rc;
    avail = len - RN_CODEC_HEADER_SIZE;
    if (avail < RN_CODEC_TRAILER_SIZE || body > avail - RN_CODEC_TRAILER_SIZE)
        return fail_at(err, len, RN_EFORMAT,
                       "truncated: the header announces a body of %llu "
                       "bytes and its trailer, %zu bytes follow it",
                       (unsigned long long)body, avail);
    if (body < avail - RN_CODEC_TRAILER_SIZE)
        return fail_at(err, RN_CODEC_HEADER_SIZE + body + RN_CODEC_TRAILER_SIZE,
                       RN_EFORMAT, "%zu bytes of trailing data",
                       avail - RN_CODEC_TRAILER_SIZE - (size_t)body);
    stored = get_le32(b + len - RN_CODEC_TRAILER_SIZE);
    computed = rn_codec_crc32c(0, b, len - RN_CODEC_TRAILER_SIZE);
    if (stored != computed)
        return fail_at(err, len - RN_CODEC_TRAILER_SIZE, RN_EFORMAT,
                       "checksum mismatch (stored 0x%08x, computed 0x%08x): "
                       "the data is corrupted",
                       stored, computed);
    *body_out = body;
    return 0;
}

/* Checks a partition's frame and reads its element count: after it, d
 * stands at the first element. */
static int open_frame(dec *d, const uint8_t *b, size_t len, rn_arena *arena,
                      uint64_t *count, rn_errbuf *err)
{
    uint64_t body = 0;
    int rc;

    if ((rc = check_frame(b, len, &body, err)))
        return rc;
    memset(d, 0, sizeof(*d));
    d->base = b;
    d->p = b + RN_CODEC_HEADER_SIZE;
    d->end = d->p + body;
    d->arena = arena;
    d->err = err;
    d->what = partition_what;
    if ((rc = get_varint(d, count, "element count")))
        return rc;
    if (*count > left(d))
        return FAIL(d, b + RN_CODEC_HEADER_SIZE, RN_EFORMAT,
                    "element count of %llu but only %zu bytes are left",
                    (unsigned long long)*count, left(d));
    return 0;
}

int rn_codec_decode(const void *data, size_t len, rn_partition *into,
                    rn_errbuf *err)
{
    const uint8_t *b = data;
    const uint8_t *at;
    uint64_t count;
    dec d;
    int rc;

    if ((rc = open_frame(&d, b, len, &into->arena, &count, err)))
        return rc;
    at = d.p;
    if (count > into->cap - into->n) {
        /* geometric when appending many partitions into one */
        size_t cap = into->n + (size_t)count;
        if (cap < 2 * into->cap)
            cap = 2 * into->cap;
        rn_value *items = rn_realloc(into->items, cap * sizeof(rn_value));
        if (!items)
            return FAIL(&d, at, RN_ENOMEM,
                        "out of memory for %llu elements",
                        (unsigned long long)count);
        into->items = items;
        into->cap = cap;
    }
    for (uint64_t i = 0; i < count; i++)
        if ((rc = get_value(&d, &into->items[into->n + i], 0)))
            return rc;
    if (d.p != d.end)
        return FAIL(&d, d.p, RN_EFORMAT,
                    "%zu bytes left over after the last element", left(&d));
    into->n += (size_t)count;
    return 0;
}

/* ---- in batches ----------------------------------------------------- */

int rn_codec_batches_open(rn_codec_batches *r, const void *data, size_t len,
                          rn_errbuf *err)
{
    const uint8_t *b = data;
    dec d;
    int rc;

    memset(r, 0, sizeof(*r));
    if ((rc = open_frame(&d, b, len, NULL, &r->count, err)))
        return rc;
    rn_codec_vdec_init(&r->d, d.p, left(&d), (size_t)(d.p - b), NULL,
                       partition_what);
    return 0;
}

int rn_codec_batches_next(rn_codec_batches *r, rn_partition *batch, size_t max,
                          rn_errbuf *err)
{
    int rc;
    rn_partition_clear(batch);
    rn_codec_vdec_forget_pool(&r->d);
    r->d.arena = &batch->arena;
    if (r->done == r->count) {
        if (rn_codec_vdec_left(&r->d))
            return fail_at(err, r->d.base_off + (size_t)(r->d.p - r->d.base),
                           RN_EFORMAT, "%zu bytes left over after the last "
                                       "element",
                           rn_codec_vdec_left(&r->d));
        return 0;
    }
    if (max > r->count - r->done)
        max = (size_t)(r->count - r->done);
    if (batch->cap < max) {
        rn_value *items = rn_realloc(batch->items, max * sizeof(rn_value));
        if (!items)
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        batch->items = items;
        batch->cap = max;
    }
    for (size_t i = 0; i < max; i++) {
        if ((rc = rn_codec_vdec_next(&r->d, &batch->items[i], err))) {
            batch->n = 0;
            return rc;
        }
        batch->n++;
    }
    r->done += max;
    return 0;
}

/* ---- single values -------------------------------------------------- */

int rn_codec_value_encode(rn_buf *out, const rn_value *v)
{
    enc e = {out, NULL, 0};
    size_t start = out->len;
    uint8_t *p;

    if (out->ptr) { /* the room left first: no reservation per value */
        p = (uint8_t *)out->ptr + out->len;
        e.end = (uint8_t *)out->ptr + out->cap - 1;
    } else if (!(p = enc_grow(&e, NULL, 16))) {
        return e.rc;
    }
    if (!(p = enc_value(&e, p, v, 0))) {
        out->len = start;
        if (out->ptr)
            out->ptr[start] = '\0';
        return e.rc;
    }
    out->len = (size_t)(p - (uint8_t *)out->ptr);
    out->ptr[out->len] = '\0';
    return 0;
}

void rn_codec_vdec_init(rn_codec_vdec *d, const void *data, size_t len,
                        size_t base_off, rn_arena *arena, const char *what)
{
    static const uint8_t none[1];
    d->base = data ? (const uint8_t *)data : none; /* no math on NULL */
    d->base_off = base_off;
    d->p = d->base;
    d->end = d->base + (data ? len : 0);
    d->arena = arena;
    d->pool = NULL;
    d->pool_left = 0;
    d->err = NULL;
    d->what = what;
}

int rn_codec_vdec_next(rn_codec_vdec *d, rn_value *out, rn_errbuf *err)
{
    d->err = err;
    return get_value(d, out, 0);
}

/* ---- streaming encoder ---------------------------------------------- */

enum { ENC_HEADER, ENC_BODY, ENC_TRAILER, ENC_DONE };

static inline unsigned varint_size(uint64_t v)
{
    unsigned n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Adds the encoded size of v to *sz; fails where enc_value would, in the
 * same order, so begin reports what rn_codec_encode would. */
static int size_value(const rn_value *v, int depth, uint64_t *sz)
{
    int rc;
    switch (v->kind) {
    case RN_NULL:
        *sz += 1;
        return 0;
    case RN_BOOL:
        *sz += 2;
        return 0;
    case RN_INT:
        *sz += 1 + varint_size(zigzag(v->u.i));
        return 0;
    case RN_DOUBLE:
        *sz += 9;
        return 0;
    case RN_STRING:
    case RN_BYTES:
        *sz += 1 + varint_size(v->len) + (uint64_t)v->len;
        return 0;
    default:
        break;
    }
    if (v->len && depth >= RN_VALUE_MAX_DEPTH)
        return RN_ELIMIT;
    if (v->kind == RN_LIST) {
        *sz += 1 + varint_size(v->len);
        for (uint32_t i = 0; i < v->len; i++)
            if ((rc = size_value(&v->u.items[i], depth + 1, sz)))
                return rc;
        return 0;
    }
    if (v->kind == RN_RECORD) {
        *sz += 1 + varint_size(v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            if (f->name.len > UINT32_MAX)
                return RN_ELIMIT;
            *sz += varint_size(f->name.len) + (uint64_t)f->name.len;
            if ((rc = size_value(&f->value, depth + 1, sz)))
                return rc;
        }
        return 0;
    }
    return RN_ETYPE;
}

int rn_codec_enc_begin(rn_codec_enc *e, const rn_value *items, size_t n)
{
    /* the header's body length comes first on the wire: measure first */
    uint64_t sz = varint_size(n);
    int rc;
    memset(e, 0, sizeof(*e));
    rn_buf_init(&e->spill, 0);
    for (size_t i = 0; i < n; i++)
        if ((rc = size_value(&items[i], 0, &sz)))
            return rc;
    e->items = items;
    e->n = n;
    e->total = RN_CODEC_HEADER_SIZE + sz + RN_CODEC_TRAILER_SIZE;
    e->stage = ENC_HEADER;
    return 0;
}

int rn_codec_enc_next(rn_codec_enc *e, void *buf, size_t cap, size_t *len)
{
    uint8_t *b = buf, *p = b, *end = b + cap, *q;
    enc fe = {NULL, end, 0};
    *len = 0;
    if (cap < RN_CODEC_PIECE_MIN)
        return RN_EINVAL;
    while (e->stage != ENC_DONE) {
        if (e->pend_len) { /* the rest of a long string, or of a spill */
            size_t k = (size_t)(end - p) < e->pend_len ? (size_t)(end - p)
                                                       : e->pend_len;
            if (e->pend_view && e->view_min && e->pend_len >= e->view_min)
                break; /* rn_codec_enc_view gives it without a copy */
            memcpy(p, e->pend, k);
            p += k;
            e->pend += k;
            e->pend_len -= k;
            if (e->pend_len)
                break;
            continue;
        }
        if (e->stage == ENC_HEADER) { /* cap >= 64: it fits */
            memcpy(p, magic, 4);
            p[4] = RN_CODEC_MAJOR;
            p[5] = RN_CODEC_MINOR;
            p[6] = p[7] = 0;
            put_le64(p + 8, e->total - RN_CODEC_HEADER_SIZE -
                                RN_CODEC_TRAILER_SIZE);
            p = put_varint(p + RN_CODEC_HEADER_SIZE, e->n);
            e->stage = ENC_BODY;
            continue;
        }
        if (e->stage == ENC_TRAILER) {
            if (end - p < RN_CODEC_TRAILER_SIZE)
                break;
            e->crc = rn_codec_crc32c(e->crc, b, (size_t)(p - b));
            put_le32(p, e->crc);
            p += RN_CODEC_TRAILER_SIZE;
            e->stage = ENC_DONE;
            e->done += (size_t)(p - b);
            *len = (size_t)(p - b);
            return e->done == e->total ? 0 : RN_EINTERNAL;
        }
        if (e->i == e->n) {
            e->stage = ENC_TRAILER;
            continue;
        }
        /* the body: whole elements while they fit */
        const rn_value *v = &e->items[e->i];
        int is_str = v->kind == RN_STRING || v->kind == RN_BYTES;
        if (!(is_str && e->view_min && v->len >= e->view_min) &&
            (q = enc_value(&fe, p, v, 0))) {
            p = q;
            e->i++;
            continue;
        }
        if (fe.rc && fe.rc != ENC_FULL)
            return RN_EINTERNAL; /* begin checked these values */
        fe.rc = 0;
        if (is_str) {
            /* its tag and length here, its bytes from where they are */
            if (end - p < 6)
                break;
            *p++ = (uint8_t)v->kind;
            p = put_varint(p, v->len);
            e->pend = (const uint8_t *)v->u.s;
            e->pend_len = v->len;
            e->pend_view = 1;
            e->i++;
            continue;
        }
        if (p > b)
            break; /* a shorter piece; the next starts with this element */
        /* one element larger than a whole piece: encoded aside, copied
         * out piece by piece (no larger than rn_codec_encode's buffer) */
        {
            enc se = {&e->spill, NULL, 0};
            rn_buf_reset(&e->spill);
            if (!(q = enc_grow(&se, NULL, ENC_STEP)) ||
                !(q = enc_value(&se, q, v, 0)))
                return se.rc == RN_ELIMIT || se.rc == RN_ENOMEM ? se.rc
                                                                : RN_EINTERNAL;
            e->spill.len = (size_t)(q - (uint8_t *)e->spill.ptr);
            e->pend = (const uint8_t *)e->spill.ptr;
            e->pend_len = e->spill.len;
            e->pend_view = 0;
            e->i++;
        }
    }
    e->crc = rn_codec_crc32c(e->crc, b, (size_t)(p - b));
    e->done += (size_t)(p - b);
    *len = (size_t)(p - b);
    return e->done <= e->total ? 0 : RN_EINTERNAL;
}

void rn_codec_enc_view(rn_codec_enc *e, size_t max, const void **p,
                       size_t *len)
{
    size_t k = e->pend_len < max ? e->pend_len : max;
    *p = NULL;
    *len = 0;
    if (!e->pend_view || !e->view_min || e->pend_len < e->view_min || !k)
        return;
    *p = e->pend;
    *len = k;
    e->crc = rn_codec_crc32c(e->crc, e->pend, k);
    e->done += k;
    e->pend += k;
    e->pend_len -= k;
}

void rn_codec_enc_release(rn_codec_enc *e)
{
    rn_buf_release(&e->spill);
}

/* ---- streaming decoder ---------------------------------------------- */

/* Body bytes arrive into a window that keeps only what is not decoded
 * yet: a received partition is never held whole, and what the decoder
 * reads is still in the cache. An element is decoded as soon as its bytes
 * may all be there; when they are not (its decoding fails for want of
 * bytes), it is tried again once twice as many of its bytes are in, so a
 * large element costs at most about twice its decoding. Any other failure
 * before the end stops the eager decoding: rn_codec_dec_end then decodes
 * the rest after the length and checksum checks, as rn_codec_decode
 * would, and reports the same error. */

enum { DEC_HEADER, DEC_BODY };

#define WIN_MIN ((size_t)256 * 1024)

void rn_codec_dec_begin(rn_codec_dec *d, rn_partition *into)
{
    memset(d, 0, sizeof(*d));
    d->into = into;
    d->n0 = into->n;
    d->eager = 1;
    d->stage = DEC_HEADER;
}

void rn_codec_dec_release(rn_codec_dec *d)
{
    rn_free(d->w);
    d->w = NULL;
    d->wlen = d->wcap = 0;
}

static int win_append(rn_codec_dec *d, const uint8_t *p, size_t n)
{
    if (!n)
        return 0; /* and no memcpy to a window not allocated yet */
    if (n > d->wcap - d->wlen) {
        size_t done = (size_t)(d->pos - d->woff), cap;
        if (done) { /* drop what was decoded */
            memmove(d->w, d->w + done, d->wlen - done);
            d->wlen -= done;
            d->woff = d->pos;
        }
        if (n > d->wcap - d->wlen) {
            uint8_t *w;
            cap = d->wcap ? d->wcap * 2 : WIN_MIN;
            if (cap < d->wlen + n)
                cap = d->wlen + n;
            if (!(w = rn_realloc(d->w, cap)))
                return RN_ENOMEM;
            d->w = w;
            d->wcap = cap;
        }
    }
    memcpy(d->w + d->wlen, p, n);
    d->wlen += n;
    return 0;
}

/* A reader of len bytes at base, the bytes at stream offset base_off. */
static void dec_at(rn_codec_dec *d, dec *x, const uint8_t *base,
                   uint64_t base_off, size_t len, rn_errbuf *err)
{
    static const uint8_t none[1];
    x->base = base ? base : none; /* no pointer math on NULL */
    x->base_off = (size_t)base_off;
    x->p = x->base + (d->pos - base_off);
    x->end = x->base + len;
    x->arena = &d->into->arena;
    x->pool = d->pool;
    x->pool_left = d->pool_left;
    x->err = err;
    x->what = partition_what;
}

/* Stream offset of a position of x. */
#define XOFF(x, ptr) ((uint64_t)(x)->base_off + (uint64_t)((ptr) - (x)->base))

/* Decoding may have stopped for want of bytes at stream offset `at` with
 * the body received up to `avail`: try again later, or never. */
static void eager_wait(rn_codec_dec *d, int rc, uint64_t at, uint64_t avail)
{
    uint64_t body_end = RN_CODEC_HEADER_SIZE + d->body;
    if (rc != RN_EFORMAT || avail >= body_end) {
        d->eager = 0;
        return;
    }
    d->retry_at = at + 2 * (avail - at) + 1;
    if (d->retry_at > body_end)
        d->retry_at = body_end;
}

/* Decodes the elements x holds whole (x ends at stream offset avail);
 * d->pos follows. */
static void eager_run(rn_codec_dec *d, dec *x, uint64_t avail)
{
    rn_partition *into = d->into;
    int rc;
    if (!d->have_count) {
        if ((rc = get_varint(x, &d->count, "element count"))) {
            eager_wait(d, rc, d->pos, avail);
            return;
        }
        /* the check rn_codec_decode makes, against the announced body */
        if (d->count > RN_CODEC_HEADER_SIZE + d->body - XOFF(x, x->p)) {
            d->eager = 0;
            return;
        }
        d->have_count = 1;
        d->pos = XOFF(x, x->p);
    }
    while (d->ndone < d->count) {
        const uint8_t *at = x->p;
        size_t i = d->n0 + (size_t)d->ndone;
        if (i == into->cap) {
            /* grown with what was decoded, never to a count not yet
             * backed by bytes */
            size_t cap = into->cap ? 2 * into->cap : 64;
            rn_value *items;
            if (cap - d->n0 > d->count)
                cap = d->n0 + (size_t)d->count;
            if (!(items = rn_realloc(into->items, cap * sizeof(rn_value)))) {
                d->eager = 0;
                break;
            }
            into->items = items;
            into->cap = cap;
        }
        if ((rc = get_value(x, &into->items[i], 0))) {
            x->p = at;
            eager_wait(d, rc, XOFF(x, at), avail);
            break;
        }
        d->ndone++;
    }
    d->pos = XOFF(x, x->p);
    d->pool = x->pool;
    d->pool_left = x->pool_left;
}

/* Eager decoding over the window. */
static void eager_window(rn_codec_dec *d)
{
    uint64_t avail = d->woff + d->wlen;
    rn_errbuf scratch; /* errors here are only reasons to wait */
    dec x;
    if (avail < d->retry_at)
        return;
    dec_at(d, &x, d->w, d->woff, d->wlen, &scratch);
    eager_run(d, &x, avail);
}

/* Body bytes p[0..k), at stream offset o (== woff + wlen). Elements that
 * lie whole in p are decoded where p is, with no copy; only an element
 * cut by the end of p goes to the window. It is completed from the next
 * bytes (appended up to where it may end, doubling), and once it is
 * decoded the rest of those bytes is read in place again. */
static int body_bytes(rn_codec_dec *d, const uint8_t *p, size_t k, uint64_t o)
{
    rn_errbuf scratch;
    dec x;
    while (k) {
        if (!d->eager)
            return win_append(d, p, k);
        if (d->pos < o) { /* an element cut short is in the window */
            size_t n1 = d->retry_at > o ? (size_t)(d->retry_at - o) : 1;
            if (n1 < 512)
                n1 = 512;
            if (n1 > k)
                n1 = k;
            if (win_append(d, p, n1))
                return RN_ENOMEM;
            eager_window(d);
            if (d->eager && d->pos >= o) {
                /* done with the window: the rest of p is read in place
                 * (the window's copy of it is dropped) */
                size_t skip = (size_t)(d->pos - o);
                d->woff = d->pos;
                d->wlen = 0;
                p += skip;
                k -= skip;
                o += skip;
            } else {
                p += n1;
                k -= n1;
                o += n1;
            }
            continue;
        }
        d->woff = o;
        d->wlen = 0;
        if (o + k >= d->retry_at) {
            dec_at(d, &x, p, o, k, &scratch);
            eager_run(d, &x, o + k);
        }
        /* keep what was not decoded */
        d->woff = d->pos;
        return win_append(d, p + (d->pos - o), k - (size_t)(d->pos - o));
    }
    return 0;
}

int rn_codec_dec_feed(rn_codec_dec *d, const void *data, size_t n,
                      rn_errbuf *err)
{
    const uint8_t *p = data;
    int rc;
    while (n) {
        size_t k;
        if (d->stage == DEC_HEADER) {
            k = RN_CODEC_HEADER_SIZE - (size_t)d->got;
            if (k > n)
                k = n;
            memcpy(d->head + d->got, p, k);
            d->got += k;
            p += k;
            n -= k;
            if (d->got < RN_CODEC_HEADER_SIZE)
                return 0;
            /* the same answer rn_codec_decode gives for these bytes */
            if ((rc = check_header(d->head, RN_CODEC_HEADER_SIZE, &d->body,
                                   err)))
                return rc;
            d->crc = rn_codec_crc32c(0, d->head, RN_CODEC_HEADER_SIZE);
            d->pos = d->woff = d->retry_at = RN_CODEC_HEADER_SIZE;
            if (d->body > (uint64_t)1 << 62) /* no such stream: end says so */
                d->eager = 0;
            d->stage = DEC_BODY;
            continue;
        }
        uint64_t in_body = d->got - RN_CODEC_HEADER_SIZE;
        if (in_body < d->body) {
            k = d->body - in_body < n ? (size_t)(d->body - in_body) : n;
            d->crc = rn_codec_crc32c(d->crc, p, k);
            if (body_bytes(d, p, k, d->got))
                return rn_error_set(err, RN_ENOMEM,
                                    "out of memory for an encoded partition");
        } else if (in_body - d->body < RN_CODEC_TRAILER_SIZE) {
            size_t t = (size_t)(in_body - d->body);
            k = RN_CODEC_TRAILER_SIZE - t < n ? RN_CODEC_TRAILER_SIZE - t : n;
            memcpy(d->trailer + t, p, k);
        } else {
            k = n; /* trailing data: counted for the error at the end */
        }
        d->got += k;
        p += k;
        n -= k;
    }
    return 0;
}

int rn_codec_dec_end(rn_codec_dec *d, rn_errbuf *err)
{
    rn_partition *into = d->into;
    uint64_t body, avail;
    uint32_t stored;
    dec x;
    int rc;

    if (d->stage == DEC_HEADER) /* fewer than 16 bytes: always an error */
        return check_header(d->head, (size_t)d->got, &body, err);
    body = d->body;
    avail = d->got - RN_CODEC_HEADER_SIZE;
    if (avail < RN_CODEC_TRAILER_SIZE || body > avail - RN_CODEC_TRAILER_SIZE)
        return fail_at(err, (size_t)d->got, RN_EFORMAT,
                       "truncated: the header announces a body of %llu "
                       "bytes and its trailer, %zu bytes follow it",
                       (unsigned long long)body, (size_t)avail);
    if (body < avail - RN_CODEC_TRAILER_SIZE)
        return fail_at(err, RN_CODEC_HEADER_SIZE + body + RN_CODEC_TRAILER_SIZE,
                       RN_EFORMAT, "%zu bytes of trailing data",
                       (size_t)(avail - RN_CODEC_TRAILER_SIZE - body));
    stored = get_le32(d->trailer);
    if (stored != d->crc)
        return fail_at(err, (size_t)d->got - RN_CODEC_TRAILER_SIZE, RN_EFORMAT,
                       "checksum mismatch (stored 0x%08x, computed 0x%08x): "
                       "the data is corrupted",
                       stored, d->crc);

    /* the rest, exactly as rn_codec_decode reads it */
    dec_at(d, &x, d->w, d->woff, d->wlen, err);
    if (!d->have_count) {
        const uint8_t *at = x.p;
        if ((rc = get_varint(&x, &d->count, "element count")))
            return rc;
        if (d->count > left(&x))
            return FAIL(&x, at, RN_EFORMAT,
                        "element count of %llu but only %zu bytes are left",
                        (unsigned long long)d->count, left(&x));
        d->have_count = 1;
    }
    if (d->count > into->cap - d->n0) {
        size_t cap = d->n0 + (size_t)d->count;
        rn_value *items;
        if (cap < 2 * into->cap)
            cap = 2 * into->cap;
        if (!(items = rn_realloc(into->items, cap * sizeof(rn_value))))
            return fail_at(err, RN_CODEC_HEADER_SIZE, RN_ENOMEM,
                           "out of memory for %llu elements",
                           (unsigned long long)d->count);
        into->items = items;
        into->cap = cap;
    }
    for (; d->ndone < d->count; d->ndone++)
        if ((rc = get_value(&x, &into->items[d->n0 + (size_t)d->ndone], 0)))
            return rc;
    if (x.p != x.end)
        return FAIL(&x, x.p, RN_EFORMAT,
                    "%zu bytes left over after the last element", left(&x));
    into->n = d->n0 + (size_t)d->count;
    return 0;
}
