#define _GNU_SOURCE
#include "plugin/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/alloc.h"
#include "manifest/manifest.h"

/* ---- hashing -------------------------------------------------------- */

static void to_hex(const unsigned char *md, char hex[RN_PLUGIN_ID_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[RN_PLUGIN_ID_HEX] = '\0';
}

void rn_sha256_hex(const void *p, size_t n, char hex[RN_PLUGIN_ID_HEX + 1])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    to_hex(md, hex);
}

int rn_sha256_file(const char *path, char hex[RN_PLUGIN_ID_HEX + 1],
                   uint64_t *size, rn_errbuf *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned char *buf = NULL;
    EVP_MD_CTX *mdctx = NULL;
    uint64_t total = 0;
    int fd = -1, rc = 0;
    ssize_t r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = rn_error_set(err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                          "%s: %s", path, strerror(errno));
        goto done;
    }
    buf = rn_malloc(1 << 16);
    mdctx = EVP_MD_CTX_new();
    if (!buf || !mdctx || !EVP_DigestInit_ex(mdctx, EVP_sha256(), NULL)) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: cannot hash: out of memory",
                          path);
        goto done;
    }
    while ((r = read(fd, buf, 1 << 16)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = rn_error_set(err, RN_EIO, "%s: %s", path, strerror(errno));
            goto done;
        }
        EVP_DigestUpdate(mdctx, buf, (size_t)r);
        total += (uint64_t)r;
    }
    EVP_DigestFinal_ex(mdctx, md, &mdlen);
    to_hex(md, hex);
    if (size)
        *size = total;
done:
    EVP_MD_CTX_free(mdctx);
    rn_free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- descriptor validation ------------------------------------------ */

/* A name: [a-z_][a-z0-9_]*, 1..RN_MAX_NAME bytes. */
static int valid_name(const char *s)
{
    size_t n;
    if (!s)
        return 0;
    n = strnlen(s, RN_MAX_NAME + 1);
    if (n == 0 || n > RN_MAX_NAME)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static int bounded(const char *s, size_t max)
{
    return !s || strnlen(s, max + 1) <= max;
}

static int validate_param(const rn_op_desc *op, const rn_param_spec *ps,
                          uint32_t idx, rn_errbuf *err)
{
    if (!valid_name(ps->name))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': parameter %u has an invalid name "
                            "(expected [a-z_][a-z0-9_]*, at most %d bytes)",
                            op->name, idx, RN_MAX_NAME);
    if (ps->type < RN_PT_BOOL || ps->type > RN_PT_MAX)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': parameter '%s' has unknown type %u "
                            "(expected 1..%d)",
                            op->name, ps->name, ps->type, RN_PT_MAX);
    if (ps->flags & ~RN_PF_REQUIRED)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': parameter '%s' has unknown flags 0x%x",
                            op->name, ps->name, ps->flags);
    if (!bounded(ps->help, RN_MAX_HELP) || !bounded(ps->def, RN_MAX_HELP))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': parameter '%s': help or default "
                            "longer than %d bytes",
                            op->name, ps->name, RN_MAX_HELP);
    if (ps->choices) {
        uint32_t k = 0;
        for (; k <= RN_MAX_CHOICES && ps->choices[k]; k++)
            if (!bounded(ps->choices[k], RN_MAX_NAME))
                return rn_error_set(err, RN_EPLUGIN,
                                    "operator '%s': parameter '%s': choice %u "
                                    "longer than %d bytes",
                                    op->name, ps->name, k, RN_MAX_NAME);
        if (k > RN_MAX_CHOICES)
            return rn_error_set(err, RN_EPLUGIN,
                                "operator '%s': parameter '%s': more than %d "
                                "choices (or no NULL terminator)",
                                op->name, ps->name, RN_MAX_CHOICES);
        if (ps->type != RN_PT_STRING && ps->type != RN_PT_STRING_LIST)
            return rn_error_set(err, RN_EPLUGIN,
                                "operator '%s': parameter '%s': choices need a "
                                "string type, not %s",
                                op->name, ps->name, rn_param_type_name(ps->type));
    }
    return 0;
}

/* Which callbacks each kind needs. */
static const char *missing_callback(const rn_op_desc *op)
{
    switch (op->kind) {
    case RN_OP_SOURCE:
        return !op->plan ? "plan" : !op->read ? "read" : NULL;
    case RN_OP_MAP:
        return !op->map ? "map" : NULL;
    case RN_OP_FLAT_MAP:
        return !op->flat_map ? "flat_map" : NULL;
    case RN_OP_FILTER:
        return !op->filter ? "filter" : NULL;
    case RN_OP_FOLD:
    case RN_OP_FOLDBY:
        return !op->fold_init ? "fold_init"
               : !op->step    ? "step"
               : !op->combine ? "combine"
                              : NULL;
    case RN_OP_PARTITION:
        return !op->partition ? "partition" : NULL;
    case RN_OP_SINK:
        return !op->sink_open     ? "sink_open"
               : !op->sink_write  ? "sink_write"
               : !op->sink_commit ? "sink_commit"
               : !op->sink_abort  ? "sink_abort"
                                  : NULL;
    }
    return NULL;
}

