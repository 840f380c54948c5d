/*
 * YAML text -> node tree (libyaml's event API, so nesting, node count and
 * text size are bounded while parsing, before anything large is built),
 * ${VAR} substitution, and the manifest's top-level schema.
 */
#define _GNU_SOURCE /* memmem; open, read, O_CLOEXEC */

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

const char *rn_mnode_display(const rn_mnode *n, size_t *len)
{
    const char *s = "";
    size_t l = 0;
    if (n && n->type == RN_MN_SCALAR) {
        if (!n->subst) {
            s = n->text;
            l = n->len;
        } else if (n->raw) {
            s = n->raw;
            l = n->raw_len;
        } else {
            s = RN_MNODE_HIDDEN;
            l = sizeof(RN_MNODE_HIDDEN) - 1;
        }
    }
    if (len)
        *len = l;
    return s;
}

const char *rn__mnode_excerpt(char *buf, size_t cap, const rn_mnode *n)
{
    size_t l;
    const char *s = rn_mnode_display(n, &l);
    return rn__excerpt(buf, cap, s, l);
}

/* ---- redacting messages --------------------------------------------- */

/* Replaces msg[at..at+n) by `with`, keeping the message within the
 * errbuf (cut at its end). Returns the offset just after `with`. */
static size_t msg_splice(char *msg, size_t *len, size_t at, size_t n,
                         const char *with)
{
    size_t wl = strlen(with), cap = RN_ERRBUF_SIZE - 1, tail = *len - at - n;
    if (at + wl > cap)
        wl = cap - at;
    if (at + wl + tail > cap)
        tail = cap - at - wl;
    memmove(msg + at + wl, msg + at + n, tail);
    memcpy(msg + at, with, wl);
    *len = at + wl + tail;
    msg[*len] = '\0';
    return at + wl;
}

void rn_msecrets_redact(const rn_msecret *secrets, size_t n, rn_errbuf *err)
{
    size_t len;
    int cut;

    if (!err || n == 0)
        return;
    len = strnlen(err->msg, RN_ERRBUF_SIZE - 1);
    err->msg[len] = '\0';
    /* a message that fills the buffer may have been cut inside a value */
    cut = len == RN_ERRBUF_SIZE - 1;
    for (size_t i = 0; i < n; i++) {
        const rn_msecret *s = &secrets[i];
        size_t at = 0;
        char *hit;
        if (s->len < RN_MANIFEST_REDACT_MIN)
            continue;
        while (at < len &&
               (hit = memmem(err->msg + at, len - at, s->value, s->len)))
            at = msg_splice(err->msg, &len, (size_t)(hit - err->msg),
                            s->len, s->shown);
        if (!cut)
            continue;
        /* the longest tail of the message that starts the value */
        for (size_t k = s->len - 1 < len ? s->len - 1 : len;
             k >= RN_MANIFEST_REDACT_MIN; k--) {
            if (err->msg[len - k] == s->value[0] &&
                memcmp(err->msg + len - k, s->value, k) == 0) {
                msg_splice(err->msg, &len, len - k, k, s->shown);
                break;
            }
        }
    }
}

/* ---- the tree builder ----------------------------------------------- */

typedef struct frame {
    rn_mnode *node;
    size_t base; /* index in the pending stack of its first child */
} frame;

/* How scalars are substituted: not at all (parameter defaults), from
 * the environment (a manifest), or a job spec's escapes only (its values
 * were substituted by the client: a ${VAR} there is refused, so a
 * submitted text can never read the environment of the process parsing
 * it). */
enum { SUBST_NONE, SUBST_ENV, SUBST_JOB };

/* A substituted value seen while parsing (rn_msecret before it is
 * copied: value may still point into the environment). */
typedef struct psecret {
    const char *value;
    size_t len;
    const char *shown;
} psecret;

