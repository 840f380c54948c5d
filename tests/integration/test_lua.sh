#!/bin/sh
# Lua operators (issue 13): the short forms (`filter: {where: ...}`,
# `map: {expr: ...}`) and a fold written in Lua give what Python gives,
# locally and on a scheduler + 2 workers; scripts that try to leave the
# sandbox, loop forever, recurse without end or allocate without bound
# fail their task with a clear error naming the manifest's line and the
# partition, and the workers live on to run the next job.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

# ---- data and references
$PY -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(30000):
        st = (200, 200, 404, 500, 502, 503)[i * 7 % 6]
        url = ("/api/v1/x", "/home", "/api/y", "/static/z")[i * 13 % 4]
        f.write(json.dumps({"user": "u%d" % (i * 31 % 997), "bytes": i * 37 % 100003,
                            "status": st, "url": url}) + "\n")
' "$T/logs.jsonl"
$PY -c '
import json, sys
n, kib = 0, 0.0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["status"] >= 500 and "/api" in r["url"]:
        n += 1
        kib += r["bytes"] / 1024
print(n)
print(json.dumps({"n": n, "kib": round(kib, 6)}))' "$T/logs.jsonl" >"$T/want"

cat >"$T/lua.yaml" <<Y
name: lua
source: {read_text: {urls: "$T/logs.jsonl", blocksize: 64KiB}}
steps:
  - json_parse
  - filter: {where: "status >= 500 and url:find('/api', 1, true)"}
  - map: {expr: "bytes / 1024"}
  - fold:
      init: "{n = 0, kib = 0}"
      step: "function(a, kib) a.n = a.n + 1; a.kib = a.kib + kib; return a end"
      combine: "function(a, b) a.n = a.n + b.n; a.kib = a.kib + b.kib; return a end"
      finish: "function(a) return {n = a.n, kib = math.floor(a.kib * 1e6 + 0.5) / 1e6} end"
Y
cat >"$T/count.yaml" <<Y
name: count
source: {read_text: {urls: "$T/logs.jsonl", blocksize: 64KiB}}
steps:
  - json_parse
  - filter: {where: "status >= 500 and url:find('/api', 1, true)"}
  - count
Y
check_answers() { # WHERE ARGS...
    where=$1
    shift
    expect_ok "count ($where)" "$RUNNEL" run "$T/count.yaml" --quiet "$@"
    check "filter count ($where)" "$(sed -n 1p "$T/want")" "$(cat "$T/out")"
    expect_ok "Lua fold ($where)" "$RUNNEL" run "$T/lua.yaml" --quiet "$@"
    $PY -c 'import json,sys; a=json.loads(open(sys.argv[1]).read()); b=json.loads(open(sys.argv[2]).read().splitlines()[1]); sys.exit(0 if a["n"]==b["n"] and abs(a["kib"]-b["kib"])<1e-3 else 1)' \
        "$T/out" "$T/want" && ok || bad "Lua fold ($where): $(cat "$T/out") vs $(sed -n 2p "$T/want")"
}