static int validate_op(const rn_op_desc *op, uint32_t idx, rn_errbuf *err)
{
    const char *miss;
    if (!valid_name(op->name))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator %u has an invalid name (expected "
                            "[a-z_][a-z0-9_]*, at most %d bytes)",
                            idx, RN_MAX_NAME);
    if (op->kind < RN_OP_SOURCE || op->kind > RN_OP_KIND_MAX)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s' has unknown kind %u (expected 1..%d)",
                            op->name, op->kind, RN_OP_KIND_MAX);
    if (!bounded(op->help, RN_MAX_HELP))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': help longer than %d bytes",
                            op->name, RN_MAX_HELP);
    if (op->flags & ~(RN_OPF_SCALAR | RN_OPF_COMMUTATIVE | RN_OPF_COUNTING))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s' has unknown flags 0x%x", op->name,
                            op->flags);
    if ((op->flags & RN_OPF_COUNTING) && op->kind != RN_OP_FOLD &&
        op->kind != RN_OP_FOLDBY)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s': flag counting on a %s (expected "
                            "fold or foldby)",
                            op->name, rn_op_kind_name(op->kind));
    if (op->n_params > RN_MAX_PARAMS)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s' declares %u parameters (at most %d)",
                            op->name, op->n_params, RN_MAX_PARAMS);
    if (op->n_params && !op->params)
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s' declares %u parameters but no table",
                            op->name, op->n_params);
    if ((miss = missing_callback(op)))
        return rn_error_set(err, RN_EPLUGIN,
                            "operator '%s' of kind %s has no %s callback",
                            op->name, rn_op_kind_name(op->kind), miss);
    for (uint32_t i = 0; i < op->n_params; i++) {
        int rc = validate_param(op, &op->params[i], i, err);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(op->params[j].name, op->params[i].name) == 0)
                return rn_error_set(err, RN_EPLUGIN,
                                    "operator '%s' declares parameter '%s' twice",
                                    op->name, op->params[i].name);
    }
    return 0;
}

/* Minimum op struct size: everything up to and including `destroy`. */
#define RN_OP_MIN_SIZE (offsetof(rn_op_desc, destroy) + sizeof(void (*)(void *)))

int rn_plugin_validate(const rn_plugin_desc *d, rn_errbuf *err)
{
    if (!d)
        return rn_error_set(err, RN_EPLUGIN,
                            "the entry function returned no descriptor");
    if (d->magic != RN_PLUGIN_MAGIC)
        return rn_error_set(err, RN_EABI,
                            "bad descriptor magic: expected 0x%08x, got 0x%08x",
                            RN_PLUGIN_MAGIC, d->magic);
    if (d->abi_major != RN_ABI_MAJOR)
        return rn_error_set(err, RN_EABI, "expected ABI %d.x, got %u.%u",
                            RN_ABI_MAJOR, d->abi_major, d->abi_minor);
    if (d->abi_minor > RN_ABI_MINOR)
        return rn_error_set(err, RN_EABI,
                            "plugin needs ABI %u.%u, this runnel provides %d.%d "
                            "(upgrade runnel)",
                            d->abi_major, d->abi_minor, RN_ABI_MAJOR,
                            RN_ABI_MINOR);
    if (d->desc_size < sizeof(rn_plugin_desc))
        return rn_error_set(err, RN_EABI,
                            "descriptor size: expected at least %zu, got %u",
                            sizeof(rn_plugin_desc), d->desc_size);
    if (d->value_size != sizeof(rn_value))
        return rn_error_set(err, RN_EABI, "value size: expected %zu, got %u",
                            sizeof(rn_value), d->value_size);
    if (d->param_size != sizeof(rn_param_spec))
        return rn_error_set(err, RN_EABI,
                            "parameter spec size: expected %zu, got %u",
                            sizeof(rn_param_spec), d->param_size);
    if (d->op_size < RN_OP_MIN_SIZE || d->op_size > sizeof(rn_op_desc))
        return rn_error_set(err, RN_EABI,
                            "operator struct size: expected %zu..%zu, got %u",
                            (size_t)RN_OP_MIN_SIZE, sizeof(rn_op_desc),
                            d->op_size);
    if (!valid_name(d->name))
        return rn_error_set(err, RN_EPLUGIN,
                            "invalid plugin name (expected [a-z_][a-z0-9_]*, "
                            "at most %d bytes)",
                            RN_MAX_NAME);
    if (!d->version || !bounded(d->version, RN_MAX_NAME) ||
        !bounded(d->description, RN_MAX_HELP))
        return rn_error_set(err, RN_EPLUGIN,
                            "plugin '%s': missing version, or version or "
                            "description too long",
                            d->name);
    if (d->n_ops == 0 || d->n_ops > RN_MAX_OPS || !d->ops)
        return rn_error_set(err, RN_EPLUGIN,
                            "plugin '%s' declares %u operators (expected 1..%d)",
                            d->name, d->n_ops, RN_MAX_OPS);
    for (uint32_t i = 0; i < d->n_ops; i++) {
        const rn_op_desc *op =
            (const rn_op_desc *)((const char *)d->ops + (size_t)i * d->op_size);
        rn_op_desc tmp;
        int rc;
        memset(&tmp, 0, sizeof(tmp));
        memcpy(&tmp, op, d->op_size);
        if (tmp.size != d->op_size)
            return rn_error_set(err, RN_EABI,
                                "operator %u: size field %u differs from the "
                                "descriptor's operator size %u",
                                i, tmp.size, d->op_size);
        if ((rc = validate_op(&tmp, i, err)))
            return rc;
        for (uint32_t j = 0; j < i; j++) {
            const rn_op_desc *prev = (const rn_op_desc *)((const char *)d->ops +
                                                          (size_t)j * d->op_size);
            if (strcmp(prev->name, tmp.name) == 0)
                return rn_error_set(err, RN_EPLUGIN,
                                    "operator '%s' is declared twice", tmp.name);
        }
    }
    return 0;
}

