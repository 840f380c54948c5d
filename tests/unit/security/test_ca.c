/* The cluster CA (core/security/ca.c): what rn_ca_init and rn_ca_issue
 * write, read back field by field with OpenSSL; what rn_tls_load accepts
 * and each refusal; and an in-memory mutual-TLS handshake with libssl
 * proving the certificates do the job they are made for. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/buf.h"
#include "security/ca.h"
#include "testutil.h"

typedef struct fixture {
    char *tmp;
    char ca[512];  /* a CA made once for the group */
    char ca2[512]; /* another, unrelated CA */
} fixture;

static fixture *fx;

/* snprintf into an array, asserting that it fits */
#define FMT(buf, ...) \
    assert_true(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static void path_of(char *out, size_t cap, const char *dir, const char *name)
{
    assert_true(snprintf(out, cap, "%s/%s", dir, name) < (int)cap);
}

static void sub(char *out, size_t cap, const char *name)
{
    assert_true(snprintf(out, cap, "%s/%s", fx->tmp, name) < (int)cap);
}

static int group_setup(void **state)
{
    rn_errbuf err;
    (void)state;
    fx = calloc(1, sizeof(*fx));
    if (!fx || !(fx->tmp = rn_test_tmpdir("ca")))
        return -1;
    sub(fx->ca, sizeof(fx->ca), "ca");
    sub(fx->ca2, sizeof(fx->ca2), "other-ca");
    if (rn_ca_init(fx->ca, NULL, &err) || rn_ca_init(fx->ca2, NULL, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (fx) {
        if (fx->tmp) {
            rn_test_rmtree(fx->tmp);
            free(fx->tmp);
        }
        free(fx);
    }
    return 0;
}

static X509 *read_cert(const char *dir, const char *name)
{
    char p[600];
    FILE *f;
    X509 *x;
    path_of(p, sizeof(p), dir, name);
    f = fopen(p, "r");
    assert_non_null(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static EVP_PKEY *read_key(const char *dir, const char *name)
{
    char p[600];
    FILE *f;
    EVP_PKEY *k;
    path_of(p, sizeof(p), dir, name);
    f = fopen(p, "r");
    assert_non_null(f);
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

static const char *rfc2253(const X509_NAME *nm, char *buf, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;
    assert_true(X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253) >= 0);
    n = BIO_get_mem_data(b, &data);
    assert_true(n > 0 && (size_t)n < cap);
    memcpy(buf, data, (size_t)n);
    buf[n] = '\0';
    BIO_free(b);
    return buf;
}

static int mode_of(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    if (name)
        path_of(p, sizeof(p), dir, name);
    else
        FMT(p, "%s", dir);
    assert_int_equal(stat(p, &st), 0);
    return (int)(st.st_mode & 07777);
}

static int ext_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    assert_true(i >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static long long unix_of(const ASN1_TIME *a)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    assert_int_equal(ASN1_TIME_to_tm(a, &tm), 1);
    return (long long)timegm(&tm);
}

/* Only the files the code meant to leave: no temporary file. */
static void assert_only_files(const char *dir, const char *const *names,
                              size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t count = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        int known = 0;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        for (size_t i = 0; i < n; i++)
            known |= strcmp(e->d_name, names[i]) == 0;
        if (!known)
            fprintf(stderr, "unexpected file %s/%s\n", dir, e->d_name);
        assert_true(known);
        count++;
    }
    closedir(d);
    assert_int_equal(count, n);
}

static void test_init_writes_a_ca(void **state)
{
    static const char *const files[] = {"ca.crt", "ca.key"};
    char subj[256];
    X509 *x;
    EVP_PKEY *k;
    BIGNUM *bn;
    long long now = (long long)time(NULL);
    (void)state;

    assert_int_equal(mode_of(fx->ca, NULL), 0700);
    assert_int_equal(mode_of(fx->ca, "ca.key"), 0600);
    assert_int_equal(mode_of(fx->ca, "ca.crt"), 0644);
    assert_only_files(fx->ca, files, 2);

    x = read_cert(fx->ca, "ca.crt");
    k = read_key(fx->ca, "ca.key");
    assert_string_equal(rfc2253(X509_get_subject_name(x), subj, sizeof(subj)),
                        "CN=runnel cluster CA,O=runnel");
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
                                   X509_get_issuer_name(x)),
                     0);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    /* self-signed with its own key, and the key is the one in ca.key */
    assert_int_equal(X509_verify(x, k), 1);
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    char grp[32];
    size_t glen;
    assert_true(EVP_PKEY_get_group_name(k, grp, sizeof(grp), &glen));
    assert_string_equal(grp, "prime256v1");
    /* basicConstraints critical CA:TRUE pathlen:0 */
    assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
    assert_int_equal(X509_get_pathlen(x), 0);
    assert_true(ext_critical(x, NID_basic_constraints));
    /* keyUsage critical keyCertSign + cRLSign, nothing else */
    assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_true(ext_critical(x, NID_key_usage));
    assert_non_null(X509_get0_subject_key_id(x));
    /* a positive 128-bit serial */
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    assert_non_null(bn);
    assert_false(BN_is_negative(bn));
    assert_int_equal(BN_num_bits(bn), 128);
    BN_free(bn);
    /* 3650 days from about now */
    long long na = unix_of(X509_get0_notAfter(x));
    assert_true(na >= now + 3650LL * 86400 - 60 &&
                na <= now + 3650LL * 86400 + 60);
    assert_true(unix_of(X509_get0_notBefore(x)) <= now);
    EVP_PKEY_free(k);
    X509_free(x);

    /* the two CAs of the fixture differ */
    X509 *a = read_cert(fx->ca, "ca.crt"), *b = read_cert(fx->ca2, "ca.crt");
    assert_int_not_equal(X509_cmp(a, b), 0);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)),
        0);
    X509_free(a);
    X509_free(b);
}

