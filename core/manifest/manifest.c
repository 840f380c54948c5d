/*
 * YAML text -> node tree (libyaml's event API, so nesting, node count and
 * text size are bounded while parsing, before anything large is built),
 * ${VAR} substitution, and the manifest's top-level schema.
 */
#define _POSIX_C_SOURCE 200809L /* open, read, O_CLOEXEC */

#include "manifest/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "base/alloc.h"
#include "base/buf.h"

/* ---- errors and excerpts -------------------------------------------- */

int rn_mpos_error(rn_errbuf *err, int code, rn_mpos pos, const char *fmt,
                  ...)
{
    va_list ap;
    if (!err)
        return code;
    va_start(ap, fmt);
    rn_error_setv(err, code, fmt, ap);
    va_end(ap);
    rn_error_prefix(err, "%s:%u:%u: ", pos.file ? pos.file : "<manifest>",
                    (unsigned)pos.line, (unsigned)pos.col);
    return code;
}

#define EXCERPT_MAX 48

const char *rn__excerpt(char *buf, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    if (cap == 0)
        return buf;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        char esc[5];
        size_t k = 0;
        if (c == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (c == '\t') {
            esc[k++] = '\\';
            esc[k++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        /* stop early enough for "..." and the NUL, and never inside a
         * UTF-8 sequence */
        if (o + k + 4 > cap || o >= EXCERPT_MAX) {
            while (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
                o--;
            if (o > 0 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
                o--;
            if (o + 4 <= cap) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, esc, k);
        o += k;
        i++;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- the tree builder ----------------------------------------------- */

typedef struct frame {
    rn_mnode *node;
    size_t base; /* index in the pending stack of its first child */
} frame;

typedef struct pstate {
    rn_arena *a;
    const char *file;
    rn_errbuf *err;
    int subst;
    rn_mnode **stk; /* children of the open containers, in order */
    size_t nstk, capstk;
    frame fr[RN_MANIFEST_MAX_DEPTH];
    size_t depth;
    size_t nodes;
    size_t expanded; /* bytes of scalar text produced so far */
    int docs;
} pstate;

static rn_mpos mark_pos(const pstate *ps, yaml_mark_t m)
{
    rn_mpos p;
    p.file = ps->file;
    p.line = m.line >= UINT32_MAX ? UINT32_MAX : (uint32_t)m.line + 1;
    p.col = m.column >= UINT32_MAX ? UINT32_MAX : (uint32_t)m.column + 1;
    return p;
}

static int nomem(pstate *ps)
{
    return rn_error_set(ps->err, RN_ENOMEM, "%s: out of memory", ps->file);
}

static int new_node(pstate *ps, int type, rn_mpos pos, rn_mnode **out)
{
    rn_mnode *n;
    if (++ps->nodes > RN_MANIFEST_MAX_NODES)
        return rn_mpos_error(ps->err, RN_ELIMIT, pos,
                             "too many YAML nodes (the limit is %zu)",
                             RN_MANIFEST_MAX_NODES);
    n = rn_arena_alloc(ps->a, sizeof(*n));
    if (!n)
        return nomem(ps);
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->pos = pos;
    *out = n;
    return 0;
}

static int push(pstate *ps, rn_mnode *n)
{
    if (ps->nstk == ps->capstk) {
        size_t cap = ps->capstk ? ps->capstk * 2 : 64;
        rn_mnode **p = rn_realloc(ps->stk, cap * sizeof(*p));
        if (!p)
            return nomem(ps);
        ps->stk = p;
        ps->capstk = cap;
    }
    ps->stk[ps->nstk++] = n;
    return 0;
}

static int is_name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int budget(pstate *ps, rn_mpos pos, size_t n)
{
    if (n > RN_MANIFEST_MAX_EXPANDED - ps->expanded)
        return rn_mpos_error(ps->err, RN_ELIMIT, pos,
                             "scalars expand to more than %zu bytes",
                             RN_MANIFEST_MAX_EXPANDED);
    ps->expanded += n;
    return 0;
}

/* Replaces ${VAR}, ${VAR:-default} and $${ in s[0..n); the result is a
 * NUL-terminated copy in the arena. */
static int substitute(pstate *ps, rn_mpos pos, const char *s, size_t n,
                      const char **out, size_t *outlen, int *substituted)
{
    rn_buf b;
    char name[256], ex[64];
    size_t i = 0, start;
    int rc = 0;
    char *t;

    /* +1: a max of 0 would mean "unlimited"; budget() has the last word */
    rn_buf_init(&b, RN_MANIFEST_MAX_EXPANDED - ps->expanded + 1);
    if (!ps->subst || !memchr(s, '$', n))
        goto copy;
    while (i < n) {
        const char *dollar = memchr(s + i, '$', n - i);
        size_t j, nlen, dlen = 0;
        const char *val, *def = NULL;
        if (!dollar) {
            rc = rn_buf_append(&b, s + i, n - i);
            break;
        }
        j = (size_t)(dollar - s);
        if ((rc = rn_buf_append(&b, s + i, j - i)))
            break;
        if (j + 2 < n && s[j + 1] == '$' && s[j + 2] == '{') {
            rc = rn_buf_append(&b, "${", 2);
            i = j + 3;
            continue;
        }
        if (j + 1 >= n || s[j + 1] != '{') {
            rc = rn_buf_putc(&b, '$');
            i = j + 1;
            continue;
        }
        start = j;
        j += 2;
        nlen = 0;
        if (j < n && is_name_start((unsigned char)s[j]))
            while (j + nlen < n && is_name_char((unsigned char)s[j + nlen]))
                nlen++;
        if (nlen == 0 || nlen >= sizeof(name)) {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "invalid variable name in '%s' (expected "
                               "${NAME} or ${NAME:-default}, NAME made of "
                               "letters, digits and '_'; write $${ for a "
                               "literal ${)",
                               rn__excerpt(ex, sizeof(ex), s + start,
                                           n - start));
            goto done;
        }
        memcpy(name, s + j, nlen);
        name[nlen] = '\0';
        j += nlen;
        if (j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
            const char *close = memchr(s + j + 2, '}', n - j - 2);
            if (!close) {
                rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                                   "unterminated '${%s:-' (missing '}')",
                                   name);
                goto done;
            }
            def = s + j + 2;
            dlen = (size_t)(close - def);
            j = (size_t)(close - s) + 1;
        } else if (j < n && s[j] == '}') {
            j++;
        } else if (j >= n) {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "unterminated '${%s' (missing '}')", name);
            goto done;
        } else {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "unsupported expansion '%s' (expected "
                               "${%s} or ${%s:-default})",
                               rn__excerpt(ex, sizeof(ex), s + start,
                                           n - start),
                               name, name);
            goto done;
        }
        val = getenv(name);
        if (def && (!val || !*val)) {
            rc = rn_buf_append(&b, def, dlen);
        } else if (!val) {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "environment variable '%s' is not set "
                               "(write ${%s:-default} to give a default)",
                               name, name);
            goto done;
        } else {
            rc = rn_buf_append(&b, val, strlen(val));
        }
        if (rc)
            break;
        i = j;
    }
    if (rc) {
        if (rc == RN_ELIMIT)
            rn_mpos_error(ps->err, rc, pos,
                          "scalars expand to more than %zu bytes",
                          RN_MANIFEST_MAX_EXPANDED);
        else
            nomem(ps);
        goto done;
    }
    s = b.ptr ? b.ptr : "";
    n = b.len;
    *substituted = 1;
copy:
    if ((rc = budget(ps, pos, n)))
        goto done;
    t = rn_arena_strndup(ps->a, s, n);
    if (!t) {
        rc = nomem(ps);
        goto done;
    }
    *out = t;
    *outlen = n;
done:
    rn_buf_release(&b);
    return rc;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

static int on_scalar(pstate *ps, const yaml_event_t *ev)
{
    rn_mpos pos = mark_pos(ps, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;
    char ex[64];
    rn_mnode *n;
    int rc;

    if ((rc = new_node(ps, RN_MN_SCALAR, pos, &n)))
        return rc;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag) {
        if (strcmp(tag, "!") != 0 && strcmp(tag, TAG_PREFIX "str") != 0)
            return rn_mpos_error(ps->err, RN_EINVAL, pos,
                                 "unsupported YAML tag '%s' (only !!str is "
                                 "understood)",
                                 rn__excerpt(ex, sizeof(ex), tag,
                                             strlen(tag)));
        n->plain = 0;
    }
    if ((rc = substitute(ps, pos, (const char *)ev->data.scalar.value,
                         ev->data.scalar.length, &n->text, &n->len,
                         &n->subst)))
        return rc;
    return push(ps, n);
}

static int on_start(pstate *ps, const yaml_event_t *ev, int type)
{
    rn_mpos pos = mark_pos(ps, ev->start_mark);
    const char *tag = (const char *)(type == RN_MN_MAP
                                         ? ev->data.mapping_start.tag
                                         : ev->data.sequence_start.tag);
    char ex[64];
    rn_mnode *n;
    int rc;

    if (ps->depth == RN_MANIFEST_MAX_DEPTH)
        return rn_mpos_error(ps->err, RN_ELIMIT, pos,
                             "nesting deeper than %d levels",
                             RN_MANIFEST_MAX_DEPTH);
    if (ps->depth > 0) {
        const frame *f = &ps->fr[ps->depth - 1];
        if (f->node->type == RN_MN_MAP && (ps->nstk - f->base) % 2 == 0)
            return rn_mpos_error(ps->err, RN_EINVAL, pos,
                                 "mapping keys must be scalars");
    }
    if (tag && strcmp(tag, "!") != 0 &&
        strcmp(tag, type == RN_MN_MAP ? TAG_PREFIX "map" : TAG_PREFIX "seq"))
        return rn_mpos_error(ps->err, RN_EINVAL, pos,
                             "unsupported YAML tag '%s'",
                             rn__excerpt(ex, sizeof(ex), tag, strlen(tag)));
    if ((rc = new_node(ps, type, pos, &n)))
        return rc;
    ps->fr[ps->depth].node = n;
    ps->fr[ps->depth].base = ps->nstk;
    ps->depth++;
    return 0;
}

static int same_key(const rn_mnode *a, const rn_mnode *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static int dup_error(pstate *ps, const rn_mnode *first, const rn_mnode *dup)
{
    char ex[64];
    return rn_mpos_error(ps->err, RN_EINVAL, dup->pos,
                         "duplicate key '%s' (first at %u:%u)",
                         rn__excerpt(ex, sizeof(ex), dup->text, dup->len),
                         (unsigned)first->pos.line,
                         (unsigned)first->pos.col);
}

typedef struct keyref {
    const rn_mnode *k;
    size_t idx;
} keyref;

static int keyref_cmp(const void *pa, const void *pb)
{
    const keyref *a = pa, *b = pb;
    size_t n = a->k->len < b->k->len ? a->k->len : b->k->len;
    int c = memcmp(a->k->text, b->k->text, n);
    if (c)
        return c;
    if (a->k->len != b->k->len)
        return a->k->len < b->k->len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Duplicate keys: pairwise for small maps; large ones are sorted (not
 * hashed: crafted colliding keys could make a hash table quadratic). The
 * duplicate reported is the first one in document order. */
static int check_dups(pstate *ps, const rn_mnode *m)
{
    keyref *r;
    size_t best = SIZE_MAX, first = 0;

    if (m->n <= 16) {
        for (size_t i = 1; i < m->n; i++)
            for (size_t j = 0; j < i; j++)
                if (same_key(m->keys[i], m->keys[j]))
                    return dup_error(ps, m->keys[j], m->keys[i]);
        return 0;
    }
    r = rn_malloc(m->n * sizeof(*r));
    if (!r)
        return nomem(ps);
    for (size_t i = 0; i < m->n; i++) {
        r[i].k = m->keys[i];
        r[i].idx = i;
    }
    qsort(r, m->n, sizeof(*r), keyref_cmp);
    for (size_t i = 1; i < m->n; i++)
        if (same_key(r[i].k, r[i - 1].k) &&
            (i < 2 || !same_key(r[i - 1].k, r[i - 2].k)) &&
            r[i].idx < best) {
            best = r[i].idx;
            first = r[i - 1].idx;
        }
    rn_free(r);
    if (best != SIZE_MAX)
        return dup_error(ps, m->keys[first], m->keys[best]);
    return 0;
}

static int on_end(pstate *ps)
{
    frame *f = &ps->fr[--ps->depth];
    rn_mnode *n = f->node;
    size_t k = ps->nstk - f->base;
    rn_mnode **src = k ? ps->stk + f->base : NULL; /* stk may be NULL */
    int rc;

    if (n->type == RN_MN_SEQ) {
        n->n = k;
        n->items = rn_arena_memdup(ps->a, src, k * sizeof(*src));
        if (!n->items)
            return nomem(ps);
    } else {
        /* libyaml always pairs keys with values (empty ones as "") */
        n->n = k / 2;
        n->keys = rn_arena_alloc(ps->a, (n->n ? n->n : 1) * sizeof(*src));
        n->items = rn_arena_alloc(ps->a, (n->n ? n->n : 1) * sizeof(*src));
        if (!n->keys || !n->items)
            return nomem(ps);
        for (size_t i = 0; i < n->n; i++) {
            n->keys[i] = src[2 * i];
            n->items[i] = src[2 * i + 1];
        }
        if ((rc = check_dups(ps, n)))
            return rc;
    }
    ps->nstk = f->base;
    return push(ps, n);
}

/* Line and column of a byte offset (reader errors carry no mark). */
static rn_mpos offset_pos(const pstate *ps, const char *text, size_t len,
                          size_t off)
{
    rn_mpos p = {ps->file, 1, 1};
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            p.line++;
            p.col = 1;
        } else if ((c & 0xC0) != 0x80) {
            p.col++;
        }
    }
    return p;
}

static int yaml_failure(pstate *ps, const yaml_parser_t *p, const char *text,
                        size_t len)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    rn_mpos pos;

    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ps);
    if (p->error == YAML_READER_ERROR) {
        pos = offset_pos(ps, text, len, p->problem_offset);
        if (p->problem_value != -1)
            return rn_mpos_error(ps->err, RN_EFORMAT, pos,
                                 "%s (#%X)", problem,
                                 (unsigned)p->problem_value);
        return rn_mpos_error(ps->err, RN_EFORMAT, pos, "%s", problem);
    }
    pos = mark_pos(ps, p->problem_mark);
    if (p->context)
        return rn_mpos_error(ps->err, RN_EFORMAT, pos, "%s (%s at %u:%u)",
                             problem, p->context,
                             (unsigned)p->context_mark.line + 1,
                             (unsigned)p->context_mark.column + 1);
    return rn_mpos_error(ps->err, RN_EFORMAT, pos, "%s", problem);
}

