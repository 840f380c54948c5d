/*
 * Building blocks of the agg plugin's accumulators (accum.h).
 */
#include <stdint.h>
#include <string.h>

#include "accum.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

int rn__agg_malformed(rn_ctx *ctx, const char *what)
{
    return rn_error(ctx, RN_EPLUGIN, "malformed partial accumulator: %s",
                    what);
}

/* ---- boxes: deep copies into a buffer that is reused ----------------- */

static size_t deep_size(const rn_value *v)
{
    size_t n = 0;
    switch (v->kind) {
    case RN_STRING:
    case RN_BYTES:
        return ALIGN8((size_t)v->len);
    case RN_LIST:
        n = (size_t)v->len * sizeof(rn_value);
        for (uint32_t i = 0; i < v->len; i++)
            n += deep_size(&v->u.items[i]);
        return n;
    case RN_RECORD:
        n = (size_t)v->len * sizeof(rn_field);
        for (uint32_t i = 0; i < v->len; i++)
            n += ALIGN8(v->u.fields[i].name.len) +
                 deep_size(&v->u.fields[i].value);
        return n;
    default:
        return 0;
    }
}

/* Copies v into *cur (sized by deep_size), advancing it. */
static rn_value deep_copy(const rn_value *v, char **cur)
{
    rn_value out = *v;
    switch (v->kind) {
    case RN_STRING:
    case RN_BYTES:
        if (!v->len) {
            out.u.s = ""; /* never a dangling pointer, even when empty */
            return out;
        }
        memcpy(*cur, v->u.s, v->len);
        out.u.s = *cur;
        *cur += ALIGN8((size_t)v->len);
        return out;
    case RN_LIST: {
        rn_value *items = (rn_value *)(void *)*cur;
        *cur += (size_t)v->len * sizeof(rn_value);
        for (uint32_t i = 0; i < v->len; i++)
            items[i] = deep_copy(&v->u.items[i], cur);
        out.u.items = items;
        return out;
    }
    case RN_RECORD: {
        rn_field *fields = (rn_field *)(void *)*cur;
        *cur += (size_t)v->len * sizeof(rn_field);
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            fields[i].name.ptr = "";
            fields[i].name.len = f->name.len;
            if (f->name.len) {
                memcpy(*cur, f->name.ptr, f->name.len);
                fields[i].name.ptr = *cur;
                *cur += ALIGN8(f->name.len);
            }
            fields[i].value = deep_copy(&f->value, cur);
        }
        out.u.fields = fields;
        return out;
    }
    default:
        return out;
    }
}

int rn__agg_box_set(rn_ctx *ctx, rn__agg_box *b, const rn_value *in,
                    rn_value *out)
{
    size_t need = deep_size(in);
    char *cur;

    if (need > b->cap) {
        size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
        char *buf = rn_alloc_keep(ctx, cap);
        if (!buf)
            return RN_ENOMEM;
        b->buf = buf;
        b->cap = cap;
    }
    cur = b->buf;
    *out = deep_copy(in, &cur);
    return 0;
}

/* ---- numbers -------------------------------------------------------- */

int rn__agg_num_add(rn_ctx *ctx, rn_value *acc, const rn_value *in)
{
    if (in->kind == RN_INT || in->kind == RN_BOOL) {
        int64_t a = acc->u.i, b = in->u.i;
        if (acc->kind != RN_INT) {
            acc->u.d += (double)b;
        } else if ((b > 0 && a > INT64_MAX - b) ||
                   (b < 0 && a < INT64_MIN - b)) {
            *acc = rn_double((double)a + (double)b);
        } else {
            acc->u.i = a + b;
        }
        return 0;
    }
    if (in->kind == RN_DOUBLE) {
        if (acc->kind == RN_INT)
            *acc = rn_double((double)acc->u.i);
        acc->u.d += in->u.d;
        return 0;
    }
    return rn_error(ctx, RN_ETYPE, "expected a number, got %s",
                    rn_kind_name(in->kind));
}

/* ---- a total order --------------------------------------------------- */

/* a and b compare equal (rn_compare): the same shape with numerically
 * equal numbers. Orders what still differs. */
static int tie(const rn_value *a, const rn_value *b, int depth)
{
    int c;
    if (depth > 64)
        return 0;
    if (a->kind != b->kind) /* RN_INT before RN_DOUBLE */
        return a->kind < b->kind ? -1 : 1;
    switch (a->kind) {
    case RN_DOUBLE: {
        uint64_t x, y;
        memcpy(&x, &a->u.d, 8);
        memcpy(&y, &b->u.d, 8);
        if ((x >> 63) != (y >> 63)) /* -0.0 before 0.0 */
            return (x >> 63) ? -1 : 1;
        return (x > y) - (x < y); /* NaNs: by payload */
    }
    case RN_LIST:
        for (uint32_t i = 0; i < a->len && i < b->len; i++)
            if ((c = tie(&a->u.items[i], &b->u.items[i], depth + 1)))
                return c;
        return 0;
    case RN_RECORD:
        for (uint32_t i = 0; i < a->len && i < b->len; i++)
            if ((c = tie(&a->u.fields[i].value, &b->u.fields[i].value,
                         depth + 1)))
                return c;
        return 0;
    default:
        return 0;
    }
}

int rn__agg_total_cmp(rn_ctx *ctx, const rn_value *a, const rn_value *b)
{
    int c = rn_compare(ctx, a, b);
    return c ? c : tie(a, b, 0);
}
