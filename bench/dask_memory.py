#!/usr/bin/python3
"""dask.bag beside runnel's memory benchmarks (bench/memory.sh, issue 11).

Jobs on PATH, one key per line, read with db.read_text(PATH,
blocksize=--blocksize) and the newline stripped (str.rstrip):
  frequencies     read_text -> strip the newline -> frequencies(); the
                  result is brought to the client and checked: every key
                  once, with count 1, --expect keys in all
  distinct-count  read_text -> strip -> distinct().count(); checked
                  against --expect

on distributed.LocalCluster(n_workers=--workers,
threads_per_worker=--threads-per-worker, memory_limit=--memory-limit),
loopback, no dashboard, its spill directory under --local-dir.  Whatever
Dask does is reported, not hidden: the run is given up after --timeout
seconds (the cluster is closed), a KilledWorker (or any other error) is
caught and named.

Start it with PYTHONHASHSEED=0 in the environment (bench/memory.sh does):
the worker processes inherit it, so a string hashes alike in every
worker (Dask bag's hash-based operations need that; the script warns
without it).

Prints one line:

    RESULT tool=dask job=... ok=0|1 outcome=done|KilledWorker|timeout|...
        elapsed_s=S keys=N expect=N killed=K restarts=R
        peak_tree_rss_mib=M peak_worker_rss_mib=W ...

peak_tree_rss is the largest sum of the RSS of this process and all its
descendants (the client, the scheduler and nannies, which live in this
process, and the worker processes), sampled every 50 ms with psutil;
peak_worker_rss the largest single worker process.  killed counts the
nannies' "exceeded 95% memory budget" (the worker process is killed),
restarts their "Restarting worker".  What the workers log themselves
(e.g. "Pausing worker" past 80%) goes to stderr, for the caller to grep.
"""
import argparse
import logging
import os
import sys
import threading
import time


def tree_sampler(stop, out, interval=0.05):
    import psutil
    me = psutil.Process(os.getpid())
    peak = peak_worker = 0
    while not stop.is_set():
        total = 0
        try:
            kids = me.children(recursive=True)
        except psutil.Error:
            kids = []
        try:
            total += me.memory_info().rss
        except psutil.Error:
            pass
        for p in kids:
            try:
                r = p.memory_info().rss
            except psutil.Error:
                continue
            total += r
            peak_worker = max(peak_worker, r)
        peak = max(peak, total)
        stop.wait(interval)
    out["peak"] = peak
    out["peak_worker"] = peak_worker


class Counter(logging.Handler):
    """Counts what the nannies log (they run in this process): a worker
    killed past 95% of its memory limit, a worker process restarted."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.killed = 0
        self.restarts = 0

    def emit(self, record):
        msg = record.getMessage()
        if "exceeded 95% memory budget" in msg:
            self.killed += 1
        elif "Restarting worker" in msg:
            self.restarts += 1


def parse_size(s):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for u, m in units.items():
        if s.endswith(u):
            return int(float(s[: -len(u)]) * m)
    return int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--job", choices=["frequencies", "distinct-count"], default="frequencies")
    ap.add_argument("--expect", type=int, required=True, help="distinct keys")
    ap.add_argument("--blocksize", default="32MiB")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--memory-limit", default="256MiB")
    ap.add_argument("--local-dir", default=None)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    if os.environ.get("PYTHONHASHSEED") != "0":
        print("dask_memory: warning: PYTHONHASHSEED is not 0: string hashes differ "
              "between the worker processes", file=sys.stderr)

    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    counter = Counter()
    logging.getLogger("distributed").addHandler(counter)
    stop = threading.Event()
    mem = {}
    sampler = threading.Thread(target=tree_sampler, args=(stop, mem), daemon=True)
    sampler.start()

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                           processes=True, host="127.0.0.1", dashboard_address=None,
                           memory_limit=args.memory_limit, local_directory=args.local_dir)
    client = Client(cluster)
    startup_s = time.perf_counter() - t0

    outcome, ok, keys, detail = "done", 0, -1, ""
    t0 = time.perf_counter()
    try:
        bag = db.read_text(args.path, blocksize=parse_size(args.blocksize)).map(str.rstrip)
        if args.job == "frequencies":
            fut = client.compute(bag.frequencies())
        else:
            fut = client.compute(bag.distinct().count())
        res = fut.result(timeout=args.timeout)
        if args.job == "frequencies":
            keys = len(res)
            seen = set()
            good = True
            for k, n in res:
                if n != 1 or k in seen:
                    good = False
                    break
                seen.add(k)
            del seen
            ok = int(good and keys == args.expect)
            if not good:
                detail = "a key counted twice or not 1"
        else:
            keys = int(res)
            ok = int(keys == args.expect)
        del res
    except Exception as e:  # report what Dask does, whatever it is
        name = type(e).__name__
        outcome = "timeout" if "Timeout" in name else name
        detail = str(e).replace("\n", " ")[:300]
    elapsed = time.perf_counter() - t0

    try:
        client.close(timeout=30)
        cluster.close(timeout=30)
    except Exception as e:
        print(f"dask_memory: closing: {e}", file=sys.stderr)
    stop.set()
    sampler.join()
    print(
        f"RESULT tool=dask dask={dask.__version__} job={args.job} ok={ok} outcome={outcome} "
        f"elapsed_s={elapsed:.3f} keys={keys} expect={args.expect} "
        f"killed={counter.killed} restarts={counter.restarts} "
        f"peak_tree_rss_mib={mem.get('peak', 0) / 1048576:.0f} "
        f"peak_worker_rss_mib={mem.get('peak_worker', 0) / 1048576:.0f} "
        f"workers={args.workers} tpw={args.threads_per_worker} "
        f"memory_limit={args.memory_limit} blocksize={args.blocksize} "
        f"startup_s={startup_s:.3f}"
    )
    if detail:
        print(f"DETAIL {detail}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
