/*
 * The cluster CA (ca.h): key and certificate generation with OpenSSL 3's
 * libcrypto, the files they live in, and the checks of a node's TLS files.
 *
 * Every certificate is built field by field (never from a config string a
 * host name could inject into), EC P-256 keys, SHA-256 signatures.
 */
#define _GNU_SOURCE /* timegm, gmtime_r */
#include "security/ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"

#define PATH_MAX_BYTES 4096
#define DAY 86400LL
/* A fresh certificate is valid from a little before now: peers whose
 * clocks lag behind the issuer's still accept it. */
#define BACKDATE 300
#define EXPIRY_WARN_DAYS 30
#define CA_BUNDLE_MAX 16 /* certificates read from one ca.crt */

/* ---- small helpers ---------------------------------------------------- */

/* OpenSSL's reason for the last failure, and an empty error queue (the
 * queue is per thread, and gRPC reads it on the same threads). */
static const char *ossl_why(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, cap, "%s", r);
    else if (e)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

static int ossl_fail(rn_errbuf *err, int code, const char *what)
{
    char why[256];
    return rn_error_set(err, code, "%s: %s", what,
                        ossl_why(why, sizeof(why)));
}

const char *rn_cert_date(long long t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (cap == 0)
        return buf;
    if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, cap, "?");
    return buf;
}

static const char *date_time(long long t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) ||
        strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, cap, "?");
    return buf;
}

/* Seconds as whole days, rounded: a certificate issued for 365 days a
 * few seconds ago has 365 days left, not 364. */
static long long days_of(long long secs)
{
    return (secs + DAY / 2) / DAY;
}

static int asn1_unix(const ASN1_TIME *a, long long *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!a || !ASN1_TIME_to_tm(a, &tm))
        return -1;
    *out = (long long)timegm(&tm);
    return 0;
}

/* dir + "/" + name into out (a trailing '/' of dir is not doubled). */
static int join(char *out, size_t cap, const char *dir, const char *name,
                rn_errbuf *err)
{
    size_t n = strlen(dir);
    int w;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    w = snprintf(out, cap, "%.*s/%s", (int)n, dir, name);
    if (w < 0 || (size_t)w >= cap)
        return rn_error_set(err, RN_ELIMIT, "%s: path too long", dir);
    return 0;
}

static int sys_fail(rn_errbuf *err, int e, const char *path, const char *what)
{
    if (e == ENOENT)
        return rn_error_set(err, RN_ENOTFOUND, "%s: no such file", path);
    if (e == EACCES || e == EPERM)
        return rn_error_set(err, RN_EIO, "%s: %s: permission denied", path,
                            what);
    return rn_error_set(err, RN_EIO, "%s: %s: %s", path, what, strerror(e));
}

/* mkdir -p with mode for every directory it creates. */
static int make_dirs(const char *dir, mode_t mode, rn_errbuf *err)
{
    char p[PATH_MAX_BYTES];
    size_t n = strlen(dir);
    struct stat st;
    if (n == 0)
        return rn_error_set(err, RN_EINVAL, "empty directory name");
    if (n >= sizeof(p))
        return rn_error_set(err, RN_ELIMIT, "%s: path too long", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST)
            return sys_fail(err, errno, p, "cannot create directory");
        p[i] = c;
    }
    if (stat(dir, &st) != 0)
        return sys_fail(err, errno, dir, "cannot create directory");
    if (!S_ISDIR(st.st_mode))
        return rn_error_set(err, RN_EINVAL, "%s: not a directory", dir);
    return 0;
}

/* Reads a whole regular file of at most max bytes into a NUL-terminated
 * rn_malloc'd buffer; *st (optional) gets its status. */
static int read_bounded(const char *path, size_t max, char **out,
                        size_t *len, struct stat *st, rn_errbuf *err)
{
    struct stat sb;
    char *buf = NULL;
    size_t n = 0;
    int fd, rc = 0;
    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sys_fail(err, errno, path, "cannot open");
    if (fstat(fd, &sb) != 0) {
        rc = sys_fail(err, errno, path, "cannot stat");
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = rn_error_set(err, RN_EINVAL, "%s: not a regular file", path);
        goto done;
    }
    if ((unsigned long long)sb.st_size > max) {
        rc = rn_error_set(err, RN_ELIMIT, "%s: larger than %zu KiB", path,
                          max / 1024);
        goto done;
    }
    if (!(buf = rn_malloc(max + 1))) {
        rc = rn_error_set(err, RN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) { /* up to max + 1 bytes: a file that grew is caught too */
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sys_fail(err, errno, path, "cannot read");
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            rc = rn_error_set(err, RN_ELIMIT, "%s: larger than %zu KiB",
                              path, max / 1024);
            goto done;
        }
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = n;
    if (st)
        *st = sb;
done:
    if (buf) {
        OPENSSL_cleanse(buf, max + 1); /* it may have been a key */
        rn_free(buf);
    }
    close(fd);
    return rc;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        rn_free(s);
    }
}

/* ---- writing files: staged beside the target, then published ---------- */

