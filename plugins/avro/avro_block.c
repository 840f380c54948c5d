/*
 * avro_block: Avro container headers, block codecs and the binary
 * encoding, decoded into runnel values (see avro_block.h for the rules).
 *
 * Build options: RN_AVRO_NO_SNAPPY / RN_AVRO_NO_LZMA / RN_AVRO_NO_BZIP2
 * leave those codecs out (the fuzz target links zlib only).
 */
#include "avro_block.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef RN_AVRO_NO_SNAPPY
#include <snappy-c.h>
#endif
#ifndef RN_AVRO_NO_LZMA
#include <lzma.h>
#endif
#ifndef RN_AVRO_NO_BZIP2
#include <bzlib.h>
#endif

enum av_type {
    AV_NULL,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED
};

typedef struct av_node {
    int type;
    int min_known;     /* min_size computed */
    size_t min_size;   /* fewest bytes one datum takes */
    const char *name;  /* full name of a named type (views json) */
    size_t n;          /* fields, branches, symbols; bytes of a fixed */
    struct av_node **kids; /* field types / branches; kids[0]: items */
    rn_str *names;     /* field names, enum symbols */
} av_node;

struct rn_avro_schema {
    json_t *json;      /* kept: names view its strings */
    av_node **nodes;   /* every node, for freeing and name lookup */
    size_t n_nodes, cap_nodes;
    av_node *root;
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    RN_PRINTF(4, 5);
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ------------------------------------------------------------------ */
/* Schemas                                                             */

typedef struct compiler {
    rn_avro_schema *s;
    char *err;
    size_t errlen;
    int depth;
} compiler;

static av_node *node_new(compiler *c, int type)
{
    rn_avro_schema *s = c->s;
    av_node *nd;
    if (s->n_nodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 16;
        av_node **nn = realloc(s->nodes, cap * sizeof(*nn));
        if (!nn)
            return NULL;
        s->nodes = nn;
        s->cap_nodes = cap;
    }
    nd = calloc(1, sizeof(*nd));
    if (!nd)
        return NULL;
    nd->type = type;
    s->nodes[s->n_nodes++] = nd;
    return nd;
}

static const struct {
    const char *name;
    int type;
} primitives[] = {{"null", AV_NULL},     {"boolean", AV_BOOLEAN},
                  {"int", AV_INT},       {"long", AV_LONG},
                  {"float", AV_FLOAT},   {"double", AV_DOUBLE},
                  {"bytes", AV_BYTES},   {"string", AV_STRING}};

/* Full name of a named type: "ns.name" unless name has a dot. Written
 * into a json string kept in s->json so that it lives with the schema. */
static const char *full_name(compiler *c, json_t *obj, const char *ns,
                             const char **own_ns)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    const char *nsv = json_string_value(json_object_get(obj, "namespace"));
    char buf[1024];
    json_t *str;
    if (!name || !*name)
        return NULL;
    if (strchr(name, '.')) {
        const char *dot = strrchr(name, '.');
        snprintf(buf, sizeof(buf), "%.*s", (int)(dot - name), name);
        str = json_string(buf);
        *own_ns = str ? json_string_value(str) : "";
        if (str)
            json_object_set_new(obj, "\x01ns", str);
        return name;
    }
    if (nsv)
        ns = nsv;
    *own_ns = ns ? ns : "";
    if (!ns || !*ns)
        return name;
    snprintf(buf, sizeof(buf), "%s.%s", ns, name);
    if (!(str = json_string(buf)))
        return NULL;
    json_object_set_new(obj, "\x01full", str); /* owned by obj */
    return json_string_value(str);
}

static av_node *lookup(compiler *c, const char *name, const char *ns)
{
    char buf[1024];
    if (!strchr(name, '.') && ns && *ns) {
        snprintf(buf, sizeof(buf), "%s.%s", ns, name);
        for (size_t i = 0; i < c->s->n_nodes; i++)
            if (c->s->nodes[i]->name && !strcmp(c->s->nodes[i]->name, buf))
                return c->s->nodes[i];
    }
    for (size_t i = 0; i < c->s->n_nodes; i++)
        if (c->s->nodes[i]->name && !strcmp(c->s->nodes[i]->name, name))
            return c->s->nodes[i];
    return NULL;
}

static av_node *compile(compiler *c, json_t *j, const char *ns);

static av_node *bad(compiler *c, const char *fmt, const char *what)
{
    fail(c->err, c->errlen, RN_EFORMAT, fmt, what);
    return NULL;
}

static av_node *compile_named(compiler *c, json_t *j, int type,
                              const char *ns)
{
    const char *own_ns = "";
    const char *fn = full_name(c, j, ns, &own_ns);
    av_node *nd;
    if (!fn)
        return bad(c, "schema: a %s without a name",
                   type == AV_RECORD ? "record" : "named type");
    if (lookup(c, fn, NULL))
        return bad(c, "schema: type '%s' defined twice", fn);
    if (!(nd = node_new(c, type)))
        return bad(c, "schema: %s", "out of memory");
    nd->name = fn;
    if (type == AV_RECORD) {
        json_t *fields = json_object_get(j, "fields");
        if (!json_is_array(fields))
            return bad(c, "schema: record '%s' has no fields array", fn);
        nd->n = json_array_size(fields);
        nd->kids = calloc(nd->n ? nd->n : 1, sizeof(*nd->kids));
        nd->names = calloc(nd->n ? nd->n : 1, sizeof(*nd->names));
        if (!nd->kids || !nd->names)
            return bad(c, "schema: %s", "out of memory");
        for (size_t i = 0; i < nd->n; i++) {
            json_t *f = json_array_get(fields, i);
            const char *name = json_string_value(json_object_get(f, "name"));
            if (!name)
                return bad(c, "schema: a field of '%s' has no name", fn);
            nd->names[i] = (rn_str){name, strlen(name)};
            if (!(nd->kids[i] = compile(c, json_object_get(f, "type"),
                                        own_ns)))
                return NULL;
        }
    } else if (type == AV_ENUM) {
        json_t *sy = json_object_get(j, "symbols");
        if (!json_is_array(sy))
            return bad(c, "schema: enum '%s' has no symbols array", fn);
        nd->n = json_array_size(sy);
        nd->names = calloc(nd->n ? nd->n : 1, sizeof(*nd->names));
        if (!nd->names)
            return bad(c, "schema: %s", "out of memory");
        for (size_t i = 0; i < nd->n; i++) {
            const char *sym = json_string_value(json_array_get(sy, i));
            if (!sym)
                return bad(c, "schema: a symbol of enum '%s' is no string",
                           fn);
            nd->names[i] = (rn_str){sym, strlen(sym)};
        }
    } else { /* fixed */
        json_t *size = json_object_get(j, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > (1 << 30))
            return bad(c, "schema: fixed '%s' needs a size", fn);
        nd->n = (size_t)json_integer_value(size);
    }
    return nd;
}

