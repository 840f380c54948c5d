/* Identifiers and addresses of cluster processes. */
#define _GNU_SOURCE
#include "cluster/ident.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void rn_ident_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t need = (n + 1) / 2;
    if (need > sizeof(buf))
        need = sizeof(buf);
    if (getrandom(buf, need, 0) != (ssize_t)need) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec * 6364136223846793005ull ^
                     (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
        for (size_t i = 0; i < need; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < n && i / 2 < sizeof(buf); i++)
        out[i] = hex[i % 2 ? buf[i / 2] & 15 : buf[i / 2] >> 4];
    out[n < 2 * sizeof(buf) ? n : 2 * sizeof(buf)] = '\0';
}

int rn_ident_route_ip(const char *host, const char *port, char *out, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = -1, rc = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
        return -1;
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        getnameinfo((struct sockaddr *)&ss, len, out, (socklen_t)cap, NULL, 0,
                    NI_NUMERICHOST) == 0)
        rc = 0;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

void rn_ident_host_ip(char *out, size_t cap)
{
    struct ifaddrs *ifs = NULL;
    snprintf(out, cap, "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
            !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                  (socklen_t)cap);
        break;
    }
    freeifaddrs(ifs);
}

int rn_ident_split_hostport(const char *hp, char *host, size_t hcap, char *port,
                            size_t pcap)
{
    const char *colon = strrchr(hp, ':');
    size_t hl;
    if (!colon)
        return -1;
    hl = (size_t)(colon - hp);
    if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
        hp++;
        hl -= 2;
    }
    if (hl >= hcap || strlen(colon + 1) >= pcap)
        return -1;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

void rn_ident_url(const char *host, int port, char *out, size_t cap)
{
    if (strchr(host, ':'))
        snprintf(out, cap, "tcp://[%s]:%d", host, port);
    else
        snprintf(out, cap, "tcp://%s:%d", host, port);
}

int rn_ident_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}