typedef struct staged {
    char path[PATH_MAX_BYTES];
    char tmp[PATH_MAX_BYTES]; /* "" when there is no temporary file */
    int skip;                 /* the target already holds these bytes */
    int published;            /* created by this call (for the undo) */
} staged;

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes data to a new temporary file beside s->path, created with mode
 * (so a key file is never readable by others, even before a chmod) and
 * O_EXCL (nobody else's file or link is written through). */
static int stage(staged *s, const void *data, size_t n, mode_t mode,
                 rn_errbuf *err)
{
    int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        unsigned char r[8];
        int w;
        if (RAND_bytes(r, sizeof(r)) != 1)
            return ossl_fail(err, RN_EINTERNAL, "random bytes");
        w = snprintf(s->tmp, sizeof(s->tmp),
                     "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", s->path, r[0],
                     r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        if (w < 0 || (size_t)w >= sizeof(s->tmp)) {
            s->tmp[0] = '\0';
            return rn_error_set(err, RN_ELIMIT, "%s: path too long",
                                s->path);
        }
        fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  mode);
        if (fd < 0) {
            int e = errno;
            s->tmp[0] = '\0';
            if (e != EEXIST || tries >= 8)
                return sys_fail(err, e, s->path,
                                "cannot create temporary file");
        }
    }
    /* the exact mode whatever the umask: a certificate stays readable */
    if (fchmod(fd, mode) != 0 || write_all(fd, data, n) != 0 ||
        fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return sys_fail(err, e, s->tmp, "cannot write");
    }
    if (close(fd) != 0)
        return sys_fail(err, errno, s->tmp, "cannot write");
    return 0;
}

static void unstage(staged *s)
{
    if (s->tmp[0])
        unlink(s->tmp);
    s->tmp[0] = '\0';
}

/* Moves the temporary file to its name. Without force an existing file is
 * never replaced, even one created since it was checked (link(2) fails
 * on an existing name where rename(2) would overwrite). */
static int publish(staged *s, int force, rn_errbuf *err)
{
    if (!force) {
        if (link(s->tmp, s->path) == 0) {
            s->published = 1;
            unstage(s);
            return 0;
        }
        if (errno == EEXIST)
            return rn_error_set(err, RN_EEXIST,
                                "%s already exists (use --force to replace "
                                "it)",
                                s->path);
        /* file systems without hard links: the check before staging has
         * to do */
    }
    if (rename(s->tmp, s->path) != 0)
        return sys_fail(err, errno, s->path, "cannot rename into place");
    s->tmp[0] = '\0';
    s->published = !force;
    return 0;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Checks the targets (none may exist without force; a target holding
 * exactly the bytes meant for it is skipped), stages every file, then
 * publishes them all. On failure nothing new is left behind: temporary
 * files are removed and files this call created are unlinked. */
typedef struct file_out {
    const char *name;
    const char *data;
    size_t len;
    mode_t mode;
    int same_ok; /* an identical existing file is fine */
} file_out;

static int write_files(const char *dir, const file_out *f, size_t n,
                       int force, rn_errbuf *err)
{
    staged s[4];
    int rc = 0;
    memset(s, 0, sizeof(s));
    if (n > 4)
        return rn_error_set(err, RN_EINTERNAL, "too many files");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if ((rc = join(s[i].path, sizeof(s[i].path), dir, f[i].name, err)))
            return rc;
        if (lstat(s[i].path, &st) != 0) {
            if (errno != ENOENT)
                return sys_fail(err, errno, s[i].path, "cannot stat");
            continue;
        }
        if (f[i].same_ok && S_ISREG(st.st_mode) &&
            (size_t)st.st_size == f[i].len) {
            char *old = NULL;
            size_t olen = 0;
            if (read_bounded(s[i].path, RN_TLS_FILE_MAX, &old, &olen, NULL,
                             NULL) == 0 &&
                olen == f[i].len && memcmp(old, f[i].data, olen) == 0)
                s[i].skip = 1;
            rn_free(old);
            if (s[i].skip)
                continue;
        }
        if (!force)
            return rn_error_set(err, RN_EEXIST,
                                "%s already exists (use --force to replace "
                                "it)",
                                s[i].path);
    }
    for (size_t i = 0; i < n; i++)
        if (!s[i].skip && (rc = stage(&s[i], f[i].data, f[i].len, f[i].mode,
                                      err)))
            goto done;
    for (size_t i = 0; i < n; i++)
        if (!s[i].skip && (rc = publish(&s[i], force, err)))
            goto done;
    sync_dir(dir);
done:
    for (size_t i = 0; i < n; i++) {
        unstage(&s[i]);
        if (rc && s[i].published)
            unlink(s[i].path);
    }
    return rc;
}

/* ---- OpenSSL objects -------------------------------------------------- */

/* Never ask for a pass phrase (OpenSSL would prompt on the terminal): an
 * encrypted key is refused. */
static int no_pass(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

static X509 *pem_cert(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, no_pass, NULL) : NULL;
    BIO_free(b);
    return x;
}

static EVP_PKEY *pem_key(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, no_pass, NULL) : NULL;
    BIO_free(b);
    return k;
}