static av_node *compile(compiler *c, json_t *j, const char *ns)
{
    av_node *nd = NULL;
    if (++c->depth > RN_AVRO_MAX_DEPTH) {
        c->depth--;
        return bad(c, "schema: nested deeper than %s levels", "100");
    }
    if (json_is_string(j)) {
        const char *t = json_string_value(j);
        for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]);
             i++)
            if (!strcmp(t, primitives[i].name)) {
                nd = node_new(c, primitives[i].type);
                if (!nd)
                    bad(c, "schema: %s", "out of memory");
                goto done;
            }
        if (!(nd = lookup(c, t, ns)))
            bad(c, "schema: unknown type '%s'", t);
    } else if (json_is_array(j)) {
        if (!(nd = node_new(c, AV_UNION))) {
            bad(c, "schema: %s", "out of memory");
            goto done;
        }
        nd->n = json_array_size(j);
        if (nd->n == 0) {
            nd = bad(c, "schema: %s", "an empty union");
            goto done;
        }
        if (!(nd->kids = calloc(nd->n, sizeof(*nd->kids)))) {
            nd = bad(c, "schema: %s", "out of memory");
            goto done;
        }
        for (size_t i = 0; i < nd->n; i++)
            if (!(nd->kids[i] = compile(c, json_array_get(j, i), ns))) {
                nd = NULL;
                goto done;
            }
    } else if (json_is_object(j)) {
        json_t *tj = json_object_get(j, "type");
        const char *t = json_string_value(tj);
        if (!t) {
            /* {"type": {...}} nests a schema (seen with logical types) */
            nd = tj ? compile(c, tj, ns)
                    : bad(c, "schema: %s", "an object without type");
        } else if (!strcmp(t, "record") || !strcmp(t, "error")) {
            nd = compile_named(c, j, AV_RECORD, ns);
        } else if (!strcmp(t, "enum")) {
            nd = compile_named(c, j, AV_ENUM, ns);
        } else if (!strcmp(t, "fixed")) {
            nd = compile_named(c, j, AV_FIXED, ns);
        } else if (!strcmp(t, "array") || !strcmp(t, "map")) {
            json_t *k = json_object_get(j, t[0] == 'a' ? "items" : "values");
            if (!k) {
                nd = bad(c, "schema: %s without its item type", t);
                goto done;
            }
            if (!(nd = node_new(c, t[0] == 'a' ? AV_ARRAY : AV_MAP)) ||
                !(nd->kids = calloc(1, sizeof(*nd->kids)))) {
                nd = bad(c, "schema: %s", "out of memory");
                goto done;
            }
            nd->n = 1;
            if (!(nd->kids[0] = compile(c, k, ns)))
                nd = NULL;
        } else {
            /* a primitive, perhaps with a logicalType: its base type */
            nd = compile(c, tj, ns);
        }
    } else {
        bad(c, "schema: %s", "expected a type name, an object or a union");
    }
done:
    c->depth--;
    return nd;
}

static size_t min_size(av_node *nd, int depth)
{
    size_t m = 0;
    if (nd->min_known)
        return nd->min_size;
    if (depth > RN_AVRO_MAX_DEPTH)
        return 0;
    switch (nd->type) {
    case AV_NULL:
        m = 0;
        break;
    case AV_FLOAT:
        m = 4;
        break;
    case AV_DOUBLE:
        m = 8;
        break;
    case AV_FIXED:
        m = nd->n;
        break;
    case AV_RECORD:
        /* recursion through a record alone cannot be written; through a
         * union or an array it ends, and those count at least 1 byte */
        nd->min_known = 1;
        nd->min_size = 0;
        for (size_t i = 0; i < nd->n; i++) {
            size_t k = min_size(nd->kids[i], depth + 1);
            m = m + k < m ? SIZE_MAX : m + k;
        }
        break;
    default: /* boolean, int, long, bytes, string, enum, array, map, union */
        m = 1;
        break;
    }
    nd->min_size = m;
    nd->min_known = 1;
    return m;
}

void rn_avro_schema_free(rn_avro_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_nodes; i++) {
        free(s->nodes[i]->kids);
        free(s->nodes[i]->names);
        free(s->nodes[i]);
    }
    free(s->nodes);
    if (s->json)
        json_decref(s->json);
    free(s);
}

int rn_avro_schema_parse(const char *json, size_t len, rn_avro_schema **out,
                         char *err, size_t errlen)
{
    rn_avro_schema *s = calloc(1, sizeof(*s));
    compiler c = {s, err, errlen, 0};
    json_error_t je;

    *out = NULL;
    if (!s)
        return fail(err, errlen, RN_ENOMEM, "out of memory");
    s->json = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!s->json) {
        rn_avro_schema_free(s);
        return fail(err, errlen, RN_EFORMAT, "schema: invalid JSON: %s",
                    je.text);
    }
    if (!(s->root = compile(&c, s->json, ""))) {
        rn_avro_schema_free(s);
        return RN_EFORMAT;
    }
    for (size_t i = 0; i < s->n_nodes; i++)
        min_size(s->nodes[i], 0);
    *out = s;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Header and codecs                                                   */

static const char *const codec_names[] = {"null", "deflate", "snappy",
                                          "lzma", "xz",   "bzip2"};

const char *rn_avro_codec_name(int codec)
{
    return codec >= 0 && codec <= RN_AVRO_CODEC_BZIP2 ? codec_names[codec]
                                                      : "?";
}

static int mem_eq(const char *p, size_t n, const char *z)
{
    return strlen(z) == n && memcmp(p, z, n) == 0;
}

int rn_avro_codec_from_name(const char *name, size_t len)
{
    if (mem_eq(name, len, "null"))
        return RN_AVRO_CODEC_NULL;
    if (mem_eq(name, len, "deflate"))
        return RN_AVRO_CODEC_DEFLATE;
#ifndef RN_AVRO_NO_SNAPPY
    if (mem_eq(name, len, "snappy"))
        return RN_AVRO_CODEC_SNAPPY;
#endif
#ifndef RN_AVRO_NO_LZMA
    if (mem_eq(name, len, "lzma"))
        return RN_AVRO_CODEC_LZMA;
    if (mem_eq(name, len, "xz"))
        return RN_AVRO_CODEC_XZ;
#endif
#ifndef RN_AVRO_NO_BZIP2
    if (mem_eq(name, len, "bzip2"))
        return RN_AVRO_CODEC_BZIP2;
#endif
    return -1;
}