int rn__mnode_parse(rn_arena *a, const char *label, const char *text,
                    size_t len, int subst, rn_mnode **out, rn_errbuf *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    pstate ps;
    rn_mnode *root = NULL;
    int rc = 0, have_parser = 0, done = 0;

    *out = NULL;
    memset(&ps, 0, sizeof(ps));
    ps.a = a;
    ps.err = err;
    ps.subst = subst;
    ps.file = rn_arena_strndup(a, label ? label : "<yaml>",
                               strlen(label ? label : "<yaml>"));
    if (!ps.file)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if (len > RN_MANIFEST_MAX_BYTES)
        return rn_error_set(err, RN_ELIMIT,
                            "%s: larger than %zu bytes (the limit)", ps.file,
                            RN_MANIFEST_MAX_BYTES);
    if (!text)
        text = "";
    if (!yaml_parser_initialize(&parser)) {
        rc = nomem(&ps);
        goto done;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yaml_failure(&ps, &parser, text, len);
            goto done;
        }
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (ps.docs++ > 0)
                rc = rn_mpos_error(err, RN_EINVAL,
                                   mark_pos(&ps, ev.start_mark),
                                   "expected a single YAML document, found "
                                   "another one");
            break;
        case YAML_DOCUMENT_END_EVENT:
            root = ps.nstk ? ps.stk[0] : NULL;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_ALIAS_EVENT:
            rc = rn_mpos_error(err, RN_EINVAL, mark_pos(&ps, ev.start_mark),
                               "YAML aliases (*name) are not supported");
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&ps, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = on_start(&ps, &ev, RN_MN_SEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            rc = on_start(&ps, &ev, RN_MN_MAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (ps.depth == 0)
                rc = rn_error_set(err, RN_EINTERNAL,
                                  "%s: unbalanced YAML events", ps.file);
            else
                rc = on_end(&ps);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc)
            goto done;
    }
    if (!root) {
        rn_mpos p1 = {ps.file, 1, 1};
        if ((rc = new_node(&ps, RN_MN_SCALAR, p1, &root)))
            goto done;
        root->text = "";
        root->plain = 1;
    }
    *out = root;
done:
    if (have_parser)
        yaml_parser_delete(&parser);
    rn_free(ps.stk);
    return rc;
}

