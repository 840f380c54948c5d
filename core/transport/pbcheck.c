/* Bounds for received protobuf messages (see pbcheck.h). */
#include "transport/pbcheck.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* What a field needs looked at. */
enum {
    K_SKIP, /* a scalar: nothing to bound */
    K_STRING,
    K_BYTES,
    K_MESSAGE,
    K_REP_SCALAR,
    K_REP_STRING,
    K_REP_BYTES,
    K_REP_MESSAGE
};

/* Repeated fields of one message counted per field by check_wire (on the
 * stack of each level); one past these is counted in the total only. */
#define MAX_SLOTS 32
#define NO_SLOT 0xff
#define NO_INDEX SIZE_MAX

typedef struct pmsg pmsg;

/* One field's bounds, resolved. */
typedef struct pfield {
    const ProtobufCFieldDescriptor *fd;
    const pmsg *child; /* message fields: the child's, NULL: not cached */
    size_t max;        /* entries (repeated) or bytes (string, bytes) */
    size_t elem_max;   /* repeated string / bytes: bytes of each */
    uint8_t kind;
    uint8_t utf8; /* strings: check the text */
    uint8_t slot; /* repeated: check_wire's counter, or NO_SLOT */
} pfield;

/* One message type's bounds under one table. The key is the table's
 * content that fields depend on (not its address: equal tables share). */
struct pmsg {
    const ProtobufCMessageDescriptor *desc;
    const rn_pb_bound *bounds;
    size_t n_bounds, string_max, bytes_max, repeated_max;
    size_t total_max; /* as the root: RN_PB_DEFAULT for lim->total_max */
    pfield *fields;   /* desc->n_fields, in descriptor order */
    uint16_t *check;  /* indices of the fields that are not K_SKIP */
    unsigned n_check;
    unsigned n_slots;
};

/* ------------------------------------------------------------ bounds -- */

static int kind_of(const ProtobufCFieldDescriptor *fd)
{
    int rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        return rep ? K_REP_STRING : K_STRING;
    case PROTOBUF_C_TYPE_BYTES:
        return rep ? K_REP_BYTES : K_BYTES;
    case PROTOBUF_C_TYPE_MESSAGE:
        return rep ? K_REP_MESSAGE : K_MESSAGE;
    default:
        return rep ? K_REP_SCALAR : K_SKIP;
    }
}

/* Does entry name msg.field? *elem: it ends in "[]". */
static int names_field(const char *entry, const char *msg, const char *field,
                       int *elem)
{
    size_t lm = strlen(msg), lf = strlen(field);
    if (strncmp(entry, msg, lm) != 0 || entry[lm] != '.')
        return 0;
    entry += lm + 1;
    if (strncmp(entry, field, lf) != 0)
        return 0;
    if (entry[lf] == '\0') {
        *elem = 0;
        return 1;
    }
    if (strcmp(entry + lf, "[]") == 0) {
        *elem = 1;
        return 1;
    }
    return 0;
}

/* The field's bounds from lim (the last matching entry wins). */
static void resolve_field(const rn_pb_limits *lim,
                          const ProtobufCMessageDescriptor *d,
                          const ProtobufCFieldDescriptor *fd, pfield *out)
{
    memset(out, 0, sizeof(*out));
    out->fd = fd;
    out->kind = (uint8_t)kind_of(fd);
    out->utf8 = 1;
    out->slot = NO_SLOT;
    switch (out->kind) {
    case K_STRING:
        out->max = lim->string_max;
        break;
    case K_BYTES:
        out->max = lim->bytes_max;
        break;
    case K_REP_SCALAR:
    case K_REP_MESSAGE:
        out->max = lim->repeated_max;
        break;
    case K_REP_STRING:
        out->max = lim->repeated_max;
        out->elem_max = lim->string_max;
        break;
    case K_REP_BYTES:
        out->max = lim->repeated_max;
        out->elem_max = lim->bytes_max;
        break;
    default:
        return;
    }
    for (size_t i = 0; i < lim->n_bounds; i++) {
        const rn_pb_bound *b = &lim->bounds[i];
        int elem;
        if (!b->field || !names_field(b->field, d->short_name, fd->name, &elem))
            continue;
        if (b->max != RN_PB_DEFAULT) {
            if (elem)
                out->elem_max = b->max;
            else
                out->max = b->max;
        }
        if (b->flags & RN_PB_ANY_TEXT)
            out->utf8 = 0;
    }
}

