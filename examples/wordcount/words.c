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
#include <string.h>

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

/* Eight bytes at a time (SWAR): for ASCII bytes, the high bit of each byte
 * of `sep` says "below 0x21" (a whitespace candidate, checked exactly with
 * the class table) and of `up` says "in A..Z". Bytes >= 0x80 are neither.
 * Masking with 0x7f first keeps additions from carrying between bytes. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define LOW7 0x7f7f7f7f7f7f7f7full

static inline uint64_t sep_mask(uint64_t x)
{
    return ~((x & LOW7) + (0x80 - 0x21) * ONES) & ~x & HIGHS;
}

static inline uint64_t upper_mask(uint64_t x)
{
    uint64_t y = x & LOW7;
    return (y + (0x80 - 'A') * ONES) & ~(y + (0x80 - 'Z' - 1) * ONES) & ~x &
           HIGHS;
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
    for (;;) {
        uint64_t any_upper = 0;
        while (p < end && cls[*p] == C_SPACE)
            p++;
        if (p == end)
            break;
        start = p;
        /* find the word's end, 8 bytes at a time */
        while (end - p >= 8) {
            uint64_t x, m;
            memcpy(&x, p, 8);
            if (st->lower)
                any_upper |= upper_mask(x); /* may see past the word: a
                                              false positive only copies */
            m = sep_mask(x);
            while (m) {
                const unsigned char *q = p + (__builtin_ctzll(m) >> 3);
                if (cls[*q] == C_SPACE) {
                    p = q;
                    goto word_end;
                }
                m &= m - 1; /* a control byte that is not whitespace */
            }
            p += 8;
        }
        while (p < end && cls[*p] != C_SPACE)
            any_upper |= cls[*p++] == C_UPPER;
    word_end:
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