int rn_mnode_parse(rn_arena *a, const char *label, const char *text,
                   size_t len, rn_mnode **out, rn_errbuf *err)
{
    return rn__mnode_parse(a, label, text, len, 1, out, err);
}

/* ---- the manifest schema -------------------------------------------- */

static const char *const top_keys[] = {"name", "plugins", "source", "steps",
                                       "sink"};
enum { K_NAME, K_PLUGINS, K_SOURCE, K_STEPS, K_SINK, K_COUNT };

/* [a-z_][a-z0-9_]* with at most one '.' between two such names. */
static int valid_op_name(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    if (n > 2 * RN_MAX_NAME + 1)
        return 0;
    for (;;) {
        size_t st = i;
        if (i >= n || !((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
                         (s[i] >= '0' && s[i] <= '9')))
            i++;
        if (i - st > RN_MAX_NAME)
            return 0;
        parts++;
        if (i == n)
            return 1;
        if (s[i] != '.' || parts == 2)
            return 0;
        i++;
    }
}

static int parse_op(const rn_mnode *n, const char *what, rn_mstep *out,
                    rn_errbuf *err)
{
    const rn_mnode *name = n, *params = NULL;
    char d[96], ex[64];

    if (n->type == RN_MN_MAP) {
        if (n->n != 1)
            return rn_mpos_error(
                err, RN_EINVAL, n->pos,
                "%s: expected an operator name or a one-key map from "
                "operator name to parameters, got a mapping with %zu keys%s",
                what, n->n,
                n->n > 1 ? " (indent the parameters under the operator "
                           "name)"
                         : "");
        name = n->keys[0];
        params = n->items[0];
        if (rn_mnode_is_null(params))
            params = NULL;
        else if (params->type != RN_MN_MAP)
            return rn_mpos_error(err, RN_EINVAL, params->pos,
                                 "%s: parameters of '%s' must be a mapping, "
                                 "got %s",
                                 what,
                                 rn__excerpt(ex, sizeof(ex), name->text,
                                             name->len),
                                 rn__mnode_describe(d, sizeof(d), params));
    } else if (n->type != RN_MN_SCALAR || rn_mnode_is_null(n)) {
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "%s: expected an operator name or a one-key map "
                             "from operator name to parameters, got %s",
                             what, rn__mnode_describe(d, sizeof(d), n));
    }
    if (!valid_op_name(name->text, name->len))
        return rn_mpos_error(err, RN_EINVAL, name->pos,
                             "%s: invalid operator name '%s' (expected op "
                             "or plugin.op, made of a-z, 0-9 and '_')",
                             what,
                             rn__excerpt(ex, sizeof(ex), name->text,
                                         name->len));
    out->op = name->text;
    out->pos = name->pos;
    out->params = params;
    return 0;
}

