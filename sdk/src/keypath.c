/* Key paths (runnel/keypath.h): parsed once, applied without allocating. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runnel/keypath.h"

enum { STEP_FIELD = 1, STEP_INDEX = 2 };

typedef struct kp_step {
    uint32_t kind; /* STEP_* */
    uint32_t len;  /* STEP_FIELD: bytes of name */
    union {
        const char *name; /* STEP_FIELD: not NUL-terminated */
        int64_t index;    /* STEP_INDEX */
    } u;
} kp_step;

struct rn_keypath {
    size_t n;
    rn_str text;
    kp_step steps[]; /* n of them */
};

/* Bytes of the spec and of the element quoted in messages. */
#define SPEC_QUOTE_MAX 120
#define ELEMENT_QUOTE_MAX 160

/* ---- applying -------------------------------------------------------- */

static const rn_value *step_get(const kp_step *s, const rn_value *v)
{
    if (s->kind == STEP_FIELD) {
        if (v->kind != RN_RECORD)
            return NULL;
        for (uint32_t i = 0; i < v->len; i++) {
            const rn_field *f = &v->u.fields[i];
            if (f->name.len == s->len &&
                (s->len == 0 || memcmp(f->name.ptr, s->u.name, s->len) == 0))
                return &f->value;
        }
        return NULL;
    }
    if (v->kind != RN_LIST)
        return NULL;
    {
        int64_t i = s->u.index < 0 ? s->u.index + (int64_t)v->len : s->u.index;
        return i >= 0 && i < (int64_t)v->len ? &v->u.items[i] : NULL;
    }
}

const rn_value *rn_keypath_get(const rn_keypath *kp, const rn_value *v)
{
    for (size_t i = 0; i < kp->n && v; i++)
        v = step_get(&kp->steps[i], v);
    return v;
}

rn_str rn_keypath_text(const rn_keypath *kp)
{
    return kp->text;
}

size_t rn_keypath_steps(const rn_keypath *kp)
{
    return kp->n;
}

/* ---- messages -------------------------------------------------------- */

/* Writes up to max bytes of p into out (room for 4 * max + 4) with '"',
 * '\\' and control bytes escaped, "..." when cut: messages stay printable
 * and unambiguous whatever a name holds. */
static void escape(char *out, const char *p, size_t n, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0, m = n < max ? n : max;

    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out[k++] = '\\';
            out[k++] = 'x';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        } else {
            out[k++] = (char)c;
        }
    }
    if (m < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static int spec_error(rn_ctx *ctx, const char *what, const char *s,
                      size_t len, const char *fmt, ...) RN_PRINTF(5, 6);
static int spec_error(rn_ctx *ctx, const char *what, const char *s,
                      size_t len, const char *fmt, ...)
{
    char q[4 * SPEC_QUOTE_MAX + 4], why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    escape(q, s, len, SPEC_QUOTE_MAX);
    return rn_error(ctx, RN_EINVAL, "%s%s%s in \"%s\"", what ? what : "",
                    what ? ": " : "", why, q);
}

/* ---- parsing ------------------------------------------------------- */

/* Parses the string form into steps (at most RN_KEYPATH_MAX). Names view
 * s, except quoted ones with escapes, which are copied into buf (room
 * for len bytes). */
static int parse_text(rn_ctx *ctx, const char *what, const char *s,
                      size_t len, kp_step *steps, size_t *n, char *buf)
{
    size_t i = 0, k = 0;
    int need_name = 0; /* after '.' */

    for (;;) {
        kp_step *st;
        if (k == RN_KEYPATH_MAX)
            return spec_error(ctx, what, s, len,
                              "more than %d steps", RN_KEYPATH_MAX);
        st = &steps[k++];
        if (!need_name && i < len && s[i] == '[') {
            size_t start = ++i;
            if (i < len && s[i] == '"') {
                /* ["name"]: \" and \\ escape */
                char *o = buf;
                int closed = 0;
                for (i++; i < len; i++) {
                    if (s[i] == '"') {
                        closed = 1;
                        i++;
                        break;
                    }
                    if (s[i] == '\\') {
                        if (i + 1 == len ||
                            (s[i + 1] != '"' && s[i + 1] != '\\'))
                            return spec_error(ctx, what, s, len,
                                              "unknown escape at offset %zu "
                                              "(only \\\" and \\\\)",
                                              i);
                        i++;
                    }
                    *o++ = s[i];
                }
                if (!closed)
                    return spec_error(ctx, what, s, len,
                                      "unterminated quoted name from "
                                      "offset %zu",
                                      start);
                st->kind = STEP_FIELD;
                st->len = (uint32_t)(o - buf);
                st->u.name = buf;
                buf = o;
            } else {
                int neg = i < len && s[i] == '-';
                uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1
                                            : (uint64_t)INT64_MAX;
                size_t digits = 0;
                if (neg)
                    i++;
                for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
                    unsigned d = (unsigned)(s[i] - '0');
                    if (mag > (lim - d) / 10)
                        return spec_error(ctx, what, s, len,
                                          "index out of range at offset %zu",
                                          start);
                    mag = mag * 10 + d;
                }
                if (!digits)
                    return spec_error(ctx, what, s, len,
                                      "expected an index or a quoted name "
                                      "after '[' at offset %zu",
                                      start - 1);
                st->kind = STEP_INDEX;
                st->len = 0;
                st->u.index = neg ? (int64_t)(0 - mag) : (int64_t)mag;
            }
            if (i == len || s[i] != ']')
                return spec_error(ctx, what, s, len,
                                  "expected ']' at offset %zu", i);
            i++;
        } else {
            size_t start = i;
            while (i < len && s[i] != '.' && s[i] != '[') {
                if (s[i] == ']')
                    return spec_error(ctx, what, s, len,
                                      "unexpected ']' at offset %zu", i);
                i++;
            }
            if (i == start)
                return spec_error(ctx, what, s, len,
                                  need_name ? "expected a field name at "
                                              "offset %zu"
                                            : "empty field name at offset "
                                              "%zu",
                                  i);
            st->kind = STEP_FIELD;
            st->len = (uint32_t)(i - start);
            st->u.name = s + start;
        }
        if (i == len)
            break;
        if (s[i] == '.') {
            i++;
            need_name = 1;
        } else if (s[i] == '[') {
            need_name = 0;
        } else {
            return spec_error(ctx, what, s, len,
                              "expected '.', '[' or the end at offset %zu",
                              i);
        }
    }
    *n = k;
    return 0;
}

