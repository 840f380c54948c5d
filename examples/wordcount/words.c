/*
 * words: the word-count example's plugin.
 *
 *   words.split  flat_map  a line -> its words
 *
 * Splits on ASCII whitespace in one pass over the bytes. Words view the
 * input line (no copy) unless `lower` is set and the word holds an
 * upper-case letter: only then is it copied, lower-cased, into scratch
 * memory. The engine's frequencies fold does the counting.
 */
#include <stdint.h>

#include <runnel/runnel.h>

enum { C_WORD = 0, C_SPACE = 1, C_UPPER = 2 };

static unsigned char cls[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++)
        cls[c] = C_WORD;
    cls[' '] = cls['\t'] = cls['\n'] = cls['\r'] = cls['\v'] = cls['\f'] = C_SPACE;
    for (int c = 'A'; c <= 'Z'; c++)
        cls[c] = C_UPPER;
}

typedef struct split_state {
    int lower;
} split_state;

static const rn_param_spec split_params[] = {
    {.name = "lower", .type = RN_PT_BOOL, .def = "false",
     .help = "lower-case ASCII letters"},
};

static int split_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    split_state *st = rn_alloc_keep(ctx, sizeof(*st));
    if (!st)
        return RN_ENOMEM;
    st->lower = rn_param_bool(params, "lower", 0);
    init_classes(); /* idempotent: racing writers store equal bytes */
    *state = st;
    return 0;
}

static int emit_word(rn_ctx *ctx, const char *w, size_t n, int upper)
{
    rn_value v;
    if (upper) {
        char *p = rn_alloc(ctx, n);
        if (!p)
            return RN_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)w[i];
            p[i] = (char)(cls[c] == C_UPPER ? c + 32 : c);
        }
        w = p;
    }
    v = rn_string(w, n);
    return rn_emit(ctx, &v);
}

static int split_flat_map(void *state, rn_ctx *ctx, const rn_value *in)
{
    const split_state *st = state;
    const unsigned char *p, *end, *start;
    int rc;

    if (in->kind != RN_STRING)
        return rn_error(ctx, RN_ETYPE, "expected a string, got %s",
                        rn_kind_name(in->kind));
    p = (const unsigned char *)in->u.s;
    end = p + in->len;
    while (p < end) {
        unsigned any_upper = 0;
        while (p < end && cls[*p] == C_SPACE)
            p++;
        if (p == end)
            break;
        start = p;
        while (p < end && cls[*p] != C_SPACE)
            any_upper |= cls[*p++];
        if ((rc = emit_word(ctx, (const char *)start, (size_t)(p - start),
                            st->lower && any_upper)))
            return rc;
    }
    return 0;
}

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_FLAT_MAP, "split", "split a line into words"),
     RN_OP_PARAMS(split_params), .init = split_init,
     .flat_map = split_flat_map},
};

RN_PLUGIN_DEFINE("words", "1.0.0", "word-count example operators", ops)
