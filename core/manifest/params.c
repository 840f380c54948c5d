/*
 * Typing YAML scalars (the YAML 1.2 core schema), nodes -> values, sizes
 * and durations, and binding a step's parameters to its operator's table
 * (the Fluent Bit config_map idea: the table is the truth, unknown keys
 * are refused and the valid ones listed).
 */
#include "manifest/manifest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/similar.h"
#include "value/value.h"

/* ---- YAML 1.2 core schema ------------------------------------------- */

static int is_one_of(const char *s, size_t n, const char *a, const char *b,
                     const char *c)
{
    const char *w[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (strlen(w[i]) == n && memcmp(s, w[i], n) == 0)
            return 1;
    return 0;
}

static int digit_val(char c, unsigned base)
{
    int d;
    if (c >= '0' && c <= '9')
        d = c - '0';
    else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
    else
        return -1;
    return d < (int)base ? d : -1;
}

/* Plain scalars hold no NUL (YAML forbids it unescaped, environment values
 * cannot hold one), so strtod may run on their NUL-terminated text. */

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+; one that does not fit int64 is
 * a double, as JSON numbers are in value.h. */
static int scalar_int(const char *s, size_t n, rn_value *v)
{
    unsigned base = 10;
    size_t i = 0;
    int neg = 0, overflow = 0;
    uint64_t acc = 0, limit;
    double dacc = 0;

    if (n >= 3 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        i = 2;
    } else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i >= n)
        return 0;
    for (; i < n; i++) {
        int d = digit_val(s[i], base);
        if (d < 0)
            return 0;
        if (acc > (UINT64_MAX - (uint64_t)d) / base)
            overflow = 1;
        acc = acc * base + (uint64_t)d;
        dacc = dacc * base + d;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (overflow || acc > limit)
        *v = rn_double(base == 10 ? strtod(s, NULL) : dacc);
    else if (neg)
        *v = rn_int(acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN
                                                    : -(int64_t)acc);
    else
        *v = rn_int((int64_t)acc);
    return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan */
static int scalar_float(const char *s, size_t n, rn_value *v)
{
    size_t i = 0, digits = 0, exp = 0;
    int neg = 0;

    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (n - i == 4 && s[i] == '.' &&
        is_one_of(s + i + 1, 3, "inf", "Inf", "INF")) {
        *v = rn_double(neg ? -INFINITY : INFINITY);
        return 1;
    }
    if (n == 4 && s[0] == '.' && is_one_of(s + 1, 3, "nan", "NaN", "NAN")) {
        *v = rn_double(NAN);
        return 1;
    }
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, exp++;
        if (exp == 0)
            return 0;
    }
    if (i != n)
        return 0;
    *v = rn_double(strtod(s, NULL));
    return 1;
}

static int null_text(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           is_one_of(s, n, "null", "Null", "NULL");
}

int rn_mnode_is_null(const rn_mnode *n)
{
    return !n || (n->type == RN_MN_SCALAR && n->plain &&
                  null_text(n->text, n->len));
}

int rn_mnode_scalar_value(const rn_mnode *n, rn_value *out)
{
    const char *s = n->text;
    size_t len = n->len;

    if (n->type != RN_MN_SCALAR)
        return RN_ETYPE;
    if (!n->plain) {
        *out = rn_string(s, len);
        return 0;
    }
    if (null_text(s, len))
        *out = rn_null();
    else if (is_one_of(s, len, "true", "True", "TRUE"))
        *out = rn_bool(1);
    else if (is_one_of(s, len, "false", "False", "FALSE"))
        *out = rn_bool(0);
    else if (!scalar_int(s, len, out) && !scalar_float(s, len, out))
        *out = rn_string(s, len);
    return 0;
}

const char *rn__mnode_describe(char *buf, size_t cap, const rn_mnode *n)
{
    char ex[64];
    rn_value v;

    if (!n)
        return "nothing";
    if (n->type == RN_MN_SEQ)
        return "a list";
    if (n->type == RN_MN_MAP)
        return "a mapping";
    /* the type is the value's; the text shown is never a substituted
     * value (rn_mnode_display) */
    rn_mnode_scalar_value(n, &v);
    rn__mnode_excerpt(ex, sizeof(ex), n);
    switch (v.kind) {
    case RN_NULL:
        return "null";
    case RN_BOOL:
        snprintf(buf, cap, "bool %s", ex);
        break;
    case RN_INT:
        snprintf(buf, cap, "int %s", ex);
        break;
    case RN_DOUBLE:
        snprintf(buf, cap, "double %s", ex);
        break;
    default:
        snprintf(buf, cap, "string '%s'", ex);
        break;
    }
    return buf;
}

/* ---- nodes -> values ------------------------------------------------ */

static int copy_str(rn_arena *a, const char *s, size_t n, rn_value *out)
{
    char *d = rn_arena_strndup(a, s, n);
    if (!d)
        return RN_ENOMEM;
    *out = rn_string(d, n);
    return 0;
}

static int to_value(rn_arena *a, const rn_mnode *n, rn_value *out,
                    rn_errbuf *err, int depth)
{
    int rc;
    if (depth > RN_VALUE_MAX_DEPTH)
        return rn_mpos_error(err, RN_ELIMIT, n->pos,
                             "nesting deeper than %d levels",
                             RN_VALUE_MAX_DEPTH);
    if (n->type == RN_MN_SCALAR) {
        rn_mnode_scalar_value(n, out);
        if (out->kind == RN_STRING && copy_str(a, n->text, n->len, out))
            goto nomem;
        return 0;
    }
    if (n->type == RN_MN_SEQ) {
        rn_value *items = NULL;
        if (n->n && !(items = rn_arena_alloc(a, n->n * sizeof(*items))))
            goto nomem;
        for (size_t i = 0; i < n->n; i++)
            if ((rc = to_value(a, n->items[i], &items[i], err, depth + 1)))
                return rc;
        *out = rn_list(items, n->n);
        return 0;
    }
    {
        rn_field *f = NULL;
        if (n->n && !(f = rn_arena_alloc(a, n->n * sizeof(*f))))
            goto nomem;
        for (size_t i = 0; i < n->n; i++) {
            rn_value name;
            if (copy_str(a, n->keys[i]->text, n->keys[i]->len, &name))
                goto nomem;
            f[i].name.ptr = name.u.s;
            f[i].name.len = n->keys[i]->len;
            if ((rc = to_value(a, n->items[i], &f[i].value, err, depth + 1)))
                return rc;
        }
        *out = rn_record(f, n->n);
        return 0;
    }
nomem:
    return rn_error_set(err, RN_ENOMEM, "out of memory");
}

int rn_mnode_to_value(rn_arena *a, const rn_mnode *n, rn_value *out,
                      rn_errbuf *err)
{
    if (!n) {
        *out = rn_null();
        return 0;
    }
    return to_value(a, n, out, err, 1);
}

/* ---- sizes and durations -------------------------------------------- */

/* exact scaling: number * unit can pass 2^64 before the range check */
__extension__ typedef unsigned __int128 u128;

static const uint64_t pow10_tab[19] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull};

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s))
        (*s)++, (*n)--;
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

