/*
 * runnel SDK — values.
 *
 * A value is a small tagged struct (16 bytes on 64-bit) that *views* memory
 * owned by someone else: an arena of the engine, the input block a source
 * is reading, or static storage. Values are never freed one by one; their
 * memory goes when the arena that holds it is reset.
 *
 * rn_value is deliberately transparent (not opaque): operators touch
 * hundreds of millions of values per second and a function call per field
 * access would dominate. Its layout is part of the plugin ABI: changing it
 * bumps RN_ABI_MAJOR.
 *
 * Thread-safety: values are plain immutable data; reading one from several
 * threads is safe as long as the memory it views is alive.
 */
#ifndef RUNNEL_VALUE_H
#define RUNNEL_VALUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Value kinds. The numbers are part of the ABI and of the wire encoding. */
typedef enum rn_kind {
    RN_NULL = 0,
    RN_BOOL = 1,
    RN_INT = 2,    /* int64_t */
    RN_DOUBLE = 3, /* IEEE-754 binary64 */
    RN_STRING = 4, /* UTF-8 expected, not enforced; not NUL-terminated */
    RN_BYTES = 5,
    RN_LIST = 6,   /* ordered items */
    RN_RECORD = 7  /* ordered (name, value) fields; names are strings */
} rn_kind;

#define RN_KIND_MAX RN_RECORD

/* A string with its length. Never assume NUL termination. */
typedef struct rn_str {
    const char *ptr;
    size_t len;
} rn_str;

struct rn_field;

typedef struct rn_value {
    uint32_t kind; /* rn_kind */
    uint32_t len;  /* bytes of a STRING/BYTES, items of a LIST/RECORD */
    union {
        int64_t i;                    /* RN_INT, RN_BOOL (0 or 1) */
        double d;                     /* RN_DOUBLE */
        const char *s;                /* RN_STRING */
        const uint8_t *bytes;         /* RN_BYTES */
        const struct rn_value *items; /* RN_LIST */
        const struct rn_field *fields;/* RN_RECORD */
    } u;
} rn_value;

typedef struct rn_field {
    rn_str name;
    rn_value value;
} rn_field;

/* Constructors: pure, no allocation. The result views the given memory. */
static inline rn_value rn_null(void)
{
    rn_value v;
    v.kind = RN_NULL;
    v.len = 0;
    v.u.i = 0;
    return v;
}

static inline rn_value rn_bool(int b)
{
    rn_value v;
    v.kind = RN_BOOL;
    v.len = 0;
    v.u.i = b ? 1 : 0;
    return v;
}

static inline rn_value rn_int(int64_t i)
{
    rn_value v;
    v.kind = RN_INT;
    v.len = 0;
    v.u.i = i;
    return v;
}

static inline rn_value rn_double(double d)
{
    rn_value v;
    v.kind = RN_DOUBLE;
    v.len = 0;
    v.u.d = d;
    return v;
}

/* len must be < 2^32; the host rejects longer strings before they get here. */
static inline rn_value rn_string(const char *s, size_t len)
{
    rn_value v;
    v.kind = RN_STRING;
    v.len = (uint32_t)len;
    v.u.s = s;
    return v;
}

static inline rn_value rn_bytes(const void *p, size_t len)
{
    rn_value v;
    v.kind = RN_BYTES;
    v.len = (uint32_t)len;
    v.u.bytes = (const uint8_t *)p;
    return v;
}

static inline rn_value rn_list(const rn_value *items, size_t n)
{
    rn_value v;
    v.kind = RN_LIST;
    v.len = (uint32_t)n;
    v.u.items = items;
    return v;
}

static inline rn_value rn_record(const rn_field *fields, size_t n)
{
    rn_value v;
    v.kind = RN_RECORD;
    v.len = (uint32_t)n;
    v.u.fields = fields;
    return v;
}

/* View of a STRING or BYTES value as rn_str (empty for other kinds). */
static inline rn_str rn_value_str(const rn_value *v)
{
    rn_str s;
    if (v->kind == RN_STRING || v->kind == RN_BYTES) {
        s.ptr = v->u.s;
        s.len = v->len;
    } else {
        s.ptr = "";
        s.len = 0;
    }
    return s;
}

/* Numeric view: INT, BOOL and DOUBLE as double; returns 0 for others and
 * sets *ok (when not NULL) to 0. */
static inline double rn_value_as_double(const rn_value *v, int *ok)
{
    if (ok)
        *ok = 1;
    if (v->kind == RN_INT || v->kind == RN_BOOL)
        return (double)v->u.i;
    if (v->kind == RN_DOUBLE)
        return v->u.d;
    if (ok)
        *ok = 0;
    return 0.0;
}

/* Name of a kind ("null", "bool", ...); "?" for out-of-range values. */
static inline const char *rn_kind_name(uint32_t kind)
{
    static const char *const names[] = {"null",   "bool",  "int",  "double",
                                        "string", "bytes", "list", "record"};
    return kind <= RN_KIND_MAX ? names[kind] : "?";
}

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_VALUE_H */