static void test_init_options_and_refusals(void **state)
{
    char dir[600], subj[256], p[700];
    rn_ca_opts o = {"Acme (prod) CA", 10, 0};
    rn_errbuf err;
    X509 *x, *y;
    long long now = (long long)time(NULL);
    (void)state;
    sub(dir, sizeof(dir), "init/deep/ca");
    assert_int_equal(rn_ca_init(dir, &o, &err), 0);
    x = read_cert(dir, "ca.crt");
    assert_string_equal(rfc2253(X509_get_subject_name(x), subj, sizeof(subj)),
                        "CN=Acme (prod) CA,O=runnel");
    long long na = unix_of(X509_get0_notAfter(x));
    assert_true(na >= now + 10 * 86400 - 60 && na <= now + 10 * 86400 + 60);

    /* never overwritten without force, with the file named */
    o.name = NULL;
    rn_error_clear(&err);
    assert_int_equal(rn_ca_init(dir, &o, &err), RN_EEXIST);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_non_null(strstr(err.msg, "ca.key"));
    y = read_cert(dir, "ca.crt");
    assert_int_equal(X509_cmp(x, y), 0);
    X509_free(y);
    /* only one of the two files there is enough to refuse */
    path_of(p, sizeof(p), dir, "ca.key");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rn_ca_init(dir, &o, &err), RN_EEXIST);
    assert_non_null(strstr(err.msg, "ca.crt already exists"));
    assert_int_not_equal(access(p, F_OK), 0); /* nothing new left behind */
    /* force replaces both */
    o.force = 1;
    assert_int_equal(rn_ca_init(dir, &o, &err), 0);
    y = read_cert(dir, "ca.crt");
    assert_int_not_equal(X509_cmp(x, y), 0);
    assert_string_equal(rfc2253(X509_get_subject_name(y), subj, sizeof(subj)),
                        "CN=runnel cluster CA,O=runnel");
    assert_int_equal(mode_of(dir, "ca.key"), 0600);
    X509_free(y);
    X509_free(x);

    /* refusals */
    sub(dir, sizeof(dir), "init-bad");
    rn_ca_opts bad[] = {{"", 0, 0},         {"a,b", 0, 0},
                        {" lead", 0, 0},    {"x\\y", 0, 0},
                        {"CN=x", 0, 0},     {NULL, -1, 0},
                        {NULL, 36501, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rn_error_clear(&err);
        assert_int_equal(rn_ca_init(dir, &bad[i], &err), RN_EINVAL);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_not_equal(access(dir, F_OK), 0);
    assert_int_equal(rn_ca_init("", NULL, &err), RN_EINVAL);
    /* a file where the directory should be */
    sub(dir, sizeof(dir), "a-file");
    assert_int_equal(rn_test_write_file(dir, "x", 1), 0);
    assert_int_equal(rn_ca_init(dir, NULL, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "not a directory"));
}

static void issue(const char *ca, rn_role role, const char *name,
                  const char *const *hosts, size_t n_hosts, int days,
                  const char *out, rn_cert_issued *got)
{
    rn_cert_req req = {role, name, hosts, n_hosts, days, 0};
    rn_errbuf err;
    rn_error_clear(&err);
    int rc = rn_ca_issue(ca, &req, out, got, &err);
    if (rc)
        fprintf(stderr, "issue %s: %s\n", name, err.msg);
    assert_int_equal(rc, 0);
}

/* The SANs of x as "DNS:a,IP:1.2.3.4,..." */
static void sans_of(X509 *x, char *buf, size_t cap)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
        int type;
        const ASN1_STRING *v =
            GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(g, i), &type);
        const unsigned char *d = ASN1_STRING_get0_data(v);
        int n = ASN1_STRING_length(v);
        if (type == GEN_DNS)
            k += (size_t)snprintf(buf + k, cap - k, "%sDNS:%.*s",
                                  k ? "," : "", n, (const char *)d);
        else if (type == GEN_IPADD && n == 4)
            k += (size_t)snprintf(buf + k, cap - k, "%sIP:%d.%d.%d.%d",
                                  k ? "," : "", d[0], d[1], d[2], d[3]);
        else if (type == GEN_IPADD && n == 16)
            k += (size_t)snprintf(buf + k, cap - k, "%sIP6:%02x..%02x",
                                  k ? "," : "", d[0], d[15]);
        else
            k += (size_t)snprintf(buf + k, cap - k, "%s?", k ? "," : "");
    }
    GENERAL_NAMES_free(g);
}

