#define _GNU_SOURCE
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "security/ca.h"

char *rn_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *path;
    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&path, "%s/runnel-test-%s-XXXXXX", base, tag) < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int rn_test_rmtree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int rn_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

char *rn_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4097 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int rn_test_pki(const char *dir)
{
    static const struct {
        const char *name;
        rn_role role;
    } ids[] = {{"scheduler", RN_ROLE_SCHEDULER}, {"w1", RN_ROLE_WORKER},
               {"w2", RN_ROLE_WORKER},           {"alice", RN_ROLE_CLIENT},
               {"bob", RN_ROLE_CLIENT},          {"root", RN_ROLE_ADMIN}};
    char ca[4096], other[4096], out[4096];
    rn_cert_req req;
    rn_errbuf err;
    snprintf(ca, sizeof(ca), "%s/ca", dir);
    snprintf(other, sizeof(other), "%s/other-ca", dir);
    if (rn_ca_init(ca, NULL, &err) || rn_ca_init(other, NULL, &err))
        goto fail;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        memset(&req, 0, sizeof(req));
        req.role = ids[i].role;
        req.name = ids[i].name;
        snprintf(out, sizeof(out), "%s/%s", dir, ids[i].name);
        if (rn_ca_issue(ca, &req, out, NULL, &err))
            goto fail;
    }
    memset(&req, 0, sizeof(req));
    req.role = RN_ROLE_CLIENT;
    req.name = "mallory";
    snprintf(out, sizeof(out), "%s/mallory", dir);
    if (rn_ca_issue(other, &req, out, NULL, &err))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "rn_test_pki: %s\n", err.msg);
    return -1;
}
