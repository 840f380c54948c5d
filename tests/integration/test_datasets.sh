#!/bin/sh
# Manifests with datasets and outputs (issue 12): joins (inner, left,
# many-to-many, key paths, right_key, npartitions, spilled) against
# Python, concat, zip and its mismatch errors, a dataset read by several
# others computed once (bytes read), a printed and a written output,
# fusion of `from:` chains, graph errors with file:line:col. Every run is
# made locally and on a scheduler + 2 workers, whose output must be the
# same byte for byte (errors: the same message); `runnel submit` of one;
# a worker killed -9 mid-job gives the exact result.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

# ---- data --------------------------------------------------------------
# logs: 6000 records over users u0..u399 (some without a user record);
# users: 0, 1 or 2 records per user (many-to-many keys), in file order.
$PY - "$T" <<'P'
import json, random, sys
t = sys.argv[1]
r = random.Random(12)
with open(t + "/logs.jsonl", "w") as f:
    for i in range(6000):
        k = r.randrange(400)
        f.write(json.dumps({"user": "u%d" % k, "n": i, "info": {"id": k}}) + "\n")
with open(t + "/users.jsonl", "w") as f:
    rows = []
    for k in range(450):
        if k % 5 == 0:
            continue
        for j in range(2 if k % 7 == 0 else 1):
            rows.append({"user": "u%d" % k, "name": "n%d_%d" % (k, j), "uid": k})
    r.shuffle(rows)
    for row in rows:
        f.write(json.dumps(row) + "\n")
P
LOGS_BYTES=$(wc -c <"$T/logs.jsonl")
USERS_BYTES=$(wc -c <"$T/users.jsonl")

# ---- the cluster every run is made on too --------------------------------
start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2 || { finish; exit 1; }
start_worker w2 --nthreads 2 || { finish; exit 1; }

# both NAME ARGS...: `runnel run ARGS` here, then on the cluster: the same
# stdout, byte for byte. $T/out is the local run's afterwards.
both() {
    bname=$1
    shift
    expect_ok "$bname" "$RUNNEL" run "$@"
    cp "$T/out" "$T/local.out"
    expect_ok "$bname (cluster)" "$RUNNEL" run "$@" --scheduler "$SCHED"
    cmp -s "$T/local.out" "$T/out" && ok ||
        bad "$bname: the cluster's output differs: $(diff "$T/local.out" "$T/out" | head -5)"
    cp "$T/local.out" "$T/out"
}

# both_json NAME ARGS...: as both, with --json; what depends on where it
# ran (seconds, tasks, what this process spilled) is left out.
json_norm() {
    $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("seconds", "tasks", "spilled"):
    d.pop(k, None)
print(json.dumps(d))' "$1"
}
both_json() {
    bname=$1
    shift
    expect_ok "$bname" "$RUNNEL" run "$@" --json
    cp "$T/out" "$T/local.out"
    expect_ok "$bname (cluster)" "$RUNNEL" run "$@" --json --scheduler "$SCHED"
    check "$bname: the cluster's output" "$(json_norm "$T/local.out")" "$(json_norm "$T/out")"
    cp "$T/local.out" "$T/out"
}

# both_fail NAME NEEDLE ARGS...: fails here and on the cluster, both
# saying NEEDLE.
both_fail() {
    bname=$1 needle=$2
    shift 2
    expect_fail "$bname (cluster)" 1 "$needle" "$RUNNEL" run "$@" --scheduler "$SCHED"
    cp "$T/err" "$T/cluster.err"
    expect_fail "$bname" 1 "$needle" "$RUNNEL" run "$@"
}

# check_join LEFT RIGHT HOW LKEY RKEY OUT: OUT holds exactly the pairs of
# a hash join in the documented order: per key, left elements in input
# order crossed with right elements in input order (left-major), each
# key's pairs together; [l, null] for how=left without a match.
cat >"$T/check_join.py" <<'P'
import json, sys
left, right, how, lkey, rkey, out = sys.argv[1:7]
def get(v, path):
    for p in path.split("."):
        v = v[p]
    return v