typedef struct pstate {
    rn_arena *a;
    const char *file;
    rn_errbuf *err;
    int subst;
    int want_secrets; /* collect them (rn_manifest_parse) */
    psecret *sec;
    size_t nsec, capsec;
    /* environment values recorded already, by getenv pointer (open
     * addressing), so a variable used a million times is kept once */
    const char **envseen;
    size_t envn, envcap;
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
    if (ps->depth > 0) {
        /* bounded here, as items arrive, not when the list ends */
        const frame *f = &ps->fr[ps->depth - 1];
        int map = f->node->type == RN_MN_MAP;
        size_t k = ps->nstk - f->base;
        if (k >= (map ? 2 : 1) * RN_MANIFEST_MAX_ITEMS)
            return rn_mpos_error(ps->err, RN_ELIMIT, n->pos,
                                 map ? "a mapping with more than %zu keys "
                                       "(the limit)"
                                     : "a list with more than %zu items "
                                       "(the limit)",
                                 RN_MANIFEST_MAX_ITEMS);
    }
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

/* Remembers a substituted value for rn_msecrets_redact (short ones are
 * never searched for: not kept). */
static int add_secret(pstate *ps, const char *value, size_t len,
                      const char *shown)
{
    if (!ps->want_secrets || len < RN_MANIFEST_REDACT_MIN)
        return 0;
    if (ps->nsec == ps->capsec) {
        size_t cap = ps->capsec ? ps->capsec * 2 : 16;
        psecret *p = rn_realloc(ps->sec, cap * sizeof(*p));
        if (!p)
            return nomem(ps);
        ps->sec = p;
        ps->capsec = cap;
    }
    ps->sec[ps->nsec].value = value;
    ps->sec[ps->nsec].len = len;
    ps->sec[ps->nsec].shown = shown;
    ps->nsec++;
    return 0;
}

static size_t ptr_hash(const char *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

/* 1 when val (a getenv pointer) was recorded before; records it. */
static int env_seen(pstate *ps, const char *val, int *seen)
{
    size_t i;
    *seen = 0;
    if (ps->envn * 2 >= ps->envcap) {
        size_t cap = ps->envcap ? ps->envcap * 2 : 64;
        const char **t = rn_calloc(cap, sizeof(*t));
        if (!t)
            return nomem(ps);
        for (size_t k = 0; k < ps->envcap; k++)
            if (ps->envseen[k]) {
                for (i = ptr_hash(ps->envseen[k], cap); t[i];
                     i = (i + 1) & (cap - 1))
                    ;
                t[i] = ps->envseen[k];
            }
        rn_free(ps->envseen);
        ps->envseen = t;
        ps->envcap = cap;
    }
    for (i = ptr_hash(val, ps->envcap); ps->envseen[i];
         i = (i + 1) & (ps->envcap - 1))
        if (ps->envseen[i] == val) {
            *seen = 1;
            return 0;
        }
    ps->envseen[i] = val;
    ps->envn++;
    return 0;
}

/* Records the value of variable name[0..nlen) for rn_msecrets_redact. */
static int env_secret(pstate *ps, const char *name, size_t nlen,
                      const char *val, size_t vl)
{
    char *shown;
    int seen, rc;
    if (!ps->want_secrets || vl < RN_MANIFEST_REDACT_MIN)
        return 0;
    if ((rc = env_seen(ps, val, &seen)) || seen)
        return rc;
    if (!(shown = rn_arena_alloc(ps->a, nlen + 4)))
        return nomem(ps);
    snprintf(shown, nlen + 4, "${%.*s}", (int)nlen, name);
    return add_secret(ps, val, vl, shown);
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

/* The error for a scalar over a limit while substituting: the per-scalar
 * one or, when less was left of it, the budget of all scalars. */
static int too_long(pstate *ps, rn_mpos pos, size_t max)
{
    if (max < RN_MANIFEST_MAX_SCALAR)
        return rn_mpos_error(ps->err, RN_ELIMIT, pos,
                             "scalars expand to more than %zu bytes",
                             RN_MANIFEST_MAX_EXPANDED);
    return rn_mpos_error(ps->err, RN_ELIMIT, pos,
                         "a scalar longer than %zu bytes (the limit) after "
                         "substitution",
                         RN_MANIFEST_MAX_SCALAR);
}

/* Replaces ${VAR}, ${VAR:-default} and $${ in s[0..n); the result is a
 * NUL-terminated copy in the arena. *substituted is set when a ${...}
 * reference was replaced (not for the $${ escape or a lone '$'). */
static int substitute(pstate *ps, rn_mpos pos, const char *s, size_t n,
                      const char **out, size_t *outlen, int *substituted)
{
    rn_buf b;
    char name[256], ex[64];
    size_t i = 0, start, left = RN_MANIFEST_MAX_EXPANDED - ps->expanded;
    size_t max = left < RN_MANIFEST_MAX_SCALAR ? left : RN_MANIFEST_MAX_SCALAR;
    int rc = 0, refs = 0;
    char *t;

    /* max 0 would mean "unlimited": 0 bytes left fail in budget() */
    rn_buf_init(&b, max ? max : 1);
    if (ps->subst == SUBST_NONE || !memchr(s, '$', n))
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
        if (ps->subst == SUBST_JOB) {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "'%s' in a submitted job: variables are "
                               "substituted where a job is submitted, "
                               "never where it runs",
                               rn__excerpt(ex, sizeof(ex), s + start,
                                           n - start));
            goto done;
        }
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
        refs++;
        val = getenv(name);
        if (def && (!val || !*val)) {
            /* the default is the file's own text: nothing to hide */
            rc = rn_buf_append(&b, def, dlen);
        } else if (!val) {
            rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                               "environment variable '%s' is not set "
                               "(write ${%s:-default} to give a default)",
                               name, name);
            goto done;
        } else {
            size_t vl = strlen(val);
            if ((rc = env_secret(ps, name, nlen, val, vl)))
                goto done;
            rc = rn_buf_append(&b, val, vl);
        }
        if (rc)
            break;
        i = j;
    }
    if (rc) {
        if (rc == RN_ELIMIT)
            too_long(ps, pos, max);
        else
            nomem(ps);
        goto done;
    }
    s = b.ptr ? b.ptr : "";
    n = b.len;
    *substituted = refs > 0;
copy:
    if (n > RN_MANIFEST_MAX_SCALAR) {
        rc = too_long(ps, pos, RN_MANIFEST_MAX_SCALAR);
        goto done;
    }
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

/* The local tag of a scalar that names a file whose text is the value. */
#define MTAG_FILE "!file"

/* `code: !file clean.lua`: the scalar's text (substituted) is a path,
 * relative to the manifest's directory; the value is the file's text. A
 * job's manifest (a worker's) never reads files: the client that read the
 * manifest sent the text. */
static int read_tagged_file(pstate *ps, rn_mpos pos, rn_mnode *n)
{
    char ex[64], *path = NULL;
    const char *slash = ps->file ? strrchr(ps->file, '/') : NULL;
    size_t dir = n->len && n->text[0] != '/' && slash
                     ? (size_t)(slash - ps->file) + 1 : 0;
    struct stat st;
    int fd = -1, rc = 0;
    char *text = NULL;
    size_t got = 0;

    rn__excerpt(ex, sizeof(ex), n->subst ? n->raw : n->text,
                n->subst ? n->raw_len : n->len);
    if (ps->subst != SUBST_ENV)
        return rn_mpos_error(ps->err, RN_EINVAL, pos,
                             "!file '%s' in a submitted job: files are read "
                             "where a job is submitted",
                             ex);
    if (n->len == 0 || memchr(n->text, '\0', n->len))
        return rn_mpos_error(ps->err, RN_EINVAL, pos,
                             "!file needs a path, got '%s'", ex);
    if (!(path = rn_malloc(dir + n->len + 1)))
        return nomem(ps);
    memcpy(path, ps->file, dir);
    memcpy(path + dir, n->text, n->len);
    path[dir + n->len] = '\0';
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        rc = rn_mpos_error(ps->err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                           pos, "!file '%s': %s", ex, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = rn_mpos_error(ps->err, RN_EINVAL, pos,
                           "!file '%s': not a regular file", ex);
        goto done;
    }
    if ((uint64_t)st.st_size > RN_MANIFEST_MAX_SCALAR) {
        rc = too_long(ps, pos, RN_MANIFEST_MAX_SCALAR);
        goto done;
    }
    if ((rc = budget(ps, pos, (size_t)st.st_size)))
        goto done;
    if (!(text = rn_arena_alloc(ps->a, (size_t)st.st_size + 1))) {
        rc = nomem(ps);
        goto done;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = rn_mpos_error(ps->err, RN_EIO, pos, "!file '%s': %s", ex,
                               r < 0 ? strerror(errno) : "shorter than it was");
            goto done;
        }
        got += (size_t)r;
    }
    text[got] = '\0';
    n->text = text;
    n->len = got;
    n->plain = 0; /* a string, whatever it holds */
done:
    if (fd >= 0)
        close(fd);
    rn_free(path);
    return rc;
}