/* Every certificate of a PEM bundle (at least one). */
static STACK_OF(X509) *pem_certs(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    if (!b || !sk)
        goto fail;
    while (sk_X509_num(sk) < CA_BUNDLE_MAX &&
           (x = PEM_read_bio_X509(b, NULL, no_pass, NULL))) {
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            goto fail;
        }
    }
    ERR_clear_error(); /* the end of the text reads as "no start line" */
    if (sk_X509_num(sk) == 0)
        goto fail;
    BIO_free(b);
    return sk;
fail:
    BIO_free(b);
    sk_X509_pop_free(sk, X509_free);
    return NULL;
}

/* The PEM text of a certificate or private key: rn_malloc'd. */
static char *to_pem(X509 *x, EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;
    if (!b)
        return NULL;
    if (x ? PEM_write_bio_X509(b, x)
          : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        n = BIO_get_mem_data(b, &data);
        if (n > 0 && (out = rn_malloc((size_t)n + 1))) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
            *len = (size_t)n;
        }
    }
    BIO_free(b); /* a memory BIO wipes its buffer when freed */
    return out;
}

/* RFC 2253 text of a name, as gRPC's x509_subject property holds it. */
static const char *name_text(const X509_NAME *nm, char *buf, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;
    buf[0] = '\0';
    if (b && X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_get_mem_data(b, &data);
        if (n > 0) {
            if ((size_t)n >= cap)
                n = (long)cap - 1;
            memcpy(buf, data, (size_t)n);
            buf[n] = '\0';
        }
    }
    BIO_free(b);
    return buf;
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

/* A positive serial of exactly 128 bits, 127 of them random (RFC 5280
 * allows 20 octets; CA/B asks for 64 random bits at least). */
static int set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = e && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static int set_validity(X509 *x, long long from, long long until)
{
    return ASN1_TIME_set(X509_getm_notBefore(x), (time_t)from) &&
                   ASN1_TIME_set(X509_getm_notAfter(x), (time_t)until)
               ? 0
               : -1;
}

/* ---- the CA ----------------------------------------------------------- */

#define CA_DEFAULT_NAME "runnel cluster CA"

static int ca_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(" ._@-()", c)))
            return 0;
    }
    return 1;
}

static int check_days(int days, int def, int *out, rn_errbuf *err)
{
    if (days == 0)
        days = def;
    if (days < 1 || days > RN_CERT_MAX_DAYS)
        return rn_error_set(err, RN_EINVAL,
                            "validity of %d days: expected 1 to %d", days,
                            RN_CERT_MAX_DAYS);
    *out = days;
    return 0;
}

int rn_ca_init(const char *ca_dir, const rn_ca_opts *o, rn_errbuf *err)
{
    rn_ca_opts def = {NULL, 0, 0};
    const char *name;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    X509_NAME *nm = NULL;
    X509V3_CTX ctx;
    char *cert_pem = NULL, *key_pem = NULL;
    size_t cert_len = 0, key_len = 0;
    long long now = (long long)time(NULL);
    int days = 0, rc = 0;

    if (!o)
        o = &def;
    name = o->name ? o->name : CA_DEFAULT_NAME;
    if (!ca_dir || !*ca_dir)
        return rn_error_set(err, RN_EINVAL, "no CA directory given");
    if (!ca_name_ok(name))
        return rn_error_set(err, RN_EINVAL,
                            "CA name '%.80s': expected 1 to 64 characters "
                            "among A-Z a-z 0-9 space . _ @ - ( )",
                            name);
    if ((rc = check_days(o->days, RN_CA_DEFAULT_DAYS, &days, err)))
        return rc;
    if ((rc = make_dirs(ca_dir, 0700, err)))
        return rc;

    if (!(key = new_key()) || !(x = X509_new()) || !(nm = X509_NAME_new())) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot create the CA key");
        goto done;
    }
    if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
                                    (const unsigned char *)"runnel", -1, -1,
                                    0) ||
        !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                                    (const unsigned char *)name, -1, -1, 0) ||
        !X509_set_version(x, X509_VERSION_3) || set_serial(x) ||
        !X509_set_subject_name(x, nm) || !X509_set_issuer_name(x, nm) ||
        set_validity(x, now - BACKDATE, now + days * DAY) ||
        !X509_set_pubkey(x, key)) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot build the CA certificate");
        goto done;
    }
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        !X509_sign(x, key, EVP_sha256())) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot sign the CA certificate");
        goto done;
    }
    if (!(cert_pem = to_pem(x, NULL, &cert_len)) ||
        !(key_pem = to_pem(NULL, key, &key_len))) {
        rc = ossl_fail(err, RN_ENOMEM, "cannot encode the CA");
        goto done;
    }
    {
        /* the key first: a ca.crt never exists without its key */
        file_out f[2] = {{"ca.key", key_pem, key_len, 0600, 0},
                         {"ca.crt", cert_pem, cert_len, 0644, 0}};
        rc = write_files(ca_dir, f, 2, o->force, err);
    }