int rn_avro_read_long(const uint8_t *p, size_t n, size_t *pos, int64_t *out)
{
    uint64_t v = 0;
    size_t i = *pos;
    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t b;
        if (i >= n)
            return 1;
        b = p[i++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pos = i;
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return RN_EFORMAT;
}

int rn_avro_header_parse(const uint8_t *p, size_t n, rn_avro_header *h,
                         char *err, size_t errlen)
{
    size_t pos = 4;
    const uint8_t *schema = NULL, *codec = NULL;
    size_t schema_len = 0, codec_len = 0;
    int64_t count, len;
    int rc;

    memset(h, 0, sizeof(*h));
    if (n < 4)
        return memcmp(p, RN_AVRO_MAGIC, n) ? fail(err, errlen, RN_EFORMAT,
                                                  "byte 0: not an Avro "
                                                  "object container file "
                                                  "(wrong magic)")
                                           : 1;
    if (memcmp(p, RN_AVRO_MAGIC, 4))
        return fail(err, errlen, RN_EFORMAT,
                    "byte 0: not an Avro object container file (wrong "
                    "magic)");
    for (;;) {
        size_t at = pos;
        if ((rc = rn_avro_read_long(p, n, &pos, &count)))
            goto short_or_bad;
        if (count == 0)
            break;
        if (count < 0) {
            if (count == INT64_MIN)
                return fail(err, errlen, RN_EFORMAT,
                            "byte %zu: bad metadata count", at);
            count = -count;
            if ((rc = rn_avro_read_long(p, n, &pos, &len)))
                goto short_or_bad;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t kl, vl;
            const uint8_t *k;
            at = pos;
            if ((rc = rn_avro_read_long(p, n, &pos, &kl)))
                goto short_or_bad;
            if (kl < 0 || (uint64_t)kl > RN_AVRO_MAX_HEADER)
                return fail(err, errlen, RN_EFORMAT,
                            "byte %zu: bad metadata key length", at);
            if ((uint64_t)kl > n - pos)
                return 1;
            k = p + pos;
            pos += (size_t)kl;
            at = pos;
            if ((rc = rn_avro_read_long(p, n, &pos, &vl)))
                goto short_or_bad;
            if (vl < 0 || (uint64_t)vl > RN_AVRO_MAX_HEADER)
                return fail(err, errlen, RN_EFORMAT,
                            "byte %zu: bad metadata value length", at);
            if ((uint64_t)vl > n - pos)
                return 1;
            if (mem_eq((const char *)k, (size_t)kl, "avro.schema")) {
                schema = p + pos;
                schema_len = (size_t)vl;
            } else if (mem_eq((const char *)k, (size_t)kl, "avro.codec")) {
                codec = p + pos;
                codec_len = (size_t)vl;
            }
            pos += (size_t)vl;
        }
    }
    if (n - pos < RN_AVRO_SYNC_LEN)
        return 1;
    memcpy(h->sync, p + pos, RN_AVRO_SYNC_LEN);
    h->len = pos + RN_AVRO_SYNC_LEN;
    h->codec = RN_AVRO_CODEC_NULL;
    if (codec) {
        h->codec = rn_avro_codec_from_name((const char *)codec, codec_len);
        if (h->codec < 0)
            return fail(err, errlen, RN_EFORMAT,
                        "header: codec '%.*s' is not supported (null, "
                        "deflate, snappy, xz, lzma, bzip2 are)",
                        (int)(codec_len > 64 ? 64 : codec_len),
                        (const char *)codec);
    }
    if (!schema)
        return fail(err, errlen, RN_EFORMAT, "header: no avro.schema");
    return rn_avro_schema_parse((const char *)schema, schema_len, &h->schema,
                                err, errlen);
short_or_bad:
    if (rc == 1)
        return 1;
    return fail(err, errlen, RN_EFORMAT, "byte %zu: bad varint", pos);
}

static int grow(uint8_t **buf, size_t *cap, size_t want, char *err,
                size_t errlen)
{
    uint8_t *nb;
    if (want <= *cap)
        return 0;
    if (want > RN_AVRO_MAX_BLOCK)
        return fail(err, errlen, RN_ELIMIT,
                    "a decompressed block larger than %zu MiB",
                    RN_AVRO_MAX_BLOCK >> 20);
    if (!(nb = realloc(*buf, want)))
        return fail(err, errlen, RN_ENOMEM, "out of memory");
    *buf = nb;
    *cap = want;
    return 0;
}

static size_t next_cap(size_t cap, size_t n)
{
    size_t c = cap ? cap : 64 << 10;
    while (c < n * 4 && c < RN_AVRO_MAX_BLOCK)
        c *= 2;
    if (c <= cap)
        c = cap * 2;
    return c > RN_AVRO_MAX_BLOCK ? RN_AVRO_MAX_BLOCK : c;
}

static int inflate_block(const uint8_t *in, size_t n, uint8_t **buf,
                         size_t *cap, size_t *len, char *err, size_t errlen)
{
    z_stream z;
    int zr, rc = 0;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -15) != Z_OK)
        return fail(err, errlen, RN_ENOMEM, "inflateInit failed");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    if ((rc = grow(buf, cap, next_cap(*cap, n), err, errlen)))
        goto done;
    for (;;) {
        z.next_out = *buf + z.total_out;
        z.avail_out = (uInt)(*cap - z.total_out);
        zr = inflate(&z, Z_FINISH);
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_BUF_ERROR && z.avail_out == 0) {
            if (*cap >= RN_AVRO_MAX_BLOCK) {
                rc = fail(err, errlen, RN_ELIMIT,
                          "a decompressed block larger than %zu MiB",
                          RN_AVRO_MAX_BLOCK >> 20);
                goto done;
            }
            if ((rc = grow(buf, cap, next_cap(*cap, 0), err, errlen)))
                goto done;
            continue;
        }
        rc = fail(err, errlen, RN_EFORMAT, "bad deflate data (%s)",
                  z.msg ? z.msg : zr == Z_BUF_ERROR ? "truncated" : "error");
        goto done;
    }
    *len = z.total_out;
done:
    inflateEnd(&z);
    return rc;
}

