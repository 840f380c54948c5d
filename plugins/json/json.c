/*
 * Shipped plugin "json": JSON in and out, and picking things out of the
 * values it makes.
 *
 *   json_parse  map       string -> value. Objects become records (keys in
 *                         document order; a repeated key keeps its first
 *                         position and its last value), integers that fit
 *                         int64 become ints, other numbers doubles. Invalid
 *                         JSON (binary garbage included) fails the task with
 *                         jansson's reason and an escaped excerpt.
 *   json_dump   map       value -> one line of JSON (the engine's encoder:
 *                         bytes become "base64:..." strings).
 *   pluck       map       key: a key path (runnel/keypath.h: a record
 *                         field, a list index, negative from the end, or
 *                         a path "a.b[0]"), or a list of key paths: a
 *                         list of picks (there an item that is a list is
 *                         a path in list form); default (any), strict
 *                         (bool).
 *   flatten     flat_map  emits the items of a list.
 *
 * json_parse accepts RN_STRING and RN_BYTES; the other operators accept
 * what their description says and fail with RN_ETYPE otherwise.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <runnel/runnel.h>

/* Nesting the engine accepts anywhere (its RN_VALUE_MAX_DEPTH): deeper
 * documents are refused here rather than later, with a clearer message. */
#define JSON_MAX_DEPTH 64

/* Bytes of input quoted in an error message. */
#define EXCERPT_MAX 40

/* Writes up to max bytes of p as a C-style escaped string into out (which
 * holds at least 4 * max + 4 bytes), "..." when cut: error messages must
 * stay printable whatever the input held. */