done:
    free_secret(key_pem);
    rn_free(cert_pem);
    X509_NAME_free(nm);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

typedef struct ca {
    X509 *cert;
    EVP_PKEY *key;
    long long not_after;
    char crt_path[PATH_MAX_BYTES];
    char key_path[PATH_MAX_BYTES];
    int key_exposed; /* ca.key readable by group or others */
} ca;

static void ca_release(ca *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
}

static int ca_load(const char *dir, ca *c, rn_errbuf *err)
{
    char *crt = NULL, *key = NULL, d[16];
    size_t crt_len = 0, key_len = 0;
    struct stat st;
    int rc;
    memset(c, 0, sizeof(*c));
    if ((rc = join(c->crt_path, sizeof(c->crt_path), dir, "ca.crt", err)) ||
        (rc = join(c->key_path, sizeof(c->key_path), dir, "ca.key", err)) ||
        (rc = read_bounded(c->crt_path, RN_TLS_FILE_MAX, &crt, &crt_len, NULL,
                           err)) ||
        (rc = read_bounded(c->key_path, RN_TLS_FILE_MAX, &key, &key_len, &st,
                           err)))
        goto done;
    c->key_exposed = (st.st_mode & 0044) != 0;
    if (!(c->cert = pem_cert(crt, crt_len))) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EFORMAT, "%s: not a PEM certificate",
                          c->crt_path);
        goto done;
    }
    if (!(c->key = pem_key(key, key_len))) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EFORMAT,
                          "%s: not an unencrypted PEM private key",
                          c->key_path);
        goto done;
    }
    if (X509_check_private_key(c->cert, c->key) != 1) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EINVAL, "%s does not match %s", c->key_path,
                          c->crt_path);
        goto done;
    }
    if (X509_check_ca(c->cert) < 1) {
        rc = rn_error_set(err, RN_EINVAL, "%s is not a CA certificate",
                          c->crt_path);
        goto done;
    }
    if (asn1_unix(X509_get0_notAfter(c->cert), &c->not_after)) {
        rc = rn_error_set(err, RN_EFORMAT, "%s: unreadable notAfter",
                          c->crt_path);
        goto done;
    }
    if (c->not_after <= (long long)time(NULL)) {
        rc = rn_error_set(err, RN_EPERM, "%s expired on %s", c->crt_path,
                          rn_cert_date(c->not_after, d, sizeof(d)));
        goto done;
    }
done:
    free_secret(key);
    rn_free(crt);
    if (rc)
        ca_release(c);
    return rc;
}

/* A host name as a certificate may carry it: labels of 1..63 letters,
 * digits and '-' (not first or last), 253 bytes at most, and a last label
 * that is not all digits (that is a mistyped address, not a name). */
static int dns_name_ok(const char *s)
{
    size_t n = strlen(s), label = 0;
    int digits = 1;
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            digits = 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return 0;
        if (c == '-' && label == 0)
            return 0;
        if (c < '0' || c > '9')
            digits = 0;
        if (++label > 63)
            return 0;
    }
    return label > 0 && s[n - 1] != '-' && !digits;
}

/* A SAN: an address (4 or 16 bytes) or a DNS name. */
typedef struct san {
    int ip;
    unsigned char addr[16];
    size_t len;
    const char *dns;
} san;

static int san_same(const san *a, const san *b)
{
    if (a->ip != b->ip)
        return 0;
    if (a->ip)
        return a->len == b->len && memcmp(a->addr, b->addr, a->len) == 0;
    return strcasecmp(a->dns, b->dns) == 0;
}

static int san_push(GENERAL_NAMES *gens, const san *s)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *v = s->ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (!g || !v)
        goto fail;
    if (s->ip ? !ASN1_OCTET_STRING_set(v, s->addr, (int)s->len)
              : !ASN1_STRING_set(v, s->dns, (int)strlen(s->dns)))
        goto fail;
    GENERAL_NAME_set0_value(g, s->ip ? GEN_IPADD : GEN_DNS, v);
    v = NULL;
    if (!sk_GENERAL_NAME_push(gens, g))
        goto fail;
    return 0;
fail:
    ASN1_STRING_free(v);
    GENERAL_NAME_free(g);
    return -1;
}

