#define _GNU_SOURCE
#include "plugin/registry.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/similar.h"

struct rn_registry {
    pthread_mutex_t lock;
    rn_plugin **plugins;
    size_t n, cap;
    char shipped_dir[PATH_MAX];
};

rn_registry *rn_registry_new(void)
{
    rn_registry *r = rn_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void rn_registry_free(rn_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rn_plugin_free(r->plugins[i]);
    rn_free(r->plugins);
    pthread_mutex_destroy(&r->lock);
    rn_free(r);
}

static rn_plugin *by_id_locked(rn_registry *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->plugins[i]->id, id) == 0)
            return r->plugins[i];
    return NULL;
}

static rn_plugin *by_name_locked(rn_registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->plugins[i]->desc->name, name) == 0)
            return r->plugins[i];
    return NULL;
}

int rn_registry_add_file(rn_registry *r, const char *path, rn_plugin **out,
                         rn_errbuf *err)
{
    char id[RN_PLUGIN_ID_HEX + 1];
    rn_plugin *p = NULL, *same;
    int rc;

    if (out)
        *out = NULL;
    /* Hash first: loading the same bytes twice is a no-op. */
    if ((rc = rn_sha256_file(path, id, NULL, err)))
        return rc;
    pthread_mutex_lock(&r->lock);
    p = by_id_locked(r, id);
    pthread_mutex_unlock(&r->lock);
    if (p) {
        if (out)
            *out = p;
        return 0;
    }
    if ((rc = rn_plugin_load(path, &p, err)))
        return rc;
    pthread_mutex_lock(&r->lock);
    if ((same = by_id_locked(r, p->id))) { /* raced with another loader */
        pthread_mutex_unlock(&r->lock);
        rn_plugin_free(p);
        if (out)
            *out = same;
        return 0;
    }
    if ((same = by_name_locked(r, p->desc->name))) {
        rc = rn_error_set(err, RN_EEXIST,
                          "%s: a different plugin named '%s' is already loaded "
                          "from %s",
                          path, p->desc->name, same->path);
        pthread_mutex_unlock(&r->lock);
        rn_plugin_free(p);
        return rc;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        rn_plugin **np = rn_realloc(r->plugins, cap * sizeof(*np));
        if (!np) {
            pthread_mutex_unlock(&r->lock);
            rn_plugin_free(p);
            return rn_error_set(err, RN_ENOMEM, "out of memory");
        }
        r->plugins = np;
        r->cap = cap;
    }
    r->plugins[r->n++] = p;
    pthread_mutex_unlock(&r->lock);
    if (out)
        *out = p;
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_dir(rn_registry *r, const char *dir, rn_errbuf *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d)
        return rn_error_set(err, RN_ENOTFOUND, "%s: cannot open directory",
                            dir);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 7 || strncmp(e->d_name, "lib", 3) != 0 ||
            strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = rn_realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = RN_ENOMEM;
                goto done;
            }
            names = nn;
        }
        if (!(names[n] = rn_strdup(e->d_name))) {
            rc = RN_ENOMEM;
            goto done;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        rn_errbuf one;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rn_registry_add_file(r, path, NULL, &one) != 0 && !rc)
            rc = rn_error_set(err, one.code, "%s", one.msg);
    }
done:
    for (size_t i = 0; i < n; i++)
        rn_free(names[i]);
    rn_free(names);
    closedir(d);
    return rc;
}

int rn_registry_add_shipped(rn_registry *r, rn_errbuf *err)
{
    char exe[PATH_MAX - 64], cand[PATH_MAX];
    const char *env = getenv("RUNNEL_PLUGIN_PATH");
    ssize_t len;

    if (env && *env) {
        char *copy = rn_strdup(env), *save = NULL, *tok;
        int found = 0, rc = 0;
        if (!copy)
            return RN_ENOMEM;
        for (tok = strtok_r(copy, ":", &save); tok;
             tok = strtok_r(NULL, ":", &save)) {
            if (!is_dir(tok))
                continue;
            if (!found)
                snprintf(r->shipped_dir, sizeof(r->shipped_dir), "%s", tok);
            found = 1;
            if (add_dir(r, tok, err) && !rc)
                rc = err ? err->code : RN_EPLUGIN;
        }
        rn_free(copy);
        if (found)
            return rc;
    }
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        char *slash;
        exe[len] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(cand, sizeof(cand), "%s/plugins", exe);
        if (is_dir(cand))
            goto found;
        snprintf(cand, sizeof(cand), "%s/../lib/runnel/plugins", exe);
        if (is_dir(cand))
            goto found;
    }
    snprintf(cand, sizeof(cand), "%s", RN_BUILD_PLUGIN_DIR);
    if (is_dir(cand))
        goto found;
    snprintf(cand, sizeof(cand), "%s", RN_INSTALL_PLUGIN_DIR);
    if (is_dir(cand))
        goto found;
    return rn_error_set(err, RN_ENOTFOUND,
                        "no shipped plugin directory found (set "
                        "RUNNEL_PLUGIN_PATH)");