int rn_avro_block_decompress(int codec, const uint8_t *in, size_t n,
                             uint8_t **buf, size_t *cap,
                             const uint8_t **data, size_t *len, char *err,
                             size_t errlen)
{
    int rc = 0;
    if (n > RN_AVRO_MAX_BLOCK || n > UINT32_MAX)
        return fail(err, errlen, RN_ELIMIT, "a block larger than %zu MiB",
                    RN_AVRO_MAX_BLOCK >> 20);
    switch (codec) {
    case RN_AVRO_CODEC_NULL:
        *data = in;
        *len = n;
        return 0;
    case RN_AVRO_CODEC_DEFLATE:
        if ((rc = inflate_block(in, n, buf, cap, len, err, errlen)))
            return rc;
        break;
#ifndef RN_AVRO_NO_SNAPPY
    case RN_AVRO_CODEC_SNAPPY: {
        size_t ulen;
        uint32_t crc;
        if (n < 4 || snappy_uncompressed_length((const char *)in, n - 4,
                                                &ulen) != SNAPPY_OK)
            return fail(err, errlen, RN_EFORMAT, "bad snappy data");
        if ((rc = grow(buf, cap, ulen ? ulen : 1, err, errlen)))
            return rc;
        *len = ulen;
        if (snappy_uncompress((const char *)in, n - 4, (char *)*buf, len) !=
                SNAPPY_OK ||
            *len != ulen)
            return fail(err, errlen, RN_EFORMAT, "bad snappy data");
        crc = (uint32_t)in[n - 4] << 24 | (uint32_t)in[n - 3] << 16 |
              (uint32_t)in[n - 2] << 8 | in[n - 1];
        if (crc != (uint32_t)crc32(0L, *buf, (uInt)ulen))
            return fail(err, errlen, RN_EFORMAT,
                        "snappy block fails its CRC check");
        break;
    }
#endif
#ifndef RN_AVRO_NO_LZMA
    case RN_AVRO_CODEC_LZMA: {
        /* avro-c writes raw LZMA2 with the default preset's options */
        lzma_options_lzma opt;
        lzma_filter filters[2];
        if (lzma_lzma_preset(&opt, LZMA_PRESET_DEFAULT))
            return fail(err, errlen, RN_EINTERNAL, "lzma preset failed");
        filters[0].id = LZMA_FILTER_LZMA2;
        filters[0].options = &opt;
        filters[1].id = LZMA_VLI_UNKNOWN;
        filters[1].options = NULL;
        if ((rc = grow(buf, cap, next_cap(*cap, n), err, errlen)))
            return rc;
        for (;;) {
            size_t in_pos = 0, out_pos = 0;
            lzma_ret lr = lzma_raw_buffer_decode(filters, NULL, in, &in_pos,
                                                 n, *buf, &out_pos, *cap);
            if (lr == LZMA_OK || lr == LZMA_STREAM_END) {
                *len = out_pos;
                break;
            }
            /* liblzma leaves out_pos alone on failure: a too small
             * buffer and a truncated input look alike, so grow (up to
             * the bound) and try again */
            if (lr == LZMA_BUF_ERROR && *cap < RN_AVRO_MAX_BLOCK) {
                if ((rc = grow(buf, cap, next_cap(*cap, 0), err, errlen)))
                    return rc;
                continue;
            }
            return fail(err, errlen, RN_EFORMAT, "bad lzma data");
        }
        break;
    }
    case RN_AVRO_CODEC_XZ:
        if ((rc = grow(buf, cap, next_cap(*cap, n), err, errlen)))
            return rc;
        for (;;) {
            size_t in_pos = 0, out_pos = 0;
            uint64_t memlimit = (uint64_t)256 << 20;
            lzma_ret lr = lzma_stream_buffer_decode(&memlimit, 0, NULL, in,
                                                    &in_pos, n, *buf,
                                                    &out_pos, *cap);
            if (lr == LZMA_OK || lr == LZMA_STREAM_END) {
                *len = out_pos;
                break;
            }
            /* liblzma leaves out_pos alone on failure: a too small
             * buffer and a truncated input look alike, so grow (up to
             * the bound) and try again */
            if (lr == LZMA_BUF_ERROR && *cap < RN_AVRO_MAX_BLOCK) {
                if ((rc = grow(buf, cap, next_cap(*cap, 0), err, errlen)))
                    return rc;
                continue;
            }
            return fail(err, errlen, RN_EFORMAT, "bad xz data");
        }
        break;
#endif
#ifndef RN_AVRO_NO_BZIP2
    case RN_AVRO_CODEC_BZIP2:
        if ((rc = grow(buf, cap, next_cap(*cap, n), err, errlen)))
            return rc;
        for (;;) {
            unsigned int out = (unsigned int)*cap;
            int br = BZ2_bzBuffToBuffDecompress((char *)*buf, &out,
                                                (char *)(uintptr_t)in,
                                                (unsigned int)n, 0, 0);
            if (br == BZ_OK) {
                *len = out;
                break;
            }
            if (br == BZ_OUTBUFF_FULL && *cap < RN_AVRO_MAX_BLOCK) {
                if ((rc = grow(buf, cap, next_cap(*cap, 0), err, errlen)))
                    return rc;
                continue;
            }
            return fail(err, errlen, RN_EFORMAT, "bad bzip2 data");
        }
        break;
#endif
    default:
        return fail(err, errlen, RN_EFORMAT, "unsupported codec");
    }
    *data = *buf;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Data                                                                */

/* The hot path decodes tens of millions of small values a second per
 * core; the error paths are kept out of its way (cold) so that it stays
 * compact. */
#if defined(__GNUC__)
#define AV_LIKELY(x) __builtin_expect(!!(x), 1)
#define AV_COLD __attribute__((cold, noinline))
#else
#define AV_LIKELY(x) (x)
#define AV_COLD
#endif

/* Values are carved from chunks of AV_CHUNK bytes taken from the
 * caller's allocator: one call per chunk instead of two or three per
 * record (read_avro's allocator is a host call). Under AddressSanitizer
 * every value gets its own allocation, so that a write past one is
 * still caught (the fuzz target). */
#ifndef AV_CHUNK
#if defined(__SANITIZE_ADDRESS__)
#define AV_CHUNK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AV_CHUNK 0
#endif
#endif
#endif
#ifndef AV_CHUNK
#define AV_CHUNK ((size_t)16 << 10)
#endif

typedef struct dec {
    const uint8_t *p;
    size_t n, pos;
    rn_avro_alloc *a;
    uint8_t *mem;       /* the current chunk: mem[0, mem_left) is free */
    size_t mem_left;
    size_t empty_items; /* budget left for zero-byte elements */
    char *err;
    size_t errlen;
    size_t bad;
} dec;

static AV_COLD int dfail(dec *d, const char *what)
{
    d->bad = d->pos;
    return fail(d->err, d->errlen, RN_EFORMAT, "%s", what);
}

static AV_COLD int get_long_slow(dec *d, int64_t *v)
{
    int rc = rn_avro_read_long(d->p, d->n, &d->pos, v);
    if (rc == 1)
        return dfail(d, "data ends inside a number");
    if (rc)
        return dfail(d, "a varint longer than 10 bytes");
    return 0;
}

/* Reads a zig-zag varint exactly as rn_avro_read_long does. When 8
 * bytes can be read and the number ends within them (all but the
 * largest longs), the stop bits give its length and the 7-bit groups
 * are packed in three steps, with no loop and no branch per byte. */
static inline int get_long(dec *d, int64_t *v)
{
    /* one byte: lengths, counts, indexes, small numbers */
    if (AV_LIKELY(d->pos < d->n && d->p[d->pos] < 0x80)) {
        uint64_t x = d->p[d->pos++];
        *v = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
        return 0;
    }
#if defined(__GNUC__)
    if (AV_LIKELY(d->n - d->pos >= 8)) {
        uint64_t w, stop, x;
        unsigned len;
        memcpy(&w, d->p + d->pos, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        stop = ~w & 0x8080808080808080ull;
        if (AV_LIKELY(stop != 0)) {
            len = (unsigned)__builtin_ctzll(stop) / 8 + 1;
            if (len < 8)
                w &= ((uint64_t)1 << (8 * len)) - 1;
            x = w & 0x7f7f7f7f7f7f7f7full;
            x = (x & 0x007f007f007f007full) |
                ((x & 0x7f007f007f007f00ull) >> 1);
            x = (x & 0x00003fff00003fffull) |
                ((x & 0x3fff00003fff0000ull) >> 2);
            x = (x & 0x000000000fffffffull) |
                ((x & 0x0fffffff00000000ull) >> 4);
            d->pos += len;
            *v = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);
            return 0;
        }
    }
#endif
    return get_long_slow(d, v);
}

static AV_COLD void *dalloc_chunk(dec *d, size_t n)
{
    size_t want = AV_CHUNK && n <= AV_CHUNK / 4 ? AV_CHUNK : n;
    uint8_t *p = d->a->fn(d->a->ud, want ? want : 1);
    if (!p) {
        d->bad = d->pos;
        fail(d->err, d->errlen, RN_ENOMEM, "out of memory");
        return NULL;
    }
    if (want > n) { /* the rest of the old chunk is dropped */
        d->mem = p + n;
        d->mem_left = want - n;
    }
    return p;
}

/* Memory for n bytes of values (8-byte aligned), NULL with err set. */
static inline void *dalloc(dec *d, size_t n)
{
    size_t need = (n + 7) & ~(size_t)7;
    if (AV_LIKELY(need <= d->mem_left && need >= n && n > 0)) {
        void *p = d->mem;
        d->mem += need;
        d->mem_left -= need;
        return p;
    }
    return dalloc_chunk(d, need >= n ? need : n);
}

/* Checks that count elements of min size m can still be in the data. */
static int check_count(dec *d, int64_t count, size_t m)
{
    if (count < 0)
        return dfail(d, "a negative count");
    if (m == 0) {
        if ((uint64_t)count > d->empty_items)
            return dfail(d, "too many zero-byte elements");
        d->empty_items -= (size_t)count;
        return 0;
    }
    if ((uint64_t)count > (d->n - d->pos) / m)
        return dfail(d, "a count larger than the data left");
    return 0;
}

/* The types without children. */
#define AV_SCALARS                                                       \
    (1u << AV_NULL | 1u << AV_BOOLEAN | 1u << AV_INT | 1u << AV_LONG |   \
     1u << AV_FLOAT | 1u << AV_DOUBLE | 1u << AV_BYTES |                 \
     1u << AV_STRING | 1u << AV_ENUM | 1u << AV_FIXED)

static inline int is_scalar(const av_node *nd)
{
    return (AV_SCALARS >> nd->type) & 1;
}

/* A datum of a type without children (is_scalar). */
static inline int scalar(dec *d, const av_node *nd, rn_value *out)
{
    int64_t v;
    int rc;

    switch (nd->type) {
    case AV_NULL:
        *out = rn_null();
        return 0;
    case AV_BOOLEAN:
        if (d->pos >= d->n)
            return dfail(d, "data ends inside a boolean");
        if (d->p[d->pos] > 1)
            return dfail(d, "a boolean that is neither 0 nor 1");
        *out = rn_bool(d->p[d->pos++]);
        return 0;
    case AV_INT:
    case AV_LONG:
        if ((rc = get_long(d, &v)))
            return rc;
        if (nd->type == AV_INT && (v < INT32_MIN || v > INT32_MAX))
            return dfail(d, "an int out of range");
        *out = rn_int(v);
        return 0;
    case AV_FLOAT: {
        uint32_t u;
        float f;
        if (d->n - d->pos < 4)
            return dfail(d, "data ends inside a float");
        u = (uint32_t)d->p[d->pos] | (uint32_t)d->p[d->pos + 1] << 8 |
            (uint32_t)d->p[d->pos + 2] << 16 |
            (uint32_t)d->p[d->pos + 3] << 24;
        memcpy(&f, &u, 4);
        d->pos += 4;
        *out = rn_double((double)f);
        return 0;
    }
    case AV_DOUBLE: {
        uint64_t u = 0;
        double x;
        if (d->n - d->pos < 8)
            return dfail(d, "data ends inside a double");
        for (int i = 7; i >= 0; i--)
            u = u << 8 | d->p[d->pos + (size_t)i];
        memcpy(&x, &u, 8);
        d->pos += 8;
        *out = rn_double(x);
        return 0;
    }
    case AV_BYTES:
    case AV_STRING:
        if ((rc = get_long(d, &v)))
            return rc;
        if (v < 0 || (uint64_t)v > d->n - d->pos)
            return dfail(d, "a string or bytes longer than the data left");
        if ((uint64_t)v > UINT32_MAX)
            return dfail(d, "a string or bytes of 4 GiB or more");
        *out = nd->type == AV_STRING
                   ? rn_string((const char *)d->p + d->pos, (size_t)v)
                   : rn_bytes(d->p + d->pos, (size_t)v);
        d->pos += (size_t)v;
        return 0;
    case AV_FIXED:
        if (nd->n > d->n - d->pos)
            return dfail(d, "data ends inside a fixed");
        *out = rn_bytes(d->p + d->pos, nd->n);
        d->pos += nd->n;
        return 0;
    case AV_ENUM:
        if ((rc = get_long(d, &v)))
            return rc;
        if (v < 0 || (uint64_t)v >= nd->n)
            return dfail(d, "an enum index out of range");
        *out = rn_string(nd->names[v].ptr, nd->names[v].len);
        return 0;
    default:
        return dfail(d, "unknown schema node");
    }
}

/* The two most common scalars, in line (scalar() is a call and a jump
 * table): the same checks and results as scalar(). */
static inline int string_or_long(dec *d, const av_node *nd, rn_value *out)
{
    int64_t v;
    int rc;
    if ((rc = get_long(d, &v)))
        return rc;
    if (nd->type == AV_LONG) {
        *out = rn_int(v);
        return 0;
    }
    if (v < 0 || (uint64_t)v > d->n - d->pos)
        return dfail(d, "a string or bytes longer than the data left");
    if ((uint64_t)v > UINT32_MAX)
        return dfail(d, "a string or bytes of 4 GiB or more");
    *out = rn_string((const char *)d->p + d->pos, (size_t)v);
    d->pos += (size_t)v;
    return 0;
}

static int datum(dec *d, const av_node *nd, rn_value *out, int depth);

/* The same as datum(d, nd, out, depth), with scalars and unions of
 * scalars decoded in line (record fields and array items mostly are).
 * Anything at the depth limit goes through datum, which refuses it. */
static inline int child(dec *d, const av_node *nd, rn_value *out, int depth)
{
    if (AV_LIKELY(depth < RN_AVRO_MAX_DEPTH)) {
        if (nd->type == AV_STRING || nd->type == AV_LONG)
            return string_or_long(d, nd, out);
        if (is_scalar(nd))
            return scalar(d, nd, out);
        if (nd->type == AV_UNION) {
            int64_t v;
            int rc;
            if ((rc = get_long(d, &v)))
                return rc;
            if (v < 0 || (uint64_t)v >= nd->n)
                return dfail(d, "a union branch out of range");
            nd = nd->kids[v];
            if (is_scalar(nd))
                return scalar(d, nd, out);
            return datum(d, nd, out, depth + 1);
        }
    }
    return datum(d, nd, out, depth);
}

/* Array and map blocks: count (negative: then a byte size), items. */
static int items(dec *d, const av_node *nd, rn_value *out, int depth)
{
    int is_map = nd->type == AV_MAP;
    const av_node *kid = nd->kids[0];
    size_t m = kid->min_size + (is_map ? 1 : 0);
    size_t n = 0, cap = 0;
    rn_value *vals = NULL;
    rn_field *fields = NULL;
    int rc;

    for (;;) {
        int64_t count, size;
        if ((rc = get_long(d, &count)))
            return rc;
        if (count == 0)
            break;
        if (count < 0) {
            if (count == INT64_MIN)
                return dfail(d, "a bad block count");
            count = -count;
            if ((rc = get_long(d, &size)))
                return rc;
            if (size < 0 || (uint64_t)size > d->n - d->pos)
                return dfail(d, "a block size larger than the data left");
        }
        if ((rc = check_count(d, count, m)))
            return rc;
        if ((uint64_t)count > UINT32_MAX - n)
            return dfail(d, "more than 2^32 elements");
        if (n + (size_t)count > cap) {
            /* arena memory: the old array is dropped with the batch */
            size_t nc = n + (size_t)count;
            if (nc < cap * 2)
                nc = cap * 2;
            if (is_map) {
                rn_field *nf = dalloc(d, nc * sizeof(*nf));
                if (!nf)
                    return RN_ENOMEM;
                if (n)
                    memcpy(nf, fields, n * sizeof(*nf));
                fields = nf;
            } else {
                rn_value *nv = dalloc(d, nc * sizeof(*nv));
                if (!nv)
                    return RN_ENOMEM;
                if (n)
                    memcpy(nv, vals, n * sizeof(*nv));
                vals = nv;
            }
            cap = nc;
        }
        for (int64_t i = 0; i < count; i++, n++) {
            if (is_map) {
                int64_t kl;
                if ((rc = get_long(d, &kl)))
                    return rc;
                if (kl < 0 || (uint64_t)kl > d->n - d->pos)
                    return dfail(d, "a map key longer than the data left");
                fields[n].name = (rn_str){(const char *)d->p + d->pos,
                                          (size_t)kl};
                d->pos += (size_t)kl;
                if ((rc = child(d, kid, &fields[n].value, depth + 1)))
                    return rc;
            } else if ((rc = child(d, kid, &vals[n], depth + 1))) {
                return rc;
            }
        }
    }
    *out = is_map ? rn_record(fields, n) : rn_list(vals, n);
    return 0;
}

static int datum(dec *d, const av_node *nd, rn_value *out, int depth)
{
    int64_t v;
    int rc;

    if (depth > RN_AVRO_MAX_DEPTH)
        return dfail(d, "data nested too deep");
    switch (nd->type) {
    case AV_UNION:
        if ((rc = get_long(d, &v)))
            return rc;
        if (v < 0 || (uint64_t)v >= nd->n)
            return dfail(d, "a union branch out of range");
        return datum(d, nd->kids[v], out, depth + 1);
    case AV_RECORD: {
        rn_field *f;
        if (nd->n == 0) {
            *out = rn_record(NULL, 0);
            return 0;
        }
        if (!(f = dalloc(d, nd->n * sizeof(*f))))
            return RN_ENOMEM;
        for (size_t i = 0; i < nd->n; i++) {
            f[i].name = nd->names[i];
            if ((rc = child(d, nd->kids[i], &f[i].value, depth + 1)))
                return rc;
        }
        *out = rn_record(f, nd->n);
        return 0;
    }
    case AV_ARRAY:
    case AV_MAP:
        return items(d, nd, out, depth);
    default:
        return scalar(d, nd, out);
    }
}

int rn_avro_block_decode(const rn_avro_schema *s, const uint8_t *p, size_t n,
                         int64_t count, rn_avro_alloc *a,
                         int (*emit)(void *ud, const rn_value *v), void *ud,
                         char *err, size_t errlen, size_t *bad)
{
    dec d = {.p = p,
             .n = n,
             .a = a,
             .empty_items = RN_AVRO_MAX_EMPTY_ITEMS,
             .err = err,
             .errlen = errlen};
    int rc = check_count(&d, count, s->root->min_size);
    for (int64_t i = 0; rc == 0 && i < count; i++) {
        rn_value v;
        if ((rc = datum(&d, s->root, &v, 0)))
            break;
        rc = emit(ud, &v);
        if (rc)
            return rc;
    }
    if (rc == 0 && d.pos != n) {
        d.bad = d.pos;
        rc = fail(err, errlen, RN_EFORMAT,
                  "%zu bytes left after the block's %lld records", n - d.pos,
                  (long long)count);
    }
    if (rc && bad)
        *bad = d.bad;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

void rn_avro_buf_release(rn_avro_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(rn_avro_buf *b, size_t n)
{
    size_t cap;
    uint8_t *np;
    if (n <= b->cap - b->len)
        return 0;
    if (n > RN_AVRO_MAX_BLOCK - b->len)
        return RN_ELIMIT;
    cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    if (cap > RN_AVRO_MAX_BLOCK)
        cap = RN_AVRO_MAX_BLOCK;
    if (!(np = realloc(b->p, cap)))
        return RN_ENOMEM;
    b->p = np;
    b->cap = cap;
    return 0;
}

static int buf_put(rn_avro_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int rn_avro_put_long(rn_avro_buf *b, int64_t v)
{
    uint8_t tmp[10];
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        tmp[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    tmp[n++] = (uint8_t)z;
    return buf_put(b, tmp, n);
}

static int put_str(rn_avro_buf *b, const void *p, size_t n)
{
    int rc = rn_avro_put_long(b, (int64_t)n);
    return rc ? rc : buf_put(b, p, n);
}

int rn_avro_header_write(rn_avro_buf *b, const char *schema_json,
                         size_t len, int codec,
                         const uint8_t sync[RN_AVRO_SYNC_LEN])
{
    const char *cn = rn_avro_codec_name(codec);
    int rc;
    if ((rc = buf_put(b, RN_AVRO_MAGIC, 4)) ||
        (rc = rn_avro_put_long(b, 2)) ||
        (rc = put_str(b, "avro.schema", 11)) ||
        (rc = put_str(b, schema_json, len)) ||
        (rc = put_str(b, "avro.codec", 10)) ||
        (rc = put_str(b, cn, strlen(cn))) || (rc = rn_avro_put_long(b, 0)))
        return rc;
    return buf_put(b, sync, RN_AVRO_SYNC_LEN);
}

static const char *const type_names[] = {
    "null", "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record", "enum", "array", "map",  "union",  "fixed"};

typedef struct enc {
    rn_avro_buf *b;
    char path[512]; /* where in the value we are, for errors */
    size_t plen;
    char *err;
    size_t errlen;
} enc;

static int efail(enc *e, const av_node *nd, const rn_value *v,
                 const char *why)
{
    return fail(e->err, e->errlen, RN_ETYPE, "field '%s': expected %s%s%s, "
                "got %s",
                e->plen ? e->path : "(top)",
                nd->name ? nd->name : type_names[nd->type],
                why ? " " : "", why ? why : "", rn_kind_name(v->kind));
}

/* Appends ".name" or "[i]" to the path; returns the length to restore. */
static size_t path_push(enc *e, const char *name, size_t nlen, long idx)
{
    size_t old = e->plen;
    int n;
    if (name)
        n = snprintf(e->path + e->plen, sizeof(e->path) - e->plen, "%s%.*s",
                     e->plen ? "." : "", (int)nlen, name);
    else
        n = snprintf(e->path + e->plen, sizeof(e->path) - e->plen, "[%ld]",
                     idx);
    if (n > 0)
        e->plen = e->plen + (size_t)n < sizeof(e->path)
                      ? e->plen + (size_t)n
                      : sizeof(e->path) - 1;
    return old;
}

static void path_pop(enc *e, size_t old)
{
    e->plen = old;
    e->path[old] = '\0';
}

/* How well v fits nd, for picking a union branch: 2 exactly, 1 with a
 * conversion, 0 not. */
static int fits(const av_node *nd, const rn_value *v)
{
    switch (nd->type) {
    case AV_NULL:
        return v->kind == RN_NULL ? 2 : 0;
    case AV_BOOLEAN:
        return v->kind == RN_BOOL ? 2 : 0;
    case AV_INT:
        return v->kind == RN_INT && v->u.i >= INT32_MIN && v->u.i <= INT32_MAX
                   ? 2
                   : 0;
    case AV_LONG:
        return v->kind == RN_INT ? 2 : 0;
    case AV_FLOAT:
    case AV_DOUBLE:
        return v->kind == RN_DOUBLE ? 2 : v->kind == RN_INT ? 1 : 0;
    case AV_STRING:
        return v->kind == RN_STRING ? 2 : 0;
    case AV_BYTES:
        return v->kind == RN_BYTES ? 2 : v->kind == RN_STRING ? 1 : 0;
    case AV_FIXED:
        return (v->kind == RN_BYTES || v->kind == RN_STRING) &&
                       v->len == nd->n
                   ? 1
                   : 0;
    case AV_ENUM:
        if (v->kind == RN_STRING)
            for (size_t i = 0; i < nd->n; i++)
                if (nd->names[i].len == v->len &&
                    !memcmp(nd->names[i].ptr, v->u.s, v->len))
                    return 1;
        return 0;
    case AV_RECORD:
    case AV_MAP:
        return v->kind == RN_RECORD ? 1 : 0;
    case AV_ARRAY:
        return v->kind == RN_LIST ? 1 : 0;
    default:
        return 0;
    }
}

static const rn_value *find_field(const rn_value *v, rn_str name, size_t hint)
{
    if (hint < v->len && v->u.fields[hint].name.len == name.len &&
        !memcmp(v->u.fields[hint].name.ptr, name.ptr, name.len))
        return &v->u.fields[hint].value;
    for (uint32_t i = 0; i < v->len; i++)
        if (v->u.fields[i].name.len == name.len &&
            !memcmp(v->u.fields[i].name.ptr, name.ptr, name.len))
            return &v->u.fields[i].value;
    return NULL;
}

static int encode(enc *e, const av_node *nd, const rn_value *v, int depth)
{
    rn_avro_buf *b = e->b;
    int rc = 0;

    if (depth > RN_AVRO_MAX_DEPTH)
        return fail(e->err, e->errlen, RN_ETYPE, "field '%s': nested too deep",
                    e->path);
    switch (nd->type) {
    case AV_NULL:
        return v->kind == RN_NULL ? 0 : efail(e, nd, v, NULL);
    case AV_BOOLEAN: {
        uint8_t c = (uint8_t)(v->u.i != 0);
        return v->kind == RN_BOOL ? buf_put(b, &c, 1) : efail(e, nd, v, NULL);
    }
    case AV_INT:
        if (v->kind == RN_INT && (v->u.i < INT32_MIN || v->u.i > INT32_MAX))
            return efail(e, nd, v, "(32 bits), a value out of range");
        /* fallthrough */
    case AV_LONG:
        return v->kind == RN_INT ? rn_avro_put_long(b, v->u.i)
                                 : efail(e, nd, v, NULL);
    case AV_FLOAT: {
        float f;
        uint32_t u;
        uint8_t o[4];
        if (v->kind != RN_DOUBLE && v->kind != RN_INT)
            return efail(e, nd, v, NULL);
        f = (float)rn_value_as_double(v, NULL);
        memcpy(&u, &f, 4);
        for (int i = 0; i < 4; i++)
            o[i] = (uint8_t)(u >> (8 * i));
        return buf_put(b, o, 4);
    }
    case AV_DOUBLE: {
        double d;
        uint64_t u;
        uint8_t o[8];
        if (v->kind != RN_DOUBLE && v->kind != RN_INT)
            return efail(e, nd, v, NULL);
        d = rn_value_as_double(v, NULL);
        memcpy(&u, &d, 8);
        for (int i = 0; i < 8; i++)
            o[i] = (uint8_t)(u >> (8 * i));
        return buf_put(b, o, 8);
    }
    case AV_STRING:
        return v->kind == RN_STRING ? put_str(b, v->u.s, v->len)
                                    : efail(e, nd, v, NULL);
    case AV_BYTES:
        return v->kind == RN_BYTES || v->kind == RN_STRING
                   ? put_str(b, v->u.s, v->len)
                   : efail(e, nd, v, NULL);
    case AV_FIXED:
        if (!fits(nd, v))
            return efail(e, nd, v, "(fixed size)");
        return buf_put(b, v->u.bytes, v->len);
    case AV_ENUM:
        for (size_t i = 0; v->kind == RN_STRING && i < nd->n; i++)
            if (nd->names[i].len == v->len &&
                !memcmp(nd->names[i].ptr, v->u.s, v->len))
                return rn_avro_put_long(b, (int64_t)i);
        return efail(e, nd, v, "(one of its symbols)");
    case AV_UNION: {
        size_t best = nd->n;
        int score = 0;
        for (size_t i = 0; i < nd->n && score < 2; i++) {
            int f = fits(nd->kids[i], v);
            if (f > score) {
                score = f;
                best = i;
            }
        }
        if (best == nd->n)
            return fail(e->err, e->errlen, RN_ETYPE,
                        "field '%s': %s fits no branch of the union",
                        e->plen ? e->path : "(top)", rn_kind_name(v->kind));
        if ((rc = rn_avro_put_long(b, (int64_t)best)))
            return rc;
        return encode(e, nd->kids[best], v, depth + 1);
    }
    case AV_RECORD:
        if (v->kind != RN_RECORD)
            return efail(e, nd, v, NULL);
        for (size_t i = 0; i < nd->n; i++) {
            const rn_value *f = find_field(v, nd->names[i], i);
            rn_value null = rn_null();
            size_t old = path_push(e, nd->names[i].ptr, nd->names[i].len, 0);
            if (!f) {
                const av_node *k = nd->kids[i];
                int nullable = k->type == AV_NULL;
                for (size_t j = 0; k->type == AV_UNION && j < k->n; j++)
                    nullable |= k->kids[j]->type == AV_NULL;
                if (!nullable)
                    return fail(e->err, e->errlen, RN_ETYPE,
                                "field '%s': missing (and not nullable)",
                                e->path);
                f = &null;
            }
            if ((rc = encode(e, nd->kids[i], f, depth + 1)))
                return rc;
            path_pop(e, old);
        }
        return 0;
    case AV_ARRAY:
    case AV_MAP:
        if (v->kind != (nd->type == AV_ARRAY ? RN_LIST : RN_RECORD))
            return efail(e, nd, v, NULL);
        if (v->len) {
            if ((rc = rn_avro_put_long(b, (int64_t)v->len)))
                return rc;
            for (uint32_t i = 0; i < v->len; i++) {
                size_t old;
                const rn_value *x;
                if (nd->type == AV_MAP) {
                    const rn_field *f = &v->u.fields[i];
                    if ((rc = put_str(b, f->name.ptr, f->name.len)))
                        return rc;
                    old = path_push(e, f->name.ptr, f->name.len, 0);
                    x = &f->value;
                } else {
                    old = path_push(e, NULL, 0, (long)i);
                    x = &v->u.items[i];
                }
                if ((rc = encode(e, nd->kids[0], x, depth + 1)))
                    return rc;
                path_pop(e, old);
            }
        }
        return rn_avro_put_long(b, 0);
    default:
        return efail(e, nd, v, NULL);
    }
}

int rn_avro_encode(const rn_avro_schema *s, const rn_value *v,
                   rn_avro_buf *b, char *err, size_t errlen)
{
    enc e;
    int rc;
    e.b = b;
    e.path[0] = '\0';
    e.plen = 0;
    e.err = err;
    e.errlen = errlen;
    rc = encode(&e, s->root, v, 0);
    if (rc == RN_ENOMEM)
        return fail(err, errlen, rc, "out of memory");
    if (rc == RN_ELIMIT)
        return fail(err, errlen, rc, "a block larger than %zu MiB",
                    RN_AVRO_MAX_BLOCK >> 20);
    return rc;
}

int rn_avro_block_compress(int codec, const uint8_t *in, size_t n,
                           rn_avro_buf *out, char *err, size_t errlen)
{
    int rc;
    out->len = 0;
    switch (codec) {
    case RN_AVRO_CODEC_NULL:
        rc = buf_put(out, in, n);
        break;
    case RN_AVRO_CODEC_DEFLATE: {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            return fail(err, errlen, RN_ENOMEM, "deflateInit failed");
        if ((rc = buf_reserve(out, deflateBound(&z, (uLong)n)))) {
            deflateEnd(&z);
            break;
        }
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)n;
        z.next_out = out->p;
        z.avail_out = (uInt)out->cap;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : RN_EINTERNAL;
        out->len = z.total_out;
        deflateEnd(&z);
        break;
    }
#ifndef RN_AVRO_NO_SNAPPY
    case RN_AVRO_CODEC_SNAPPY: {
        size_t clen = snappy_max_compressed_length(n);
        uint32_t crc = (uint32_t)crc32(0L, in, (uInt)n);
        if ((rc = buf_reserve(out, clen + 4)))
            break;
        if (snappy_compress((const char *)in, n, (char *)out->p, &clen) !=
            SNAPPY_OK) {
            rc = RN_EINTERNAL;
            break;
        }
        out->p[clen] = (uint8_t)(crc >> 24);
        out->p[clen + 1] = (uint8_t)(crc >> 16);
        out->p[clen + 2] = (uint8_t)(crc >> 8);
        out->p[clen + 3] = (uint8_t)crc;
        out->len = clen + 4;
        break;
    }
#endif
#ifndef RN_AVRO_NO_LZMA
    case RN_AVRO_CODEC_LZMA:
    case RN_AVRO_CODEC_XZ: {
        lzma_options_lzma opt;
        lzma_filter filters[2];
        size_t pos = 0, bound = lzma_stream_buffer_bound(n);
        lzma_ret lr;
        if ((rc = buf_reserve(out, bound)))
            break;
        if (codec == RN_AVRO_CODEC_XZ) {
            lr = lzma_easy_buffer_encode(LZMA_PRESET_DEFAULT, LZMA_CHECK_CRC32,
                                         NULL, in, n, out->p, &pos,
                                         out->cap);
        } else {
            lzma_lzma_preset(&opt, LZMA_PRESET_DEFAULT);
            filters[0].id = LZMA_FILTER_LZMA2;
            filters[0].options = &opt;
            filters[1].id = LZMA_VLI_UNKNOWN;
            filters[1].options = NULL;
            lr = lzma_raw_buffer_encode(filters, NULL, in, n, out->p, &pos,
                                        out->cap);
        }
        rc = lr == LZMA_OK ? 0 : RN_EINTERNAL;
        out->len = pos;
        break;
    }
#endif
#ifndef RN_AVRO_NO_BZIP2
    case RN_AVRO_CODEC_BZIP2: {
        size_t bound = n + n / 100 + 601;
        unsigned int clen;
        if ((rc = buf_reserve(out, bound)))
            break;
        clen = (unsigned int)out->cap;
        rc = BZ2_bzBuffToBuffCompress((char *)out->p, &clen,
                                      (char *)(uintptr_t)in, (unsigned int)n,
                                      9, 0, 0) == BZ_OK
                 ? 0
                 : RN_EINTERNAL;
        out->len = clen;
        break;
    }
#endif
    default:
        return fail(err, errlen, RN_EINVAL, "unsupported codec");
    }
    if (rc)
        return fail(err, errlen, rc, "%s: compressing a block failed",
                    rn_avro_codec_name(codec));
    return 0;
}