static size_t resolve_total(const rn_pb_limits *lim,
                            const ProtobufCMessageDescriptor *d)
{
    size_t total = RN_PB_DEFAULT;
    for (size_t i = 0; i < lim->n_bounds; i++)
        if (lim->bounds[i].field &&
            strcmp(lim->bounds[i].field, d->short_name) == 0)
            total = lim->bounds[i].max;
    return total;
}

/* ------------------------------------------------------------- cache -- */

/* Fixed storage: building a plan allocates nothing, and a plan lives as
 * long as the process. Runnel's protocol needs about 40 plans and 120
 * fields per table. */
#define MAX_PLANS 512
#define MAX_POOL 8192
#define TABLE 1024 /* power of 2, at least 2 * MAX_PLANS */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pmsg plans[MAX_PLANS];      /* [0, n_plans) built, under lock */
static pfield field_pool[MAX_POOL];
static uint16_t check_pool[MAX_POOL];
static size_t n_plans, n_pool;     /* under cache_lock */
static _Atomic(const pmsg *) table[TABLE]; /* published, never removed */
static atomic_bool cache_full;

static int same_key(const pmsg *p, const rn_pb_limits *lim,
                    const ProtobufCMessageDescriptor *d)
{
    return p->desc == d && p->bounds == lim->bounds &&
           p->n_bounds == lim->n_bounds && p->string_max == lim->string_max &&
           p->bytes_max == lim->bytes_max &&
           p->repeated_max == lim->repeated_max;
}

static size_t key_hash(const rn_pb_limits *lim,
                       const ProtobufCMessageDescriptor *d)
{
    uint64_t h = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)(uintptr_t)lim->bounds + 0x632be59bd9b4e019ull + (h << 6) +
         (h >> 2);
    h ^= (uint64_t)lim->n_bounds + (uint64_t)lim->string_max * 31 +
         (uint64_t)lim->bytes_max * 37 + (uint64_t)lim->repeated_max * 41;
    h *= 0xff51afd7ed558ccdull;
    return (size_t)(h ^ (h >> 29));
}

/* Under cache_lock: the plan of d, built with those of the message types
 * it holds (a recursive type finds its own, unfinished, plan). NULL when
 * the storage is used up. */
static pmsg *plan_build(const rn_pb_limits *lim,
                        const ProtobufCMessageDescriptor *d)
{
    pmsg *p;
    for (size_t i = 0; i < n_plans; i++)
        if (same_key(&plans[i], lim, d))
            return &plans[i];
    if (d->n_fields > 0xffff)
        return NULL;
    if (n_plans == MAX_PLANS || d->n_fields > MAX_POOL - n_pool) {
        atomic_store(&cache_full, true);
        return NULL;
    }
    p = &plans[n_plans++];
    memset(p, 0, sizeof(*p));
    p->desc = d;
    p->bounds = lim->bounds;
    p->n_bounds = lim->n_bounds;
    p->string_max = lim->string_max;
    p->bytes_max = lim->bytes_max;
    p->repeated_max = lim->repeated_max;
    p->total_max = resolve_total(lim, d);
    p->fields = &field_pool[n_pool];
    p->check = &check_pool[n_pool];
    n_pool += d->n_fields;
    for (unsigned i = 0; i < d->n_fields; i++) {
        pfield *f = &p->fields[i];
        resolve_field(lim, d, &d->fields[i], f);
        if (f->kind == K_SKIP)
            continue;
        p->check[p->n_check++] = (uint16_t)i;
        if (f->kind >= K_REP_SCALAR && p->n_slots < MAX_SLOTS)
            f->slot = (uint8_t)p->n_slots++;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        pfield *f = &p->fields[i];
        if (f->kind == K_MESSAGE || f->kind == K_REP_MESSAGE)
            f->child = plan_build(lim, f->fd->descriptor);
    }
    return p;
}