/* ---- loading -------------------------------------------------------- */

static int check_elf(const char *path, rn_errbuf *err)
{
    unsigned char magic[4];
    struct stat st;
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_error_set(err, errno == ENOENT ? RN_ENOTFOUND : RN_EIO,
                            "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        return rn_error_set(err, RN_EINVAL, "%s: not a regular file", path);
    }
    r = read(fd, magic, 4);
    close(fd);
    if (r != 4 || memcmp(magic, "\x7f" "ELF", 4) != 0)
        return rn_error_set(err, RN_EPLUGIN,
                            "%s: not an ELF shared object: not a runnel plugin",
                            path);
    return 0;
}

int rn_plugin_load(const char *path, rn_plugin **out, rn_errbuf *err)
{
    rn_plugin *p = NULL;
    void *h = NULL;
    rn_plugin_entry_fn entry;
    const rn_plugin_desc *d;
    int rc;

    *out = NULL;
    if ((rc = check_elf(path, err)))
        return rc;
    p = rn_calloc(1, sizeof(*p));
    if (!p || !(p->path = rn_strdup(path))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((rc = rn_sha256_file(path, p->id, &p->file_size, err)))
        goto fail;
    /* RTLD_LOCAL: two plugins may define the same symbol names. A path
     * without '/' would make dlopen search the library path: avoid it. */
    {
        char *full = NULL;
        if (!strchr(path, '/')) {
            size_t n = strlen(path) + 3;
            full = rn_malloc(n);
            if (!full) {
                rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            snprintf(full, n, "./%s", path);
        }
        h = dlopen(full ? full : path, RTLD_NOW | RTLD_LOCAL);
        rn_free(full);
    }
    if (!h) {
        const char *why = dlerror();
        rc = rn_error_set(err, RN_EPLUGIN, "%s: cannot load: %s", path,
                          why ? why : "unknown dlopen error");
        goto fail;
    }
    *(void **)(&entry) = dlsym(h, RN_PLUGIN_ENTRY_NAME);
    if (!entry) {
        rc = rn_error_set(err, RN_EPLUGIN,
                          "%s: no %s entry function: not a runnel plugin", path,
                          RN_PLUGIN_ENTRY_NAME);
        goto fail;
    }
    d = entry();
    if ((rc = rn_plugin_validate(d, err))) {
        rn_error_prefix(err, "%s: ", path);
        goto fail;
    }
    p->handle = h;
    p->desc = d;
    p->n_ops = d->n_ops;
    p->ops = rn_calloc(d->n_ops, sizeof(rn_op_desc));
    if (!p->ops) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (uint32_t i = 0; i < d->n_ops; i++) {
        memcpy(&p->ops[i], (const char *)d->ops + (size_t)i * d->op_size,
               d->op_size);
        /* a default that does not fit its own declaration is refused now,
         * not when a manifest happens to omit the parameter */
        if ((rc = rn_params_check_defaults(&p->ops[i], err))) {
            rn_error_prefix(err, "%s: ", path);
            goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    /* Only the entry function ran, and it must do nothing but return a
     * pointer: closing a refused object is safe. */
    if (h)
        dlclose(h);
    if (p) {
        rn_free(p->ops);
        rn_free(p->path);
        rn_free(p);
    }
    return rc;
}

void rn_plugin_free(rn_plugin *p)
{
    if (!p)
        return;
    /* deliberately no dlclose: see loader.h */
    rn_free(p->ops);
    rn_free(p->path);
    rn_free(p);
}

const rn_op_desc *rn_plugin_find_op(const rn_plugin *p, const char *name)
{
    for (uint32_t i = 0; i < p->n_ops; i++)
        if (strcmp(p->ops[i].name, name) == 0)
            return &p->ops[i];
    return NULL;
}