/* digits[.digits] | .digits at s[*i]: the number times `mult`, fractions
 * of the unit rounded down. 0, or -1 when there is no number or it is too
 * big. */
static int scaled_number(const char *s, size_t n, size_t *i, uint64_t mult,
                         u128 *out, int *has_number)
{
    size_t j = *i;
    uint64_t ip = 0, frac = 0;
    int fd = 0, any = 0;

    while (j < n && s[j] >= '0' && s[j] <= '9') {
        if (ip > (UINT64_MAX - 9) / 10)
            return -1;
        ip = ip * 10 + (uint64_t)(s[j] - '0');
        j++;
        any = 1;
    }
    if (j < n && s[j] == '.') {
        j++;
        while (j < n && s[j] >= '0' && s[j] <= '9') {
            if (fd < 18) { /* later digits are below any unit's ns/byte */
                frac = frac * 10 + (uint64_t)(s[j] - '0');
                fd++;
            }
            j++;
            any = 1;
        }
    }
    if (has_number)
        *has_number = any;
    if (!any)
        return -1;
    *i = j;
    *out = (u128)ip * mult + (u128)frac * mult / pow10_tab[fd];
    return 0;
}

/* Just the number's extent, to find the unit after it. */
static size_t number_end(const char *s, size_t n, size_t i)
{
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    return i;
}

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