/* Whether a field name can be written bare in the string form. */
static int bare_name(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '.' || p[i] == '[' || p[i] == ']' || p[i] == '"' ||
            p[i] == '\\')
            return 0;
    return 1;
}

/* The string form of steps (for a path given as a list), in keep memory. */
static int make_text(rn_ctx *ctx, const kp_step *steps, size_t n,
                     rn_str *out)
{
    size_t cap = 1;
    char *p, *o;

    for (size_t i = 0; i < n; i++)
        cap += steps[i].kind == STEP_INDEX ? 24 : 2 * (size_t)steps[i].len + 5;
    if (!(p = rn_alloc_keep(ctx, cap)))
        return RN_ENOMEM;
    o = p;
    for (size_t i = 0; i < n; i++) {
        const kp_step *st = &steps[i];
        if (st->kind == STEP_INDEX) {
            o += snprintf(o, cap - (size_t)(o - p), "[%" PRId64 "]",
                          st->u.index);
        } else if (bare_name(st->u.name, st->len)) {
            if (i > 0)
                *o++ = '.';
            memcpy(o, st->u.name, st->len);
            o += st->len;
        } else {
            *o++ = '[';
            *o++ = '"';
            for (uint32_t j = 0; j < st->len; j++) {
                if (st->u.name[j] == '"' || st->u.name[j] == '\\')
                    *o++ = '\\';
                *o++ = st->u.name[j];
            }
            *o++ = '"';
            *o++ = ']';
        }
    }
    *o = '\0';
    out->ptr = p;
    out->len = (size_t)(o - p);
    return 0;
}