L = [json.loads(x) for x in open(left)]
R = [json.loads(x) for x in open(right)]
byk = {}
for r in R:
    byk.setdefault(json.dumps(get(r, rkey)), []).append(r)
want = {}
order = []
for l in L:
    k = json.dumps(get(l, lkey))
    rs = byk.get(k, [])
    if not rs and how == "left":
        rs = [None]
    if rs and k not in want:
        want[k] = []
        order.append(k)
    for r in rs:
        want.get(k, []).append(json.dumps([l, r]))
got = {}
seen = []
for line in open(out).read().splitlines():
    l, r = json.loads(line)
    k = json.dumps(get(l, lkey))
    if seen and seen[-1] != k and k in got:
        sys.exit("key %s is not contiguous in the output" % k)
    if not seen or seen[-1] != k:
        seen.append(k)
    got.setdefault(k, []).append(line)
if set(got) != set(want):
    sys.exit("keys differ: %d got, %d wanted" % (len(got), len(want)))
for k in want:
    if got[k] != want[k]:
        sys.exit("key %s: got %s..., wanted %s..." % (k, got[k][:2], want[k][:2]))
print("ok %d" % sum(len(v) for v in want.values()))
P

join_yaml() { # NAME HOW NPARTS [LKEY RKEY RIGHTFILE]
    lk=${4:-user}
    rk=${5:-}
    rf=${6:-$T/users.jsonl}
    {
        printf 'name: %s\ndatasets:\n' "$1"
        printf '  logs: {source: {read_text: {urls: "%s", blocksize: 32KiB}}, steps: [json_parse]}\n' "$T/logs.jsonl"
        printf '  users: {source: {read_text: {urls: "%s", blocksize: 8KiB}}, steps: [json_parse]}\n' "$rf"
        printf '  joined:\n    from: logs\n    steps:\n'
        printf '      - join: {with: users, key: %s, how: %s, npartitions: %s%s}\n' \
            "$lk" "$2" "$3" "${rk:+, right_key: $rk}"
        printf 'outputs: [joined]\n'
    } >"$T/$1.yaml"
}

# ---- joins against Python ----------------------------------------------
join_yaml inner1 inner 1
join_yaml inner4 inner 4
join_yaml left3 left 3
both "inner join" "$T/inner1.yaml" --quiet
cp "$T/out" "$T/inner1.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" inner user user "$T/inner1.out" 2>&1)
case $r in ok*) ok ;; *) bad "inner join: $r" ;; esac
both "inner join, 4 partitions" "$T/inner4.yaml" --quiet --threads 2
cmp -s "$T/inner1.out" "$T/out" && ok || bad "4 partitions in order differ from one"
# more than 1024 partitions on a side: the 2 reduce tasks read a bucket
# of every one of them through combines (no task reads over 1024)
sed 's/blocksize: 32KiB/blocksize: 256/' "$T/inner4.yaml" >"$T/wide.yaml"
both "inner join of 1000+ partitions" "$T/wide.yaml" --quiet
cmp -s "$T/inner1.out" "$T/out" && ok || bad "the join of 1000+ partitions differs"
both "left join" "$T/left3.yaml" --quiet
cp "$T/out" "$T/left.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" left user user "$T/left.out" 2>&1)
case $r in ok*) ok ;; *) bad "left join: $r" ;; esac
grep -q ', null]$' "$T/left.out" && ok || bad "left join: no [l, null]"
# a path on the left, an int field on the right
join_yaml paths inner 2 info.id uid
both "join on a path and right_key" "$T/paths.yaml" --quiet
cp "$T/out" "$T/paths.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" inner info.id uid "$T/paths.out" 2>&1)
case $r in ok*) ok ;; *) bad "join on paths: $r" ;; esac
# the same answer whatever the threads
both "left join, 1 thread" "$T/left3.yaml" --quiet --threads 1
cmp -s "$T/left.out" "$T/out" && ok || bad "left join differs with 1 thread"
# a key missing from an element fails in words
join_yaml nokey inner 1 nosuch
# (which partition fails first depends on the threads)
both_fail "missing key" ': left element: key "nosuch" not found in the record' \
    "$T/nokey.yaml"