/* The subjectAltNames of a certificate for req, checked. */
static int build_sans(const rn_cert_req *req, GENERAL_NAMES **out,
                      rn_errbuf *err)
{
    san list[RN_CERT_MAX_HOSTS + 1];
    size_t n = 0;
    GENERAL_NAMES *gens = NULL;
    int rc = 0;
    *out = NULL;
    if (req->n_hosts > RN_CERT_MAX_HOSTS)
        return rn_error_set(err, RN_EINVAL, "%zu hosts: at most %d",
                            req->n_hosts, RN_CERT_MAX_HOSTS);
    if (req->n_hosts && !req->hosts)
        return rn_error_set(err, RN_EINVAL, "no host list");
    memset(list, 0, sizeof(list));
    if (req->role == RN_ROLE_SCHEDULER || req->role == RN_ROLE_WORKER)
        list[n++].dns = req->role == RN_ROLE_SCHEDULER ? RN_TLS_NAME_SCHEDULER
                                                       : RN_TLS_NAME_WORKER;
    for (size_t i = 0; i < req->n_hosts; i++) {
        const char *h = req->hosts[i];
        san s;
        int dup = 0;
        memset(&s, 0, sizeof(s));
        if (!h || !*h)
            return rn_error_set(err, RN_EINVAL, "empty host name");
        if (inet_pton(AF_INET, h, s.addr) == 1) {
            s.ip = 1;
            s.len = 4;
        } else if (inet_pton(AF_INET6, h, s.addr) == 1) {
            s.ip = 1;
            s.len = 16;
        } else if (strcasecmp(h, RN_TLS_NAME_SCHEDULER) == 0 ||
                   strcasecmp(h, RN_TLS_NAME_WORKER) == 0) {
            return rn_error_set(err, RN_EINVAL,
                                "host '%s' is reserved: a %s certificate "
                                "gets it from its role",
                                h,
                                strcasecmp(h, RN_TLS_NAME_WORKER) == 0
                                    ? "worker"
                                    : "scheduler");
        } else if (dns_name_ok(h)) {
            s.dns = h;
        } else {
            return rn_error_set(err, RN_EINVAL,
                                "host '%.80s' is neither an IP address nor "
                                "a DNS name (labels of letters, digits and "
                                "'-', no wildcards)",
                                h);
        }
        for (size_t k = 0; k < n && !dup; k++)
            dup = san_same(&list[k], &s);
        if (!dup)
            list[n++] = s;
    }
    if (n == 0)
        return 0;
    if (!(gens = sk_GENERAL_NAME_new_null()))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (san_push(gens, &list[i])) {
            rc = ossl_fail(err, RN_ENOMEM, "cannot build subjectAltName");
            GENERAL_NAMES_free(gens);
            return rc;
        }
    *out = gens;
    return 0;
}

int rn_ca_issue(const char *ca_dir, const rn_cert_req *req,
                const char *out_dir, rn_cert_issued *out, rn_errbuf *err)
{
    ca c;
    int have_ca = 0, days = 0, rc = 0;
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    X509_NAME *nm = NULL;
    GENERAL_NAMES *sans = NULL;
    X509V3_CTX ctx;
    char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL;
    size_t cert_len = 0, key_len = 0, ca_len = 0;
    long long now = (long long)time(NULL), until;
    rn_cert_issued info;
    const char *eku;

    memset(&info, 0, sizeof(info));
    if (out)
        *out = info;
    if (!ca_dir || !*ca_dir || !out_dir || !*out_dir || !req)
        return rn_error_set(err, RN_EINVAL,
                            "a CA directory, a request and an output "
                            "directory are needed");
    if (req->role < RN_ROLE_SCHEDULER || req->role > RN_ROLE_ADMIN)
        return rn_error_set(err, RN_EINVAL,
                            "a certificate needs a role: scheduler, worker, "
                            "client or admin");
    if (!req->name || !rn_identity_name_ok(req->name, strlen(req->name)))
        return rn_error_set(err, RN_EINVAL,
                            "name '%.80s': expected 1 to 64 characters among "
                            "A-Z a-z 0-9 . _ @ -",
                            req->name ? req->name : "");
    if ((rc = check_days(req->days, RN_CERT_DEFAULT_DAYS, &days, err)) ||
        (rc = build_sans(req, &sans, err)))
        goto done;
    if ((rc = ca_load(ca_dir, &c, err)))
        goto done;
    have_ca = 1;

    until = now + days * DAY;
    if (until > c.not_after) {
        char d[16];
        until = c.not_after;
        info.clipped = 1;
        snprintf(info.warning, sizeof(info.warning),
                 "the CA expires on %s: the certificate is valid until then, "
                 "not for %d days",
                 rn_cert_date(until, d, sizeof(d)), days);
    }
    if (c.key_exposed) {
        size_t l = strlen(info.warning);
        snprintf(info.warning + l, sizeof(info.warning) - l,
                 "%s%s is readable by group or others (chmod 600 it)",
                 l ? "; " : "", c.key_path);
    }
    info.not_after = until;

    if (!(key = new_key()) || !(x = X509_new()) || !(nm = X509_NAME_new())) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot create a key");
        goto done;
    }
    /* O, OU, CN in this order: RFC 2253 prints them reversed, as
     * "CN=<name>,OU=<role>,O=runnel" (identity.h) */
    if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
                                    (const unsigned char *)"runnel", -1, -1,
                                    0) ||
        !X509_NAME_add_entry_by_txt(
            nm, "OU", MBSTRING_ASC,
            (const unsigned char *)rn_role_name(req->role), -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                                    (const unsigned char *)req->name, -1, -1,
                                    0) ||
        !X509_set_version(x, X509_VERSION_3) || set_serial(x) ||
        !X509_set_subject_name(x, nm) ||
        !X509_set_issuer_name(x, X509_get_subject_name(c.cert)) ||
        set_validity(x, now - BACKDATE, until) || !X509_set_pubkey(x, key)) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot build the certificate");
        goto done;
    }
    eku = (req->role == RN_ROLE_SCHEDULER || req->role == RN_ROLE_WORKER)
              ? "serverAuth,clientAuth"
              : "clientAuth";
    X509V3_set_ctx(&ctx, c.cert, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, &ctx, NID_key_usage,
                "critical,digitalSignature,keyAgreement") ||
        add_ext(x, &ctx, NID_ext_key_usage, eku) ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
        (sans && !X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0,
                                    X509V3_ADD_DEFAULT)) ||
        !X509_sign(x, c.key, EVP_sha256())) {
        rc = ossl_fail(err, RN_EINTERNAL, "cannot sign the certificate");
        goto done;
    }
    if (!(cert_pem = to_pem(x, NULL, &cert_len)) ||
        !(key_pem = to_pem(NULL, key, &key_len)) ||
        !(ca_pem = to_pem(c.cert, NULL, &ca_len))) {
        rc = ossl_fail(err, RN_ENOMEM, "cannot encode the certificate");
        goto done;
    }
    if ((rc = make_dirs(out_dir, 0700, err)))
        goto done;
    {
        file_out f[3] = {{"tls.key", key_pem, key_len, 0600, 0},
                         {"tls.crt", cert_pem, cert_len, 0644, 0},
                         {"ca.crt", ca_pem, ca_len, 0644, 1}};
        rc = write_files(out_dir, f, 3, req->force, err);
    }
    if (rc == 0 && out)
        *out = info;