static int on_scalar(pstate *ps, const yaml_event_t *ev)
{
    rn_mpos pos = mark_pos(ps, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *raw = (const char *)ev->data.scalar.value;
    size_t raw_len = ev->data.scalar.length;
    char ex[64];
    rn_mnode *n;
    int rc, var = 0, file = 0;

    if ((rc = new_node(ps, RN_MN_SCALAR, pos, &n)))
        return rc;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (tag && strcmp(tag, MTAG_FILE) == 0) {
        file = 1;
    } else if (tag && strcmp(tag, RN_MTAG_VAR) == 0) {
        /* a value substituted where the text was written (a job spec):
         * typed as its style says, shown as RN_MNODE_HIDDEN */
        var = 1;
    } else if (tag) {
        if (strcmp(tag, "!") != 0 && strcmp(tag, TAG_PREFIX "str") != 0)
            return rn_mpos_error(ps->err, RN_EINVAL, pos,
                                 "unsupported YAML tag '%s' (only !!str and "
                                 "!file are understood)",
                                 rn__excerpt(ex, sizeof(ex), tag,
                                             strlen(tag)));
        n->plain = 0;
    }
    if ((rc = substitute(ps, pos, raw, raw_len, &n->text, &n->len,
                         &n->subst)))
        return rc;
    if (var) {
        n->subst = 1;
        if ((rc = add_secret(ps, n->text, n->len, RN_MNODE_HIDDEN)))
            return rc;
    } else if (n->subst) {
        /* the text as written, for messages (never the value); all
         * of them together are at most the document's size */
        if (!(n->raw = rn_arena_strndup(ps->a, raw, raw_len)))
            return nomem(ps);
        n->raw_len = raw_len;
    }
    if (file && (rc = read_tagged_file(ps, pos, n)))
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
                         rn__mnode_excerpt(ex, sizeof(ex), dup),
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

/* ---- substituted values, for rn_msecrets_redact ------------------- */

static int secret_cmp(const void *pa, const void *pb)
{
    const psecret *a = pa, *b = pb;
    int c;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1; /* longest first */
    c = memcmp(a->value, b->value, a->len);
    if (c)
        return c;
    return a->shown < b->shown ? -1 : a->shown > b->shown; /* stable */
}

/* The distinct values collected while parsing, longest first, copied
 * into the arena (an environment value may change after parsing). Only
 * the first RN_ERRBUF_SIZE bytes of a value can ever be in a message, so
 * only they are kept. */
static int finish_secrets(pstate *ps, const rn_msecret **out, size_t *n)
{
    rn_msecret *s;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (ps->nsec == 0)
        return 0;
    for (size_t i = 0; i < ps->nsec; i++)
        if (ps->sec[i].len > RN_ERRBUF_SIZE)
            ps->sec[i].len = RN_ERRBUF_SIZE;
    qsort(ps->sec, ps->nsec, sizeof(*ps->sec), secret_cmp);
    if (!(s = rn_arena_alloc(ps->a, ps->nsec * sizeof(*s))))
        return nomem(ps);
    for (size_t i = 0; i < ps->nsec; i++) {
        const psecret *p = &ps->sec[i];
        if (k && s[k - 1].len == p->len &&
            memcmp(s[k - 1].value, p->value, p->len) == 0)
            continue;
        if (!(s[k].value = rn_arena_strndup(ps->a, p->value, p->len)))
            return nomem(ps);
        s[k].len = p->len;
        s[k].shown = p->shown;
        k++;
    }
    *out = s;
    *n = k;
    return 0;
}

/* ---- the parser loop ------------------------------------------------ */

/* Parses one document into a tree in arena a. subst: SUBST_* below.
 * secrets (may be NULL) receives the substituted values. */
static int parse_doc(rn_arena *a, const char *label, const char *text,
                     size_t len, int subst, rn_mnode **out,
                     const rn_msecret **secrets, size_t *n_secrets,
                     rn_errbuf *err)
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
    ps.want_secrets = secrets != NULL;
    ps.file = rn_arena_strndup(a, label ? label : "<yaml>",
                               strlen(label ? label : "<yaml>"));
    if (!ps.file)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if (!text)
        text = "";
    if (len > RN_MANIFEST_MAX_BYTES)
        return rn_mpos_error(err, RN_ELIMIT,
                             offset_pos(&ps, text, len,
                                        RN_MANIFEST_MAX_BYTES),
                             "the manifest passes the limit of %zu bytes "
                             "here",
                             RN_MANIFEST_MAX_BYTES);
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
            /* never expanded: a few aliases of aliases would multiply
             * the tree ("billion laughs") */
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
    if (secrets && (rc = finish_secrets(&ps, secrets, n_secrets)))
        goto done;
    *out = root;
done:
    if (have_parser)
        yaml_parser_delete(&parser);
    rn_free(ps.stk);
    rn_free(ps.sec);
    rn_free(ps.envseen);
    return rc;
}

int rn__mnode_parse(rn_arena *a, const char *label, const char *text,
                    size_t len, int subst, rn_mnode **out, rn_errbuf *err)
{
    return parse_doc(a, label, text, len, subst ? SUBST_ENV : SUBST_NONE,
                     out, NULL, NULL, err);
}

int rn_mnode_parse(rn_arena *a, const char *label, const char *text,
                   size_t len, rn_mnode **out, rn_errbuf *err)
{
    return parse_doc(a, label, text, len, SUBST_ENV, out, NULL, NULL, err);
}

/* ---- the manifest schema -------------------------------------------- */

static const char *const top_keys[] = {"name",  "plugins",  "source", "steps",
                                       "sink",  "datasets", "outputs"};
enum {
    K_NAME,
    K_PLUGINS,
    K_SOURCE,
    K_STEPS,
    K_SINK,
    K_DATASETS,
    K_OUTPUTS,
    K_COUNT
};
#define TOP_KEYS "name, plugins, source, steps, sink, datasets, outputs"

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
        /* a mapping, or one bare value for the operator's one required
         * parameter (`- pluck: user`): rn_params_bind tells which */
        if (rn_mnode_is_null(params))
            params = NULL;
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
                             rn__mnode_excerpt(ex, sizeof(ex), name));
    out->op = name->text;
    out->pos = name->pos;
    out->params = params;
    out->name_node = name;
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
    if (n->n > RN_MANIFEST_MAX_PLUGINS)
        return rn_mpos_error(err, RN_ELIMIT,
                             n->items[RN_MANIFEST_MAX_PLUGINS]->pos,
                             "plugins: more than %d plugins (the limit)",
                             RN_MANIFEST_MAX_PLUGINS);
    m->plugins = rn_arena_alloc(&m->arena,
                                (n->n ? n->n : 1) * sizeof(*m->plugins));
    m->plugin_pos = rn_arena_alloc(&m->arena,
                                   (n->n ? n->n : 1) * sizeof(rn_mpos));
    m->plugin_nodes = rn_arena_alloc(&m->arena, (n->n ? n->n : 1) *
                                                    sizeof(*m->plugin_nodes));
    if (!m->plugins || !m->plugin_pos || !m->plugin_nodes)
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
                                 rn__mnode_excerpt(ex, sizeof(ex), it));
        m->plugins[i] = it->text;
        m->plugin_pos[i] = it->pos;
        m->plugin_nodes[i] = it;
    }
    m->n_plugins = n->n;
    return 0;
}

