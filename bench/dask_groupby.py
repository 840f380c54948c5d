#!/usr/bin/python3
"""Dask bag's keyed operations on JSON-lines logs (bench/shuffle.sh).

    --op foldby:   read_text(path).map(json.loads)
                   .foldby(user, binop, 0, operator.add, 0)
    --op groupby:  read_text(path).map(json.loads)
                   .groupby(user, shuffle='tasks')
                   .map(lambda (user, records): (user, sum of bytes))

on a distributed.LocalCluster (loopback, --workers processes x
--threads-per-worker threads, no dashboard): the counterparts of
runnel's `foldby {key: user, value: bytes, agg: sum}` and `groupby {key:
user}` followed by a per-group sum.

Bag groupby and foldby hash the keys in the worker processes: each must
hash strings alike, so PYTHONHASHSEED must be set in the environment
before Python starts (LocalCluster's workers inherit it). The script
refuses to run without it and checks that every worker hashes a string
as the client does.

Writes the answer to --out, one "USER SUM" line per user (unsorted), and
prints one line:

    RESULT tool=dask op=... partitions=P users=U elapsed_s=S ...

elapsed_s covers graph construction, the compute and bringing the result
to the client (not the cluster's start-up, printed as startup_s).
"""
import argparse
import json
import operator
import os
import sys
import time


def add_bytes(total, rec):
    return total + rec["bytes"]


def group_sum(kv):
    return kv[0], sum(r["bytes"] for r in kv[1])


def worker_hash():
    return os.environ.get("PYTHONHASHSEED"), hash("runnel-bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--op", choices=("foldby", "groupby"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--blocksize", default="16MiB")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    args = ap.parse_args()

    if "PYTHONHASHSEED" not in os.environ:
        print("PYTHONHASHSEED is not set: Dask bag groupby/foldby would group "
              "wrongly across worker processes", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                           processes=True, host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    startup_s = time.perf_counter() - t0
    mine = worker_hash()
    theirs = client.run(worker_hash)
    for addr, h in theirs.items():
        if h != mine:
            print(f"worker {addr} hashes differently: {h} != {mine}", file=sys.stderr)
            return 1

    t0 = time.perf_counter()
    user = operator.itemgetter("user")
    recs = db.read_text(args.path, blocksize=args.blocksize).map(json.loads)
    if args.op == "foldby":
        res = recs.foldby(user, add_bytes, 0, operator.add, 0)
    else:
        res = recs.groupby(user, shuffle="tasks").map(group_sum)
    value = res.compute()
    elapsed = time.perf_counter() - t0

    t1 = time.perf_counter()
    client.close()
    cluster.close()
    shutdown_s = time.perf_counter() - t1

    with open(args.out, "w") as f:
        for u, s in value:
            f.write(f"{u} {s}\n")
    print(
        f"RESULT tool=dask dask={dask.__version__} op={args.op} workers={args.workers} "
        f"tpw={args.threads_per_worker} partitions={recs.npartitions} users={len(value)} "
        f"elapsed_s={elapsed:.3f} startup_s={startup_s:.3f} shutdown_s={shutdown_s:.3f} "
        f"hashseed={os.environ['PYTHONHASHSEED']} "
        f"process_s={time.perf_counter() - t_start:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