static int chain_verifies(X509 *leaf, const char *ca_dir)
{
    X509 *ca = read_cert(ca_dir, "ca.crt");
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;
    assert_int_equal(X509_STORE_add_cert(st, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
    ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(ca);
    ERR_clear_error();
    return ok == 1;
}

static void test_issue_each_role(void **state)
{
    static const struct {
        rn_role role;
        const char *name, *subject, *sans;
        int server;
    } cases[] = {
        {RN_ROLE_SCHEDULER, "sched", "CN=sched,OU=scheduler,O=runnel",
         "DNS:runnel-scheduler", 1},
        {RN_ROLE_WORKER, "w1", "CN=w1,OU=worker,O=runnel", "DNS:runnel-worker",
         1},
        {RN_ROLE_CLIENT, "alice@example.org",
         "CN=alice@example.org,OU=client,O=runnel", "", 0},
        {RN_ROLE_ADMIN, "ops", "CN=ops,OU=admin,O=runnel", "", 0},
    };
    static const char *const files[] = {"ca.crt", "tls.crt", "tls.key"};
    X509 *ca = read_cert(fx->ca, "ca.crt");
    long long now = (long long)time(NULL);
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[600], subj[256], sans[512], p1[700], p2[700];
        rn_cert_issued got;
        X509 *x;
        EVP_PKEY *k;
        BIGNUM *bn;
        FMT(out, "%s/issued/%s", fx->tmp,
                 rn_role_name(cases[i].role));
        issue(fx->ca, cases[i].role, cases[i].name, NULL, 0, 0, out, &got);
        assert_false(got.clipped);
        assert_string_equal(got.warning, "");
        assert_int_equal(mode_of(out, NULL), 0700);
        assert_int_equal(mode_of(out, "tls.key"), 0600);
        assert_int_equal(mode_of(out, "tls.crt"), 0644);
        assert_int_equal(mode_of(out, "ca.crt"), 0644);
        assert_only_files(out, files, 3);
        /* ca.crt is the CA's certificate, byte for byte */
        path_of(p1, sizeof(p1), out, "ca.crt");
        path_of(p2, sizeof(p2), fx->ca, "ca.crt");
        char *a = rn_test_read_file(p1, NULL), *b = rn_test_read_file(p2, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);

        x = read_cert(out, "tls.crt");
        k = read_key(out, "tls.key");
        assert_int_equal(X509_check_private_key(x, k), 1);
        assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
        assert_int_equal(EVP_PKEY_get_bits(k), 256);
        assert_string_equal(
            rfc2253(X509_get_subject_name(x), subj, sizeof(subj)),
            cases[i].subject);
        assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
                                       X509_get_subject_name(ca)),
                         0);
        /* basicConstraints critical CA:FALSE */
        assert_int_equal(X509_check_ca(x), 0);
        assert_true(ext_critical(x, NID_basic_constraints));
        assert_int_equal(X509_get_key_usage(x),
                         KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
        assert_true(ext_critical(x, NID_key_usage));
        assert_int_equal(X509_get_extended_key_usage(x),
                         cases[i].server ? (XKU_SSL_SERVER | XKU_SSL_CLIENT)
                                         : XKU_SSL_CLIENT);
        /* SKI, and AKI naming the CA's SKI */
        assert_non_null(X509_get0_subject_key_id(x));
        assert_non_null(X509_get0_authority_key_id(x));
        assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x),
                                               X509_get0_subject_key_id(ca)),
                         0);
        sans_of(x, sans, sizeof(sans));
        assert_string_equal(sans, cases[i].sans);
        bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        assert_int_equal(BN_num_bits(bn), 128);
        assert_false(BN_is_negative(bn));
        BN_free(bn);
        long long na = unix_of(X509_get0_notAfter(x));
        assert_true(na >= now + 365LL * 86400 - 60 &&
                    na <= now + 365LL * 86400 + 60);
        assert_true(na == got.not_after);
        long long nb = unix_of(X509_get0_notBefore(x));
        assert_true(nb < now && nb > now - 3600);
        assert_true(chain_verifies(x, fx->ca));
        assert_false(chain_verifies(x, fx->ca2));
        EVP_PKEY_free(k);
        X509_free(x);
    }
    X509_free(ca);
}

static void test_issue_hosts(void **state)
{
    const char *hosts[] = {"10.1.2.3",    "node-1.example.com", "::1",
                           "NODE-1.example.com", "10.1.2.3",  "localhost",
                           "2001:db8::7"};
    char out[600], sans[512];
    X509 *x;
    (void)state;
    sub(out, sizeof(out), "hosts/w");
    issue(fx->ca, RN_ROLE_WORKER, "w2", hosts, 7, 30, out, NULL);
    x = read_cert(out, "tls.crt");
    sans_of(x, sans, sizeof(sans));
    /* the role's name first, then each host once, IPs as IP SANs */
    assert_string_equal(sans, "DNS:runnel-worker,IP:10.1.2.3,"
                              "DNS:node-1.example.com,IP6:00..01,"
                              "DNS:localhost,IP6:20..07");
    X509_free(x);
    /* a client may hold hosts too, but never a daemon's name */
    sub(out, sizeof(out), "hosts/c");
    issue(fx->ca, RN_ROLE_CLIENT, "c", hosts, 1, 0, out, NULL);
    x = read_cert(out, "tls.crt");
    sans_of(x, sans, sizeof(sans));
    assert_string_equal(sans, "IP:10.1.2.3");
    X509_free(x);
}

/* Modes are exact whatever the umask: a key never wider than 0600 (it is
 * created so), a certificate still readable under umask 077. */
static void test_modes_ignore_umask(void **state)
{
    char out[600], ca[600];
    mode_t old;
    rn_errbuf err;
    (void)state;
    old = umask(0);
    sub(out, sizeof(out), "umask0");
    issue(fx->ca, RN_ROLE_WORKER, "u0", NULL, 0, 0, out, NULL);
    sub(ca, sizeof(ca), "umask0-ca");
    assert_int_equal(rn_ca_init(ca, NULL, &err), 0);
    umask(077);
    assert_int_equal(mode_of(out, NULL), 0700);
    assert_int_equal(mode_of(out, "tls.key"), 0600);
    assert_int_equal(mode_of(out, "tls.crt"), 0644);
    assert_int_equal(mode_of(ca, NULL), 0700);
    assert_int_equal(mode_of(ca, "ca.key"), 0600);
    sub(out, sizeof(out), "umask77");
    issue(fx->ca, RN_ROLE_WORKER, "u77", NULL, 0, 0, out, NULL);
    umask(old);
    assert_int_equal(mode_of(out, "tls.key"), 0600);
    assert_int_equal(mode_of(out, "tls.crt"), 0644);
    assert_int_equal(mode_of(out, "ca.crt"), 0644);
}

static void expect_issue_refused(const rn_cert_req *req, const char *out,
                                 int code, const char *needle)
{
    rn_errbuf err;
    rn_cert_issued got;
    rn_error_clear(&err);
    int rc = rn_ca_issue(fx->ca, req, out, &got, &err);
    if (rc != code || !strstr(err.msg, needle))
        fprintf(stderr, "rc %d '%s' (wanted %d, '%s')\n", rc, err.msg, code,
                needle);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, needle));
}

