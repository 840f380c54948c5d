/*
 * Who a peer is on a mutual-TLS cluster (docs/SECURITY.md): every
 * scheduler, worker and client holds a certificate of the cluster's CA
 * whose subject names its role and its name:
 *
 *   O=runnel, OU=<role>, CN=<name>
 *
 * (gRPC reports it as the RFC 2253 string "CN=<name>,OU=<role>,O=runnel").
 * The role decides what a peer may call; the name is the identity that
 * owns jobs. Names are 1..64 bytes of [A-Za-z0-9._@-], so subjects need
 * no escaping and fit in logs as they are.
 *
 * Certificates also carry a DNS name per daemon role, checked by the
 * connecting side instead of the host name it dialled (a cluster's CA is
 * private and addresses change): a scheduler's certificate holds
 * DNS:runnel-scheduler, a worker's DNS:runnel-worker.
 *
 * Thread-safety: reentrant.
 */
#ifndef RN_SECURITY_IDENTITY_H
#define RN_SECURITY_IDENTITY_H

#include <stddef.h>

#include "base/error.h"

typedef enum rn_role {
    RN_ROLE_NONE = 0,      /* plaintext: no certificate, no identity */
    RN_ROLE_SCHEDULER = 1,
    RN_ROLE_WORKER = 2,
    RN_ROLE_CLIENT = 3,
    RN_ROLE_ADMIN = 4
} rn_role;

#define RN_IDENTITY_NAME_MAX 64
/* The DNS names of the daemon roles' certificates (see above). */
#define RN_TLS_NAME_SCHEDULER "runnel-scheduler"
#define RN_TLS_NAME_WORKER "runnel-worker"

typedef struct rn_identity {
    rn_role role;
    char name[RN_IDENTITY_NAME_MAX + 1]; /* "" for RN_ROLE_NONE */
} rn_identity;

/* "scheduler", "worker", "client", "admin", or "none". */
const char *rn_role_name(rn_role r);
/* Parses a role name; RN_EINVAL (listing the roles) for anything else. */
int rn_role_parse(const char *s, rn_role *out, rn_errbuf *err);
/* 1 when s[0..n) is a valid identity name (see above). */
int rn_identity_name_ok(const char *s, size_t n);
/* Reads a certificate subject as gRPC's x509_subject property gives it
 * (RFC 2253, any RDN order): needs O=runnel, one OU naming a role and
 * one valid CN. RN_EPERM with the reason for anything else. */
int rn_identity_from_subject(const char *subject, rn_identity *out,
                             rn_errbuf *err);

#endif