static void publish(const pmsg *p, const rn_pb_limits *lim)
{
    size_t h = key_hash(lim, p->desc);
    for (size_t i = 0; i < TABLE; i++) {
        _Atomic(const pmsg *) *slot = &table[(h + i) & (TABLE - 1)];
        if (!atomic_load_explicit(slot, memory_order_relaxed)) {
            atomic_store_explicit(slot, p, memory_order_release);
            return;
        }
    }
}

/* The plan of d under lim, or NULL (the cache is full: resolve slowly). */
static const pmsg *plan_get(const rn_pb_limits *lim,
                            const ProtobufCMessageDescriptor *d)
{
    size_t h = key_hash(lim, d), first;
    const pmsg *p;
    for (size_t i = 0; i < TABLE; i++) {
        p = atomic_load_explicit(&table[(h + i) & (TABLE - 1)],
                                 memory_order_acquire);
        if (!p)
            break;
        if (same_key(p, lim, d))
            return p;
    }
    if (atomic_load_explicit(&cache_full, memory_order_relaxed))
        return NULL;
    pthread_mutex_lock(&cache_lock);
    first = n_plans;
    p = plan_build(lim, d);
    /* only whole plans become visible: those made by this build, after
     * every field of each (children included) is filled in */
    for (size_t i = first; i < n_plans; i++)
        publish(&plans[i], lim);
    pthread_mutex_unlock(&cache_lock);
    return p;
}

/* Field i of the iteration over d: from the plan, or resolved into tmp.
 * NULL when it needs no look. */
static const pfield *field_at(const rn_pb_limits *lim, const pmsg *pm,
                              const ProtobufCMessageDescriptor *d, unsigned i,
                              pfield *tmp)
{
    if (pm)
        return &pm->fields[pm->check[i]];
    resolve_field(lim, d, &d->fields[i], tmp);
    return tmp->kind == K_SKIP ? NULL : tmp;
}

static const pmsg *child_of(const rn_pb_limits *lim, const pfield *f)
{
    return f->child ? f->child : plan_get(lim, f->fd->descriptor);
}

/* ------------------------------------------------------------ errors -- */

/* Where a walk is: a chain up to the root (fd NULL). */
typedef struct frame {
    const struct frame *up;
    const ProtobufCFieldDescriptor *fd;
    size_t index; /* element of a repeated field, or NO_INDEX */
} frame;

typedef struct walk {
    const rn_pb_limits *lim;
    rn_errbuf *err;
    const char *root; /* the root's short name */
    size_t total, total_max;
} walk;

static size_t put_path(char *out, size_t cap, size_t at, const walk *w,
                       const frame *f)
{
    int n;
    if (!f->fd) {
        n = snprintf(out + at, cap - at, "%s", w->root);
    } else {
        at = put_path(out, cap, at, w, f->up);
        if (f->index == NO_INDEX)
            n = snprintf(out + at, cap - at, ".%s", f->fd->name);
        else
            n = snprintf(out + at, cap - at, ".%s[%zu]", f->fd->name, f->index);
    }
    if (n < 0)
        return at;
    at += (size_t)n;
    return at < cap ? at : cap - 1;
}

static int fail(const walk *w, int code, const frame *f, const char *fmt,
                ...) RN_FMT(4, 5);

/* "<path>: <what>" */
static int fail(const walk *w, int code, const frame *f, const char *fmt, ...)
{
    char path[400], what[400];
    va_list ap;
    path[0] = '\0';
    put_path(path, sizeof(path), 0, w, f);
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return rn_error_set(w->err, code, "%s: %s", path, what);
}

static int add_total(walk *w, const frame *root, size_t n)
{
    w->total += n;
    if (w->total > w->total_max)
        return fail(w, RN_ELIMIT, root,
                    "more than %zu repeated entries and unknown fields in all",
                    w->total_max);
    return 0;
}