done:
    free_secret(key_pem);
    rn_free(cert_pem);
    rn_free(ca_pem);
    GENERAL_NAMES_free(sans);
    X509_NAME_free(nm);
    X509_free(x);
    EVP_PKEY_free(key);
    if (have_ca)
        ca_release(&c);
    return rc;
}

/* ---- loading a node's files ------------------------------------------- */

void rn_tls_files_free(rn_tls_files *f)
{
    if (!f)
        return;
    free_secret(f->key_pem);
    rn_free(f->cert_pem);
    rn_free(f->ca_pem);
    rn_free(f);
}

static void add_warning(rn_tls_files *f, const char *fmt, ...) RN_FMT(2, 3);
static void add_warning(rn_tls_files *f, const char *fmt, ...)
{
    size_t l = strlen(f->warning);
    va_list ap;
    if (l && l + 2 < sizeof(f->warning)) {
        memcpy(f->warning + l, "; ", 3);
        l += 2;
    }
    va_start(ap, fmt);
    vsnprintf(f->warning + l, sizeof(f->warning) - l, fmt, ap);
    va_end(ap);
}

/* Why cert does not chain to the CA certificates, or 0. */
static int verify_chain(X509 *cert, STACK_OF(X509) *cas, const char *crt_path,
                        const char *ca_path, rn_errbuf *err)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = 0, e, depth;
    X509 *cur;
    char d[16];
    long long t;
    if (!store || !ctx) {
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < sk_X509_num(cas); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(cas, i))) {
            rc = ossl_fail(err, RN_EINTERNAL, ca_path);
            goto done;
        }
    if (!X509_STORE_CTX_init(ctx, store, cert, NULL) ||
        !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY)) {
        rc = ossl_fail(err, RN_EINTERNAL, crt_path);
        goto done;
    }
    if (X509_verify_cert(ctx) == 1)
        goto done;
    e = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    switch (e) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        rc = rn_error_set(err, RN_EPERM, "%s was not issued by %s", crt_path,
                          ca_path);
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        cur = X509_STORE_CTX_get_current_cert(ctx);
        if (depth > 0 && cur && asn1_unix(X509_get0_notAfter(cur), &t) == 0) {
            rc = rn_error_set(err, RN_EPERM, "%s expired on %s", ca_path,
                              rn_cert_date(t, d, sizeof(d)));
            break;
        }
        /* fall through */
    default:
        rc = rn_error_set(err, RN_EPERM, "%s does not verify against %s: %s",
                          crt_path, ca_path,
                          X509_verify_cert_error_string(e));
    }
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int rn_tls_load(const char *dir, rn_tls_files **out, rn_errbuf *err)
{
    char ca_path[PATH_MAX_BYTES], crt_path[PATH_MAX_BYTES],
        key_path[PATH_MAX_BYTES], subj[1024], d[16];
    size_t ca_len = 0, crt_len = 0, key_len = 0;
    rn_tls_files *f = NULL;
    STACK_OF(X509) *cas = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    struct stat key_st;
    long long now = (long long)time(NULL), not_before = 0;
    int rc;

    *out = NULL;
    if (!dir || !*dir)
        return rn_error_set(err, RN_EINVAL, "no TLS directory given");
    if ((rc = join(ca_path, sizeof(ca_path), dir, "ca.crt", err)) ||
        (rc = join(crt_path, sizeof(crt_path), dir, "tls.crt", err)) ||
        (rc = join(key_path, sizeof(key_path), dir, "tls.key", err)))
        return rc;
    if (!(f = rn_calloc(1, sizeof(*f))))
        return rn_error_set(err, RN_ENOMEM, "out of memory");
    if ((rc = read_bounded(ca_path, RN_TLS_FILE_MAX, &f->ca_pem, &ca_len, NULL,
                           err)) ||
        (rc = read_bounded(crt_path, RN_TLS_FILE_MAX, &f->cert_pem, &crt_len,
                           NULL, err)) ||
        (rc = read_bounded(key_path, RN_TLS_FILE_MAX, &f->key_pem, &key_len,
                           &key_st, err)))
        goto done;
    if (!(cas = pem_certs(f->ca_pem, ca_len))) {
        rc = rn_error_set(err, RN_EFORMAT, "%s: no PEM certificate in it",
                          ca_path);
        goto done;
    }
    if (!(cert = pem_cert(f->cert_pem, crt_len))) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EFORMAT, "%s: not a PEM certificate",
                          crt_path);
        goto done;
    }
    if (!(key = pem_key(f->key_pem, key_len))) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EFORMAT,
                          "%s: not an unencrypted PEM private key", key_path);
        goto done;
    }
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EINVAL, "%s does not match %s", key_path,
                          crt_path);
        goto done;
    }
    if (asn1_unix(X509_get0_notBefore(cert), &not_before) ||
        asn1_unix(X509_get0_notAfter(cert), &f->not_after)) {
        rc = rn_error_set(err, RN_EFORMAT, "%s: unreadable validity dates",
                          crt_path);
        goto done;
    }
    if (f->not_after < now) {
        rc = rn_error_set(err, RN_EPERM, "%s expired on %s", crt_path,
                          rn_cert_date(f->not_after, d, sizeof(d)));
        goto done;
    }
    if (not_before > now) {
        rc = rn_error_set(err, RN_EPERM,
                          "%s is not valid before %s (is the clock right?)",
                          crt_path, rn_cert_date(not_before, d, sizeof(d)));
        goto done;
    }
    if ((rc = verify_chain(cert, cas, crt_path, ca_path, err)))
        goto done;
    if ((rc = rn_identity_from_subject(
             name_text(X509_get_subject_name(cert), subj, sizeof(subj)),
             &f->self, err))) {
        rn_error_prefix(err, "%s: ", crt_path);
        goto done;
    }
    if (key_st.st_mode & 0044)
        add_warning(f, "%s is readable by group or others (mode %03o)",
                    key_path, (unsigned)(key_st.st_mode & 0777));
    if (f->not_after - now < EXPIRY_WARN_DAYS * DAY)
        add_warning(f, "%s expires on %s (in %lld days)", crt_path,
                    rn_cert_date(f->not_after, d, sizeof(d)),
                    days_of(f->not_after - now));
    *out = f;
    f = NULL;