grep -q "join (partition [0-9]*): left element" "$T/err" && ok || bad "missing key: no partition: $(cat "$T/err")"
grep -q "join (partition [0-9]*): left element" "$T/cluster.err" && ok ||
    bad "missing key (cluster): no partition: $(cat "$T/cluster.err")"

# a join past its share of memory spills and gives the same answer
$PY - "$T" <<'P'
import json, random, sys
t = sys.argv[1]
r = random.Random(5)
with open(t + "/big_l.jsonl", "w") as f:
    for i in range(120000):
        f.write(json.dumps({"k": "key%d" % r.randrange(30000), "i": i, "pad": "x" * 20}) + "\n")
with open(t + "/big_r.jsonl", "w") as f:
    for i in range(40000):
        f.write(json.dumps({"k": "key%d" % r.randrange(30000), "j": i}) + "\n")
P
cat >"$T/big.yaml" <<Y
name: big
datasets:
  l: {source: {read_text: {urls: "$T/big_l.jsonl", blocksize: 1MiB}}, steps: [json_parse]}
  r: {source: {read_text: {urls: "$T/big_r.jsonl", blocksize: 1MiB}}, steps: [json_parse]}
  j: {from: l, steps: [{join: {with: r, key: k, npartitions: 3}}]}
outputs: [j]
Y
both "a join in memory" "$T/big.yaml" --quiet
cp "$T/out" "$T/big.out"
r=$($PY "$T/check_join.py" "$T/big_l.jsonl" "$T/big_r.jsonl" inner k k "$T/big.out" 2>&1)
case $r in ok*) ok ;; *) bad "big join: $r" ;; esac
both_json "a join spilled" "$T/big.yaml" --quiet \
    --memory-limit 48MiB --local-dir "$T/spill"
files=$($PY -c 'import json,sys; print(json.load(sys.stdin)["spilled"]["files"])' <"$T/out")
[ "$files" -gt 0 ] && ok || bad "the join did not spill under 48MiB ($files files)"
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
for v in d["outputs"][0]["result"]:
    print(json.dumps(v))' "$T/out" >"$T/big_spilled.out"
cmp -s "$T/big.out" "$T/big_spilled.out" && ok || bad "the spilled join differs from the one in memory"

# ---- concat and zip ----------------------------------------------------
seq 1 3000 >"$T/a.txt"
seq 5001 5500 >"$T/b.txt"
cat >"$T/cz.yaml" <<Y
name: cz
datasets:
  a: {source: {read_text: {urls: "$T/a.txt", blocksize: 2KiB}}}
  b: {source: {read_text: {urls: "$T/b.txt", blocksize: 1KiB}}}
  both: {concat: [a, b, a]}
  total: {concat: [a, b], steps: [count]}
  upper: {from: a, steps: [json_dump]}
  pairs: {zip: [a, upper]}
outputs: [both, total, pairs]
Y
both_json "concat and zip" "$T/cz.yaml" --quiet
$PY - "$T" <<'P' >"$T/cz.check" 2>&1
import json, sys
t = sys.argv[1]
d = json.load(open(t + "/out"))
a = open(t + "/a.txt").read().split()
b = open(t + "/b.txt").read().split()
o = {x["output"]: x for x in d["outputs"]}
assert o["both"]["result"] == a + b + a, "concat: not a, b, a in order"
assert o["total"]["result"] == [len(a) + len(b)], o["total"]["result"]
assert o["pairs"]["result"] == [[x, json.dumps(x)] for x in a], "zip"
# a: 7 partitions of 2KiB, b: 3 of 1KiB
assert (o["both"]["partitions"], o["pairs"]["partitions"]) == (17, 7), \
    (o["both"]["partitions"], o["pairs"]["partitions"])
print("ok")
P
check "concat and zip against Python" ok "$(cat "$T/cz.check")"
# zip needs the same partitions and lengths
cat >"$T/zipbad.yaml" <<Y
name: zipbad
datasets:
  a: {source: {read_text: {urls: "$T/a.txt", blocksize: 2KiB}}}
  some: {from: a, steps: [{grep: {pattern: "7"}}]}
  b: {source: {read_text: {urls: "$T/b.txt", blocksize: 1KiB}}}
  z1: {zip: [a, some]}
  z2: {zip: [a, b]}