static void test_issue_refusals(void **state)
{
    char out[600], p[700];
    const char *h_sched[] = {"runnel-scheduler"};
    const char *h_worker[] = {"Runnel-Worker"};
    const char *h_bad[] = {"a..b"};
    const char *h_wild[] = {"*.example.com"};
    const char *h_num[] = {"1.2.3"};
    const char *h_dash[] = {"-a.example.com"};
    const char *h_space[] = {"a b"};
    const char *h_empty[] = {""};
    const char *many[RN_CERT_MAX_HOSTS + 1];
    rn_errbuf err;
    (void)state;
    sub(out, sizeof(out), "refused");

    rn_cert_req r = {RN_ROLE_NONE, "x", NULL, 0, 0, 0};
    expect_issue_refused(&r, out, RN_EINVAL, "needs a role");
    r.role = (rn_role)9;
    expect_issue_refused(&r, out, RN_EINVAL, "needs a role");
    r.role = RN_ROLE_WORKER;
    const char *bad_names[] = {"", "a b", "a,b", "CN=x", "\xc3\xa9",
                               "0123456789012345678901234567890123456789"
                               "01234567890123456789012345"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        r.name = bad_names[i];
        expect_issue_refused(&r, out, RN_EINVAL, "expected 1 to 64");
    }
    r.name = NULL;
    expect_issue_refused(&r, out, RN_EINVAL, "expected 1 to 64");
    r.name = "w";
    r.n_hosts = 1;
    r.hosts = h_sched;
    expect_issue_refused(&r, out, RN_EINVAL, "'runnel-scheduler' is reserved");
    r.role = RN_ROLE_CLIENT;
    r.hosts = h_worker;
    expect_issue_refused(&r, out, RN_EINVAL, "'Runnel-Worker' is reserved");
    r.hosts = h_bad;
    expect_issue_refused(&r, out, RN_EINVAL, "neither an IP address nor");
    r.hosts = h_wild;
    expect_issue_refused(&r, out, RN_EINVAL, "neither an IP address nor");
    r.hosts = h_num;
    expect_issue_refused(&r, out, RN_EINVAL, "neither an IP address nor");
    r.hosts = h_dash;
    expect_issue_refused(&r, out, RN_EINVAL, "neither an IP address nor");
    r.hosts = h_space;
    expect_issue_refused(&r, out, RN_EINVAL, "neither an IP address nor");
    r.hosts = h_empty;
    expect_issue_refused(&r, out, RN_EINVAL, "empty host");
    for (int i = 0; i <= RN_CERT_MAX_HOSTS; i++)
        many[i] = "a.example.com";
    r.hosts = many;
    r.n_hosts = RN_CERT_MAX_HOSTS + 1;
    expect_issue_refused(&r, out, RN_EINVAL, "at most 64");
    r.n_hosts = 0;
    r.days = 36501;
    expect_issue_refused(&r, out, RN_EINVAL, "expected 1 to 36500");
    r.days = -2;
    expect_issue_refused(&r, out, RN_EINVAL, "expected 1 to 36500");
    r.days = 0;
    /* nothing was written by any refusal */
    assert_int_not_equal(access(out, F_OK), 0);

    /* a missing CA, a broken one */
    sub(p, sizeof(p), "no-such-ca");
    rn_error_clear(&err);
    assert_int_equal(rn_ca_issue(p, &r, out, NULL, &err), RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no-such-ca/ca.crt: no such file"));

    /* overwrite: refused, then forced */
    issue(fx->ca, RN_ROLE_CLIENT, "first", NULL, 0, 0, out, NULL);
    X509 *a = read_cert(out, "tls.crt");
    r.name = "second";
    expect_issue_refused(&r, out, RN_EEXIST, "tls.key already exists");
    X509 *b = read_cert(out, "tls.crt");
    assert_int_equal(X509_cmp(a, b), 0);
    X509_free(b);
    r.force = 1;
    rn_error_clear(&err);
    assert_int_equal(rn_ca_issue(fx->ca, &r, out, NULL, &err), 0);
    b = read_cert(out, "tls.crt");
    assert_int_not_equal(X509_cmp(a, b), 0);
    assert_int_equal(mode_of(out, "tls.key"), 0600);
    X509_free(b);
    X509_free(a);
    /* a directory holding only the same ca.crt is not a conflict, one
     * holding another CA's is */
    path_of(p, sizeof(p), out, "tls.crt");
    unlink(p);
    path_of(p, sizeof(p), out, "tls.key");
    unlink(p);
    r.force = 0;
    rn_error_clear(&err);
    assert_int_equal(rn_ca_issue(fx->ca, &r, out, NULL, &err), 0);
    rn_error_clear(&err);
    r.name = "third";
    char out2[600];
    sub(out2, sizeof(out2), "refused2");
    issue(fx->ca2, RN_ROLE_CLIENT, "x", NULL, 0, 0, out2, NULL);
    path_of(p, sizeof(p), out2, "tls.crt");
    unlink(p);
    path_of(p, sizeof(p), out2, "tls.key");
    unlink(p);
    expect_issue_refused(&r, out2, RN_EEXIST, "ca.crt already exists");
    path_of(p, sizeof(p), out2, "tls.key");
    assert_int_not_equal(access(p, F_OK), 0); /* undone */

    /* a CA key that is not the CA certificate's */
    char bad_ca[600], src[700], dst[700];
    sub(bad_ca, sizeof(bad_ca), "mixed-ca");
    assert_int_equal(mkdir(bad_ca, 0700), 0);
    path_of(src, sizeof(src), fx->ca, "ca.crt");
    path_of(dst, sizeof(dst), bad_ca, "ca.crt");
    char *t = rn_test_read_file(src, NULL);
    assert_int_equal(rn_test_write_file(dst, t, strlen(t)), 0);
    free(t);
    path_of(src, sizeof(src), fx->ca2, "ca.key");
    path_of(dst, sizeof(dst), bad_ca, "ca.key");
    t = rn_test_read_file(src, NULL);
    assert_int_equal(rn_test_write_file(dst, t, strlen(t)), 0);
    free(t);
    rn_error_clear(&err);
    assert_int_equal(rn_ca_issue(bad_ca, &r, out2, NULL, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "mixed-ca/ca.key does not match"));
    /* a leaf is not a CA */
    char leaf_ca[600];
    sub(leaf_ca, sizeof(leaf_ca), "issued/worker");
    path_of(src, sizeof(src), leaf_ca, "tls.crt");
    path_of(dst, sizeof(dst), bad_ca, "ca.crt");
    t = rn_test_read_file(src, NULL);
    assert_int_equal(rn_test_write_file(dst, t, strlen(t)), 0);
    free(t);
    path_of(src, sizeof(src), leaf_ca, "tls.key");
    path_of(dst, sizeof(dst), bad_ca, "ca.key");
    t = rn_test_read_file(src, NULL);
    assert_int_equal(rn_test_write_file(dst, t, strlen(t)), 0);
    free(t);
    rn_error_clear(&err);
    assert_int_equal(rn_ca_issue(bad_ca, &r, out2, NULL, &err), RN_EINVAL);
    assert_non_null(strstr(err.msg, "is not a CA certificate"));
}

static void test_issue_clipped_to_ca(void **state)
{
    char ca[600], out[600];
    rn_ca_opts o = {"short CA", 10, 0};
    rn_cert_issued got;
    rn_errbuf err;
    X509 *c, *x;
    (void)state;
    sub(ca, sizeof(ca), "short-ca");
    sub(out, sizeof(out), "short-leaf");
    assert_int_equal(rn_ca_init(ca, &o, &err), 0);
    issue(ca, RN_ROLE_WORKER, "w", NULL, 0, 365, out, &got);
    c = read_cert(ca, "ca.crt");
    x = read_cert(out, "tls.crt");
    assert_true(got.clipped);
    assert_non_null(strstr(got.warning, "the CA expires on"));
    assert_non_null(strstr(got.warning, "not for 365 days"));
    assert_true(got.not_after == unix_of(X509_get0_notAfter(c)));
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
                                       X509_get0_notAfter(c)),
                     0);
    X509_free(x);
    /* a request within the CA's life is not clipped */
    sub(out, sizeof(out), "short-leaf-3");
    issue(ca, RN_ROLE_CLIENT, "w", NULL, 0, 3, out, &got);
    assert_false(got.clipped);
    assert_string_equal(got.warning, "");
    assert_true(got.not_after < unix_of(X509_get0_notAfter(c)));
    X509_free(c);
}

