#!/usr/bin/python3
"""Per-task overhead of dask.distributed: many tiny partitions.

    db.from_sequence(range(N), npartitions=P).map(json.dumps).count()

on a distributed.LocalCluster (loopback, --workers processes x
--threads-per-worker threads, no dashboard).  The counterpart of
bench/cluster.sh's runnel job `range {n: N, npartitions: P}` ->
`json_dump` -> `count` (one map per element, a count per partition, then a
tree of partial counts), so both run the same shape of graph.

Prints one line:

    RESULT tool=dask ... tasks=T elapsed_s=S us_per_task=U startup_s=...

tasks is the number of keys in the graph the scheduler ran, after Dask's
own optimisation: per partition the from_sequence literal, the fused
map + per-partition count, and an alias key left by the fusion (3 per
partition), then the tree reduction (split_every=8).  Keys differ between
the systems (runnel runs one task per partition plus its tree), so
us_per_partition (wall / partitions of the same job) is the fair
comparison; us_per_task is printed too.
elapsed_s covers graph construction, optimisation, submission and the
compute (not the cluster's start-up and shutdown, printed separately).
Run with the Debian interpreter (python3-distributed):

    /usr/bin/python3 bench/dask_tasks.py [--n 20000] [--npartitions 20000]
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="elements")
    ap.add_argument("--npartitions", type=int, default=None,
                    help="partitions (default: n, one element each)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    args = ap.parse_args()
    nparts = args.npartitions or args.n

    t_start = time.perf_counter()
    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                           processes=True, host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    startup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    bag = db.from_sequence(range(args.n), npartitions=nparts)
    result = bag.map(json.dumps).count()
    (opt,) = dask.optimize(result)
    tasks = len(opt.__dask_graph__())
    value = client.compute(opt).result()
    elapsed = time.perf_counter() - t0

    t1 = time.perf_counter()
    client.close()
    cluster.close()
    shutdown_s = time.perf_counter() - t1

    if value != args.n:
        print(f"wrong count: {value} != {args.n}", file=sys.stderr)
        return 1
    print(
        f"RESULT tool=dask dask={dask.__version__} workers={args.workers} "
        f"tpw={args.threads_per_worker} n={args.n} npartitions={bag.npartitions} "
        f"tasks={tasks} count={value} elapsed_s={elapsed:.3f} "
        f"us_per_task={elapsed / tasks * 1e6:.1f} "
        f"us_per_partition={elapsed / bag.npartitions * 1e6:.1f} "
        f"startup_s={startup_s:.3f} shutdown_s={shutdown_s:.3f} "
        f"process_s={time.perf_counter() - t_start:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