outputs: [z1]
Y
both_fail "zip of different lengths" "zipbad.yaml:6:8: zip: partition " \
    "$T/zipbad.yaml"
for e in "$T/err" "$T/cluster.err"; do
    grep -q "zip: partition [0-9]* of 'a' has" "$e" && ok || bad "zip lengths: $(cat "$e")"
    grep -q "but that of 'some'" "$e" && ok || bad "zip lengths: $(cat "$e")"
done
sed -i 's/^outputs: \[z1\]/outputs: [z2]/' "$T/zipbad.yaml"
both_fail "zip of different partitions" "zipbad.yaml:7:8: zip: 'a' has" \
    "$T/zipbad.yaml"
for e in "$T/err" "$T/cluster.err"; do
    grep -q "partitions but 'b'" "$e" && ok || bad "zip partitions: $(cat "$e")"
done

# ---- read once, two outputs (printed and written) ----------------------
cat >"$T/two.yaml" <<Y
name: two
datasets:
  logs: {source: {read_text: {urls: "$T/logs.jsonl", blocksize: 32KiB}}, steps: [json_parse]}
  users: {source: {read_text: {urls: "$T/users.jsonl"}}, steps: [json_parse]}
  n: {from: logs, steps: [count]}
  per_user: {from: logs, steps: [{pluck: {key: user}}, frequencies]}
  joined: {from: logs, steps: [{join: {with: users, key: user}}]}
  unused: {from: users}
outputs:
  - n
  - {dataset: joined, sink: {to_textfiles: {path: "$T/out2/part-*.txt"}}}
  - per_user
Y
expect_ok "lint two outputs" "$RUNNEL" lint "$T/two.yaml"
grep -q "computed once, read 3 times" "$T/out" && ok || bad "lint: $(cat "$T/out")"
grep -q "two.yaml:8:3: warning: dataset 'unused' is never used" "$T/err" && ok ||
    bad "lint warns about unused: $(cat "$T/err")"
# what one read of each costs (read_text counts the bytes it reads past
# a block's end to finish its last line too)
bytes_of() { # FILE BLOCKSIZE
    printf 'source: {read_text: {urls: "%s", blocksize: %s}}\nsteps: [count]\n' \
        "$1" "$2" >"$T/once.yaml"
    "$RUNNEL" run "$T/once.yaml" --quiet --json |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_read"])'
}
once=$(($(bytes_of "$T/logs.jsonl" 32KiB) + $(bytes_of "$T/users.jsonl" 64MiB)))
[ "$once" -ge "$((LOGS_BYTES + USERS_BYTES))" ] && ok || bad "bytes of one read: $once"
both_json "two outputs" "$T/two.yaml" --quiet
got=$($PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_read"])' <"$T/out")
check "logs and users read once each" "$once" "$got"
expect_ok "two outputs, printed" "$RUNNEL" run "$T/two.yaml" --quiet
cp "$T/out" "$T/two.out"
cat "$T/out2"/part-*.txt >"$T/out2.local"
rm -rf "$T/out2"
expect_ok "two outputs, printed (RUNNEL_SCHEDULER)" \
    env RUNNEL_SCHEDULER="$SCHED" "$RUNNEL" run "$T/two.yaml" --quiet
cmp -s "$T/two.out" "$T/out" && ok || bad "two outputs: the cluster's output differs: $(diff "$T/two.out" "$T/out" | head -5)"
cat "$T/out2"/part-*.txt | cmp -s - "$T/out2.local" && ok ||
    bad "two outputs: the files the cluster wrote differ from the local ones"
check "headers in order" "# n|# joined -> to_textfiles|# per_user" \
    "$(grep '^#' "$T/out" | paste -sd'|')"
check "count of logs" 6000 "$(sed -n 2p "$T/out")"
cat "$T/out2"/part-*.txt >"$T/out2.all"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" inner user user "$T/out2.all" 2>&1)
case $r in ok*) ok ;; *) bad "joined written by the sink: $r" ;; esac
$PY - "$T" <<'P' >"$T/freq.check" 2>&1
import collections, json, sys
t = sys.argv[1]
want = collections.Counter(json.loads(l)["user"] for l in open(t + "/logs.jsonl"))
lines = open(t + "/out").read().splitlines()
i = lines.index("# per_user")
got = dict(json.loads(l) for l in lines[i + 1:])
print("ok" if got == dict(want) else "differ")
P
check "frequencies per user" ok "$(cat "$T/freq.check")"