/* A list of steps into *out / *n_out; *total counts the steps of the
 * whole manifest (every dataset's), bounded by RN_MANIFEST_MAX_STEPS. */
static int parse_steps(rn_manifest *m, const rn_mnode *n, rn_mstep **out,
                       size_t *n_out, size_t *total, rn_errbuf *err)
{
    char d[96];
    int rc;
    if (rn_mnode_is_null(n))
        return 0;
    if (n->type != RN_MN_SEQ)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "steps: expected a list of operators, got %s",
                             rn__mnode_describe(d, sizeof(d), n));
    if (n->n > RN_MANIFEST_MAX_STEPS - *total)
        return rn_mpos_error(err, RN_ELIMIT,
                             n->items[RN_MANIFEST_MAX_STEPS - *total]->pos,
                             "steps: more than %d steps (the limit)",
                             RN_MANIFEST_MAX_STEPS);
    *out = rn_arena_alloc(&m->arena, (n->n ? n->n : 1) * sizeof(rn_mstep));
    if (!*out)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_op(n->items[i], "step", &(*out)[i], err)))
            return rc;
    *n_out = n->n;
    *total += n->n;
    return 0;
}

/* ---- datasets and outputs ------------------------------------------- */

/* [A-Za-z_][A-Za-z0-9_-]*, at most RN_MANIFEST_MAX_DSNAME bytes. */
static int valid_ds_name(const char *s, size_t n)
{
    if (n == 0 || n > RN_MANIFEST_MAX_DSNAME ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* A dataset name (`what` says where, for the message) into *out. */
static int parse_ds_ref(const rn_mnode *n, const char *what, rn_mref *out,
                        rn_errbuf *err)
{
    char d[96], ex[64];
    if (n->type != RN_MN_SCALAR || rn_mnode_is_null(n))
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "%s: expected a dataset name, got %s", what,
                             rn__mnode_describe(d, sizeof(d), n));
    if (!valid_ds_name(n->text, n->len))
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "%s: invalid dataset name '%s' (expected "
                             "letters, digits, '_' and '-', starting with a "
                             "letter or '_', at most %d bytes)",
                             what, rn__mnode_excerpt(ex, sizeof(ex), n),
                             RN_MANIFEST_MAX_DSNAME);
    out->name = n->text;
    out->pos = n->pos;
    out->node = n;
    return 0;
}

