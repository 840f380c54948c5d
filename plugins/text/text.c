/*
 * Shipped plugin "text": operators over strings (lines of text).
 *
 *   split  flat_map  sep (string, default null = runs of ASCII whitespace),
 *                    lower (bool): emits every non-empty token
 *   lower  map       ASCII lower-casing
 *   strip  map       chars (string, default null = ASCII whitespace):
 *                    removes those bytes from both ends
 *   grep   filter    pattern (string, required), regex (bool: POSIX ERE),
 *                    invert (bool): keeps the strings that match
 *
 * Every operator takes RN_STRING elements only; any other kind (null
 * included) fails the task with RN_ETYPE. Bytes are bytes: "ASCII" means
 * that UTF-8 sequences pass through untouched.
 *
 * split is on the hot path of word count, so it is a plain byte loop over
 * a class table, and its tokens view the input (zero copy). With lower
 * set, the whole string is lower-cased once into scratch memory and the
 * tokens view that copy instead.
 */
#define _GNU_SOURCE /* memmem */

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <runnel/runnel.h>

/* ASCII whitespace, as C's isspace() in the "C" locale. */
static const unsigned char ws_class[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static inline unsigned char ascii_lower(unsigned char c)
{
    /* branch-free so that the lower-casing loops vectorize */
    return (unsigned char)(c + (((unsigned)(c - 'A') < 26u) << 5));
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    for (size_t i = 0; i < n; i++)
        d[i] = ascii_lower(s[i]);
}

static int want_string(rn_ctx *ctx, const rn_value *in)
{
    if (in->kind == RN_STRING)
        return 0;
    return rn_error(ctx, RN_ETYPE, "expected a string, got %s",
                    rn_kind_name(in->kind));
}

/* ---- split ---------------------------------------------------------- */

typedef struct split_state {
    rn_str sep; /* {NULL, 0}: whitespace runs */
    int lower;
} split_state;

static const rn_param_spec split_params[] = {
    {.name = "sep", .type = RN_PT_STRING, .def = NULL,
     .help = "separator string; null splits on runs of ASCII whitespace"},
    {.name = "lower", .type = RN_PT_BOOL, .def = "false",
     .help = "lower-case (ASCII) the tokens"},
};

static int split_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    split_state *st;
    const rn_value *sep = rn_record_get(params, "sep");

    if (sep && sep->kind == RN_STRING && sep->len == 0)
        return rn_error(ctx, RN_EINVAL, "sep must not be empty "
                                        "(use null to split on whitespace)");
    st = calloc(1, sizeof *st);
    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    if (sep && sep->kind == RN_STRING)
        st->sep = rn_value_str(sep);
    st->lower = rn_param_bool(params, "lower", 0);
    *state = st;
    return 0;
}

static void split_destroy(void *state)
{
    free(state);
}

static int split_ws(rn_ctx *ctx, const char *src, const char *base,
                    size_t n)
{
    const unsigned char *p = (const unsigned char *)src;
    const unsigned char *end = p + n;

    for (;;) {
        const unsigned char *tok;
        rn_value v;
        int rc;

        while (p < end && ws_class[*p])
            p++;
        if (p == end)
            return 0;
        tok = p;
        while (p < end && !ws_class[*p])
            p++;
        v = rn_string(base + (tok - (const unsigned char *)src),
                      (size_t)(p - tok));
        if ((rc = rn_emit(ctx, &v)) < 0)
            return rc;
    }
}

static int split_sep(rn_ctx *ctx, rn_str sep, const char *src,
                     const char *base, size_t n)
{
    size_t pos = 0;

    while (pos < n) {
        const char *hit;
        size_t end;

        if (sep.len == 1)
            hit = memchr(src + pos, sep.ptr[0], n - pos);
        else
            hit = memmem(src + pos, n - pos, sep.ptr, sep.len);
        end = hit ? (size_t)(hit - src) : n;
        if (end > pos) {
            rn_value v = rn_string(base + pos, end - pos);
            int rc = rn_emit(ctx, &v);
            if (rc < 0)
                return rc;
        }
        pos = hit ? end + sep.len : n;
    }
    return 0;
}

static int split_flat_map(void *state, rn_ctx *ctx, const rn_value *in)
{
    const split_state *st = state;
    const char *base = in->u.s;

    if (in->kind != RN_STRING)
        return want_string(ctx, in);
    if (in->len == 0)
        return 0;
    if (st->lower) {
        /* the separator is matched against the original bytes, tokens
         * are taken at the same offsets from the lower-cased copy */
        char *buf = rn_alloc(ctx, in->len);
        if (!buf)
            return RN_ENOMEM;
        lower_copy(buf, in->u.s, in->len);
        base = buf;
    }
    if (!st->sep.ptr)
        return split_ws(ctx, in->u.s, base, in->len);
    return split_sep(ctx, st->sep, in->u.s, base, in->len);
}

/* ---- lower ---------------------------------------------------------- */

static int lower_map(void *state, rn_ctx *ctx, const rn_value *in,
                     rn_value *out)
{
    const unsigned char *s = (const unsigned char *)in->u.s;
    size_t i = 0;
    char *buf;

    if (in->kind != RN_STRING)
        return want_string(ctx, in);
    /* most strings are lower-case already: copy only when needed */
    while (i < in->len && (unsigned)(s[i] - 'A') >= 26u)
        i++;
    if (i == in->len) {
        *out = *in;
        return 0;
    }
    buf = rn_alloc(ctx, in->len);
    if (!buf)
        return RN_ENOMEM;
    memcpy(buf, s, i);
    lower_copy(buf + i, in->u.s + i, in->len - i);
    *out = rn_string(buf, in->len);
    return 0;
}