/* ---- rn_tls_load ------------------------------------------------------ */

static void copy_file(const char *from_dir, const char *to_dir,
                      const char *name)
{
    char src[700], dst[700], *t;
    size_t n;
    path_of(src, sizeof(src), from_dir, name);
    path_of(dst, sizeof(dst), to_dir, name);
    t = rn_test_read_file(src, &n);
    assert_non_null(t);
    assert_int_equal(rn_test_write_file(dst, t, n), 0);
    chmod(dst, 0600);
    free(t);
}

static void expect_load_refused(const char *dir, int code, const char *needle)
{
    rn_tls_files *f = (rn_tls_files *)1;
    rn_errbuf err;
    rn_error_clear(&err);
    int rc = rn_tls_load(dir, &f, &err);
    if (rc != code || !strstr(err.msg, needle))
        fprintf(stderr, "load %s: rc %d '%s' (wanted %d, '%s')\n", dir, rc,
                err.msg, code, needle);
    assert_int_equal(rc, code);
    assert_null(f);
    assert_non_null(strstr(err.msg, needle));
}

/* A certificate made here with OpenSSL, signed by ca_dir's key: for the
 * cases rn_ca_issue never produces (past or future validity, a subject
 * that is not an identity). Writes dir/{ca.crt,tls.crt,tls.key}. */
static void craft(const char *ca_dir, const char *dir, const char *ou,
                  const char *cn, long long from, long long until)
{
    X509 *ca = read_cert(ca_dir, "ca.crt"), *x = X509_new();
    EVP_PKEY *cakey = read_key(ca_dir, "ca.key"), *k = EVP_EC_gen("P-256");
    X509_NAME *nm = X509_NAME_new();
    char p[700];
    FILE *f;
    assert_non_null(k);
    assert_true(X509_NAME_add_entry_by_txt(
        nm, "O", MBSTRING_ASC, (const unsigned char *)"runnel", -1, -1, 0));
    if (ou)
        assert_true(X509_NAME_add_entry_by_txt(
            nm, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0));
    assert_true(X509_NAME_add_entry_by_txt(
        nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    assert_true(X509_set_version(x, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242));
    assert_true(X509_set_subject_name(x, nm));
    assert_true(X509_set_issuer_name(x, X509_get_subject_name(ca)));
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)from));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)until));
    assert_true(X509_set_pubkey(x, k));
    assert_true(X509_sign(x, cakey, EVP_sha256()) > 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    copy_file(ca_dir, dir, "ca.crt");
    path_of(p, sizeof(p), dir, "tls.crt");
    assert_non_null(f = fopen(p, "w"));
    assert_true(PEM_write_X509(f, x));
    fclose(f);
    path_of(p, sizeof(p), dir, "tls.key");
    assert_non_null(f = fopen(p, "w"));
    assert_int_equal(chmod(p, 0600), 0);
    assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    X509_NAME_free(nm);
    EVP_PKEY_free(k);
    EVP_PKEY_free(cakey);
    X509_free(x);
    X509_free(ca);
}