static int is_hex64(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static int parse_plugins(rn_manifest *m, const rn_mnode *n, rn_errbuf *err)
{
    char d[96], ex[64];
    if (rn_mnode_is_null(n))
        return 0;
    if (n->type != RN_MN_SEQ)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "plugins: expected a list of plugin paths or "
                             "sha256: ids, got %s",
                             rn__mnode_describe(d, sizeof(d), n));
    m->plugins = rn_arena_alloc(&m->arena,
                                (n->n ? n->n : 1) * sizeof(*m->plugins));
    m->plugin_pos = rn_arena_alloc(&m->arena,
                                   (n->n ? n->n : 1) * sizeof(rn_mpos));
    if (!m->plugins || !m->plugin_pos)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++) {
        const rn_mnode *it = n->items[i];
        if (it->type != RN_MN_SCALAR || rn_mnode_is_null(it) || it->len == 0)
            return rn_mpos_error(err, RN_EINVAL, it->pos,
                                 "plugins: expected a plugin path or "
                                 "sha256: id, got %s",
                                 it->len == 0 && it->type == RN_MN_SCALAR
                                     ? "an empty string"
                                     : rn__mnode_describe(d, sizeof(d), it));
        if (memchr(it->text, '\0', it->len))
            return rn_mpos_error(err, RN_EINVAL, it->pos,
                                 "plugins: a path cannot contain NUL");
        if (it->len >= 7 && memcmp(it->text, "sha256:", 7) == 0 &&
            !is_hex64(it->text + 7, it->len - 7))
            return rn_mpos_error(err, RN_EINVAL, it->pos,
                                 "plugins: invalid plugin id '%s' (expected "
                                 "sha256: and 64 lower-case hex digits)",
                                 rn__excerpt(ex, sizeof(ex), it->text,
                                             it->len));
        m->plugins[i] = it->text;
        m->plugin_pos[i] = it->pos;
    }
    m->n_plugins = n->n;
    return 0;
}

