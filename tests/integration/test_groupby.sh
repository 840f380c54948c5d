#!/bin/sh
# foldby (every agg) and groupby end to end with `runnel run`: 200 k JSON
# records read in many partitions on 1 and 2 threads (2 threads fold
# partitions into per-thread tables merged out of partition order), and
# under a memory limit that makes the keyed tables spill; each result is
# compared with a Python reference computed independently from the file
# (sorted by key; collect, first, last and groupby must keep input order);
# some of them again on a scheduler with two workers, and the examples of
# docs/OPERATORS.md.
. "$2/tests/integration/lib.sh"
setup "$@"
PY=/usr/bin/python3

# ---- the data: skewed users, numbers mostly ints, nested fields -------
$PY - "$T/logs.jsonl" <<'P'
import json, random, sys
r = random.Random(12)
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        u = min(int(r.paretovariate(1.1)), 3000)   # u1 holds ~60% of the records
        b = r.randrange(100000)
        if i % 97 == 0:
            b += 0.5                                 # a few doubles: sums turn double
        rec = {"user": "u%d" % u, "g": r.randrange(5000), "bytes": b,
               "status": r.choice([200, 200, 200, 404, 500]),
               "meta": {"region": r.choice(["eu", "us", "ap"]), "seq": i},
               "tags": [r.choice("abc"), i % 7]}
        f.write(json.dumps(rec) + "\n")
P

# The references, from one read of the file: each line of $T/jobs is
# "NAME<TAB>AGG<TAB>KEY<TAB>VALUE" (KEY and VALUE Python expressions over
# the record r); $T/want.NAME gets AGG of VALUE per KEY, a JSON line per
# key.
cat >"$T/ref.py" <<'P'
import json, sys
path, jobs = sys.argv[1], [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
recs = [json.loads(line) for line in open(path)]
for name, agg, key, value in jobs:
    kf = eval("lambda r: " + key)
    vf = eval("lambda r: " + value)
    groups = {}
    for r in recs:
        groups.setdefault(json.dumps(kf(r)), []).append(vf(r))
    with open(sys.argv[3] + "." + name, "w") as out:
        for k, vs in groups.items():
            if agg == "sum":
                res = sum(vs)
            elif agg == "count":
                res = len(vs)
            elif agg == "min":
                res = min(vs)
            elif agg == "max":
                res = max(vs)
            elif agg == "mean":
                res = float(sum(vs)) / len(vs)
            elif agg in ("collect", "groupby"):
                res = vs
            elif agg == "first":
                res = vs[0]
            elif agg == "last":
                res = vs[-1]
            out.write(json.dumps([json.loads(k), res]) + "\n")
P

# Compares runnel's output (JSON lines, or --json's result) with the
# reference: the same keys; ints exact and still ints, doubles within
# 1e-9 (sums add in another order), lists item by item in order.
cat >"$T/cmp.py" <<'P'
import json, sys
want_path, got_path, is_json = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def load(lines):
    d = {}
    for v in lines:
        k = json.dumps(v[0], sort_keys=True)
        assert k not in d, "key twice: " + k
        d[k] = v[1]
    return d
want = load(json.loads(l) for l in open(want_path))
if is_json:
    got = load(json.load(open(got_path))["result"])
else:
    got = load(json.loads(l) for l in open(got_path))
def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) == type(b)
assert want.keys() == got.keys(), "keys differ: %d wanted, %d got, e.g. %s" % (
    len(want), len(got), sorted(set(want) ^ set(got))[:3])
for k in want:
    if not same(want[k], got[k]):
        sys.exit("key %s: wanted %.300s, got %.300s" % (k, json.dumps(want[k]), json.dumps(got[k])))
print(len(want))
P

manifest() { # FILE STEP
    cat >"$1" <<Y
name: groupby-test
source: {read_text: {urls: "$T/logs.jsonl", blocksize: 512KiB}}
steps:
  - json_parse
  - $2
Y
}