found:
    snprintf(r->shipped_dir, sizeof(r->shipped_dir), "%s", cand);
    return add_dir(r, cand, err);
}

const char *rn_registry_shipped_dir(const rn_registry *r)
{
    return r->shipped_dir;
}

rn_plugin *rn_registry_by_id(rn_registry *r, const char *id)
{
    rn_plugin *p;
    pthread_mutex_lock(&r->lock);
    p = by_id_locked(r, id);
    pthread_mutex_unlock(&r->lock);
    return p;
}

rn_plugin *rn_registry_by_name(rn_registry *r, const char *name)
{
    rn_plugin *p;
    pthread_mutex_lock(&r->lock);
    p = by_name_locked(r, name);
    pthread_mutex_unlock(&r->lock);
    return p;
}

size_t rn_registry_count(rn_registry *r)
{
    size_t n;
    pthread_mutex_lock(&r->lock);
    n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

rn_plugin *rn_registry_at(rn_registry *r, size_t i)
{
    rn_plugin *p = NULL;
    pthread_mutex_lock(&r->lock);
    if (i < r->n)
        p = r->plugins[i];
    pthread_mutex_unlock(&r->lock);
    return p;
}

/* " (did you mean 'json_parse'?)" for an unknown `name` (bare, or the
 * op part after plugin `in`), into out; "" when nothing is close. Under
 * the registry's lock. */
static void suggest_locked(rn_registry *r, const rn_plugin *in,
                           const char *name, char *out, size_t cap)
{
    size_t best = SIZE_MAX, len = strlen(name);
    const char *bp = NULL, *bo = NULL;
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const rn_plugin_desc *d = r->plugins[i]->desc;
        if (in && r->plugins[i] != in)
            continue;
        for (uint32_t k = 0; k < d->n_ops; k++) {
            const char *o = d->ops[k].name;
            size_t dist = rn_edit_distance(name, len, o, strlen(o));
            if (dist < best) {
                best = dist;
                bp = d->name;
                bo = o;
            }
        }
    }
    if (bo && rn_similar_enough(best, len))
        snprintf(out, cap, " (did you mean '%s%s%s'?)", in ? bp : "",
                 in ? "." : "", bo);
}

int rn_registry_find_op(rn_registry *r, const char *name, rn_plugin **plugin,
                        const rn_op_desc **op, rn_errbuf *err)
{
    const char *dot = strchr(name, '.');
    rn_buf who;
    size_t hits = 0;
    int rc = 0;

    *plugin = NULL;
    *op = NULL;
    pthread_mutex_lock(&r->lock);
    if (dot) {
        char pname[RN_MAX_NAME + 1];
        size_t pl = (size_t)(dot - name);
        rn_plugin *p;
        const rn_op_desc *o;
        if (pl == 0 || pl > RN_MAX_NAME) {
            rc = rn_error_set(err, RN_ENOTFOUND, "unknown operator '%s'", name);
            goto done;
        }
        memcpy(pname, name, pl);
        pname[pl] = '\0';
        p = by_name_locked(r, pname);
        if (!p) {
            rc = rn_error_set(err, RN_ENOTFOUND,
                              "unknown operator '%s': no plugin named '%s' is "
                              "loaded",
                              name, pname);
            goto done;
        }
        o = rn_plugin_find_op(p, dot + 1);
        if (!o) {
            char hint[RN_MAX_NAME * 2 + 32];
            suggest_locked(r, p, dot + 1, hint, sizeof(hint));
            rc = rn_error_set(err, RN_ENOTFOUND,
                              "unknown operator '%s': plugin '%s' has no "
                              "operator '%s'%s",
                              name, pname, dot + 1, hint);
            goto done;
        }
        *plugin = p;
        *op = o;
        goto done;
    }
    rn_buf_init(&who, 4096);
    for (size_t i = 0; i < r->n; i++) {
        const rn_op_desc *o = rn_plugin_find_op(r->plugins[i], name);
        if (!o)
            continue;
        if (hits++ == 0) {
            *plugin = r->plugins[i];
            *op = o;
        }
        rn_buf_printf(&who, "%s%s.%s", hits > 1 ? ", " : "",
                      r->plugins[i]->desc->name, name);
    }
    if (hits == 0) {
        char hint[RN_MAX_NAME * 2 + 32];
        suggest_locked(r, NULL, name, hint, sizeof(hint));
        rc = rn_error_set(err, RN_ENOTFOUND, "unknown operator '%s'%s", name,
                          hint);
    } else if (hits > 1) {
        rc = rn_error_set(err, RN_EINVAL,
                          "operator '%s' is ambiguous: write one of %s", name,
                          who.ptr);
        *plugin = NULL;
        *op = NULL;
    }
    rn_buf_release(&who);
done:
    pthread_mutex_unlock(&r->lock);
    return rc;
}