static int parse_steps(rn_manifest *m, const rn_mnode *n, rn_errbuf *err)
{
    char d[96];
    int rc;
    if (rn_mnode_is_null(n))
        return 0;
    if (n->type != RN_MN_SEQ)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "steps: expected a list of operators, got %s",
                             rn__mnode_describe(d, sizeof(d), n));
    m->steps = rn_arena_alloc(&m->arena, (n->n ? n->n : 1) * sizeof(rn_mstep));
    if (!m->steps)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_op(n->items[i], "step", &m->steps[i], err)))
            return rc;
    m->n_steps = n->n;
    return 0;
}

/* The file's base name without its extension, for a manifest with no
 * `name`. */
static const char *default_name(rn_arena *a, const char *file)
{
    const char *b = strrchr(file, '/'), *dot;
    size_t n;
    b = b ? b + 1 : file;
    dot = strrchr(b, '.');
    n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    if (n == 0 || b[0] == '<')
        return "pipeline";
    return rn_arena_strndup(a, b, n);
}

static int build(rn_manifest *m, const rn_mnode *root, rn_errbuf *err)
{
    const rn_mnode *val[K_COUNT] = {NULL};
    char d[96], ex[64];
    int rc;

    m->root = root;
    if (root->type != RN_MN_MAP) {
        if (rn_mnode_is_null(root))
            return rn_mpos_error(err, RN_EINVAL, root->pos,
                                 "the manifest is empty (expected a mapping "
                                 "with keys name, plugins, source, steps, "
                                 "sink)");
        return rn_mpos_error(err, RN_EINVAL, root->pos,
                             "the manifest must be a mapping with keys name, "
                             "plugins, source, steps, sink; got %s",
                             rn__mnode_describe(d, sizeof(d), root));
    }
    for (size_t i = 0; i < root->n; i++) {
        const rn_mnode *k = root->keys[i];
        size_t j;
        for (j = 0; j < K_COUNT; j++)
            if (strlen(top_keys[j]) == k->len &&
                memcmp(top_keys[j], k->text, k->len) == 0)
                break;
        if (j == K_COUNT)
            return rn_mpos_error(err, RN_EINVAL, k->pos,
                                 "unknown key '%s' (expected name, plugins, "
                                 "source, steps, sink)",
                                 rn__excerpt(ex, sizeof(ex), k->text,
                                             k->len));
        val[j] = root->items[i];
    }

    if (val[K_NAME]) {
        const rn_mnode *n = val[K_NAME];
        if (n->type != RN_MN_SCALAR || rn_mnode_is_null(n) || n->len == 0)
            return rn_mpos_error(err, RN_EINVAL, n->pos,
                                 "name: expected a non-empty string, got %s",
                                 n->type == RN_MN_SCALAR && n->len == 0 &&
                                         !n->plain
                                     ? "an empty string"
                                     : rn__mnode_describe(d, sizeof(d), n));
        m->name = n->text;
    } else {
        m->name = default_name(&m->arena, m->file);
        if (!m->name)
            return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    if ((rc = parse_plugins(m, val[K_PLUGINS], err)))
        return rc;
    if (!val[K_SOURCE])
        return rn_mpos_error(err, RN_EINVAL, root->pos,
                             "missing required key 'source'");
    if ((rc = parse_op(val[K_SOURCE], "source", &m->source, err)))
        return rc;
    if ((rc = parse_steps(m, val[K_STEPS], err)))
        return rc;
    if (val[K_SINK]) {
        if ((rc = parse_op(val[K_SINK], "sink", &m->sink, err)))
            return rc;
        m->has_sink = 1;
    }
    return 0;
}

int rn_manifest_parse(const char *label, const char *text, size_t len,
                      rn_manifest **out, rn_errbuf *err)
{
    rn_manifest *m = NULL;
    rn_mnode *root = NULL;
    int rc;

    *out = NULL;
    if (!label)
        label = "<manifest>";
    m = rn_calloc(1, sizeof(*m));
    if (!m)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    rn_arena_init(&m->arena, 0);
    m->file = rn_arena_strndup(&m->arena, label, strlen(label));
    if (!m->file) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = rn__mnode_parse(&m->arena, m->file, text, len, 1, &root, err)))
        goto done;
    rc = build(m, root, err);
done:
    if (rc)
        rn_manifest_free(m);
    else
        *out = m;
    return rc;
}

void rn_manifest_free(rn_manifest *m)
{
    if (!m)
        return;
    rn_arena_release(&m->arena);
    rn_free(m);
}

int rn_manifest_load(const char *path, rn_manifest **out, rn_errbuf *err)
{
    rn_buf b;
    int fd = -1, rc = 0;
    char chunk[65536];

    *out = NULL;
    rn_buf_init(&b, RN_MANIFEST_MAX_BYTES);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = rn_error_set(err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                          "%s: %s", path, strerror(errno));
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = rn_error_set(err, RN_EIO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        if ((rc = rn_buf_append(&b, chunk, (size_t)r))) {
            if (rc == RN_ELIMIT)
                rn_error_set(err, rc, "%s: larger than %zu bytes (the limit)",
                             path, RN_MANIFEST_MAX_BYTES);
            else
                rn_error_set(err, rc, "%s: out of memory", path);
            goto done;
        }
    }
    rc = rn_manifest_parse(path, b.ptr ? b.ptr : "", b.len, out, err);
done:
    if (fd >= 0)
        close(fd);
    rn_buf_release(&b);
    return rc;
}