# from: chains are one pipeline (a fold streams into the next stage)
cat >"$T/chain.yaml" <<Y
name: chain
datasets:
  words: {source: {read_text: {urls: "$T/a.txt"}}}
  freq: {from: words, steps: [frequencies]}
  n: {from: freq, steps: [count]}
outputs: [n]
Y
expect_ok "lint a chain" "$RUNNEL" lint "$T/chain.yaml"
grep -q "graph chain: 1 pipeline, 1 output" "$T/out" && ok || bad "chain: $(cat "$T/out")"
both "a chain" "$T/chain.yaml" --quiet
check "distinct through a chain" 3000 "$(cat "$T/out")"

# the example in examples/jsonlogs: requests per team against Python
# (workers take absolute paths only)
export OUT="$T/report" LOGS="$SRC/examples/jsonlogs/access.jsonl" \
    TEAMS="$SRC/examples/jsonlogs/teams.jsonl"
both "examples/jsonlogs/report.yaml" examples/jsonlogs/report.yaml --quiet
unset OUT LOGS TEAMS
$PY - "$T/out" examples/jsonlogs/access.jsonl examples/jsonlogs/teams.jsonl <<'P' >"$T/rep.check" 2>&1
import collections, json, sys
out, logs, teams = sys.argv[1:4]
lines = open(out).read().splitlines()
t = collections.defaultdict(list)
for l in open(teams):
    r = json.loads(l)
    t[r["user"]].append(r["team"])
per = collections.Counter()
n = 0
for l in open(logs):
    n += 1
    for team in t[json.loads(l)["user"]]:
        per[team] += 1
i = lines.index("# per_team")
j = lines.index("# joined -> to_textfiles")
assert lines[:2] == ["# requests", str(n)], lines[:2]
assert dict(json.loads(x) for x in lines[i + 1:j]) == dict(per), lines[i + 1:j]
print("ok")
P
check "the report example" ok "$(cat "$T/rep.check")"
check "the report's joined records" "$(($(grep -c '"dee"' examples/jsonlogs/access.jsonl) * 2 + \
    $(grep -vc '"dee"\|"fay"' examples/jsonlogs/access.jsonl)))" "$(cat "$T/report"/part-*.jsonl | wc -l)"

# ---- errors, at their place ----------------------------------------------
err_case() { # NAME NEEDLE, manifest on stdin
    cat >"$T/e.yaml"
    expect_fail "$1" 1 "$2" "$RUNNEL" lint "$T/e.yaml"
}
err_case "unknown dataset" "e.yaml:3:13: unknown dataset 'lgos' (did you mean 'logs'?)" <<'Y'
datasets:
  logs: {source: {range: {n: 3}}}
  a: {from: lgos}
outputs: [a]
Y
err_case "cycle" "e.yaml:4:13: datasets read each other in a cycle: a -> b -> c -> a" <<'Y'
datasets:
  a: {from: b}
  b: {concat: [c]}
  c: {from: a, steps: [lower]}
outputs: [a]
Y
err_case "output naming nothing" "e.yaml:3:11: outputs: unknown dataset 'b' (the datasets are a)" <<'Y'
datasets:
  a: {source: {range: {n: 3}}}
outputs: [b]
Y
err_case "no input" "e.yaml:2:3: dataset 'a': needs one of source, from, concat or zip" <<'Y'
datasets:
  a: {steps: [count]}
outputs: [a]
Y
err_case "both forms" "e.yaml:1:1: 'source' cannot be used with \`datasets\`" <<'Y'
source: {range: {n: 3}}
datasets: {a: {source: {range: {n: 3}}}}
outputs: [a]
Y
err_case "join without with" "e.yaml:2:41: join: missing required parameter 'with'" <<'Y'
datasets:
  a: {source: {range: {n: 3}}, steps: [{join: {key: 0}}]}