static const unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000ull},
    {"kb", 1000ull},
    {"m", 1000000ull},
    {"mb", 1000000ull},
    {"g", 1000000000ull},
    {"gb", 1000000000ull},
    {"t", 1000000000000ull},
    {"tb", 1000000000000ull},
    {"p", 1000000000000000ull},
    {"pb", 1000000000000000ull},
    {"ki", 1ull << 10},
    {"kib", 1ull << 10},
    {"mi", 1ull << 20},
    {"mib", 1ull << 20},
    {"gi", 1ull << 30},
    {"gib", 1ull << 30},
    {"ti", 1ull << 40},
    {"tib", 1ull << 40},
    {"pi", 1ull << 50},
    {"pib", 1ull << 50},
};

int rn_parse_size(const char *s, size_t n, int64_t *out)
{
    size_t i = 0, e, u;
    char lower[4];
    uint64_t mult = 0;
    u128 v;

    if (!s)
        return RN_EINVAL;
    trim(&s, &n);
    e = number_end(s, n, 0);
    u = e;
    while (u < n && is_space(s[u]))
        u++;
    if (n - u >= sizeof(lower))
        return RN_EINVAL;
    for (size_t k = u; k < n; k++) {
        char c = s[k];
        lower[k - u] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    lower[n - u] = '\0';
    for (size_t k = 0; k < sizeof(size_units) / sizeof(size_units[0]); k++)
        if (strcmp(lower, size_units[k].name) == 0)
            mult = size_units[k].mult;
    if (!mult)
        return RN_EINVAL;
    if (scaled_number(s, e, &i, mult, &v, NULL) || i != e)
        return RN_EINVAL;
    if (v > (u128)INT64_MAX)
        return RN_EINVAL;
    *out = (int64_t)v;
    return 0;
}

static const unit duration_units[] = {
    /* longer names first: "ms" before "m" */
    {"ns", 1ull},
    {"us", 1000ull},
    {"\xc2\xb5s", 1000ull}, /* µs */
    {"ms", 1000000ull},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
    {"d", 86400ull * 1000000000ull},
};

int rn_parse_duration(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    u128 total = 0;

    if (!s)
        return RN_EINVAL;
    trim(&s, &n);
    if (n == 0)
        return RN_EINVAL;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    while (i < n) {
        size_t e = number_end(s, n, i), u = e, k, j = i;
        const unit *un = NULL;
        u128 v;
        while (u < n && is_space(s[u]))
            u++;
        for (k = 0; k < sizeof(duration_units) / sizeof(duration_units[0]);
             k++) {
            size_t ln = strlen(duration_units[k].name);
            if (n - u >= ln && memcmp(s + u, duration_units[k].name, ln) == 0) {
                un = &duration_units[k];
                break;
            }
        }
        if (!un)
            return RN_EINVAL;
        if (scaled_number(s, e, &j, un->mult, &v, NULL) || j != e)
            return RN_EINVAL;
        total += v;
        if (total > (u128)INT64_MAX)
            return RN_EINVAL;
        i = u + strlen(un->name);
        while (i < n && is_space(s[i]))
            i++;
    }
    *out = (int64_t)total;
    return 0;
}

/* ---- binding -------------------------------------------------------- */

/* Conversion failures set err's message (no position) and *epos. */
static int bad(rn_errbuf *err, int code, rn_mpos *epos, const rn_mnode *n,
               const char *fmt, ...) RN_FMT(5, 6);

static int bad(rn_errbuf *err, int code, rn_mpos *epos, const rn_mnode *n,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rn_error_setv(err, code, fmt, ap);
    va_end(ap);
    *epos = n->pos;
    return code;
}

static int check_choice(const rn_param_spec *sp, const rn_mnode *n,
                        rn_errbuf *err, rn_mpos *epos)
{
    rn_buf b;
    char ex[64];
    int rc;

    if (!sp->choices)
        return 0;
    for (size_t i = 0; sp->choices[i] && i < RN_MAX_CHOICES; i++)
        if (strlen(sp->choices[i]) == n->len &&
            memcmp(sp->choices[i], n->text, n->len) == 0)
            return 0;
    rn_buf_init(&b, 512);
    for (size_t i = 0; sp->choices[i] && i < RN_MAX_CHOICES; i++)
        if (rn_buf_printf(&b, "%s%s", i ? ", " : "", sp->choices[i]))
            break;
    rc = bad(err, RN_EINVAL, epos, n, "'%s' is not one of: %s",
             rn__mnode_excerpt(ex, sizeof(ex), n),
             b.ptr ? b.ptr : "");
    rn_buf_release(&b);
    return rc;
}

static int check_range(const rn_param_spec *sp, const rn_mnode *n,
                       double x, rn_errbuf *err, rn_mpos *epos)
{
    char ex[64];
    if (!(sp->min < sp->max) || (x >= sp->min && x <= sp->max))
        return 0;
    return bad(err, RN_ERANGE, epos, n,
               "%s is out of range (min %.15g, max %.15g)",
               rn__mnode_excerpt(ex, sizeof(ex), n), sp->min,
               sp->max);
}

static int scalar_string(rn_arena *a, const rn_mnode *n, const char *want,
                         rn_value *out, rn_errbuf *err, rn_mpos *epos)
{
    char d[96];
    if (n->type != RN_MN_SCALAR || rn_mnode_is_null(n))
        return bad(err, RN_ETYPE, epos, n, "expected %s, got %s", want,
                   rn__mnode_describe(d, sizeof(d), n));
    if (copy_str(a, n->text, n->len, out))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    return 0;
}

/* n is not null here (null means "take the default"). */
static int convert(rn_arena *a, const rn_param_spec *sp, const rn_mnode *n,
                   rn_value *out, rn_errbuf *err, rn_mpos *epos)
{
    const char *tname = rn_param_type_name(sp->type);
    char d[96];
    rn_value v = rn_null();
    int64_t x;
    int rc;

    *epos = n->pos;
    if (n->type == RN_MN_SCALAR && !n->plain && n->subst &&
        (sp->type == RN_PT_BOOL || sp->type == RN_PT_INT ||
         sp->type == RN_PT_DOUBLE)) {
        /* "${K}" in a flow mapping: typed as if it were unquoted */
        rn_mnode typed = *n;
        typed.plain = 1;
        rn_mnode_scalar_value(&typed, &v);
    } else if (n->type == RN_MN_SCALAR) {
        rn_mnode_scalar_value(n, &v);
    }
    switch (sp->type) {
    case RN_PT_BOOL:
        if (v.kind != RN_BOOL || n->type != RN_MN_SCALAR)
            goto type_error;
        *out = v;
        return 0;
    case RN_PT_INT:
        if (v.kind != RN_INT || n->type != RN_MN_SCALAR)
            goto type_error;
        if ((rc = check_range(sp, n, (double)v.u.i, err, epos)))
            return rc;
        *out = v;
        return 0;
    case RN_PT_DOUBLE:
        if ((v.kind != RN_INT && v.kind != RN_DOUBLE) ||
            n->type != RN_MN_SCALAR)
            goto type_error;
        v = rn_double(v.kind == RN_INT ? (double)v.u.i : v.u.d);
        if (sp->min < sp->max && isnan(v.u.d))
            return bad(err, RN_ERANGE, epos, n, "nan is out of range");
        if ((rc = check_range(sp, n, v.u.d, err, epos)))
            return rc;
        *out = v;
        return 0;
    case RN_PT_STRING:
        if ((rc = scalar_string(a, n, "string", out, err, epos)))
            return rc;
        return check_choice(sp, n, err, epos);
    case RN_PT_SIZE:
    case RN_PT_DURATION: {
        int size = sp->type == RN_PT_SIZE;
        if (n->type != RN_MN_SCALAR ||
            (size ? rn_parse_size(n->text, n->len, &x)
                  : rn_parse_duration(n->text, n->len, &x)))
            return bad(err, RN_ETYPE, epos, n, "expected %s, got %s",
                       size ? "a size (e.g. 64MiB, 1GB, 4096)"
                            : "a duration (e.g. 500ms, 30s, 2m, 1h30m)",
                       rn__mnode_describe(d, sizeof(d), n));
        if ((rc = check_range(sp, n, (double)x, err, epos)))
            return rc;
        *out = rn_int(x);
        return 0;
    }
    case RN_PT_STRING_LIST: {
        rn_value *items;
        size_t cnt = n->type == RN_MN_SEQ ? n->n : 1;
        if (n->type == RN_MN_MAP)
            return bad(err, RN_ETYPE, epos, n,
                       "expected a string or a list of strings, got %s",
                       rn__mnode_describe(d, sizeof(d), n));
        items = rn_arena_alloc(a, (cnt ? cnt : 1) * sizeof(*items));
        if (!items)
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        for (size_t i = 0; i < cnt; i++) {
            const rn_mnode *it = n->type == RN_MN_SEQ ? n->items[i] : n;
            if ((rc = scalar_string(a, it, "a string", &items[i], err,
                                    epos))) {
                if (n->type == RN_MN_SEQ)
                    rn_error_prefix(err, "item %zu: ", i + 1);
                return rc;
            }
            if ((rc = check_choice(sp, it, err, epos)))
                return rc;
        }
        *out = rn_list(items, cnt);
        return 0;
    }
    case RN_PT_ANY:
        rc = rn_mnode_to_value(a, n, out, err);
        if (rc == RN_ELIMIT) /* keep the message, position it */
            *epos = n->pos;
        return rc;
    default:
        return rn_error_set(err, RN_EPLUGIN, "unknown parameter type %u",
                            (unsigned)sp->type);
    }
type_error:
    return bad(err, RN_ETYPE, epos, n, "expected %s, got %s", tname,
               rn__mnode_describe(d, sizeof(d), n));
}

/* The default, parsed as described in manifest.h. */
static int bind_default(rn_arena *a, const rn_param_spec *sp, rn_value *out,
                        rn_errbuf *err)
{
    rn_arena tmp;
    rn_mnode plain, *n = &plain;
    rn_mpos epos;
    int rc = 0;

    *out = rn_null();
    if (!sp->def)
        return 0;
    rn_arena_init(&tmp, 4096);
    memset(&plain, 0, sizeof(plain));
    plain.type = RN_MN_SCALAR;
    plain.text = sp->def;
    plain.len = strlen(sp->def);
    plain.plain = 1;
    if (strchr("[{\"'", sp->def[0]) && sp->def[0]) {
        if ((rc = rn__mnode_parse(&tmp, "default", sp->def, strlen(sp->def),
                                  0, &n, err)))
            goto done;
    }
    if (!rn_mnode_is_null(n))
        rc = convert(a, sp, n, out, err, &epos);
done:
    rn_arena_release(&tmp);
    return rc;
}

static int unknown_key(const rn_op_desc *op, const char *label,
                       const rn_mnode *k, rn_errbuf *err)
{
    rn_buf b;
    char ex[64];
    const char *best = NULL;
    int best_d = 3, rc;

    rn_buf_init(&b, 768);
    for (uint32_t i = 0; i < op->n_params; i++) {
        const char *nm = op->params[i].name ? op->params[i].name : "";
        size_t d = rn_edit_distance(k->text, k->len, nm, strlen(nm));
        int dist = d > 1000 ? 1000 : (int)d;
        if (rn_buf_printf(&b, "%s%s", i ? ", " : "", nm))
            break;
        /* no suggestion for a substituted key: it would hint at it */
        if (!k->subst && dist < best_d && (size_t)dist < k->len) {
            best_d = dist;
            best = nm;
        }
    }
    rn__mnode_excerpt(ex, sizeof(ex), k);
    if (op->n_params == 0)
        rc = rn_mpos_error(err, RN_EINVAL, k->pos,
                           "%s: unknown parameter '%s' (%s takes no "
                           "parameters)",
                           label, ex, label);
    else
        rc = rn_mpos_error(err, RN_EINVAL, k->pos,
                           "%s: unknown parameter '%s' (expected %s)%s%s%s",
                           label, ex, b.ptr ? b.ptr : "",
                           best ? "; did you mean '" : "", best ? best : "",
                           best ? "'?" : "");
    rn_buf_release(&b);
    return rc;
}

static void prefix_pos(rn_errbuf *err, rn_mpos p)
{
    rn_error_prefix(err, "%s:%u:%u: ", p.file ? p.file : "<manifest>",
                    (unsigned)p.line, (unsigned)p.col);
}

static int spec_is(const rn_param_spec *sp, const rn_mnode *k)
{
    const char *nm = sp->name ? sp->name : "";
    return strlen(nm) == k->len && memcmp(nm, k->text, k->len) == 0;
}

int rn_params_bind(rn_arena *a, const rn_op_desc *op, const char *op_label,
                   const rn_mnode *params, rn_mpos where, rn_value *out,
                   rn_errbuf *err)
{
    const char *label = op_label ? op_label : op->name ? op->name : "?";
    rn_field *f = NULL;
    rn_mpos at = params ? params->pos : where;
    char d[96];
    int rc;

    const rn_mnode *bare = NULL; /* `- pluck: user`: the one required or
                                    only parameter */
    uint32_t bare_i = 0, n_req = 0;

    if (rn_mnode_is_null(params))
        params = NULL;
    if (params && params->type != RN_MN_MAP) {
        for (uint32_t i = 0; op->params && i < op->n_params; i++)
            if (op->params[i].flags & RN_PF_REQUIRED) {
                bare_i = i;
                n_req++;
            }
        if (n_req == 0 && op->n_params == 1 && op->params)
            n_req = 1; /* its only one (`- take: 3`) */
        if (n_req != 1)
            return rn_mpos_error(err, RN_EINVAL, params->pos,
                                 "%s: parameters must be a mapping, got %s "
                                 "(a bare value goes to an operator's one "
                                 "required or only parameter; %s has %u "
                                 "required of %u)",
                                 label, rn__mnode_describe(d, sizeof(d), params),
                                 label, (unsigned)n_req, (unsigned)op->n_params);
        bare = params;
        params = NULL;
    }
    if (op->n_params && !op->params)
        return rn_mpos_error(err, RN_EPLUGIN, at,
                             "%s: declares %u parameters but no table",
                             label, (unsigned)op->n_params);
    for (size_t j = 0; params && j < params->n; j++) {
        uint32_t i;
        for (i = 0; i < op->n_params; i++)
            if (spec_is(&op->params[i], params->keys[j]))
                break;
        if (i == op->n_params)
            return unknown_key(op, label, params->keys[j], err);
    }
    if (op->n_params &&
        !(f = rn_arena_alloc(a, op->n_params * sizeof(*f))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < op->n_params; i++) {
        const rn_param_spec *sp = &op->params[i];
        const char *nm = sp->name ? sp->name : "";
        const rn_mnode *v = NULL;
        rn_value name;
        rn_mpos epos;

        for (size_t j = 0; params && j < params->n; j++)
            if (spec_is(sp, params->keys[j]))
                v = params->items[j];
        if (bare && i == bare_i)
            v = bare;
        if (copy_str(a, nm, strlen(nm), &name))
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        f[i].name.ptr = name.u.s;
        f[i].name.len = name.len;
        if (v && !rn_mnode_is_null(v)) {
            if ((rc = convert(a, sp, v, &f[i].value, err, &epos))) {
                if (rc == RN_ENOMEM)
                    return rc;
                rn_error_prefix(err, "%s: %s: ", label, nm);
                prefix_pos(err, epos);
                return rc;
            }
        } else if (sp->flags & RN_PF_REQUIRED) {
            if (v)
                return rn_mpos_error(err, RN_EINVAL, v->pos,
                                     "%s: %s: required, got null", label,
                                     nm);
            return rn_mpos_error(err, RN_EINVAL, at,
                                 "%s: missing required parameter '%s'",
                                 label, nm);
        } else if ((rc = bind_default(a, sp, &f[i].value, err))) {
            if (rc == RN_ENOMEM)
                return rc;
            rn_error_prefix(err, "%s: invalid default '%s' for parameter "
                                 "'%s' (a bug in the plugin): ",
                            label, sp->def, nm);
            prefix_pos(err, at);
            return err ? (err->code = RN_EPLUGIN) : RN_EPLUGIN;
        }
    }
    *out = rn_record(f, op->n_params);
    return 0;
}

int rn_params_check_defaults(const rn_op_desc *op, rn_errbuf *err)
{
    rn_arena a;
    int rc = 0;

    if (op->n_params && !op->params)
        return rn_error_set(err, RN_EPLUGIN,
                            "%s: declares %u parameters but no table",
                            op->name ? op->name : "?",
                            (unsigned)op->n_params);
    rn_arena_init(&a, 4096);
    for (uint32_t i = 0; i < op->n_params && !rc; i++) {
        const rn_param_spec *sp = &op->params[i];
        rn_value v;
        if (sp->type < RN_PT_BOOL || sp->type > RN_PT_MAX) {
            rc = rn_error_set(err, RN_EPLUGIN,
                              "%s: parameter '%s' has unknown type %u",
                              op->name ? op->name : "?",
                              sp->name ? sp->name : "", (unsigned)sp->type);
        } else if ((rc = bind_default(&a, sp, &v, err))) {
            if (rc != RN_ENOMEM) {
                rn_error_prefix(err, "%s: invalid default '%s' for parameter "
                                     "'%s': ",
                                op->name ? op->name : "?", sp->def,
                                sp->name ? sp->name : "");
                rc = err ? (err->code = RN_EPLUGIN) : RN_EPLUGIN;
            }
        }
    }
    rn_arena_release(&a);
    return rc;
}
