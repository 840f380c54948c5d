/* Content-addressed plugin files. */
#define _GNU_SOURCE
#include "cluster/plugstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/alloc.h"
#include "exec/ctx.h"
#include "plugin/loader.h"

struct rn_plugstore {
    char *dir;      /* the store's root */
    char *pdir;     /* root/plugins */
    int temporary;  /* made by us: removed at free */
    pthread_mutex_t lock;
    rn_plugentry *ents;
    size_t n, cap;
    unsigned seq;
};

struct rn_plugput {
    rn_plugstore *ps;
    rn_plugentry e;
    char tmp[4096];
    int fd;
    uint64_t got;
    EVP_MD_CTX *md;
};

int rn_plugstore_valid_id(const char *id)
{
    size_t i;
    for (i = 0; id[i]; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return i == 64;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i < n; i++)
        if (tmp[i] == '/') {
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            tmp[i] = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static rn_plugentry *find(rn_plugstore *ps, const char *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->ents[i].id, id) == 0)
            return &ps->ents[i];
    return NULL;
}

static int add_entry(rn_plugstore *ps, const rn_plugentry *e)
{
    rn_plugentry *old = find(ps, e->id);
    if (old) {
        *old = *e;
        return 0;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        rn_plugentry *ne = rn_realloc(ps->ents, cap * sizeof(*ne));
        if (!ne)
            return RN_ENOMEM;
        ps->ents = ne;
        ps->cap = cap;
    }
    ps->ents[ps->n++] = *e;
    return 0;
}

static void read_meta(const char *pdir, rn_plugentry *e)
{
    char path[4096], line[256];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s.meta", pdir, e->id);
    if (!(f = fopen(path, "r")))
        return;
    if (fgets(line, sizeof(line), f)) {
        char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (tab) {
            *tab = '\0';
            snprintf(e->version, sizeof(e->version), "%s", tab + 1);
        }
        snprintf(e->name, sizeof(e->name), "%.63s", line);
    }
    fclose(f);
}

/* Loads what the directory holds, checking every file's hash. */
static void scan(rn_plugstore *ps)
{
    DIR *d = opendir(ps->pdir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char id[65], path[4096], hex[RN_PLUGIN_ID_HEX + 1];
        size_t len = strlen(de->d_name);
        rn_plugentry e;
        uint64_t size = 0;
        rn_errbuf err;
        if (len != 67 || strcmp(de->d_name + 64, ".so") != 0)
            continue;
        memcpy(id, de->d_name, 64);
        id[64] = '\0';
        if (!rn_plugstore_valid_id(id))
            continue;
        snprintf(path, sizeof(path), "%s/%s", ps->pdir, de->d_name);
        if (rn_sha256_file(path, hex, &size, &err)) {
            rn_logf(RN_LOG_WARN, "plugin store: %s", err.msg);
            continue;
        }
        if (strcmp(hex, id) != 0) {
            rn_logf(RN_LOG_WARN,
                    "plugin store: %s: bytes hash to sha256:%s, not the name: "
                    "ignored",
                    path, hex);
            continue;
        }
        memset(&e, 0, sizeof(e));
        memcpy(e.id, id, sizeof(e.id));
        e.size = size;
        read_meta(ps->pdir, &e);
        add_entry(ps, &e);
    }
    closedir(d);
}

int rn_plugstore_open(const char *dir, rn_plugstore **out, rn_errbuf *err)
{
    rn_plugstore *ps = rn_calloc(1, sizeof(*ps));
    char tmpl[4096];
    size_t n;

    *out = NULL;
    if (!ps)
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    pthread_mutex_init(&ps->lock, NULL);
    if (!dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof(tmpl), "%s/runnel-plugins-XXXXXX",
                 t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl)) {
            rn_plugstore_free(ps);
            return rn_error_set(err, RN_EIO, "cannot make a directory %s: %s",
                                tmpl, strerror(errno));
        }
        dir = tmpl;
        ps->temporary = 1;
    }
    n = strlen(dir) + sizeof("/plugins");
    ps->dir = rn_strdup(dir);
    ps->pdir = rn_malloc(n);
    if (!ps->dir || !ps->pdir) {
        rn_plugstore_free(ps);
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    }
    snprintf(ps->pdir, n, "%s/plugins", dir);
    if (mkdir_p(ps->pdir) != 0) {
        int e = errno;
        rn_plugstore_free(ps);
        return rn_error_set(err, RN_EIO, "cannot make the directory %s/plugins: %s",
                            dir, strerror(e));
    }
    scan(ps);
    *out = ps;
    return 0;
}