/* concat: / zip: a list of dataset names (zip needs two). */
static int parse_ds_list(rn_manifest *m, const rn_mnode *n, const char *what,
                         size_t min, rn_mdataset *ds, rn_errbuf *err)
{
    char d[96];
    int rc;
    if (n->type != RN_MN_SEQ || n->n < min)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "%s: expected a list of %s dataset names, got "
                             "%s",
                             what, min > 1 ? "two or more" : "one or more",
                             n->type == RN_MN_SEQ
                                 ? (n->n ? "one" : "an empty list")
                                 : rn__mnode_describe(d, sizeof(d), n));
    if (n->n > RN_MANIFEST_MAX_INPUTS)
        return rn_mpos_error(err, RN_ELIMIT,
                             n->items[RN_MANIFEST_MAX_INPUTS]->pos,
                             "%s: more than %d datasets (the limit)", what,
                             RN_MANIFEST_MAX_INPUTS);
    if (!(ds->inputs = rn_arena_alloc(&m->arena, n->n * sizeof(rn_mref))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_ds_ref(n->items[i], what, &ds->inputs[i], err)))
            return rc;
    ds->n_inputs = n->n;
    return 0;
}

static const char *const ds_kinds[] = {NULL, "source", "from", "concat",
                                       "zip"};

