#!/bin/sh
# agg's newer reductions end to end: random_sample keeps the same elements
# whatever the partitioning, threads, local workers or a cluster (and
# about prob of them); var and std of a CSV column match Python's
# statistics (to 1e-9 relative: values near 1e6 spread by 3 carry ~1e-11
# of rounding each, and partials combine in an order that depends on the
# split; summing squares as Dask's bag.var does is off by far more); any,
# all, and frequencies / distinct by key paths on real files.
. "$2/tests/integration/lib.sh"
setup "$@"

PY=/usr/bin/python3

# ---- random_sample: independent of partitions, threads, workers --------
sample() {
    parts=$1
    shift
    cat >"$T/s.yaml" <<EOF
name: sample
source:
  range: {n: 20000, npartitions: $parts}
steps:
  - random_sample: {prob: 0.1, seed: 7}
EOF
    "$RUNNEL" run "$T/s.yaml" --quiet "$@" 2>"$T/err" | sort -n
}
sample 1 --threads 1 >"$T/s1"
[ -s "$T/s1" ] || bad "random_sample: no output ($(cat "$T/err"))"
for v in "7 --threads 2" "13 --threads 1 --workers 3" "64 --threads 2 --workers 2"; do
    # shellcheck disable=SC2086
    sample $v >"$T/s2"
    if cmp -s "$T/s1" "$T/s2"; then ok; else
        bad "random_sample differs with npartitions/threads/workers $v"
    fi
done
# and on a scheduler with two workers
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"
if start_scheduler && start_worker w1 --nthreads 2 &&
    start_worker w2 --nthreads 1; then
    sample 9 --scheduler "$SCHED" >"$T/s2"
    if cmp -s "$T/s1" "$T/s2"; then ok; else
        bad "random_sample differs on a cluster"
    fi
else
    bad "could not start the cluster"
fi
stop_cluster
n=$(wc -l <"$T/s1")
if [ "$n" -gt 1800 ] && [ "$n" -lt 2200 ]; then ok; else
    bad "random_sample prob 0.1 kept $n of 20000"
fi
# another seed, another sample
sed 's/seed: 7/seed: 8/' "$T/s.yaml" >"$T/s8.yaml"
"$RUNNEL" run "$T/s8.yaml" --quiet | sort -n >"$T/s8"
if cmp -s "$T/s1" "$T/s8"; then bad "seeds 7 and 8 gave the same sample"
else ok; fi

# ---- var / std of a CSV column against Python's statistics -------------
"$PY" - "$T/m.csv" <<'P'
import random, sys
random.seed(5)
with open(sys.argv[1], "w") as f:
    f.write("user,city,amount\n")
    for i in range(5000):
        f.write("u%d,%s,%.3f\n" % (i % 97, random.choice(["oslo", "lima", "pune"]),
                                    1e6 + random.gauss(0, 3)))
P
for op in "var" "var: {ddof: 1}" "std" "std: {ddof: 1}"; do
    for bs in 64MiB 3000; do
        cat >"$T/v.yaml" <<EOF
name: moments
source:
  read_csv: {urls: "$T/m.csv", blocksize: $bs}
steps:
  - pluck: {key: amount}
  - $op
EOF
        got=$("$RUNNEL" run "$T/v.yaml" --quiet 2>"$T/err")
        if "$PY" - "$T/m.csv" "$op" "$got" <<'P'; then ok; else
import csv, statistics as S, sys
xs = [float(r["amount"]) for r in csv.DictReader(open(sys.argv[1]))]
op, got = sys.argv[2], float(sys.argv[3])
f = {"var": S.pvariance, "var: {ddof: 1}": S.variance,
     "std": S.pstdev, "std: {ddof: 1}": S.stdev}[op]
want = f(xs)
sys.exit(0 if abs(got - want) <= 1e-9 * abs(want) else 1)
P
            bad "$op bs=$bs: got '$got' ($(cat "$T/err"))"
        fi
    done
done

# ---- keys, truthiness --------------------------------------------------
cat >"$T/k.yaml" <<EOF
name: keys
source:
  read_csv: {urls: "$T/m.csv", blocksize: 7000}
steps:
  - frequencies: {key: city}
EOF
got=$("$RUNNEL" run "$T/k.yaml" --quiet | sort | tr -d '\n')
want=$("$PY" - "$T/m.csv" <<'P'
import collections, csv, json, sys
c = collections.Counter(r["city"] for r in csv.DictReader(open(sys.argv[1])))
print("".join(sorted(json.dumps([k, v]) for k, v in c.items())))
P
)
check "frequencies by key" "$want" "$got"

cat >"$T/d.yaml" <<EOF
name: distinct-first
source:
  read_csv: {urls: "$T/m.csv", blocksize: 5000}
steps:
  - distinct: {key: user}
  - count
EOF
check "distinct by key" 97 "$("$RUNNEL" run "$T/d.yaml" --quiet --threads 2)"

cat >"$T/a.yaml" <<EOF
name: any-all
source:
  range: {n: 1000, npartitions: 5}
steps:
  - all
EOF
check "all of range (0 is falsy)" false "$("$RUNNEL" run "$T/a.yaml" --quiet)"
sed 's/- all/- any/' "$T/a.yaml" >"$T/b.yaml"
check "any of range" true "$("$RUNNEL" run "$T/b.yaml" --quiet)"

no_sanitizer_reports
finish