void rn_plugstore_free(rn_plugstore *ps)
{
    if (!ps)
        return;
    if (ps->temporary && ps->pdir) {
        DIR *d = opendir(ps->pdir);
        struct dirent *de;
        char path[4096];
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", ps->pdir, de->d_name);
            unlink(path);
        }
        if (d)
            closedir(d);
        rmdir(ps->pdir);
        rmdir(ps->dir);
    }
    rn_free(ps->ents);
    rn_free(ps->dir);
    rn_free(ps->pdir);
    pthread_mutex_destroy(&ps->lock);
    rn_free(ps);
}

const char *rn_plugstore_dir(const rn_plugstore *ps)
{
    return ps->dir;
}

int rn_plugstore_path(rn_plugstore *ps, const char *id, char *path, size_t cap)
{
    int found;
    if (!rn_plugstore_valid_id(id))
        return RN_ENOTFOUND;
    pthread_mutex_lock(&ps->lock);
    found = find(ps, id) != NULL;
    pthread_mutex_unlock(&ps->lock);
    if (!found)
        return RN_ENOTFOUND;
    snprintf(path, cap, "%s/%s.so", ps->pdir, id);
    return 0;
}

int rn_plugstore_list(rn_plugstore *ps, rn_plugentry **out, size_t *n)
{
    pthread_mutex_lock(&ps->lock);
    *n = ps->n;
    *out = rn_malloc((ps->n ? ps->n : 1) * sizeof(rn_plugentry));
    if (*out && ps->n)
        memcpy(*out, ps->ents, ps->n * sizeof(rn_plugentry));
    pthread_mutex_unlock(&ps->lock);
    return *out ? 0 : RN_ENOMEM;
}