/* One dataset: exactly one of source / from / concat / zip, then
 * optional steps. */
static int parse_dataset(rn_manifest *m, const rn_mnode *key,
                         const rn_mnode *n, rn_mdataset *ds, size_t *total,
                         rn_errbuf *err)
{
    char d[96], ex[64], what[96];
    const rn_mnode *kind_node = NULL;
    int rc;

    if ((rc = parse_ds_ref(key, "datasets", &ds->name, err)))
        return rc;
    rn__excerpt(ex, sizeof(ex), rn_mnode_display(key, NULL),
                strlen(rn_mnode_display(key, NULL)));
    snprintf(what, sizeof(what), "dataset '%s'", ex);
    if (n->type != RN_MN_MAP)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "%s: expected a mapping with one of source, "
                             "from, concat, zip and optional steps, got %s",
                             what, rn__mnode_describe(d, sizeof(d), n));
    for (size_t i = 0; i < n->n; i++) {
        const rn_mnode *k = n->keys[i], *v = n->items[i];
        int kind = 0;
        for (int j = RN_MDS_SOURCE; j <= RN_MDS_ZIP; j++)
            if (strlen(ds_kinds[j]) == k->len &&
                memcmp(ds_kinds[j], k->text, k->len) == 0)
                kind = j;
        if (kind) {
            char ex2[64];
            if (kind_node)
                return rn_mpos_error(
                    err, RN_EINVAL, k->pos,
                    "%s: '%s' and '%s' exclude each other (a dataset has "
                    "one of source, from, concat, zip)",
                    what, rn__mnode_excerpt(ex2, sizeof(ex2), kind_node),
                    ds_kinds[kind]);
            kind_node = k;
            ds->kind = kind;
            ds->kind_pos = k->pos;
            switch (kind) {
            case RN_MDS_SOURCE:
                rc = parse_op(v, "source", &ds->source, err);
                break;
            case RN_MDS_FROM:
                if (!(ds->inputs = rn_arena_alloc(&m->arena, sizeof(rn_mref))))
                    return rn_error_set(err, RN_ENOMEM, "out of memory");
                ds->n_inputs = 1;
                rc = parse_ds_ref(v, "from", &ds->inputs[0], err);
                break;
            case RN_MDS_CONCAT:
                rc = parse_ds_list(m, v, "concat", 1, ds, err);
                break;
            default:
                rc = parse_ds_list(m, v, "zip", 2, ds, err);
                break;
            }
            if (rc)
                return rc;
        } else if (k->len == 5 && memcmp(k->text, "steps", 5) == 0) {
            if ((rc = parse_steps(m, v, &ds->steps, &ds->n_steps, total, err)))
                return rc;
        } else if (k->len == 4 && memcmp(k->text, "sink", 4) == 0) {
            return rn_mpos_error(err, RN_EINVAL, k->pos,
                                 "%s: a dataset has no sink: write it in "
                                 "`outputs` as {dataset: %s, sink: ...}",
                                 what, ex);
        } else {
            return rn_mpos_error(err, RN_EINVAL, k->pos,
                                 "%s: unknown key '%s' (expected one of "
                                 "source, from, concat, zip, and steps)",
                                 what, rn__mnode_excerpt(d, sizeof(d), k));
        }
    }
    if (!kind_node)
        return rn_mpos_error(err, RN_EINVAL, key->pos,
                             "%s: needs one of source, from, concat or zip",
                             what);
    return 0;
}

static int parse_datasets(rn_manifest *m, const rn_mnode *n, rn_errbuf *err)
{
    char d[96];
    size_t total = 0;
    int rc;
    if (n->type != RN_MN_MAP || n->n == 0)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "datasets: expected a mapping from dataset "
                             "names to datasets, got %s",
                             n->type == RN_MN_MAP
                                 ? "an empty mapping"
                                 : rn__mnode_describe(d, sizeof(d), n));
    if (n->n > RN_MANIFEST_MAX_DATASETS)
        return rn_mpos_error(err, RN_ELIMIT,
                             n->keys[RN_MANIFEST_MAX_DATASETS]->pos,
                             "datasets: more than %d datasets (the limit)",
                             RN_MANIFEST_MAX_DATASETS);
    m->datasets = rn_arena_alloc(&m->arena, n->n * sizeof(rn_mdataset));
    if (!m->datasets)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    memset(m->datasets, 0, n->n * sizeof(rn_mdataset));
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_dataset(m, n->keys[i], n->items[i], &m->datasets[i],
                                &total, err)))
            return rc;
    m->n_datasets = n->n;
    return 0;
}