/* ---- strip ---------------------------------------------------------- */

typedef struct strip_state {
    unsigned char set[256];
} strip_state;

static const rn_param_spec strip_params[] = {
    {.name = "chars", .type = RN_PT_STRING, .def = NULL,
     .help = "bytes to remove from both ends; null = ASCII whitespace"},
};

static int strip_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    strip_state *st = calloc(1, sizeof *st);
    const rn_value *chars = rn_record_get(params, "chars");

    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    if (chars && chars->kind == RN_STRING) {
        for (uint32_t i = 0; i < chars->len; i++)
            st->set[(unsigned char)chars->u.s[i]] = 1;
    } else {
        memcpy(st->set, ws_class, sizeof st->set);
    }
    *state = st;
    return 0;
}

static void strip_destroy(void *state)
{
    free(state);
}

static int strip_map(void *state, rn_ctx *ctx, const rn_value *in,
                     rn_value *out)
{
    const strip_state *st = state;
    const unsigned char *s = (const unsigned char *)in->u.s;
    size_t b = 0, e = in->len;

    if (in->kind != RN_STRING)
        return want_string(ctx, in);
    while (b < e && st->set[s[b]])
        b++;
    while (e > b && st->set[s[e - 1]])
        e--;
    *out = rn_string(in->u.s + b, e - b);
    return 0;
}

/* ---- grep ----------------------------------------------------------- */

typedef struct grep_state {
    rn_str pattern; /* views params, valid until destroy */
    int regex;
    int invert;
    /* compiled once in init; regexec may be called from several threads
     * (POSIX says it is thread-safe; glibc serializes the calls on one
     * regex_t, which a per-thread copy could avoid if it ever matters) */
    regex_t re;
} grep_state;

static const rn_param_spec grep_params[] = {
    {.name = "pattern", .type = RN_PT_STRING, .flags = RN_PF_REQUIRED,
     .help = "substring to look for, or a POSIX extended regex"},
    {.name = "regex", .type = RN_PT_BOOL, .def = "false",
     .help = "treat pattern as a POSIX extended regular expression"},
    {.name = "invert", .type = RN_PT_BOOL, .def = "false",
     .help = "keep the strings that do not match"},
};

static int grep_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    grep_state *st = calloc(1, sizeof *st);
    char *z = NULL;
    int rc = 0, erc;

    if (!st)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->pattern = rn_param_str(params, "pattern", "");
    st->regex = rn_param_bool(params, "regex", 0);
    st->invert = rn_param_bool(params, "invert", 0);
    if (st->regex) {
        if (memchr(st->pattern.ptr, '\0', st->pattern.len)) {
            rc = rn_error(ctx, RN_EINVAL, "regex pattern contains a NUL byte");
            goto done;
        }
        z = malloc(st->pattern.len + 1);
        if (!z) {
            rc = rn_error(ctx, RN_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(z, st->pattern.ptr, st->pattern.len);
        z[st->pattern.len] = '\0';
        erc = regcomp(&st->re, z, REG_EXTENDED | REG_NOSUB);
        if (erc != 0) {
            char msg[256];
            regerror(erc, &st->re, msg, sizeof msg);
            rc = rn_error(ctx, RN_EINVAL, "bad regex \"%s\": %s", z, msg);
            st->regex = 0; /* nothing to regfree */
            goto done;
        }
    }
done:
    free(z);
    if (rc < 0) {
        free(st);
        return rc;
    }
    *state = st;
    return 0;
}

static void grep_destroy(void *state)
{
    grep_state *st = state;
    if (!st)
        return;
    if (st->regex)
        regfree(&st->re);
    free(st);
}

static int grep_filter(void *state, rn_ctx *ctx, const rn_value *in)
{
    const grep_state *st = state;
    int hit;

    if (in->kind != RN_STRING)
        return want_string(ctx, in);
    if (!st->regex) {
        hit = st->pattern.len == 0 ||
              memmem(in->u.s, in->len, st->pattern.ptr, st->pattern.len) !=
                  NULL;
    } else {
#ifdef REG_STARTEND
        /* glibc and the BSDs match [rm_so, rm_eo) without a terminator */
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)in->len;
        hit = regexec(&st->re, in->len ? in->u.s : "", 1, m, REG_STARTEND) ==
              0;
#else
        char *z = rn_alloc(ctx, (size_t)in->len + 1);
        if (!z)
            return RN_ENOMEM;
        memcpy(z, in->u.s, in->len);
        z[in->len] = '\0';
        hit = regexec(&st->re, z, 0, NULL, 0) == 0;
#endif
    }
    return hit != st->invert;
}

/* ---- descriptor ----------------------------------------------------- */

static const rn_op_desc text_ops[] = {
    {RN_OP_HEAD(RN_OP_FLAT_MAP, "split",
                "split a string into its non-empty tokens"),
     RN_OP_PARAMS(split_params), .init = split_init,
     .destroy = split_destroy, .flat_map = split_flat_map},
    {RN_OP_HEAD(RN_OP_MAP, "lower", "ASCII lower-case a string"),
     .map = lower_map},
    {RN_OP_HEAD(RN_OP_MAP, "strip",
                "remove leading and trailing whitespace (or chars)"),
     RN_OP_PARAMS(strip_params), .init = strip_init,
     .destroy = strip_destroy, .map = strip_map},
    {RN_OP_HEAD(RN_OP_FILTER, "grep",
                "keep the strings containing pattern (or matching a regex)"),
     RN_OP_PARAMS(grep_params), .init = grep_init, .destroy = grep_destroy,
     .filter = grep_filter},
};

RN_PLUGIN_DEFINE("text", "1.0.0", "string operators: split, lower, strip, grep",
                 text_ops)