# job NAME AGG KEY_PY VALUE_PY STEP [runnel options...]: one run to check
: >"$T/jobs"
: >"$T/runs"
job() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$T/jobs"
    name=$1 step=$5
    shift 5
    printf '%s|%s|%s\n' "$name" "$step" "$*" >>"$T/runs"
}

# two threads fold partitions into per-thread tables (partitions out of
# order within and across tables); one thread, some of them
for agg in sum count min max mean collect first last; do
    job "$agg-2" $agg 'r["user"]' 'r["bytes"]' \
        "foldby: {key: user, value: bytes, agg: $agg}" --threads 2
done
job groupby-2 groupby 'r["user"]' 'r' "groupby: {key: user}" --threads 2
for agg in sum collect last; do
    job "$agg-1" $agg 'r["user"]' 'r["bytes"]' \
        "foldby: {key: user, value: bytes, agg: $agg}" --threads 1
done
job groupby-1 groupby 'r["user"]' 'r' "groupby: {key: user}" --threads 1
# nested keys and values, list indexes (negative from the end), the list
# form of a path, a list as a key
job nested-collect collect 'r["meta"]["region"]' 'r["tags"][-1]' \
    'foldby: {key: meta.region, value: "tags[-1]", agg: collect}' --threads 2
job index-last last 'r["tags"][0]' 'r["meta"]["seq"]' \
    'foldby: {key: [tags, 0], value: meta.seq, agg: last}' --threads 2
job listkey-max max 'r["tags"]' 'r["status"]' \
    'foldby: {key: tags, value: status, agg: max}' --threads 2
job groupby-path groupby 'r["meta"]["region"]' 'r' 'groupby: {key: [meta, region]}' --threads 2
# under a memory limit the keyed tables spill (5000 keys of ~40 values):
# merging the runs combines partials in the order they were written
for agg in collect first last; do
    job "spill-$agg" $agg 'r["g"]' 'r["meta"]' "foldby: {key: g, value: meta, agg: $agg}" \
        --threads 2 --memory-limit 32MiB --local-dir "$T/local" --json
done
job spill-groupby groupby 'r["g"]' 'r' 'groupby: {key: g}' \
    --threads 2 --memory-limit 32MiB --local-dir "$T/local" --json

$PY "$T/ref.py" "$T/logs.jsonl" "$T/jobs" "$T/want" || bad "the reference failed"
while IFS='|' read -r name step opts; do
    manifest "$T/m.yaml" "$step"
    # shellcheck disable=SC2086 # opts are words
    if "$RUNNEL" run "$T/m.yaml" --quiet $opts >"$T/got" 2>"$T/err"; then
        json=0
        case "$opts" in *--json*) json=1 ;; esac
        if n=$($PY "$T/cmp.py" "$T/want.$name" "$T/got" $json 2>&1); then ok; else
            bad "$name ($step $opts): $n"
        fi
        case "$name" in spill-collect|spill-groupby)
            $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))["spilled"]
assert s["files"] > 0, s' "$T/got" && ok || bad "$name: nothing spilled"
        esac
    else
        bad "$name ($step $opts): exit $? ($(head -c 600 "$T/err"))"
    fi
done <"$T/runs"
check "nothing left in --local-dir" 0 "$(find "$T/local" -type f 2>/dev/null | wc -l)"

# ---- on a cluster: a scheduler and two workers of two threads; the
# partials of ~40 partitions combine on the workers, tree-wise
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"
if start_scheduler && start_worker w1 --nthreads 2 && start_worker w2 --nthreads 2; then
    for name in sum-2 mean-2 max-2 collect-2 first-2 last-2 groupby-2 nested-collect; do
        step=$(grep "^$name|" "$T/runs" | cut -d'|' -f2)
        manifest "$T/m.yaml" "$step"
        if timeout 300 "$RUNNEL" run "$T/m.yaml" --quiet --scheduler "$SCHED" \
            >"$T/got" 2>"$T/err"; then
            if n=$($PY "$T/cmp.py" "$T/want.$name" "$T/got" 0 2>&1); then ok; else
                bad "$name on a cluster: $n"
            fi
        else
            bad "$name on a cluster: exit $? ($(head -c 600 "$T/err"))"
        fi
    done
    no_sanitizer_reports