/* One item of `outputs`: NAME, or {dataset: NAME, sink: OP}. */
static int parse_output(const rn_mnode *n, rn_moutput *o, rn_errbuf *err)
{
    const rn_mnode *ds = NULL;
    char d[96];
    int rc;

    o->pos = n->pos;
    if (n->type == RN_MN_SCALAR)
        return parse_ds_ref(n, "outputs", &o->dataset, err);
    if (n->type != RN_MN_MAP)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "outputs: expected a dataset name or {dataset: "
                             "NAME, sink: ...}, got %s",
                             rn__mnode_describe(d, sizeof(d), n));
    for (size_t i = 0; i < n->n; i++) {
        const rn_mnode *k = n->keys[i];
        if (k->len == 7 && memcmp(k->text, "dataset", 7) == 0) {
            ds = n->items[i];
        } else if (k->len == 4 && memcmp(k->text, "sink", 4) == 0) {
            if ((rc = parse_op(n->items[i], "sink", &o->sink, err)))
                return rc;
            o->has_sink = 1;
        } else {
            return rn_mpos_error(err, RN_EINVAL, k->pos,
                                 "outputs: unknown key '%s' (expected "
                                 "dataset and an optional sink)",
                                 rn__mnode_excerpt(d, sizeof(d), k));
        }
    }
    if (!ds)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "outputs: missing key 'dataset' (the dataset "
                             "to print or write)");
    return parse_ds_ref(ds, "outputs: dataset", &o->dataset, err);
}

static int parse_outputs(rn_manifest *m, const rn_mnode *n, rn_errbuf *err)
{
    char d[96];
    int rc;
    if (n->type != RN_MN_SEQ || n->n == 0)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "outputs: expected a list of datasets to print "
                             "or write, got %s",
                             n->type == RN_MN_SEQ
                                 ? "an empty list"
                                 : rn__mnode_describe(d, sizeof(d), n));
    if (n->n > RN_MANIFEST_MAX_DATASETS)
        return rn_mpos_error(err, RN_ELIMIT,
                             n->items[RN_MANIFEST_MAX_DATASETS]->pos,
                             "outputs: more than %d outputs (the limit)",
                             RN_MANIFEST_MAX_DATASETS);
    m->outputs = rn_arena_alloc(&m->arena, n->n * sizeof(rn_moutput));
    if (!m->outputs)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    memset(m->outputs, 0, n->n * sizeof(rn_moutput));
    for (size_t i = 0; i < n->n; i++)
        if ((rc = parse_output(n->items[i], &m->outputs[i], err)))
            return rc;
    m->n_outputs = n->n;
    return 0;
}

/* n bytes of s cut to at most max, never inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 1;
    return 0;
}

/* The file's base name without its extension, for a manifest with no
 * `name`, within the name's limits. */
static const char *default_name(rn_arena *a, const char *file)
{
    const char *b = strrchr(file, '/'), *dot;
    size_t n;
    b = b ? b + 1 : file;
    dot = strrchr(b, '.');
    n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    if (n == 0 || b[0] == '<' || has_control(b, n))
        return "pipeline";
    return rn_arena_strndup(a, b, utf8_cut(b, n, RN_MANIFEST_MAX_NAME));
}

/* `name`: a short printable string (it is listed, logged, shown in
 * terminals), shown through rn_mnode_display. */
static int parse_name(rn_manifest *m, const rn_mnode *n, rn_errbuf *err)
{
    char d[96];
    size_t dl;
    const char *shown;

    if (!n) {
        m->name = m->display_name = default_name(&m->arena, m->file);
        return m->name ? 0 : rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    if (n->type != RN_MN_SCALAR || rn_mnode_is_null(n) || n->len == 0)
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "name: expected a non-empty string, got %s",
                             n->type == RN_MN_SCALAR && n->len == 0 &&
                                     !n->plain
                                 ? "an empty string"
                                 : rn__mnode_describe(d, sizeof(d), n));
    shown = rn_mnode_display(n, &dl);
    if (n->len > RN_MANIFEST_MAX_NAME)
        return rn_mpos_error(err, RN_ELIMIT, n->pos,
                             "name: longer than %d bytes (the limit)",
                             RN_MANIFEST_MAX_NAME);
    if (has_control(n->text, n->len) || has_control(shown, dl))
        return rn_mpos_error(err, RN_EINVAL, n->pos,
                             "name: control characters are not allowed");
    m->name = n->text;
    /* the raw text may be longer than the value: cut like the value */
    m->display_name =
        rn_arena_strndup(&m->arena, shown,
                         utf8_cut(shown, dl, RN_MANIFEST_MAX_NAME));
    return m->display_name ? 0
                           : rn_error_set(err, RN_ENOMEM, "out of memory");
}