/* -------------------------------------------------------------- UTF-8 -- */

/* Offset of the first byte that is not part of well-formed UTF-8
 * (Unicode table 3-7: no overlong forms, no surrogates, at most
 * U+10FFFF), or n. ASCII goes 8 bytes at a time. */
static size_t utf8_invalid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            while (i + 8 <= n) {
                uint64_t v;
                memcpy(&v, s + i, 8);
                if (v & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            while (i < n && s[i] < 0x80)
                i++;
            continue;
        }
        unsigned lo = 0x80, hi = 0xbf;
        size_t len;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += len;
    }
    return n;
}

/* ------------------------------------------------- unpacked messages -- */

/* Reads a varint of at most 10 bytes; -1 when truncated or longer. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < 10 && *p < end; k++) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * k);
        if (b < 0x80) {
            *out = v;
            return 0;
        }
    }
    return -1;
}


#define MEMBER(base, off, type)                                              \
    (*(type const *)((const char *)(base) + (off)))

/* Is a field that is not repeated set in m? Only then may its member be
 * read: a oneof's members share memory. */
static int is_set(const ProtobufCMessage *m,
                  const ProtobufCFieldDescriptor *fd)
{
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return MEMBER(m, fd->quantifier_offset, uint32_t) == fd->id;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
        fd->type == PROTOBUF_C_TYPE_BYTES)
        return MEMBER(m, fd->quantifier_offset, protobuf_c_boolean) != 0;
    return 1; /* pointers say it themselves (NULL: absent) */
}

/* Bytes of an unknown field's value; protobuf-c keeps a length-delimited
 * one with its length in front, which is not counted (as on the wire). */
static size_t unknown_len(const ProtobufCMessageUnknownField *u)
{
    const uint8_t *p = u->data;
    uint64_t len;
    if (u->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED && p &&
        get_varint(&p, u->data + u->len, &len) == 0)
        return u->len - (size_t)(p - u->data);
    return u->len;
}

/* 1 when s[0..n) is all ASCII: whole words, the last one overlapping. */
static int all_ascii(const unsigned char *s, size_t n)
{
    uint64_t acc = 0, v;
    size_t i = 0;
    if (n < 8) {
        for (; i < n; i++)
            acc |= s[i];
        return acc < 0x80;
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, s + i, 8);
        acc |= v;
    }
    memcpy(&v, s + n - 8, 8);
    return !((acc | v) & 0x8080808080808080ull);
}

static int check_string(walk *w, const frame *f, const char *s, size_t max,
                        int utf8)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len, bad;
    if (!s)
        return 0;
    len = strlen(s);
    if (len > max)
        return fail(w, RN_ELIMIT, f, "%zu bytes, at most %zu", len, max);
    if (utf8 && !all_ascii(p, len) && (bad = utf8_invalid(p, len)) < len)
        return fail(w, RN_EFORMAT, f, "not valid UTF-8 (byte %zu)", bad);
    return 0;
}

static int check_msg(walk *w, const ProtobufCMessage *m, const pmsg *pm,
                     const frame *at, const frame *root, size_t depth);