outputs: [a]
Y
err_case "join with unknown" "e.yaml:2:54: join: with: unknown dataset 'bb' (did you mean 'b'?)" <<'Y'
datasets:
  a: {source: {range: {n: 3}}, steps: [{join: {with: bb, key: 0}}]}
  b: {source: {range: {n: 3}}}
outputs: [a]
Y
err_case "join how" "e.yaml:2:70: join: how: 'outer' is not one of: inner, left" <<'Y'
datasets:
  a: {source: {range: {n: 3}}, steps: [{join: {with: b, key: 0, how: outer}}]}
  b: {source: {range: {n: 3}}}
outputs: [a]
Y
err_case "operator in an unused dataset" "e.yaml:3:31: 'json.json_dump' cannot follow 'agg.count'" <<'Y'
datasets:
  a: {source: {range: {n: 3}}}
  b: {from: a, steps: [count, json_dump]}
outputs: [a]
Y
err_case "join in a plain manifest" "e.yaml:3:5: 'join' works between datasets" <<'Y'
source: {range: {n: 3}}
steps:
  - join: {with: x, key: 0}
Y

# ---- submitted: a detached job of datasets --------------------------------
cat >"$T/sub.yaml" <<Y
name: sub
datasets:
  logs: {source: {read_text: {urls: "$T/logs.jsonl", blocksize: 32KiB}}, steps: [json_parse]}
  users: {source: {read_text: {urls: "$T/users.jsonl"}}, steps: [json_parse]}
  joined: {from: logs, steps: [{join: {with: users, key: user, npartitions: 2}}]}
  per_user: {from: joined, steps: [{pluck: {key: "[1].name"}}, frequencies]}
outputs:
  - {dataset: joined, sink: {to_textfiles: {path: "\${DIR}/j-*.txt"}}}
  - {dataset: per_user, sink: {to_textfiles: {path: "\${DIR}/f-*.txt"}}}
Y
expect_ok "submit, here" env DIR="$T/sub_local" "$RUNNEL" run "$T/sub.yaml" --quiet
expect_ok "submit" env DIR="$T/sub" "$RUNNEL" submit "$T/sub.yaml" --scheduler "$SCHED"
job=$(cat "$T/out")
expect_ok "status --wait" timeout 120 "$RUNNEL" status "$job" --wait --scheduler "$SCHED"
grep -q "done" "$T/out" && ok || bad "the submitted job: $(cat "$T/out")"
for f in j-0 j-1 f-0; do
    cmp -s "$T/sub_local/$f.txt" "$T/sub/$f.txt" && ok || bad "submitted: $f.txt differs from the local run's"
done

# ---- a malformed graph is refused in words; the scheduler goes on --------
$PY - "$SCHED" "$SRC/core/transport/proto" "$T" <<'P' >"$T/badgraph.out" 2>&1 || true
import os, subprocess, sys
sched, proto, t = sys.argv[1:4]
try:
    import grpc
    from grpc_tools import protoc
except ImportError:
    print("skip")
    sys.exit(0)
os.makedirs(t + "/pb", exist_ok=True)
protoc.main(["protoc", "-I" + proto, "--python_out=" + t + "/pb", "--grpc_python_out=" + t + "/pb",
             "runnel_common.proto", "runnel_scheduler.proto"])
sys.path.insert(0, t + "/pb")
import runnel_scheduler_pb2 as pb
import runnel_scheduler_pb2_grpc as rpc
stub = rpc.SchedulerStub(grpc.insecure_channel(sched.replace("tcp://", "")))
def stage():
    return pb.StageSpec(terminal=pb.TERMINAL_NONE, ops=["x.y"], user_ops=[False])
def job(nodes, outputs):
    return pb.SubmitJobRequest(protocol=1, name="bad", manifest="name: bad\ndatasets: {a: {source: {range: {n: 3}}}}\noutputs: [a]\n",
                               nodes=nodes, outputs=outputs)