static void test_tls_load_ok(void **state)
{
    char dir[600], p[700];
    rn_tls_files *f = NULL;
    rn_errbuf err;
    long long na = 0;
    (void)state;
    sub(dir, sizeof(dir), "issued/worker");
    rn_error_clear(&err);
    assert_int_equal(rn_tls_load(dir, &f, &err), 0);
    assert_non_null(f);
    assert_int_equal(f->self.role, RN_ROLE_WORKER);
    assert_string_equal(f->self.name, "w1");
    assert_string_equal(f->warning, "");
    assert_non_null(strstr(f->ca_pem, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(f->cert_pem, "-----BEGIN CERTIFICATE-----"));
    assert_non_null(strstr(f->key_pem, "-----BEGIN PRIVATE KEY-----"));
    path_of(p, sizeof(p), dir, "tls.crt");
    char *t = rn_test_read_file(p, NULL);
    assert_string_equal(t, f->cert_pem);
    free(t);
    assert_int_equal(rn_cert_not_after(p, &na, &err), 0);
    assert_true(na == f->not_after);
    rn_tls_files_free(f);
    rn_tls_files_free(NULL);

    /* a trailing '/' on the directory is fine; a client's identity */
    sub(dir, sizeof(dir), "issued/client/");
    assert_int_equal(rn_tls_load(dir, &f, &err), 0);
    assert_int_equal(f->self.role, RN_ROLE_CLIENT);
    assert_string_equal(f->self.name, "alice@example.org");
    rn_tls_files_free(f);
}

static void test_tls_load_failures(void **state)
{
    char dir[600], src[600], p[700];
    rn_tls_files *f = NULL;
    rn_errbuf err;
    long long now = (long long)time(NULL);
    (void)state;

    /* missing files, each named */
    sub(dir, sizeof(dir), "load-missing");
    assert_int_equal(mkdir(dir, 0700), 0);
    expect_load_refused(dir, RN_ENOTFOUND, "load-missing/ca.crt: no such file");
    sub(src, sizeof(src), "issued/worker");
    copy_file(src, dir, "ca.crt");
    expect_load_refused(dir, RN_ENOTFOUND, "load-missing/tls.crt: no such file");
    copy_file(src, dir, "tls.crt");
    expect_load_refused(dir, RN_ENOTFOUND, "load-missing/tls.key: no such file");
    expect_load_refused("", RN_EINVAL, "no TLS directory");

    /* the key of another certificate */
    sub(src, sizeof(src), "issued/scheduler");
    copy_file(src, dir, "tls.key");
    FMT(p, "%s/tls.key does not match %s/tls.crt", dir, dir);
    expect_load_refused(dir, RN_EINVAL, p);

    /* a certificate of another CA (its own key, the first CA's ca.crt) */
    sub(dir, sizeof(dir), "load-other-ca");
    sub(src, sizeof(src), "refused2");
    issue(fx->ca2, RN_ROLE_WORKER, "intruder", NULL, 0, 0, dir, NULL);
    copy_file(fx->ca, dir, "ca.crt");
    FMT(p, "%s/tls.crt was not issued by %s/ca.crt", dir, dir);
    expect_load_refused(dir, RN_EPERM, p);
    /* a ca.crt holding both CAs accepts it (a CA rotation's bundle) */
    {
        char a[700], b[700];
        path_of(a, sizeof(a), fx->ca, "ca.crt");
        path_of(b, sizeof(b), fx->ca2, "ca.crt");
        char *ta = rn_test_read_file(a, NULL), *tb = rn_test_read_file(b, NULL);
        size_t la = strlen(ta), lb = strlen(tb);
        char *both = malloc(la + lb + 1);
        memcpy(both, ta, la);
        memcpy(both + la, tb, lb + 1);
        path_of(p, sizeof(p), dir, "ca.crt");
        assert_int_equal(rn_test_write_file(p, both, la + lb), 0);
        free(both);
        free(ta);
        free(tb);
        assert_int_equal(rn_tls_load(dir, &f, &err), 0);
        assert_string_equal(f->self.name, "intruder");
        rn_tls_files_free(f);
    }

    /* expired, and not valid yet */
    sub(dir, sizeof(dir), "load-expired");
    craft(fx->ca, dir, "worker", "old", now - 30 * 86400, now - 86400);
    char day[16];
    rn_cert_date(now - 86400, day, sizeof(day));
    FMT(p, "%s/tls.crt expired on %s", dir, day);
    expect_load_refused(dir, RN_EPERM, p);
    sub(dir, sizeof(dir), "load-future");
    craft(fx->ca, dir, "worker", "new", now + 86400, now + 30 * 86400);
    expect_load_refused(dir, RN_EPERM, "tls.crt is not valid before");

    /* signed by the CA but not a runnel identity */
    sub(dir, sizeof(dir), "load-no-ou");
    craft(fx->ca, dir, NULL, "someone", now - 60, now + 86400 * 100);
    expect_load_refused(dir, RN_EPERM, "no OU naming a role");
    sub(dir, sizeof(dir), "load-bad-ou");
    craft(fx->ca, dir, "root", "someone", now - 60, now + 86400 * 100);
    expect_load_refused(dir, RN_EPERM, "load-bad-ou/tls.crt: certificate "
                                       "subject 'CN=someone,OU=root,O=runnel'");

    /* not PEM, too large */
    sub(dir, sizeof(dir), "load-garbage");
    issue(fx->ca, RN_ROLE_WORKER, "g", NULL, 0, 0, dir, NULL);
    path_of(p, sizeof(p), dir, "tls.key");
    assert_int_equal(rn_test_write_file(p, "not a key\n", 10), 0);
    expect_load_refused(dir, RN_EFORMAT, "tls.key: not an unencrypted PEM");
    path_of(p, sizeof(p), dir, "tls.crt");
    assert_int_equal(rn_test_write_file(p, "junk", 4), 0);
    expect_load_refused(dir, RN_EFORMAT, "tls.crt: not a PEM certificate");
    path_of(p, sizeof(p), dir, "ca.crt");
    assert_int_equal(rn_test_write_file(p, "", 0), 0);
    expect_load_refused(dir, RN_EFORMAT, "ca.crt: no PEM certificate");
    char *big = calloc(1, RN_TLS_FILE_MAX + 2);
    memset(big, 'A', RN_TLS_FILE_MAX + 1);
    assert_int_equal(rn_test_write_file(p, big, RN_TLS_FILE_MAX + 1), 0);
    free(big);
    expect_load_refused(dir, RN_ELIMIT, "ca.crt: larger than 64 KiB");
    /* a directory where a file should be */
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    expect_load_refused(dir, RN_EINVAL, "ca.crt: not a regular file");
}

static void test_tls_load_warnings(void **state)
{
    char dir[600], ca[600], p[700];
    rn_tls_files *f = NULL;
    rn_errbuf err;
    rn_ca_opts o = {NULL, 12, 0};
    (void)state;
    sub(dir, sizeof(dir), "warn-mode");
    issue(fx->ca, RN_ROLE_WORKER, "w", NULL, 0, 0, dir, NULL);
    path_of(p, sizeof(p), dir, "tls.key");
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(rn_tls_load(dir, &f, &err), 0);
    assert_non_null(strstr(f->warning, "tls.key is readable by group or "
                                       "others (mode 640)"));
    rn_tls_files_free(f);
    /* expiring within 30 days (the CA lives 12 days) */
    sub(ca, sizeof(ca), "warn-ca");
    assert_int_equal(rn_ca_init(ca, &o, &err), 0);
    sub(dir, sizeof(dir), "warn-soon");
    issue(ca, RN_ROLE_CLIENT, "c", NULL, 0, 0, dir, NULL);
    assert_int_equal(rn_tls_load(dir, &f, &err), 0);
    assert_non_null(strstr(f->warning, "tls.crt expires on"));
    assert_non_null(strstr(f->warning, "(in 12 days)"));
    assert_null(strstr(f->warning, "readable"));
    rn_tls_files_free(f);
    path_of(p, sizeof(p), dir, "tls.key");
    assert_int_equal(chmod(p, 0604), 0);
    assert_int_equal(rn_tls_load(dir, &f, &err), 0);
    assert_non_null(strstr(f->warning, "readable by group or others"));
    assert_non_null(strstr(f->warning, "; "));
    assert_non_null(strstr(f->warning, "expires on"));
    rn_tls_files_free(f);
}

static void test_describe(void **state)
{
    char p[700];
    rn_buf b;
    rn_errbuf err;
    (void)state;
    rn_buf_init(&b, 0);
    FMT(p, "%s/hosts/w/tls.crt", fx->tmp);
    assert_int_equal(rn_cert_describe(p, &b, &err), 0);
    assert_non_null(strstr(b.ptr, "subject     CN=w2,OU=worker,O=runnel\n"));
    assert_non_null(strstr(b.ptr, "role        worker\n"));
    assert_non_null(strstr(b.ptr, "name        w2\n"));
    assert_non_null(
        strstr(b.ptr, "issuer      CN=runnel cluster CA,O=runnel\n"));
    assert_non_null(strstr(b.ptr, "serial      "));
    assert_non_null(strstr(b.ptr, " UTC (in 30 days)\n"));
    assert_non_null(strstr(b.ptr, "not before  20"));
    assert_non_null(strstr(b.ptr, "SANs        DNS:runnel-worker, "
                                  "IP:10.1.2.3, DNS:node-1.example.com, "
                                  "IP:::1, DNS:localhost, IP:2001:db8::7\n"));
    assert_non_null(strstr(b.ptr, "ext usage   serverAuth, clientAuth\n"));
    assert_non_null(strstr(b.ptr, "key usage   digitalSignature, "
                                  "keyAgreement\n"));
    assert_non_null(strstr(b.ptr, "CA          no\n"));
    assert_non_null(strstr(b.ptr, "key         EC prime256v1\n"));
    rn_buf_reset(&b);
    FMT(p, "%s/ca.crt", fx->ca);
    assert_int_equal(rn_cert_describe(p, &b, &err), 0);
    assert_non_null(strstr(b.ptr, "role        none"));
    assert_non_null(strstr(b.ptr, "CA          yes (path length 0)\n"));
    assert_non_null(strstr(b.ptr, "key usage   keyCertSign, cRLSign\n"));
    rn_buf_reset(&b);
    FMT(p, "%s/issued/admin/tls.crt", fx->tmp);
    assert_int_equal(rn_cert_describe(p, &b, &err), 0);
    assert_non_null(strstr(b.ptr, "ext usage   clientAuth\n"));
    assert_non_null(strstr(b.ptr, "SANs        none\n"));
    assert_non_null(strstr(b.ptr, "role        admin\n"));
    rn_buf_reset(&b);
    FMT(p, "%s/issued/admin/tls.key", fx->tmp);
    assert_int_equal(rn_cert_describe(p, &b, &err), RN_EFORMAT);
    assert_non_null(strstr(err.msg, "tls.key: not a PEM certificate"));
    FMT(p, "%s/nope.crt", fx->tmp);
    assert_int_equal(rn_cert_describe(p, &b, &err), RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope.crt: no such file"));
    rn_buf_release(&b);
}

/* ---- mutual TLS with libssl, in memory -------------------------------- */

static void ctx_trust(SSL_CTX *c, int server)
{
    SSL_CTX_set_verify(c,
                       SSL_VERIFY_PEER |
                           (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       NULL);
    assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION), 1);
}

/* An SSL_CTX holding dir's certificate and key and trusting its ca.crt,
 * from the PEM text rn_tls_load returns (as gRPC will get it). */
static SSL_CTX *tls_ctx(const char *dir, int server)
{
    rn_tls_files *f = NULL;
    rn_errbuf err;
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    BIO *b;
    X509 *x;
    EVP_PKEY *k;
    assert_non_null(c);
    rn_error_clear(&err);
    if (rn_tls_load(dir, &f, &err))
        fprintf(stderr, "%s\n", err.msg);
    assert_non_null(f);
    b = BIO_new_mem_buf(f->cert_pem, -1);
    assert_non_null(x = PEM_read_bio_X509(b, NULL, NULL, NULL));
    BIO_free(b);
    assert_int_equal(SSL_CTX_use_certificate(c, x), 1);
    X509_free(x);
    b = BIO_new_mem_buf(f->key_pem, -1);
    assert_non_null(k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL));
    BIO_free(b);
    assert_int_equal(SSL_CTX_use_PrivateKey(c, k), 1);
    EVP_PKEY_free(k);
    b = BIO_new_mem_buf(f->ca_pem, -1);
    assert_non_null(x = PEM_read_bio_X509(b, NULL, NULL, NULL));
    BIO_free(b);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), x), 1);
    X509_free(x);
    ctx_trust(c, server);
    rn_tls_files_free(f);
    return c;
}