done:
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(cas, X509_free);
    rn_tls_files_free(f);
    return rc;
}

/* ---- describing a certificate ----------------------------------------- */

static int load_first_cert(const char *file, X509 **out, rn_errbuf *err)
{
    char *pem = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    if ((rc = read_bounded(file, RN_TLS_FILE_MAX, &pem, &len, NULL, err)))
        return rc;
    if (!(*out = pem_cert(pem, len))) {
        ERR_clear_error();
        rc = rn_error_set(err, RN_EFORMAT, "%s: not a PEM certificate", file);
    }
    rn_free(pem);
    return rc;
}

int rn_cert_not_after(const char *file, long long *out, rn_errbuf *err)
{
    X509 *x = NULL;
    int rc = load_first_cert(file, &x, err);
    if (rc == 0 && asn1_unix(X509_get0_notAfter(x), out))
        rc = rn_error_set(err, RN_EFORMAT, "%s: unreadable notAfter", file);
    X509_free(x);
    return rc;
}

/* Appends text from a certificate, control and non-ASCII bytes as '?'. */
static void put_clean(rn_buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n && i < 256; i++)
        rn_buf_putc(b, (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?');
}

static void describe_sans(rn_buf *b, X509 *x)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = g ? sk_GENERAL_NAME_num(g) : 0;
    rn_buf_puts(b, "SANs        ");
    if (n == 0)
        rn_buf_puts(b, "none");
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        int type;
        const ASN1_STRING *v = GENERAL_NAME_get0_value(gn, &type);
        char ip[INET6_ADDRSTRLEN];
        if (i)
            rn_buf_puts(b, ", ");
        if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) {
            rn_buf_puts(b, type == GEN_DNS     ? "DNS:"
                           : type == GEN_EMAIL ? "email:"
                                               : "URI:");
            put_clean(b, ASN1_STRING_get0_data(v),
                      (size_t)ASN1_STRING_length(v));
        } else if (type == GEN_IPADD && (ASN1_STRING_length(v) == 4 ||
                                         ASN1_STRING_length(v) == 16)) {
            inet_ntop(ASN1_STRING_length(v) == 4 ? AF_INET : AF_INET6,
                      ASN1_STRING_get0_data(v), ip, sizeof(ip));
            rn_buf_printf(b, "IP:%s", ip);
        } else {
            rn_buf_puts(b, "(other)");
        }
    }
    rn_buf_putc(b, '\n');
    GENERAL_NAMES_free(g);
}