int rn_keypath_parse(rn_ctx *ctx, const rn_value *spec, const char *what,
                     rn_keypath **out)
{
    kp_step steps[RN_KEYPATH_MAX];
    rn_keypath *kp;
    size_t n = 0;
    rn_str text = {"", 0};
    int rc;

    *out = NULL;
    if (spec->kind == RN_STRING && spec->len &&
        (memchr(spec->u.s, '.', spec->len) ||
         memchr(spec->u.s, '[', spec->len))) {
        char *buf = rn_alloc_keep(ctx, spec->len);
        if (!buf)
            return RN_ENOMEM;
        if ((rc = parse_text(ctx, what, spec->u.s, spec->len, steps, &n, buf)))
            return rc;
        text.ptr = spec->u.s;
        text.len = spec->len;
    } else if (spec->kind == RN_STRING) {
        steps[0].kind = STEP_FIELD;
        steps[0].len = spec->len;
        steps[0].u.name = spec->len ? spec->u.s : "";
        n = 1;
        text.ptr = steps[0].u.name;
        text.len = spec->len;
    } else if (spec->kind == RN_INT) {
        steps[0].kind = STEP_INDEX;
        steps[0].len = 0;
        steps[0].u.index = spec->u.i;
        n = 1;
    } else if (spec->kind == RN_LIST) {
        if (spec->len == 0)
            return rn_error(ctx, RN_EINVAL, "%s%san empty list names no key",
                            what ? what : "", what ? ": " : "");
        if (spec->len > RN_KEYPATH_MAX)
            return rn_error(ctx, RN_EINVAL,
                            "%s%sa path of %u steps (at most %d)",
                            what ? what : "", what ? ": " : "",
                            (unsigned)spec->len, RN_KEYPATH_MAX);
        for (uint32_t i = 0; i < spec->len; i++) {
            const rn_value *it = &spec->u.items[i];
            if (it->kind == RN_STRING) {
                steps[i].kind = STEP_FIELD;
                steps[i].len = it->len;
                steps[i].u.name = it->len ? it->u.s : "";
            } else if (it->kind == RN_INT) {
                steps[i].kind = STEP_INDEX;
                steps[i].len = 0;
                steps[i].u.index = it->u.i;
            } else {
                return rn_error(ctx, RN_EINVAL,
                                "%s%spath item %u must be a string (a field) "
                                "or an int (an index), got %s",
                                what ? what : "", what ? ": " : "",
                                (unsigned)i, rn_kind_name(it->kind));
            }
        }
        n = spec->len;
    } else {
        return rn_error(ctx, RN_EINVAL,
                        "%s%smust be a string, an int or a list (a path), "
                        "got %s",
                        what ? what : "", what ? ": " : "",
                        rn_kind_name(spec->kind));
    }
    if (spec->kind != RN_STRING && (rc = make_text(ctx, steps, n, &text)))
        return rc;
    kp = rn_alloc_keep(ctx, sizeof *kp + n * sizeof(kp_step));
    if (!kp)
        return RN_ENOMEM;
    kp->n = n;
    kp->text = text;
    memcpy(kp->steps, steps, n * sizeof(kp_step));
    *out = kp;
    return 0;
}

/* ---- why a path found nothing -------------------------------------- */

int rn_keypath_error(rn_ctx *ctx, const rn_keypath *kp, const rn_value *v,
                     const char *what)
{
    const rn_value *cur = v;
    const kp_step *st = NULL;
    char name[4 * 64 + 4], path[4 * SPEC_QUOTE_MAX + 4], step[4 * 64 + 40];
    char problem[96];
    rn_str js = {"", 0};
    int rc = RN_ENOTFOUND;
    size_t cut;

    for (size_t i = 0; i < kp->n; i++) {
        const rn_value *next = step_get(&kp->steps[i], cur);
        if (!next) {
            st = &kp->steps[i];
            break;
        }
        cur = next;
    }
    if (!st) /* it was found after all: say so rather than invent */
        return rn_error(ctx, RN_EINTERNAL, "key path \"%.*s\" reported "
                        "missing but found",
                        (int)(kp->text.len > 64 ? 64 : kp->text.len),
                        kp->text.ptr);
    if (st->kind == STEP_FIELD) {
        escape(name, st->u.name, st->len, 64);
        snprintf(step, sizeof step, "key \"%s\"", name);
        if (cur->kind != RN_RECORD) {
            rc = RN_ETYPE;
            snprintf(problem, sizeof problem, "needs a record, got %s",
                     rn_kind_name(cur->kind));
        } else {
            snprintf(problem, sizeof problem, "not found in the record");
        }
    } else {
        snprintf(step, sizeof step, "index %" PRId64, st->u.index);
        if (cur->kind != RN_LIST) {
            rc = RN_ETYPE;
            snprintf(problem, sizeof problem, "needs a list, got %s",
                     rn_kind_name(cur->kind));
        } else {
            snprintf(problem, sizeof problem,
                     "out of range for a list of %u", (unsigned)cur->len);
        }
    }
    path[0] = '\0';
    if (kp->n > 1)
        escape(path, kp->text.ptr, kp->text.len, SPEC_QUOTE_MAX);
    /* the element as JSON, cut on a character boundary */
    if (rn_to_json(ctx, v, &js) < 0) {
        js.ptr = "(not printable)";
        js.len = strlen(js.ptr);
    }
    cut = js.len;
    if (cut > ELEMENT_QUOTE_MAX) {
        cut = ELEMENT_QUOTE_MAX;
        while (cut > 0 && ((unsigned char)js.ptr[cut] & 0xC0) == 0x80)
            cut--;
    }
    return rn_error(ctx, rc, "%s%s%s%s%s%s %s; element: %.*s%s",
                    what ? what : "", what ? ": " : "", step,
                    kp->n > 1 ? " of path \"" : "", path,
                    kp->n > 1 ? "\"" : "", problem, (int)cut, js.ptr,
                    cut < js.len ? "..." : "");
}
