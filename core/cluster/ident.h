/*
 * Who a cluster process is: random identifiers (job, worker, scheduler
 * ids, worker instances) and the IP address others reach it at.
 *
 * Thread-safety: reentrant.
 */
#ifndef RN_CLUSTER_IDENT_H
#define RN_CLUSTER_IDENT_H

#include <stddef.h>

/* n random lower-case hex digits and a NUL into out (cap > n). */
void rn_ident_random_hex(char *out, size_t n);

/* The local IPv4/IPv6 address this machine uses to reach host:port (no
 * packet is sent: a UDP socket is connected and asked for its name).
 * 0, or -1 when there is no route. */
int rn_ident_route_ip(const char *host, const char *port, char *out,
                      size_t cap);
/* The first non-loopback IPv4 address of an interface that is up, else
 * "127.0.0.1". */
void rn_ident_host_ip(char *out, size_t cap);

/* Splits "HOST:PORT" (or "[v6]:PORT") into host and port. 0 or -1. */
int rn_ident_split_hostport(const char *hp, char *host, size_t hcap,
                            char *port, size_t pcap);

/* 1 when host (an address or "localhost") is reachable from this
 * machine only: 127.0.0.0/8, ::1. */
int rn_ident_is_loopback(const char *host);

/* "tcp://HOST:PORT" with brackets around an IPv6 host. */
void rn_ident_url(const char *host, int port, char *out, size_t cap);

#endif