/* A client holding dir's certificate (of whatever CA) and trusting the
 * CA of trust_dir: an intruder who knows the cluster's public ca.crt. */
static SSL_CTX *intruder_ctx(const char *dir, const char *trust_dir)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    X509 *x = read_cert(dir, "tls.crt"), *ca = read_cert(trust_dir, "ca.crt");
    EVP_PKEY *k = read_key(dir, "tls.key");
    assert_non_null(c);
    assert_int_equal(SSL_CTX_use_certificate(c, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(c, k), 1);
    assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(c), ca), 1);
    ctx_trust(c, 0);
    EVP_PKEY_free(k);
    X509_free(ca);
    X509_free(x);
    return c;
}

/* One handshake over a BIO pair; 0 when both ends finish it and a byte
 * crosses. *seen: the client's identity as the server reads it. */
static int handshake(SSL_CTX *sc, SSL_CTX *cc, const char *host,
                     rn_identity *seen, long *verify_c, long *verify_s)
{
    SSL *s = SSL_new(sc), *c = SSL_new(cc);
    BIO *bs = NULL, *bc = NULL;
    int sdone = 0, cdone = 0, failed = 0;
    char subj[256], buf[8];
    assert_non_null(s);
    assert_non_null(c);
    assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    if (host)
        assert_int_equal(SSL_set1_host(c, host), 1);
    for (int i = 0; i < 100 && !failed && !(sdone && cdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(c);
            if (r == 1)
                cdone = 1;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(c, r) != SSL_ERROR_WANT_WRITE)
                failed = 1;
        }
        if (!sdone && !failed) {
            int r = SSL_do_handshake(s);
            if (r == 1)
                sdone = 1;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(s, r) != SSL_ERROR_WANT_WRITE)
                failed = 1;
        }
    }
    *verify_c = SSL_get_verify_result(c);
    *verify_s = SSL_get_verify_result(s);
    if (!failed && sdone && cdone) {
        X509 *peer = SSL_get1_peer_certificate(s);
        rn_errbuf err;
        assert_non_null(peer);
        assert_int_equal(
            rn_identity_from_subject(
                rfc2253(X509_get_subject_name(peer), subj, sizeof(subj)),
                seen, &err),
            0);
        X509_free(peer);
        assert_int_equal(SSL_write(c, "ping", 4), 4);
        assert_int_equal(SSL_read(s, buf, sizeof(buf)), 4);
        assert_memory_equal(buf, "ping", 4);
    }
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    return failed || !(sdone && cdone) ? -1 : 0;
}

