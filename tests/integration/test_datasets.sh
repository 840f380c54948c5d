#!/bin/sh
# Manifests with datasets and outputs (issue 12), run locally: joins
# (inner, left, many-to-many, key paths, right_key, npartitions, spilled)
# against Python, concat, zip and its mismatch errors, a dataset read by
# several others computed once (bytes read), a printed and a written
# output, fusion of `from:` chains, graph errors with file:line:col, and
# the refusal to run on a cluster.
. "$2/tests/integration/lib.sh"
setup "$@"
PY=/usr/bin/python3

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
expect_ok "inner join" "$RUNNEL" run "$T/inner1.yaml" --quiet
cp "$T/out" "$T/inner1.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" inner user user "$T/inner1.out" 2>&1)
case $r in ok*) ok ;; *) bad "inner join: $r" ;; esac
expect_ok "inner join, 4 partitions" "$RUNNEL" run "$T/inner4.yaml" --quiet --threads 2
cmp -s "$T/inner1.out" "$T/out" && ok || bad "4 partitions in order differ from one"
expect_ok "left join" "$RUNNEL" run "$T/left3.yaml" --quiet
cp "$T/out" "$T/left.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" left user user "$T/left.out" 2>&1)
case $r in ok*) ok ;; *) bad "left join: $r" ;; esac
grep -q ', null]$' "$T/left.out" && ok || bad "left join: no [l, null]"
# a path on the left, an int field on the right
join_yaml paths inner 2 info.id uid
expect_ok "join on a path and right_key" "$RUNNEL" run "$T/paths.yaml" --quiet
cp "$T/out" "$T/paths.out"
r=$($PY "$T/check_join.py" "$T/logs.jsonl" "$T/users.jsonl" inner info.id uid "$T/paths.out" 2>&1)
case $r in ok*) ok ;; *) bad "join on paths: $r" ;; esac
# the same answer whatever the threads
expect_ok "left join, 1 thread" "$RUNNEL" run "$T/left3.yaml" --quiet --threads 1
cmp -s "$T/left.out" "$T/out" && ok || bad "left join differs with 1 thread"
# a key missing from an element fails in words
join_yaml nokey inner 1 nosuch
# (which partition fails first depends on the threads)
expect_fail "missing key" 1 ': left element: key "nosuch" not found in the record' \
    "$RUNNEL" run "$T/nokey.yaml"
grep -q "join (partition [0-9]*): left element" "$T/err" && ok || bad "missing key: no partition: $(cat "$T/err")"

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
expect_ok "a join in memory" "$RUNNEL" run "$T/big.yaml" --quiet
cp "$T/out" "$T/big.out"
r=$($PY "$T/check_join.py" "$T/big_l.jsonl" "$T/big_r.jsonl" inner k k "$T/big.out" 2>&1)
case $r in ok*) ok ;; *) bad "big join: $r" ;; esac
expect_ok "a join spilled" "$RUNNEL" run "$T/big.yaml" --quiet --json \
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
expect_ok "concat and zip" "$RUNNEL" run "$T/cz.yaml" --quiet --json
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
expect_fail "zip of different lengths" 1 \
    "zipbad.yaml:6:8: zip: partition " "$RUNNEL" run "$T/zipbad.yaml"
grep -q "zip: partition [0-9]* of 'a' has" "$T/err" && ok || bad "zip lengths: $(cat "$T/err")"
grep -q "but that of 'some'" "$T/err" && ok || bad "zip lengths: $(cat "$T/err")"
sed -i 's/^outputs: \[z1\]/outputs: [z2]/' "$T/zipbad.yaml"
expect_fail "zip of different partitions" 1 \
    "zipbad.yaml:7:8: zip: 'a' has" "$RUNNEL" run "$T/zipbad.yaml"
grep -q "partitions but 'b'" "$T/err" && ok || bad "zip partitions: $(cat "$T/err")"

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
expect_ok "two outputs" "$RUNNEL" run "$T/two.yaml" --quiet --json
got=$($PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_read"])' <"$T/out")
check "logs and users read once each" "$once" "$got"
expect_ok "two outputs, printed" "$RUNNEL" run "$T/two.yaml" --quiet
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
check "distinct through a chain" 3000 "$("$RUNNEL" run "$T/chain.yaml" --quiet)"

# the example in examples/jsonlogs: requests per team against Python
expect_ok "examples/jsonlogs/report.yaml" env OUT="$T/report" \
    "$RUNNEL" run examples/jsonlogs/report.yaml --quiet
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

# ---- a cluster refuses them (issue 12) -----------------------------------
expect_fail "run --scheduler" 1 "several datasets run locally only for now (issue 12)" \
    "$RUNNEL" run "$T/two.yaml" --scheduler tcp://127.0.0.1:9
expect_fail "RUNNEL_SCHEDULER" 1 "several datasets run locally only for now (issue 12)" \
    env RUNNEL_SCHEDULER=tcp://127.0.0.1:9 "$RUNNEL" run "$T/two.yaml"
expect_ok "RUNNEL_SCHEDULER with --local" \
    env RUNNEL_SCHEDULER=tcp://127.0.0.1:9 "$RUNNEL" run "$T/chain.yaml" --local --quiet
expect_fail "submit" 1 "several datasets run locally only for now (issue 12)" \
    "$RUNNEL" submit "$T/two.yaml" --scheduler tcp://127.0.0.1:9

finish