# escapes: each fails its task, clearly, with the step's line
escape_yaml() { # NAME CODE [EXTRA]
    printf 'name: %s\nsource: {range: {n: 40, npartitions: 4}}\nsteps:\n  - map: {code: "%s"%s}\n' \
        "$1" "$2" "${3:-}" >"$T/$1.yaml"
}
escape_yaml osx "function(x) os.execute('touch $T/pwned') return x end"
escape_yaml iox "function(x) return io.open('/etc/passwd'):read('*a') end"
escape_yaml ffix "function(x) return require('ffi') end"
escape_yaml loop "function(x) while true do end end" ", instructions: 2000000"
escape_yaml deep "function(x) local function f(n) return f(n + 1) + 1 end return f(1) end"
escape_yaml bomb "function(x) local s = string.rep('x', 1024) while true do s = s .. s end end" ", memory: 16MiB"
escape_yaml rep "function(x) return #string.rep('x', 3e8) end"
check_escapes() { # WHERE ARGS...
    where=$1
    shift
    expect_fail "os.execute ($where)" 1 "osx.yaml:4:5: " "$RUNNEL" run "$T/osx.yaml" "$@"
    grep -q "lua.map (partition [0-3]): code:1: attempt to call field 'execute'" "$T/err" && ok ||
        bad "os.execute: $(cat "$T/err")"
    [ ! -e "$T/pwned" ] && ok || bad "os.execute ran ($where)"
    expect_fail "io.open ($where)" 1 "attempt to index global 'io'" "$RUNNEL" run "$T/iox.yaml" "$@"
    expect_fail "require ffi ($where)" 1 "attempt to call global 'require'" "$RUNNEL" run "$T/ffix.yaml" "$@"
    expect_fail "endless loop ($where)" 1 "the instruction budget of 2000000 per call was spent" "$RUNNEL" run "$T/loop.yaml" "$@"
    expect_fail "deep recursion ($where)" 1 "stack overflow" "$RUNNEL" run "$T/deep.yaml" "$@"
    expect_fail "doubling string ($where)" 1 "memory cap was reached" "$RUNNEL" run "$T/bomb.yaml" "$@"
    expect_fail "string.rep bomb ($where)" 1 "memory cap was reached" "$RUNNEL" run "$T/rep.yaml" "$@"
}

# a compile error is found before anything runs, with its line
printf 'name: c\nsource: {range: {n: 3}}\nsteps:\n  - filter: {where: "x >"}\n' >"$T/c.yaml"
expect_fail "where does not compile" 1 "c.yaml:4:5: lua.filter: \`where\` does not compile: where:1:" "$RUNNEL" run "$T/c.yaml"

# code in a .lua file beside the manifest (`!file`): read where the job
# is run or submitted, it travels inside the job
mkdir -p "$T/m"
cat >"$T/m/kib.lua" <<'L'
-- the bytes in KiB, and the first part of the path
return function(r)
  return {user = r.user, kib = r.bytes / 1024, top = r.url:match("^/(%w+)")}
end
L
cat >"$T/m/file.yaml" <<Y
name: file
source: {read_text: {urls: "$T/logs.jsonl", blocksize: 64KiB}}
steps:
  - json_parse
  - map: {code: !file kib.lua}
  - pluck: top
  - frequencies
Y
$PY -c '
import collections, json, re, sys
c = collections.Counter(re.match(r"^/(\w+)", json.loads(l)["url"]).group(1) for l in open(sys.argv[1]))
for k, v in sorted(c.items()):
    print(json.dumps([k, v]))' "$T/logs.jsonl" >"$T/file.want"
check_file() { # WHERE ARGS...
    where=$1
    shift
    expect_ok "code from a .lua file ($where)" "$RUNNEL" run "$T/m/file.yaml" --quiet "$@"
    sort "$T/out" | cmp -s - "$T/file.want" && ok || bad "!file ($where): $(cat "$T/out")"
}
sed 's/kib.lua/nope.lua/' "$T/m/file.yaml" >"$T/m/nofile.yaml"
expect_fail "a missing .lua file" 1 "nofile.yaml:5:17: !file 'nope.lua': No such file" "$RUNNEL" lint "$T/m/nofile.yaml"

# ---- locally, one thread and two
check_file local
check_answers local
check_answers "local, 1 thread" --threads 1
check_escapes local

# ---- on a cluster: scheduler + 2 workers
start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2 || { finish; exit 1; }
start_worker w2 --nthreads 2 || { finish; exit 1; }
check_answers cluster --scheduler "$SCHED"
cd /
check_file "cluster, from another directory" --scheduler "$SCHED"
cd "$SRC"
check_escapes cluster --scheduler "$SCHED"
# the workers lived through it all, and still work
alive "$PID_w1" && alive "$PID_w2" && ok || bad "a worker died of a script"
check "both workers registered" 2 "$(n_workers)"
check_answers "cluster, after the escapes" --scheduler "$SCHED"

no_sanitizer_reports
finish