int rn_plugstore_begin(rn_plugstore *ps, const char *id, const char *name,
                       const char *version, uint64_t size, rn_plugput **out,
                       int *exists, rn_errbuf *err)
{
    rn_plugput *pp;
    unsigned seq;
    int full;

    *out = NULL;
    *exists = 0;
    if (!rn_plugstore_valid_id(id))
        return rn_error_set(err, RN_EINVAL,
                            "bad plugin id '%.80s' (expected 64 hex digits of "
                            "SHA-256)",
                            id);
    if (size > RN_PLUGSTORE_MAX_FILE)
        return rn_error_set(err, RN_ELIMIT,
                            "plugin of %llu bytes is over the limit of %llu",
                            (unsigned long long)size,
                            (unsigned long long)RN_PLUGSTORE_MAX_FILE);
    pthread_mutex_lock(&ps->lock);
    *exists = find(ps, id) != NULL;
    seq = ++ps->seq;
    full = ps->n >= RN_PLUGSTORE_MAX_PLUGINS;
    pthread_mutex_unlock(&ps->lock);
    if (*exists)
        return 0;
    if (full)
        return rn_error_set(err, RN_ELIMIT,
                            "the store holds %d plugins: no more (remove some "
                            "from %s)",
                            RN_PLUGSTORE_MAX_PLUGINS, ps->pdir);
    if (!(pp = rn_calloc(1, sizeof(*pp))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    pp->ps = ps;
    snprintf(pp->e.id, sizeof(pp->e.id), "%s", id);
    snprintf(pp->e.name, sizeof(pp->e.name), "%s", name ? name : "");
    snprintf(pp->e.version, sizeof(pp->e.version), "%s", version ? version : "");
    pp->e.size = size;
    snprintf(pp->tmp, sizeof(pp->tmp), "%s/.put-%.16s-%d-%u.tmp", ps->pdir, id,
             (int)getpid(), seq);
    pp->fd = open(pp->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pp->md = EVP_MD_CTX_new();
    if (pp->fd < 0 || !pp->md || !EVP_DigestInit_ex(pp->md, EVP_sha256(), NULL)) {
        int e = errno;
        rn_plugput_abort(pp);
        return rn_error_set(err, RN_EIO, "cannot write in %s: %s", ps->pdir,
                            strerror(e));
    }
    *out = pp;
    return 0;
}

int rn_plugput_write(rn_plugput *pp, const void *p, size_t n, rn_errbuf *err)
{
    const char *c = p;
    if (n > pp->e.size - pp->got)
        return rn_error_set(err, RN_EINVAL,
                            "plugin sha256:%.16s...: more bytes than the %llu "
                            "announced",
                            pp->e.id, (unsigned long long)pp->e.size);
    EVP_DigestUpdate(pp->md, p, n);
    while (n) {
        ssize_t w = write(pp->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return rn_error_set(err, RN_EIO, "cannot write %s: %s", pp->tmp,
                                strerror(errno));
        c += w;
        n -= (size_t)w;
        pp->got += (uint64_t)w;
    }
    return 0;
}

int rn_plugput_commit(rn_plugput *pp, rn_errbuf *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[65], final[4096], meta[4096], metatmp[4096 + 8];
    FILE *f;
    int rc = 0;

    if (pp->got != pp->e.size) {
        rc = rn_error_set(err, RN_EINVAL,
                          "plugin sha256:%.16s...: got %llu bytes, %llu were "
                          "announced",
                          pp->e.id, (unsigned long long)pp->got,
                          (unsigned long long)pp->e.size);
        goto done;
    }
    EVP_DigestFinal_ex(pp->md, md, &mdlen);
    for (unsigned i = 0; i < 32 && i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
    if (strcmp(hex, pp->e.id) != 0) {
        rc = rn_error_set(err, RN_EINVAL,
                          "plugin bytes do not match the claimed id sha256:%s "
                          "(they hash to sha256:%s)",
                          pp->e.id, hex);
        goto done;
    }
    if (fsync(pp->fd) != 0 || close(pp->fd) != 0) {
        pp->fd = -1;
        rc = rn_error_set(err, RN_EIO, "cannot write %s: %s", pp->tmp,
                          strerror(errno));
        goto done;
    }
    pp->fd = -1;
    snprintf(meta, sizeof(meta), "%s/%s.meta", pp->ps->pdir, pp->e.id);
    snprintf(metatmp, sizeof(metatmp), "%s.tmp", pp->tmp);
    if ((f = fopen(metatmp, "w"))) {
        fprintf(f, "%s\t%s\n", pp->e.name, pp->e.version);
        if (fclose(f) != 0 || rename(metatmp, meta) != 0)
            unlink(metatmp);
    }
    snprintf(final, sizeof(final), "%s/%s.so", pp->ps->pdir, pp->e.id);
    if (rename(pp->tmp, final) != 0) {
        rc = rn_error_set(err, RN_EIO, "cannot publish %s: %s", final,
                          strerror(errno));
        goto done;
    }
    pp->tmp[0] = '\0';
    pthread_mutex_lock(&pp->ps->lock);
    rc = add_entry(pp->ps, &pp->e);
    pthread_mutex_unlock(&pp->ps->lock);
    if (rc)
        rn_error_set(err, rc, "out of memory");
done:
    rn_plugput_abort(pp);
    return rc;
}

void rn_plugput_abort(rn_plugput *pp)
{
    if (!pp)
        return;
    if (pp->fd >= 0)
        close(pp->fd);
    if (pp->tmp[0])
        unlink(pp->tmp);
    if (pp->md)
        EVP_MD_CTX_free(pp->md);
    rn_free(pp);
}