fi

# ---- the examples of docs/OPERATORS.md print what the page shows -------
# (a ```yaml block starting with "name:", then the ``` block after it)
$PY - "$SRC/docs/OPERATORS.md" "$T/doc" <<'P'
import os, re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
os.makedirs(sys.argv[2], exist_ok=True)
n = 0
for i, (lang, body) in enumerate(blocks):
    if lang == "yaml" and body.startswith("name:") and i + 1 < len(blocks) \
            and blocks[i + 1][0] == "":
        n += 1
        open("%s/%02d.yaml" % (sys.argv[2], n), "w").write(body)
        open("%s/%02d.want" % (sys.argv[2], n), "w").write(blocks[i + 1][1])
assert n >= 5, n
P
for y in "$T"/doc/*.yaml; do
    if "$RUNNEL" run "$y" --quiet >"${y%.yaml}.got" 2>"$T/err"; then
        if cmp -s "${y%.yaml}.want" "${y%.yaml}.got"; then ok; else
            bad "docs/OPERATORS.md example $(head -1 "$y"): $(diff "${y%.yaml}.want" "${y%.yaml}.got" | head -5)"
        fi
    else
        bad "docs/OPERATORS.md example $(head -1 "$y"): $(head -c 600 "$T/err")"
    fi
done
# examples/jsonlogs: the shipped foldby sums what the example plugin does
"$RUNNEL" run examples/jsonlogs/bytes_per_user.yaml >"$T/plugin_sum" 2>&1
AGG=sum "$RUNNEL" run examples/jsonlogs/user_stats.yaml >"$T/foldby_sum" 2>&1
if cmp -s "$T/plugin_sum" "$T/foldby_sum" && [ -s "$T/plugin_sum" ]; then ok; else
    bad "user_stats.yaml AGG=sum vs bytes_per_user.yaml: $(diff "$T/plugin_sum" "$T/foldby_sum" | head -5)"
fi

# ---- bad input: clear errors -----------------------------------------
printf '{"user": "ann", "bytes": 1}\n{"name": "bob", "bytes": 2}\n' >"$T/nokey.jsonl"
cat >"$T/nokey.yaml" <<Y
source: {read_text: {urls: "$T/nokey.jsonl"}}
steps: [json_parse, {foldby: {key: user, value: bytes, agg: sum}}]
Y
expect_fail "a missing key" 1 \
    'key "user" not found in the record; element: {"name": "bob", "bytes": 2}' \
    "$RUNNEL" run "$T/nokey.yaml"
grep -q "agg.foldby" "$T/err" && ok || bad "the error names the operator: $(cat "$T/err")"
cat >"$T/nokey2.yaml" <<Y
source: {read_text: {urls: "$T/nokey.jsonl"}}
steps: [json_parse, {foldby: {key: user, value: bytes, agg: sum, default: "?"}}]
Y
expect_ok "a default key" "$RUNNEL" run "$T/nokey2.yaml"
check "a default key: result" '["?", 2]
["ann", 1]' "$(sort "$T/out")"
cat >"$T/badagg.yaml" <<Y
source: {read_text: {urls: "$T/nokey.jsonl"}}
steps: [json_parse, {foldby: {key: user, agg: median}}]
Y
expect_fail "an unknown agg (lint)" 1 "'median' is not one of: sum, count, min, max, mean, collect, first, last" \
    "$RUNNEL" lint "$T/badagg.yaml"
grep -q "badagg.yaml:2:" "$T/err" && ok || bad "the error names the line: $(cat "$T/err")"
cat >"$T/badpath.yaml" <<Y
source: {read_text: {urls: "$T/nokey.jsonl"}}
steps: [json_parse, {groupby: {key: "a..b"}}]
Y
expect_fail "a malformed path" 1 'key: expected a field name at offset 2 in "a..b"' \
    "$RUNNEL" run "$T/badpath.yaml"

finish
