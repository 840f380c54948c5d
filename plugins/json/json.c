/*
 * Shipped plugin "json": JSON in and out, and picking things out of the
 * values it makes.
 *
 *   json_parse  map       string -> value, through the engine's decoder
 *                         (rn_from_json). Objects become records (keys in
 *                         document order; a repeated key keeps its first
 *                         position and its last value), integers that fit
 *                         int64 become ints, other numbers doubles; an
 *                         integer beyond int64 makes that document's
 *                         integers doubles. Invalid JSON (binary garbage
 *                         included) fails the task with the reason, the
 *                         byte offset and an escaped excerpt.
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
#include <string.h>

#include <runnel/runnel.h>

/* ---- json_parse ----------------------------------------------------- */

static int json_parse_map(void *state, rn_ctx *ctx, const rn_value *in,
                          rn_value *out)
{
    if (in->kind != RN_STRING && in->kind != RN_BYTES)
        return rn_error(ctx, RN_ETYPE, "expected a string, got %s",
                        rn_kind_name(in->kind));
    /* the engine's decoder (core/value/jsondec.c). A map's output may
     * view its input: strings without escapes are not copied. */
    return rn_from_json(ctx, in->u.s, in->len,
                        RN_JSON_VIEW | RN_JSON_DOC_REAL, out);
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