static void escape(char *out, const char *p, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, m = n < max ? n : max;

    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else if (c == '\t') {
            out[k++] = '\\';
            out[k++] = 't';
        } else if (c == '\r') {
            out[k++] = '\\';
            out[k++] = 'r';
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

/* ---- json_parse ----------------------------------------------------- */

static int from_json(rn_ctx *ctx, const json_t *j, rn_value *out, int depth);

static int copy_str(rn_ctx *ctx, const char *s, size_t n, rn_str *out)
{
    char *p = NULL;
    if (n) {
        p = rn_alloc(ctx, n);
        if (!p)
            return RN_ENOMEM;
        memcpy(p, s, n);
    }
    out->ptr = p ? p : "";
    out->len = n;
    return 0;
}

static int from_object(rn_ctx *ctx, const json_t *j, rn_value *out,
                       int depth)
{
    size_t n = json_object_size(j), i = 0;
    rn_field *fields = NULL;
    void *it;

    if (n > UINT32_MAX)
        return rn_error(ctx, RN_ELIMIT, "JSON object has too many keys");
    if (n) {
        fields = rn_alloc(ctx, n * sizeof *fields);
        if (!fields)
            return RN_ENOMEM;
    }
    for (it = json_object_iter((json_t *)j); it && i < n;
         it = json_object_iter_next((json_t *)j, it), i++) {
        const char *key = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
        size_t klen = json_object_iter_key_len(it);
#else
        size_t klen = strlen(key);
#endif
        int rc = copy_str(ctx, key, klen, &fields[i].name);
        if (rc < 0)
            return rc;
        rc = from_json(ctx, json_object_iter_value(it), &fields[i].value,
                       depth + 1);
        if (rc < 0)
            return rc;
    }
    *out = rn_record(fields, i);
    return 0;
}

static int from_json(rn_ctx *ctx, const json_t *j, rn_value *out, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return rn_error(ctx, RN_ELIMIT, "JSON nested deeper than %d levels",
                        JSON_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return from_object(ctx, j, out, depth);
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        rn_value *items = NULL;
        if (n > UINT32_MAX)
            return rn_error(ctx, RN_ELIMIT, "JSON array is too long");
        if (n) {
            items = rn_alloc(ctx, n * sizeof *items);
            if (!items)
                return RN_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            int rc = from_json(ctx, json_array_get(j, i), &items[i],
                               depth + 1);
            if (rc < 0)
                return rc;
        }
        *out = rn_list(items, n);
        return 0;
    }
    case JSON_STRING: {
        rn_str s;
        size_t n = json_string_length(j);
        int rc;
        if (n > UINT32_MAX)
            return rn_error(ctx, RN_ELIMIT, "JSON string is too long");
        rc = copy_str(ctx, json_string_value(j), n, &s);
        if (rc < 0)
            return rc;
        *out = rn_string(s.ptr, s.len);
        return 0;
    }
    case JSON_INTEGER:
        *out = rn_int((int64_t)json_integer_value(j));
        return 0;
    case JSON_REAL:
        *out = rn_double(json_real_value(j));
        return 0;
    case JSON_TRUE:
        *out = rn_bool(1);
        return 0;
    case JSON_FALSE:
        *out = rn_bool(0);
        return 0;
    case JSON_NULL:
    default:
        *out = rn_null();
        return 0;
    }
}

static int json_parse_map(void *state, rn_ctx *ctx, const rn_value *in,
                          rn_value *out)
{
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    json_error_t jerr;
    json_t *j = NULL;
    int rc;

    if (in->kind != RN_STRING && in->kind != RN_BYTES)
        return rn_error(ctx, RN_ETYPE, "expected a string, got %s",
                        rn_kind_name(in->kind));
    j = json_loadb(in->len ? in->u.s : "", in->len, flags, &jerr);
    if (!j && json_error_code(&jerr) == json_error_numeric_overflow) {
        /* an integer beyond int64: read that document's numbers as
         * doubles rather than fail (JSON itself has no integer limit) */
        j = json_loadb(in->u.s, in->len, flags | JSON_DECODE_INT_AS_REAL,
                       &jerr);
    }
    if (!j) {
        char ex[4 * EXCERPT_MAX + 4];
        char why[4 * sizeof jerr.text + 4];
        escape(ex, in->u.s, in->len, EXCERPT_MAX);
        /* jansson quotes the offending token raw */
        escape(why, jerr.text, strnlen(jerr.text, sizeof jerr.text - 1),
               sizeof jerr.text);
        return rn_error(ctx, RN_EFORMAT,
                        "invalid JSON: %s (line %d, column %d) in \"%s\"",
                        why, jerr.line, jerr.column, ex);
    }
    rc = from_json(ctx, j, out, 0);
    json_decref(j);
    return rc;
}

/* ---- json_dump ------------------------------------------------------ */

static int json_dump_map(void *state, rn_ctx *ctx, const rn_value *in,
                         rn_value *out)
{
    rn_str s;
    int rc = rn_to_json(ctx, in, &s);
    if (rc < 0)
        return rc;
    *out = rn_string(s.ptr, s.len);
    return 0;
}

/* ---- pluck ---------------------------------------------------------- */

/* The keys are key paths (runnel/keypath.h), parsed at init. A list of
 * them picks several: one key path per item (a nested list is a path in
 * its list form). */
typedef struct pluck_state {
    rn_keypath **keys;
    uint32_t n;
    int many; /* key was a list: emit a list of picks */
    rn_value def;
    int has_default;
} pluck_state;

static const rn_param_spec pluck_params[] = {
    {.name = "key", .type = RN_PT_ANY, .flags = RN_PF_REQUIRED,
     .help = "record field (string), list index (int, negative from the "
             "end), a path (\"a.b[0]\"), or a list of those to pick "
             "several (an item that is itself a list is a path: [[a, 0]])"},
    {.name = "default", .type = RN_PT_ANY, .def = NULL,
     .help = "value for elements lacking the key; null = none (fail)"},
    {.name = "strict", .type = RN_PT_BOOL, .def = "true",
     .help = "without a default, fail on a missing key; false yields null"},
};

static int pluck_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    const rn_value *key = rn_record_get(params, "key");
    const rn_value *def = rn_record_get(params, "default");
    pluck_state *st = NULL;
    int rc;

    if (!key || !(key->kind == RN_STRING || key->kind == RN_INT ||
                  (key->kind == RN_LIST && key->len > 0)))
        return rn_error(ctx, RN_EINVAL,
                        "key must be a string, an int or a non-empty list "
                        "of those, got %s",
                        key ? rn_kind_name(key->kind) : "nothing");
    /* the state and the paths live as long as the plan (init's keep
     * memory): nothing to free in destroy */
    st = rn_alloc_keep(ctx, sizeof *st);
    if (!st)
        return RN_ENOMEM;
    memset(st, 0, sizeof *st);
    st->many = key->kind == RN_LIST;
    st->n = st->many ? key->len : 1;
    st->keys = rn_alloc_keep(ctx, st->n * sizeof *st->keys);
    if (!st->keys)
        return RN_ENOMEM;
    for (uint32_t i = 0; i < st->n; i++) {
        const rn_value *k = st->many ? &key->u.items[i] : key;
        if (k->kind != RN_STRING && k->kind != RN_INT && k->kind != RN_LIST)
            return rn_error(ctx, RN_EINVAL,
                            "key list item %u must be a string, an int or "
                            "a list (a path), got %s",
                            (unsigned)i, rn_kind_name(k->kind));
        if ((rc = rn_keypath_parse(ctx, k, "key", &st->keys[i])) < 0)
            return rc;
    }
    st->def = def ? *def : rn_null();
    /* the engine gives an absent optional parameter as null, so "default:
     * null" and no default look alike: strict: false asks for nulls */
    st->has_default = st->def.kind != RN_NULL ||
                      !rn_param_bool(params, "strict", 1);
    *state = st;
    return 0;
}