static int check_repeated(walk *w, const ProtobufCMessage *m, const pfield *f,
                          frame *fr, const frame *root, size_t depth)
{
    const ProtobufCFieldDescriptor *fd = f->fd;
    size_t n = MEMBER(m, fd->quantifier_offset, size_t);
    int rc;
    if (n == 0)
        return 0;
    if (n > f->max)
        return fail(w, RN_ELIMIT, fr, "%zu entries, at most %zu", n, f->max);
    if ((rc = add_total(w, root, n)))
        return rc;
    switch (f->kind) {
    case K_REP_STRING: {
        char *const *v = MEMBER(m, fd->offset, char *const *);
        for (size_t i = 0; i < n; i++) {
            fr->index = i;
            if ((rc = check_string(w, fr, v[i], f->elem_max, f->utf8)))
                return rc;
        }
        break;
    }
    case K_REP_BYTES: {
        const ProtobufCBinaryData *v =
            MEMBER(m, fd->offset, const ProtobufCBinaryData *);
        for (size_t i = 0; i < n; i++)
            if (v[i].len > f->elem_max) {
                fr->index = i;
                return fail(w, RN_ELIMIT, fr, "%zu bytes, at most %zu",
                            v[i].len, f->elem_max);
            }
        break;
    }
    case K_REP_MESSAGE: {
        ProtobufCMessage *const *v =
            MEMBER(m, fd->offset, ProtobufCMessage *const *);
        const pmsg *cp = child_of(w->lim, f);
        for (size_t i = 0; i < n; i++) {
            fr->index = i;
            if (v[i] && (rc = check_msg(w, v[i], cp, fr, root, depth + 1)))
                return rc;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static int check_msg(walk *w, const ProtobufCMessage *m, const pmsg *pm,
                     const frame *at, const frame *root, size_t depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const rn_pb_limits *lim = w->lim;
    unsigned n;
    int rc;

    if (depth > lim->depth_max)
        return fail(w, RN_ELIMIT, at, "messages nested deeper than %zu",
                    lim->depth_max);
    if (m->n_unknown_fields) {
        if (m->n_unknown_fields > lim->unknown_max)
            return fail(w, RN_ELIMIT, at, "%u unknown fields, at most %zu",
                        m->n_unknown_fields, lim->unknown_max);
        if ((rc = add_total(w, root, m->n_unknown_fields)))
            return rc;
        for (unsigned i = 0; i < m->n_unknown_fields; i++) {
            size_t len = unknown_len(&m->unknown_fields[i]);
            if (len > lim->bytes_max)
                return fail(w, RN_ELIMIT, at,
                            "unknown field %u: %zu bytes, at most %zu",
                            (unsigned)m->unknown_fields[i].tag, len,
                            lim->bytes_max);
        }
    }
    n = pm ? pm->n_check : d->n_fields;
    for (unsigned i = 0; i < n; i++) {
        pfield tmp;
        const pfield *f = field_at(lim, pm, d, i, &tmp);
        const ProtobufCFieldDescriptor *fd;
        frame fr;
        if (!f)
            continue;
        fd = f->fd;
        fr.up = at;
        fr.fd = fd;
        fr.index = NO_INDEX;
        if (f->kind >= K_REP_SCALAR) {
            rc = check_repeated(w, m, f, &fr, root, depth);
        } else if (!is_set(m, fd)) {
            rc = 0;
        } else if (f->kind == K_STRING) {
            rc = check_string(w, &fr, MEMBER(m, fd->offset, const char *),
                              f->max, f->utf8);
        } else if (f->kind == K_BYTES) {
            size_t len = MEMBER(m, fd->offset, ProtobufCBinaryData).len;
            rc = len <= f->max ? 0
                               : fail(w, RN_ELIMIT, &fr,
                                      "%zu bytes, at most %zu", len, f->max);
        } else {
            const ProtobufCMessage *sub =
                MEMBER(m, fd->offset, const ProtobufCMessage *);
            rc = sub ? check_msg(w, sub, child_of(lim, f), &fr, root, depth + 1)
                     : 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static size_t root_total(const rn_pb_limits *lim, const pmsg *pm,
                         const ProtobufCMessageDescriptor *d)
{
    size_t t = pm ? pm->total_max : resolve_total(lim, d);
    return t == RN_PB_DEFAULT ? lim->total_max : t;
}

int rn_pb_check(const ProtobufCMessage *m, const rn_pb_limits *lim,
                rn_errbuf *err)
{
    const pmsg *pm;
    walk w;
    frame root = {NULL, NULL, NO_INDEX};
    if (!m || !lim)
        return rn_error_set(err, RN_EINVAL, "no message or no limits");
    pm = plan_get(lim, m->descriptor);
    w.lim = lim;
    w.err = err;
    w.root = m->descriptor->short_name;
    w.total = 0;
    w.total_max = root_total(lim, pm, m->descriptor);
    return check_msg(&w, m, pm, &root, &root, 1);
}

/* ---------------------------------------------------- encoded messages -- */

/* The next field of a message: its number, wire type and, for a
 * length-delimited one, where its bytes are. Negative when malformed:
 * W_CUT, W_NUMBER, W_TYPE. */
typedef struct wfield {
    uint32_t id;
    unsigned wt;
    const uint8_t *v;
    size_t len;
} wfield;

enum { W_CUT = -1, W_NUMBER = -2, W_TYPE = -3 };

static inline int next_field(const uint8_t **p, const uint8_t *end,
                             wfield *f)
{
    uint64_t key, len;
    f->v = NULL;
    f->len = 0;
    /* keys of fields 1..15 and short lengths are one byte */
    if (**p < 0x80)
        key = *(*p)++;
    else if (get_varint(p, end, &key))
        return W_CUT;
    /* numbers are 1..2^29-1; protobuf-c takes 0 in a long key, and cuts
     * longer ones to 32 bits, which may make them another field */
    if ((key >> 3) == 0 || key >> 32)
        return W_NUMBER;
    f->id = (uint32_t)(key >> 3);
    f->wt = (unsigned)(key & 7);
    switch (f->wt) {
    case 0:
        for (unsigned k = 0; k < 10 && *p < end; k++)
            if (*(*p)++ < 0x80)
                return 0;
        return W_CUT;
    case 1:
        if (end - *p < 8)
            return W_CUT;
        *p += 8;
        return 0;
    case 5:
        if (end - *p < 4)
            return W_CUT;
        *p += 4;
        return 0;
    case 2:
        if (*p < end && **p < 0x80)
            len = *(*p)++;
        else if (get_varint(p, end, &len))
            return W_CUT;
        if (len > (uint64_t)(end - *p))
            return W_CUT;
        f->v = *p;
        f->len = (size_t)len;
        *p += len;
        return 0;
    default: /* groups (protobuf-c has none) and wire types 6, 7 */
        return W_TYPE;
    }
}

/* Entries of a packed repeated scalar run; -1 when malformed. */
static int packed_count(ProtobufCType type, const uint8_t *v, size_t len,
                        size_t *n)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        *n = len / 4;
        return len % 4 ? -1 : 0;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        *n = len / 8;
        return len % 8 ? -1 : 0;
    default: /* varints: one ends at each byte below 0x80 */
        *n = 0;
        for (size_t i = 0; i < len; i++)
            *n += v[i] < 0x80;
        return len && v[len - 1] >= 0x80 ? -1 : 0;
    }
}

/* Index of field number id in d, or -1. */
static inline long find_field(const ProtobufCMessageDescriptor *d, uint32_t id)
{
    const ProtobufCFieldDescriptor *fd;
    /* field numbers are usually 1..n in order */
    if (id - 1 < d->n_fields && d->fields[id - 1].id == id)
        return (long)id - 1;
    fd = protobuf_c_message_descriptor_get_field(d, id);
    return fd ? (long)(fd - d->fields) : -1;
}

static int malformed(const walk *w, const frame *f, int why)
{
    return fail(w, RN_EFORMAT, f, "malformed message%s",
                why == W_NUMBER ? " (a field number out of range)"
                : why == W_TYPE ? " (a group or an unknown wire type)"
                                : "");
}

/* Entries of field fd (NULL: unknown fields of d) from p to the end of
 * the message: after one went over its bound, the error gives the
 * message's whole count, as rn_pb_check does. */
static size_t count_rest(const ProtobufCMessageDescriptor *d,
                         const ProtobufCFieldDescriptor *fd, const uint8_t *p,
                         const uint8_t *end)
{
    int scalar = fd && kind_of(fd) == K_REP_SCALAR;
    size_t n = 0, k;
    wfield f;
    while (p < end && next_field(&p, end, &f) == 0) {
        if (fd ? f.id != fd->id : find_field(d, f.id) >= 0)
            continue;
        if (scalar && f.wt == 2 && packed_count(fd->type, f.v, f.len, &k) == 0)
            n += k;
        else
            n++;
    }
    return n;
}

static int wire_msg(walk *w, const ProtobufCMessageDescriptor *d,
                    const pmsg *pm, const uint8_t *p, const uint8_t *end,
                    const frame *at, const frame *root, size_t depth)
{
    const rn_pb_limits *lim = w->lim;
    size_t counts[MAX_SLOTS];
    size_t unknown = 0;
    int rc;

    if (depth > lim->depth_max)
        return fail(w, RN_ELIMIT, at, "messages nested deeper than %zu",
                    lim->depth_max);
    if (!pm || pm->n_slots)
        memset(counts, 0, (pm ? pm->n_slots : MAX_SLOTS) * sizeof(counts[0]));
    while (p < end) {
        const ProtobufCFieldDescriptor *fd;
        const pfield *f;
        pfield tmp;
        frame fr;
        wfield wf;
        size_t add = 1, index = NO_INDEX;
        long idx;

        if ((rc = next_field(&p, end, &wf)))
            return malformed(w, at, rc);
        if ((idx = find_field(d, wf.id)) < 0) {
            if (++unknown > lim->unknown_max)
                return fail(w, RN_ELIMIT, at, "%zu unknown fields, at most %zu",
                            unknown + count_rest(d, NULL, p, end),
                            lim->unknown_max);
            if (wf.len > lim->bytes_max)
                return fail(w, RN_ELIMIT, at,
                            "unknown field %u: %zu bytes, at most %zu",
                            (unsigned)wf.id, wf.len, lim->bytes_max);
            if ((rc = add_total(w, root, 1)))
                return rc;
            continue;
        }
        fd = &d->fields[idx];
        if (pm) {
            f = &pm->fields[idx];
            if (f->kind == K_SKIP)
                continue;
        } else {
            /* uncached: the field's index is its counter */
            resolve_field(lim, d, fd, &tmp);
            if (tmp.kind == K_SKIP)
                continue;
            if (tmp.kind >= K_REP_SCALAR && idx < MAX_SLOTS)
                tmp.slot = (uint8_t)idx;
            f = &tmp;
        }
        fr.up = at;
        fr.fd = fd;
        fr.index = NO_INDEX;
        if (f->kind >= K_REP_SCALAR) {
            if (f->kind == K_REP_SCALAR && wf.wt == 2 &&
                packed_count(fd->type, wf.v, wf.len, &add))
                return malformed(w, &fr, W_CUT);
            if (f->kind != K_REP_SCALAR && wf.wt != 2)
                continue; /* a wrong wire type: protobuf-c refuses it */
            if (f->slot != NO_SLOT) {
                index = counts[f->slot];
                counts[f->slot] += add;
                if (counts[f->slot] > f->max)
                    return fail(w, RN_ELIMIT, &fr, "%zu entries, at most %zu",
                                counts[f->slot] + count_rest(d, fd, p, end),
                                f->max);
            } else if (add > f->max) {
                return fail(w, RN_ELIMIT, &fr, "%zu entries, at most %zu", add,
                            f->max);
            }
            if ((rc = add_total(w, root, add)))
                return rc;
            fr.index = index;
        } else if (wf.wt != 2) {
            continue;
        }
        switch (f->kind) {
        case K_STRING:
        case K_BYTES:
            if (wf.len > f->max)
                return fail(w, RN_ELIMIT, &fr, "%zu bytes, at most %zu", wf.len,
                            f->max);
            break;
        case K_REP_STRING:
        case K_REP_BYTES:
            if (wf.len > f->elem_max)
                return fail(w, RN_ELIMIT, &fr, "%zu bytes, at most %zu", wf.len,
                            f->elem_max);
            break;
        case K_MESSAGE:
        case K_REP_MESSAGE:
            if ((rc = wire_msg(w, fd->descriptor, child_of(lim, f), wf.v,
                               wf.v + wf.len, &fr, root, depth + 1)))
                return rc;
            break;
        default:
            break;
        }
    }
    return 0;
}

int rn_pb_check_wire(const ProtobufCMessageDescriptor *d, const void *data,
                     size_t n, const rn_pb_limits *lim, rn_errbuf *err)
{
    static const uint8_t none[1];
    const uint8_t *p = data ? data : none;
    const pmsg *pm;
    walk w;
    frame root = {NULL, NULL, NO_INDEX};
    if (!d || !lim || (!data && n))
        return rn_error_set(err, RN_EINVAL, "no descriptor, data or limits");
    pm = plan_get(lim, d);
    w.lim = lim;
    w.err = err;
    w.root = d->short_name;
    w.total = 0;
    w.total_max = root_total(lim, pm, d);
    return wire_msg(&w, d, pm, p, p + n, &root, &root, 1);
}

/* ------------------------------------------------------------ verify -- */

typedef struct dset {
    const ProtobufCMessageDescriptor **v;
    size_t n, cap;
} dset;

static int dset_add(dset *s, const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == d)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        const ProtobufCMessageDescriptor **nv =
            rn_realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return RN_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = d;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE &&
            dset_add(s, d->fields[i].descriptor))
            return RN_ENOMEM;
    return 0;
}

/* Why field fd cannot take entry b, or NULL when it can. */
static const char *field_problem(const ProtobufCFieldDescriptor *fd, int elem,
                                 unsigned flags)
{
    int kind = kind_of(fd);
    if (kind == K_SKIP || kind == K_MESSAGE)
        return "names a field without a bound (a scalar or one message)";
    if (elem && kind != K_REP_STRING && kind != K_REP_BYTES)
        return "has '[]' but is no repeated string or bytes field";
    if ((flags & RN_PB_ANY_TEXT) && fd->type != PROTOBUF_C_TYPE_STRING)
        return "has RN_PB_ANY_TEXT but is no string";
    if (flags & ~RN_PB_ANY_TEXT)
        return "has unknown flags";
    return NULL;
}

/* Why entry b fits nothing in s, or NULL when it names a message of s
 * (its total) or a field of one that takes it. */
static const char *entry_problem(const dset *s, const rn_pb_bound *b)
{
    const char *why = "names no message of the protocol";
    for (size_t i = 0; i < s->n; i++) {
        const ProtobufCMessageDescriptor *d = s->v[i];
        size_t lm = strlen(d->short_name);
        if (strcmp(b->field, d->short_name) == 0) {
            if (!b->flags)
                return NULL;
            why = "names a message (its total), which takes no flags";
            continue;
        }
        if (strncmp(b->field, d->short_name, lm) != 0 || b->field[lm] != '.')
            continue;
        why = "names no field of that message";
        for (unsigned k = 0; k < d->n_fields; k++) {
            int elem;
            if (names_field(b->field, d->short_name, d->fields[k].name, &elem) &&
                !(why = field_problem(&d->fields[k], elem, b->flags)))
                return NULL;
        }
    }
    return why;
}

int rn_pb_limits_verify(const rn_pb_limits *lim,
                        const ProtobufCMessageDescriptor *const *roots,
                        size_t n, rn_errbuf *err)
{
    dset s = {NULL, 0, 0};
    int rc = 0;
    if (!lim || (!roots && n))
        return rn_error_set(err, RN_EINVAL, "no limits or no roots");
    for (size_t i = 0; i < n; i++)
        if (dset_add(&s, roots[i])) {
            rc = rn_error_set(err, RN_ENOMEM, "out of memory");
            goto done;
        }
    for (size_t i = 0; i < lim->n_bounds; i++) {
        const rn_pb_bound *b = &lim->bounds[i];
        const char *why;
        if (!b->field) {
            rc = rn_error_set(err, RN_EINVAL, "bound %zu has no name", i);
            goto done;
        }
        if ((why = entry_problem(&s, b))) {
            rc = rn_error_set(err, RN_EINVAL, "bound '%s' %s", b->field, why);
            goto done;
        }
        for (size_t k = 0; k < i; k++)
            if (lim->bounds[k].field &&
                strcmp(lim->bounds[k].field, b->field) == 0) {
                rc = rn_error_set(err, RN_EINVAL, "bound '%s' is listed twice",
                                  b->field);
                goto done;
            }
    }
done:
    rn_free(s.v);
    return rc;
}