static int build(rn_manifest *m, const rn_mnode *root, rn_errbuf *err)
{
    const rn_mnode *val[K_COUNT] = {NULL}, *keys[K_COUNT] = {NULL};
    char d[96], ex[64];
    size_t total = 0;
    int rc;

    m->root = root;
    if (root->type != RN_MN_MAP) {
        if (rn_mnode_is_null(root))
            return rn_mpos_error(err, RN_EINVAL, root->pos,
                                 "the manifest is empty (expected a mapping "
                                 "with keys " TOP_KEYS ")");
        return rn_mpos_error(err, RN_EINVAL, root->pos,
                             "the manifest must be a mapping with keys "
                             TOP_KEYS "; got %s",
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
                                 "unknown key '%s' (expected " TOP_KEYS ")",
                                 rn__mnode_excerpt(ex, sizeof(ex), k));
        val[j] = root->items[i];
        keys[j] = k;
    }

    if ((rc = parse_name(m, val[K_NAME], err)))
        return rc;
    if ((rc = parse_plugins(m, val[K_PLUGINS], err)))
        return rc;
    if (val[K_DATASETS] || val[K_OUTPUTS]) {
        /* the datasets form: no top-level pipeline beside it */
        for (int j = K_SOURCE; j <= K_SINK; j++)
            if (val[j])
                return rn_mpos_error(
                    err, RN_EINVAL, keys[j]->pos,
                    "'%s' cannot be used with `datasets` and `outputs`: "
                    "write the pipeline as a dataset (a source and steps) "
                    "and its sink in `outputs`",
                    top_keys[j]);
        if (!val[K_DATASETS])
            return rn_mpos_error(err, RN_EINVAL, keys[K_OUTPUTS]->pos,
                                 "`outputs` needs `datasets` (the datasets "
                                 "it names)");
        if (!val[K_OUTPUTS])
            return rn_mpos_error(err, RN_EINVAL, keys[K_DATASETS]->pos,
                                 "`datasets` needs `outputs` (a list of the "
                                 "datasets to print or write)");
        if ((rc = parse_datasets(m, val[K_DATASETS], err)))
            return rc;
        return parse_outputs(m, val[K_OUTPUTS], err);
    }
    if (!val[K_SOURCE])
        return rn_mpos_error(err, RN_EINVAL, root->pos,
                             "missing required key 'source'");
    if ((rc = parse_op(val[K_SOURCE], "source", &m->source, err)))
        return rc;
    if ((rc = parse_steps(m, val[K_STEPS], &m->steps, &m->n_steps, &total,
                          err)))
        return rc;
    if (val[K_SINK]) {
        if ((rc = parse_op(val[K_SINK], "sink", &m->sink, err)))
            return rc;
        m->has_sink = 1;
    }
    return 0;
}

static int manifest_parse(const char *label, const char *text, size_t len,
                          int subst, rn_manifest **out, rn_errbuf *err)
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
    if ((rc = parse_doc(&m->arena, m->file, text, len, subst, &root,
                        &m->secrets, &m->n_secrets, err)))
        goto done;
    rc = build(m, root, err);
done:
    if (rc)
        rn_manifest_free(m);
    else
        *out = m;
    return rc;
}

int rn_manifest_parse(const char *label, const char *text, size_t len,
                      rn_manifest **out, rn_errbuf *err)
{
    return manifest_parse(label, text, len, SUBST_ENV, out, err);
}

int rn_manifest_parse_job(const char *label, const char *text, size_t len,
                          rn_manifest **out, rn_errbuf *err)
{
    return manifest_parse(label, text, len, SUBST_JOB, out, err);
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
    /* one byte over the limit is read, so the parser reports where the
     * limit is passed */
    rn_buf_init(&b, RN_MANIFEST_MAX_BYTES + 1);
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
        if ((size_t)r > b.max - b.len)
            r = (ssize_t)(b.max - b.len);
        if ((rc = rn_buf_append(&b, chunk, (size_t)r))) {
            rn_error_set(err, rc, "%s: out of memory", path);
            goto done;
        }
        if (b.len == b.max)
            break;
    }
    rc = rn_manifest_parse(path, b.ptr ? b.ptr : "", b.len, out, err);
done:
    if (fd >= 0)
        close(fd);
    rn_buf_release(&b);
    return rc;
}
