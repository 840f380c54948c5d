/* The process's memory budget: limit, shares, pressure, spill counts. */
#define _GNU_SOURCE
#include "base/budget.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/error.h"

static atomic_uint_fast64_t limit;
static atomic_int tables;
static atomic_uint_fast64_t spilled_bytes, spilled_files;

void rn_budget_set_limit(uint64_t bytes)
{
    atomic_store(&limit, bytes);
    rn__alloc_set_task_limit((size_t)bytes);
}

uint64_t rn_budget_limit(void)
{
    return atomic_load(&limit);
}

/* The first number of a small file (memory.max holds "max" without a
 * limit: 0 then). */
static uint64_t read_number(const char *path)
{
    char buf[64];
    unsigned long long v = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return (uint64_t)v;
}

/* The memory limit of our cgroup: v2's memory.max, else v1's
 * memory.limit_in_bytes (a huge number there means none). 0: none. */
static uint64_t cgroup_limit(void)
{
    char line[512], path[768];
    uint64_t v = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return 0;
    while (!v && fgets(line, sizeof(line), f)) {
        char *nl = strchr(line, '\n'), *rel;
        if (nl)
            *nl = '\0';
        if (strncmp(line, "0::", 3) == 0) { /* v2 */
            rel = line + 3;
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max",
                     strcmp(rel, "/") == 0 ? "" : rel);
            v = read_number(path);
        } else if ((rel = strstr(line, ":memory:"))) { /* v1 */
            rel += 8;
            snprintf(path, sizeof(path),
                     "/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
                     strcmp(rel, "/") == 0 ? "" : rel);
            v = read_number(path);
            if (!v) /* not mounted under that path: the root's view */
                v = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        }
    }
    fclose(f);
    return v >= ((uint64_t)1 << 60) ? 0 : v;
}

static uint64_t mem_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

uint64_t rn_budget_default(void)
{
    uint64_t m = mem_total(), c = cgroup_limit(), v;
    if (c && (!m || c < m))
        m = c;
    v = m / 4 * 3;
    return v < ((uint64_t)64 << 20) ? (uint64_t)64 << 20 : v;
}

uint64_t rn_budget_rss(void)
{
    unsigned long long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    long page = sysconf(_SC_PAGESIZE);
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)(page > 0 ? page : 4096);
}

void rn_budget_table_begin(void)
{
    atomic_fetch_add(&tables, 1);
}

void rn_budget_table_end(void)
{
    atomic_fetch_sub(&tables, 1);
}

uint64_t rn_budget_table_share(void)
{
    uint64_t l = atomic_load(&limit), share;
    int n = atomic_load(&tables);
    if (!l)
        return UINT64_MAX;
    share = l / 100 * RN_BUDGET_TABLES_PCT / (uint64_t)(n > 0 ? n : 1);
    return share < ((uint64_t)1 << 20) ? (uint64_t)1 << 20 : share;
}

uint64_t rn_budget_parts_share(void)
{
    uint64_t l = atomic_load(&limit);
    return l ? l / 100 * RN_BUDGET_PARTS_PCT : UINT64_MAX;
}

int rn_budget_high(void)
{
    return rn_budget_high_with(0);
}

int rn_budget_high_with(uint64_t extra)
{
    uint64_t l = atomic_load(&limit);
    return l && (uint64_t)rn_alloc_in_use() + extra > l / 100 * RN_BUDGET_HIGH_PCT;
}

void rn_budget_task_thread(int on)
{
    rn__alloc_task_thread(on);
}

void rn_budget_explain(rn_errbuf *err)
{
    uint64_t l = atomic_load(&limit);
    size_t n;
    if (!err || err->code != RN_ENOMEM || !l || strstr(err->msg, "memory limit"))
        return;
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n,
             " (the memory limit of %.0f MiB was reached: raise "
             "--memory-limit, or give the job smaller pieces)",
             (double)l / 1048576.0);
}

static char spill_dir[4096];
static atomic_int have_spill_dir;

int rn_budget_set_spill_dir(const char *dir)
{
    if (dir && strlen(dir) >= sizeof(spill_dir))
        return RN_ELIMIT;
    atomic_store(&have_spill_dir, 0);
    if (dir)
        snprintf(spill_dir, sizeof(spill_dir), "%s", dir);
    atomic_store(&have_spill_dir, dir != NULL);
    return 0;
}

const char *rn_budget_spill_dir(void)
{
    return atomic_load(&have_spill_dir) ? spill_dir : NULL;
}

void rn_budget_spilled(uint64_t bytes, uint64_t files)
{
    atomic_fetch_add(&spilled_bytes, bytes);
    atomic_fetch_add(&spilled_files, files);
}

void rn_budget_spill_stats(uint64_t *bytes, uint64_t *files)
{
    *bytes = atomic_load(&spilled_bytes);
    *files = atomic_load(&spilled_files);
}