static void test_mutual_tls_handshake(void **state)
{
    char worker[600], client[600], sched[600], intruder[600];
    SSL_CTX *ws, *cc, *ic, *ss, *wc;
    rn_identity seen;
    long vc, vs;
    (void)state;
    sub(worker, sizeof(worker), "issued/worker");
    sub(client, sizeof(client), "issued/client");
    sub(sched, sizeof(sched), "issued/scheduler");
    sub(intruder, sizeof(intruder), "intruder");
    issue(fx->ca2, RN_ROLE_CLIENT, "alice@example.org", NULL, 0, 0, intruder,
          NULL);
    ws = tls_ctx(worker, 1);
    cc = tls_ctx(client, 0);
    ic = intruder_ctx(intruder, fx->ca);

    /* a client of the cluster reaches a worker, checking its role name */
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(handshake(ws, cc, RN_TLS_NAME_WORKER, &seen, &vc, &vs), 0);
    assert_int_equal(vc, X509_V_OK);
    assert_int_equal(vs, X509_V_OK);
    assert_int_equal(seen.role, RN_ROLE_CLIENT);
    assert_string_equal(seen.name, "alice@example.org");

    /* the same name from another CA is refused by the worker (the
     * client, trusting the cluster's CA, accepted the worker) */
    assert_int_equal(handshake(ws, ic, RN_TLS_NAME_WORKER, &seen, &vc, &vs),
                     -1);
    assert_int_equal(vc, X509_V_OK);
    assert_true(vs == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                vs == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);

    /* a worker is not the scheduler: the client expecting
     * runnel-scheduler refuses it */
    assert_int_equal(handshake(ws, cc, RN_TLS_NAME_SCHEDULER, &seen, &vc, &vs),
                     -1);
    assert_int_equal(vc, X509_V_ERR_HOSTNAME_MISMATCH);

    /* workers talk to the scheduler with their own certificates (both
     * roles have serverAuth and clientAuth) */
    ss = tls_ctx(sched, 1);
    wc = tls_ctx(worker, 0);
    assert_int_equal(handshake(ss, wc, RN_TLS_NAME_SCHEDULER, &seen, &vc, &vs),
                     0);
    assert_int_equal(seen.role, RN_ROLE_WORKER);
    assert_string_equal(seen.name, "w1");

    /* a client certificate cannot serve: it lacks serverAuth */
    SSL_CTX *cs = tls_ctx(client, 1);
    assert_int_equal(handshake(cs, wc, NULL, &seen, &vc, &vs), -1);
    assert_int_equal(vc, X509_V_ERR_INVALID_PURPOSE);

    SSL_CTX_free(cs);
    SSL_CTX_free(wc);
    SSL_CTX_free(ss);
    SSL_CTX_free(ic);
    SSL_CTX_free(cc);
    SSL_CTX_free(ws);
}

int main(void)
{
    /* order matters: later tests use what earlier ones issued */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_writes_a_ca),
        cmocka_unit_test(test_init_options_and_refusals),
        cmocka_unit_test(test_issue_each_role),
        cmocka_unit_test(test_issue_hosts),
        cmocka_unit_test(test_modes_ignore_umask),
        cmocka_unit_test(test_issue_refusals),
        cmocka_unit_test(test_issue_clipped_to_ca),
        cmocka_unit_test(test_tls_load_ok),
        cmocka_unit_test(test_tls_load_failures),
        cmocka_unit_test(test_tls_load_warnings),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_mutual_tls_handshake),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