static int pluck_one(const pluck_state *st, rn_ctx *ctx, const rn_value *in,
                     const rn_keypath *k, rn_value *out)
{
    const rn_value *v = rn_keypath_get(k, in);
    if (v) {
        *out = *v;
        return 0;
    }
    if (st->has_default) {
        *out = st->def;
        return 0;
    }
    return rn_keypath_error(ctx, k, in, NULL);
}

static int pluck_map(void *state, rn_ctx *ctx, const rn_value *in,
                     rn_value *out)
{
    const pluck_state *st = state;
    rn_value *items;

    if (!st->many)
        return pluck_one(st, ctx, in, st->keys[0], out);
    items = rn_alloc(ctx, st->n * sizeof *items);
    if (!items)
        return RN_ENOMEM;
    for (uint32_t i = 0; i < st->n; i++) {
        int rc = pluck_one(st, ctx, in, st->keys[i], &items[i]);
        if (rc < 0)
            return rc;
    }
    *out = rn_list(items, st->n);
    return 0;
}

/* ---- flatten -------------------------------------------------------- */

static int flatten_flat_map(void *state, rn_ctx *ctx, const rn_value *in)
{
    if (in->kind != RN_LIST)
        return rn_error(ctx, RN_ETYPE, "expected a list, got %s",
                        rn_kind_name(in->kind));
    for (uint32_t i = 0; i < in->len; i++) {
        int rc = rn_emit(ctx, &in->u.items[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- descriptor ----------------------------------------------------- */

static const rn_op_desc json_ops[] = {
    {RN_OP_HEAD(RN_OP_MAP, "json_parse", "parse a JSON string into a value"),
     .map = json_parse_map},
    {RN_OP_HEAD(RN_OP_MAP, "json_dump", "write a value as one line of JSON"),
     .map = json_dump_map},
    {RN_OP_HEAD(RN_OP_MAP, "pluck",
                "pick a record field or list item from every element"),
     RN_OP_PARAMS(pluck_params), .init = pluck_init, .map = pluck_map},
    {RN_OP_HEAD(RN_OP_FLAT_MAP, "flatten", "emit the items of each list"),
     .flat_map = flatten_flat_map},
};

RN_PLUGIN_DEFINE("json", "1.0.0",
                 "JSON operators: json_parse, json_dump, pluck, flatten",
                 json_ops)