static void describe_usage(rn_buf *b, X509 *x)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } ku[] = {{KU_DIGITAL_SIGNATURE, "digitalSignature"},
              {KU_NON_REPUDIATION, "nonRepudiation"},
              {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
              {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
              {KU_KEY_AGREEMENT, "keyAgreement"},
              {KU_KEY_CERT_SIGN, "keyCertSign"},
              {KU_CRL_SIGN, "cRLSign"}};
    uint32_t k = X509_get_key_usage(x);
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL,
                                               NULL);
    int first = 1;
    rn_buf_puts(b, "key usage   ");
    if (k == UINT32_MAX) {
        rn_buf_puts(b, "any");
    } else {
        for (size_t i = 0; i < sizeof(ku) / sizeof(ku[0]); i++)
            if (k & ku[i].bit) {
                rn_buf_printf(b, "%s%s", first ? "" : ", ", ku[i].name);
                first = 0;
            }
    }
    rn_buf_puts(b, "\next usage   ");
    if (!eku || sk_ASN1_OBJECT_num(eku) == 0)
        rn_buf_puts(b, "any");
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        char txt[80];
        if (nid != NID_undef)
            snprintf(txt, sizeof(txt), "%s", OBJ_nid2sn(nid));
        else
            OBJ_obj2txt(txt, sizeof(txt), o, 1);
        rn_buf_printf(b, "%s%s", i ? ", " : "", txt);
    }
    rn_buf_putc(b, '\n');
    EXTENDED_KEY_USAGE_free(eku);
}

int rn_cert_describe(const char *file, rn_buf *out, rn_errbuf *err)
{
    X509 *x = NULL;
    BIGNUM *bn = NULL;
    char *hex = NULL, subj[1024], iss[1024], t1[40], t2[40], grp[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    long long nb = 0, na = 0, now = (long long)time(NULL);
    rn_identity id;
    rn_errbuf why;
    EVP_PKEY *pk;
    size_t glen = 0;
    int rc;

    if ((rc = load_first_cert(file, &x, err)))
        return rc;
    if (asn1_unix(X509_get0_notBefore(x), &nb) ||
        asn1_unix(X509_get0_notAfter(x), &na)) {
        rc = rn_error_set(err, RN_EFORMAT, "%s: unreadable validity dates",
                          file);
        goto done;
    }
    if (!(bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ||
        !(hex = BN_bn2hex(bn)) ||
        !X509_digest(x, EVP_sha256(), md, &mdlen)) {
        rc = ossl_fail(err, RN_EFORMAT, file);
        goto done;
    }
    name_text(X509_get_subject_name(x), subj, sizeof(subj));
    name_text(X509_get_issuer_name(x), iss, sizeof(iss));
    rn_error_clear(&why);
    rn_buf_printf(out, "file        %s\n", file);
    rn_buf_printf(out, "subject     %s\n", subj);
    if (rn_identity_from_subject(subj, &id, &why) == 0) {
        rn_buf_printf(out, "role        %s\n", rn_role_name(id.role));
        rn_buf_printf(out, "name        %s\n", id.name);
    } else {
        rn_buf_puts(out, "role        none (not a runnel identity)\n");
    }
    rn_buf_printf(out, "issuer      %s\n", iss);
    rn_buf_printf(out, "serial      %s\n", hex);
    rn_buf_printf(out, "not before  %s\n", date_time(nb, t1, sizeof(t1)));
    if (na < now)
        rn_buf_printf(out, "not after   %s (expired %lld days ago)\n",
                      date_time(na, t2, sizeof(t2)), days_of(now - na));
    else
        rn_buf_printf(out, "not after   %s (in %lld days)\n",
                      date_time(na, t2, sizeof(t2)), days_of(na - now));
    if (X509_check_ca(x) >= 1) {
        long pl = X509_get_pathlen(x);
        if (pl >= 0)
            rn_buf_printf(out, "CA          yes (path length %ld)\n", pl);
        else
            rn_buf_puts(out, "CA          yes\n");
    } else {
        rn_buf_puts(out, "CA          no\n");
    }
    pk = X509_get0_pubkey(x);
    if (pk && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
        EVP_PKEY_get_group_name(pk, grp, sizeof(grp), &glen))
        rn_buf_printf(out, "key         EC %s\n", grp);
    else if (pk)
        rn_buf_printf(out, "key         %s, %d bits\n",
                      OBJ_nid2sn(EVP_PKEY_get_base_id(pk)),
                      EVP_PKEY_get_bits(pk));
    describe_sans(out, x);
    describe_usage(out, x);
    rn_buf_puts(out, "sha256      ");
    for (unsigned int i = 0; i < mdlen; i++)
        rn_buf_printf(out, "%s%02X", i ? ":" : "", md[i]);
    if (rn_buf_putc(out, '\n'))
        rc = rn_error_set(err, RN_ENOMEM, "out of memory");
done:
    ERR_clear_error();
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
    return rc;
}