cases = {
    "unknown node": job([pb.GraphNode(kind=pb.NODE_PARTS, stages=[stage()], inputs=[pb.GraphInput(node=7)])], [0]),
    "cycle": job([pb.GraphNode(kind=pb.NODE_PARTS, stages=[stage()], inputs=[pb.GraphInput(node=1)]),
                  pb.GraphNode(kind=pb.NODE_PARTS, stages=[stage()], inputs=[pb.GraphInput(node=0)])], [0]),
    "output": job([pb.GraphNode(kind=pb.NODE_PARTS, stages=[stage()], inputs=[pb.GraphInput(node=0)])], [3]),
}
for name, req in cases.items():
    try:
        stub.SubmitJob(req, timeout=10)
        print(name, "ACCEPTED")
    except grpc.RpcError as e:
        print(name, e.code().name, e.details())
P
if grep -q "^skip" "$T/badgraph.out"; then
    echo "skip: no python3-grpcio / grpc_tools for the malformed graphs"
else
    grep -q "unknown node INVALID_ARGUMENT node 0, input 0 reads node 7: the job has 1 nodes" "$T/badgraph.out" && ok ||
        bad "unknown node: $(cat "$T/badgraph.out")"
    grep -q "cycle INVALID_ARGUMENT .*cycle: node 0 -> node 1 -> node 0" "$T/badgraph.out" && ok ||
        bad "cycle: $(cat "$T/badgraph.out")"
    grep -q "output INVALID_ARGUMENT output 0 reads node 3: the job has 1 nodes" "$T/badgraph.out" && ok ||
        bad "output out of range: $(cat "$T/badgraph.out")"
fi
alive "$SPID" && ok || bad "the scheduler died on a malformed graph"
expect_ok "RUNNEL_SCHEDULER with --local" \
    env RUNNEL_SCHEDULER=tcp://127.0.0.1:9 "$RUNNEL" run "$T/chain.yaml" --local --quiet

# ---- kill -9 a worker mid-job: the exact result ---------------------------
build_slow || bad "cannot compile the test plugin"
cat >"$T/slow.yaml" <<Y
name: slowjoin
plugins: ["$T/libslow.so"]
datasets:
  logs:
    source: {read_text: {urls: "$T/logs.jsonl", blocksize: 8KiB}}
    steps: [{slow.sleep: {ms: 1}}, json_parse]
  users: {source: {read_text: {urls: "$T/users.jsonl", blocksize: 4KiB}}, steps: [json_parse]}
  joined: {from: logs, steps: [{join: {with: users, key: user, how: left, npartitions: 3}}]}
  n: {from: logs, steps: [count]}
  pairs: {zip: [logs, logs_user]}
  logs_user: {from: logs, steps: [{pluck: {key: user}}]}
outputs: [n, joined, pairs]
Y
expect_ok "the slow job, here" "$RUNNEL" run "$T/slow.yaml" --quiet
cp "$T/out" "$T/slow.local"
timeout 240 "$RUNNEL" run "$T/slow.yaml" --scheduler "$SCHED" --quiet >"$T/kill.out" 2>"$T/kill.err" &
RUN=$!
kill_after_tasks w1 6 "$RUN"
wait "$RUN" && ok || bad "the job with a killed worker failed: $(cat "$T/kill.err"); scheduler: $(tail -n 20 "$T/sched.log")"
cmp -s "$T/slow.local" "$T/kill.out" && ok ||
    bad "the result after kill -9 differs: $(diff "$T/slow.local" "$T/kill.out" | head -5)"

# ---- a join past a worker's memory: spilled there, the same answer ------
start_worker w3 --nthreads 2 --memory-limit 48MiB || { finish; exit 1; }
kill "$PID_w2" 2>/dev/null
one_worker() { [ "$(n_workers)" = 1 ]; }
wait_for "w2 to retire" 30 one_worker
expect_ok "a join on a 48 MiB worker" "$RUNNEL" run "$T/big.yaml" --quiet --scheduler "$SCHED"
cmp -s "$T/big.out" "$T/out" && ok || bad "the join spilled on a worker differs from the one in memory"
info_py "[w['spilled']['files'] for w in d['workers'].values()][0] > 0" >"$T/spilled" 2>&1
check "the worker spilled the join" True "$(cat "$T/spilled")"

no_sanitizer_reports
finish
