/*
 * The cluster's certificate authority and the certificates it issues
 * (identity.h says what a subject means), and the loading of a daemon's or
 * client's TLS files.
 *
 * A CA directory holds ca.crt (0644) and ca.key (0600): an EC P-256 key
 * and its self-signed certificate "O=runnel, CN=<name>", CA:TRUE with
 * pathlen 0 (it signs leaves only). A certificate directory holds the
 * layout of a Kubernetes TLS secret: ca.crt (a copy of the CA's), tls.crt
 * and tls.key (0600). Files are written beside their final name and
 * renamed into place, so a reader never sees half a file; a private key
 * is created 0600 and never exists with a wider mode.
 *
 * Errors: RN_EINVAL bad arguments, RN_EEXIST a file exists and force is
 * off, RN_ENOTFOUND a missing file, RN_EFORMAT a file that is not the
 * PEM it should be, RN_ELIMIT a file over 64 KiB, RN_EPERM a certificate
 * that is not acceptable (wrong CA, expired, not a runnel identity),
 * RN_EIO system errors. Messages name the file.
 *
 * Thread-safety: reentrant (OpenSSL 3 needs no global set-up).
 */
#ifndef RN_SECURITY_CA_H
#define RN_SECURITY_CA_H

#include <stddef.h>

#include "base/buf.h"
#include "base/error.h"
#include "security/identity.h"

#define RN_CA_DEFAULT_DAYS 3650
#define RN_CERT_DEFAULT_DAYS 365
#define RN_CERT_MAX_DAYS 36500
#define RN_CERT_MAX_HOSTS 64
#define RN_TLS_FILE_MAX (64 * 1024) /* bytes, per file read */

typedef struct rn_ca_opts {
    /* The CA's CN: 1..64 bytes of A-Z a-z 0-9 space . _ @ - ( ), no
     * leading or trailing space. NULL: "runnel cluster CA". */
    const char *name;
    int days;  /* validity; 0: RN_CA_DEFAULT_DAYS */
    int force; /* replace an existing ca.crt / ca.key */
} rn_ca_opts;

/* Creates ca_dir (0700, with missing parents, when it does not exist) and
 * ca.key + ca.crt in it. o may be NULL (defaults). */
int rn_ca_init(const char *ca_dir, const rn_ca_opts *o, rn_errbuf *err);

typedef struct rn_cert_req {
    rn_role role;      /* scheduler, worker, client or admin */
    const char *name;  /* the CN: rn_identity_name_ok */
    /* Extra subjectAltNames: an IPv4/IPv6 address becomes an IP SAN,
     * anything else must be a DNS name (letters, digits, '-' in labels of
     * 1..63, no wildcard, no trailing dot). RN_TLS_NAME_* are refused:
     * they come with the role. At most RN_CERT_MAX_HOSTS; duplicates are
     * written once. */
    const char *const *hosts;
    size_t n_hosts;
    int days;  /* validity; 0: RN_CERT_DEFAULT_DAYS */
    int force; /* replace existing files in out_dir */
} rn_cert_req;

/* What rn_ca_issue wrote. */
typedef struct rn_cert_issued {
    long long not_after; /* the certificate's notAfter (Unix time) */
    int clipped;         /* 1: cut to the CA's own notAfter */
    char warning[256];   /* "" or why the validity is shorter than asked */
} rn_cert_issued;

/* Issues a certificate for req with the CA of ca_dir and writes out_dir/
 * ca.crt, tls.crt and tls.key (out_dir created 0700 when missing). An
 * existing out_dir/ca.crt identical to the CA's is not a conflict. The
 * validity never passes the CA's notAfter; when cut, out->clipped and
 * out->warning say so. The notBefore is set 5 minutes in the past, so a
 * peer whose clock is a little behind accepts a fresh certificate. out may
 * be NULL. */
int rn_ca_issue(const char *ca_dir, const rn_cert_req *req,
                const char *out_dir, rn_cert_issued *out, rn_errbuf *err);

/* The TLS files of a daemon or client, as PEM text for gRPC. */
typedef struct rn_tls_files {
    char *ca_pem, *cert_pem, *key_pem; /* NUL-terminated, owned */
    rn_identity self;     /* from tls.crt's subject */
    long long not_after;  /* tls.crt's notAfter (Unix time) */
    /* "" or what deserves a warning in the log: the key file readable by
     * group or others, the certificate expiring within 30 days. */
    char warning[256];
} rn_tls_files;

/* Reads dir/ca.crt, dir/tls.crt and dir/tls.key (each at most
 * RN_TLS_FILE_MAX bytes) and checks that the key is tls.crt's, that
 * tls.crt was issued by (a certificate of) ca.crt, that both are within
 * their validity, and that tls.crt's subject is a runnel identity.
 * *out is NULL on failure. */
int rn_tls_load(const char *dir, rn_tls_files **out, rn_errbuf *err);
/* Wipes the key text and frees. NULL is a no-op. */
void rn_tls_files_free(rn_tls_files *f);

/* A human description of the certificate in file (the first one of a
 * PEM file) appended to out: subject, role and name when it is a runnel
 * identity, issuer, serial, validity in UTC, SANs, key usages, SHA-256
 * fingerprint. Lines of "key  value". */
int rn_cert_describe(const char *file, rn_buf *out, rn_errbuf *err);

/* The notAfter (Unix time) of the first certificate of a PEM file. */
int rn_cert_not_after(const char *file, long long *out, rn_errbuf *err);

/* "YYYY-MM-DD" of a Unix time, in UTC, into buf (at least 11 bytes). */
const char *rn_cert_date(long long t, char *buf, size_t cap);

#endif
