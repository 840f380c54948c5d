#!/bin/sh
# A mutual-TLS cluster on several hosts (network namespaces joined by a
# bridge in a namespace of its own, as test_cluster_netns.sh): a
# scheduler, two workers (a third joins later), and two clients, alice
# and bob, each on a host of its own, all with certificates of one
# cluster CA made by `runnel security`. The seed's journey runs with
# tls:// addresses; then every attack found on the plaintext cluster is
# tried and must be refused with a clear error while the scheduler keeps
# serving the others with bounded memory (docs/SECURITY.md). Needs root
# (skipped otherwise); the wire-level attacks need python3-grpcio.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the network-namespace test needs root"
    finish
    exit 0
fi
P="rt$$"
if ! ip netns add "${P}br" 2>"$T/err"; then
    echo "SKIP: cannot create network namespaces: $(cat "$T/err")"
    finish
    exit 0
fi
netns_cleanup() {
    for n in br s a b c d e f; do ip netns del "$P$n" 2>/dev/null; done
}
CLUSTER_EXTRA_CLEANUP=netns_cleanup
ip -n "${P}br" link add br0 type bridge || bad "bridge"
ip -n "${P}br" link set br0 up
i=1
for n in s a b c d e f; do
    ip netns add "$P$n" || bad "netns $n"
    ip -n "${P}br" link add "e$n" type veth peer name eth0 netns "$P$n" || bad "veth $n"
    ip -n "${P}br" link set "e$n" master br0 up
    ip -n "$P$n" addr add "10.77.1.$i/24" dev eth0
    ip -n "$P$n" link set eth0 up
    ip -n "$P$n" link set lo up
    i=$((i + 1))
done
# hosts: s scheduler .1, a b workers .2 .3, c alice .4, d bob .5,
# e a third worker .6, f a spare host .7

# ---- the certificates: one CA, one identity per process
PKI="$T/pki"
expect_ok "security init" "$RUNNEL" security init "$PKI/ca"
issue() { "$RUNNEL" security issue "$PKI/ca" --role "$1" --name "$2" --out "$PKI/$2" >/dev/null; }
issue scheduler sched && issue worker wa && issue worker wb && issue worker we &&
    issue client alice && issue client bob && issue admin root && ok || bad "issue"
"$RUNNEL" security init "$PKI/other-ca" >/dev/null &&
    "$RUNNEL" security issue "$PKI/other-ca" --role client --name mallory \
        --out "$PKI/mallory" >/dev/null && ok || bad "another CA"

# data the workers may read; everything else is outside --allow-path
mkdir -p "$T/data/out"
"$BUILD/bench/gen_corpus" 1MiB "$T/data/corpus.txt" >/dev/null 2>&1
SCHED=tls://10.77.1.1:8786
ip netns exec "${P}s" "$RUNNEL" scheduler --tls "$PKI/sched" --state-dir "$T/state" \
    --heartbeat-timeout 3s >"$T/sched.log" 2>&1 &
SPID=$!
CPIDS="$CPIDS $SPID"
wait_for "the scheduler" 30 grep -q "listening at" "$T/sched.log"
grep -q "listening at tls://10.77.1.1:8786 " "$T/sched.log" && ok ||
    bad "scheduler address: $(cat "$T/sched.log")"
worker() { # NS CERT
    ip netns exec "$P$1" "$RUNNEL" worker "$SCHED" --tls "$PKI/$2" --nthreads 2 \
        --name "host-$1" --local-dir "$T/cache-$1" --allow-path "$T/data" \
        >"$T/$1.log" 2>&1 &
    CPIDS="$CPIDS $!"
    wait_for "worker $1" 30 grep -q "registered with" "$T/$1.log"
}
worker a wa
worker b wb

# RN NS CERT ARGS...: runnel on host NS as CERT
RN() {
    ns=$1 cert=$2
    shift 2
    timeout 120 ip netns exec "$P$ns" env RUNNEL_SCHEDULER="$SCHED" \
        RUNNEL_TLS="$PKI/$cert" "$RUNNEL" "$@"
}

# ---- the seed's journey, with tls:// addresses
expect_ok "info as alice" RN c alice info --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"type", "id", "address", "services", "started", "workers"}, d.keys()
assert d["address"] == "tls://10.77.1.1:8786", d["address"]
hosts = sorted(a.rsplit(":", 1)[0] for a in d["workers"])
assert hosts == ["tls://10.77.1.2", "tls://10.77.1.3"], hosts
assert sorted(w["identity"] for w in d["workers"].values()) == ["wa", "wb"], d
' "$T/out" && ok || bad "info over TLS: $(cat "$T/out")"
expect_ok "info for people" RN c alice info
grep -q "security  mutual-tls" "$T/out" && ok || bad "info: $(cat "$T/out")"

CORPUS="$T/data/corpus.txt" BLOCKSIZE=64KiB "$RUNNEL" run examples/wordcount/wordcount.yaml \
    --threads 1 >"$T/local" 2>&1
wc_run() { # NS CERT OUT
    CORPUS="$T/data/corpus.txt" BLOCKSIZE=64KiB RN "$1" "$2" run \
        examples/wordcount/wordcount.yaml >"$3" 2>"$T/err" ||
        { echo "exit $?" >>"$T/err"; return 1; }
}
wc_run c alice "$T/cluster" || bad "alice's run: $(cat "$T/err")"
if [ -s "$T/local" ] && cmp -s "$T/local" "$T/cluster"; then ok; else
    bad "wordcount over TLS: $(diff "$T/local" "$T/cluster" | head -5)"
fi
# a third worker on a new host joins and takes work
worker e we
wc_run d bob "$T/cluster2" || bad "bob's run: $(cat "$T/err")"
cmp -s "$T/local" "$T/cluster2" && ok || bad "wordcount with three workers"
expect_ok "info with three" RN c alice info --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["workers"]) == 3, d["workers"].keys()
assert all(w["tasks"]["done"] > 0 for w in d["workers"].values()), d["workers"]
' "$T/out" && ok || bad "three workers: $(cat "$T/out")"

# ---- who connects
expect_fail "a plaintext client" 1 "use its tls:// address" \
    timeout 60 ip netns exec "${P}c" "$RUNNEL" info --scheduler tcp://10.77.1.1:8786
expect_fail "a certificate of another CA" 1 "not of the same CA" \
    RN c mallory info
expect_fail "a client certificate as a worker" 1 "needs a worker certificate" \
    timeout 60 ip netns exec "${P}f" "$RUNNEL" worker "$SCHED" --tls "$PKI/alice"
expect_fail "a worker certificate as a client" 1 "needs a client or admin certificate" \
    RN c wa info
expect_fail "a tls:// scheduler without a certificate" 1 "needs a certificate" \
    timeout 60 ip netns exec "${P}c" "$RUNNEL" info --scheduler "$SCHED"

# ---- jobs belong to their owner
cat >"$T/sum.yaml" <<EOF
name: sum
source: {range: {n: 1000, npartitions: 4}}
steps: [sum]
EOF
sed 's/1000/2000/' "$T/sum.yaml" >"$T/sum2.yaml"
JA=$(RN c alice submit "$T/sum.yaml" 2>"$T/err") || bad "submit A: $(cat "$T/err")"
JB=$(RN c alice submit "$T/sum2.yaml" 2>"$T/err") || bad "submit B: $(cat "$T/err")"
expect_ok "alice waits for A" RN c alice status "$JA" --wait
expect_ok "alice waits for B" RN c alice status "$JB" --wait
expect_ok "alice lists her jobs" RN c alice jobs
grep -q "$JA" "$T/out" && ok || bad "alice's jobs: $(cat "$T/out")"
expect_ok "bob lists his jobs" RN d bob jobs
grep -q "$JA" "$T/out" && bad "bob sees alice's job: $(cat "$T/out")" || ok
expect_fail "bob reads alice's job" 1 "belongs to another identity than 'bob'" \
    RN d bob status "$JA"
expect_fail "bob cancels alice's job" 1 "belongs to another identity" \
    RN d bob cancel "$JA"
expect_ok "an admin sees it" RN d root status "$JA"
grep -q "done" "$T/out" && ok || bad "root's status: $(cat "$T/out")"

HAVE_PY=0
/usr/bin/python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1 && HAVE_PY=1
A() { # NS CERT CMD ARGS...: the raw API
    ns=$1 cert=$2
    shift 2
    timeout 120 ip netns exec "$P$ns" /usr/bin/python3 "$SRC/tests/integration/attacks.py" \
        --scheduler "$SCHED" --tls "$PKI/$cert" --proto-dir "$SRC/core/transport/proto" "$@"
}
# expect_a NAME WANT NEEDLE NS CERT CMD ARGS...: the first word printed is
# WANT and the line contains NEEDLE
expect_a() {
    name=$1 want=$2 needle=$3
    shift 3
    line=$(A "$@" 2>"$T/aerr" | tail -1)
    case "$line" in
    "$want "*"$needle"*) ok ;;
    *) bad "$name: got [$line], wanted $want ... $needle ($(tail -3 "$T/aerr"))" ;;
    esac
}
if [ $HAVE_PY -eq 1 ]; then
    A c alice job "$JA" >"$T/ja" && A c alice job "$JB" >"$T/jb" || bad "job info"
    jget() { $PY -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().split(" ",1)[1]); print(eval(sys.argv[2]))' "$@"; }
    CAPA=$(jget "$T/ja" 'd["capability"]')
    CAPB=$(jget "$T/jb" 'd["capability"]')
    ADDR=$(jget "$T/ja" 'd["results"][0][0]')
    TASK=$(jget "$T/ja" 'd["results"][0][1]')
    [ ${#CAPA} -eq 64 ] && [ "$CAPA" != "$CAPB" ] && ok || bad "capabilities [$CAPA] [$CAPB]"
    expect_a "bob gets alice's job" PERMISSION_DENIED "another identity" d bob job "$JA"
    expect_a "a fetch without capability" PERMISSION_DENIED "no capability" \
        d bob fetch "$ADDR" "$JA" "$TASK" -
    expect_a "a forged capability" PERMISSION_DENIED "wrong capability" \
        d bob fetch "$ADDR" "$JA" "$TASK" 0000000000000000000000000000000000000000000000000000000000000000
    expect_a "another job's capability" PERMISSION_DENIED "wrong capability" \
        c alice fetch "$ADDR" "$JA" "$TASK" "$CAPB"
    expect_a "the owner's fetch" OK "bytes" c alice fetch "$ADDR" "$JA" "$TASK" "$CAPA"
    # ---- roles on the wire (the command line refuses to even try)
    expect_a "a client registers as a worker" PERMISSION_DENIED \
        "RegisterWorker is for workers: client 'alice'" c alice register
    expect_a "a worker submits" PERMISSION_DENIED "SubmitJob is for clients and admins: worker 'wa'" \
        f wa submit
    # ---- the Python client over mutual TLS: Info, a job, its results
    timeout -k 10 300 ip netns exec "${P}c" "$PY" "$SRC/tests/integration/pyclient.py" \
        --scheduler "$SCHED" --tls "$PKI/alice" --workers 3 \
        --proto-dir "$SRC/core/transport/proto" >"$T/py.out" 2>&1 && ok ||
        bad "pyclient over TLS: $(grep -E 'FAIL|Error' "$T/py.out" | head -5)"
else
    echo "SKIP: the wire-level attacks need python3-grpcio"
fi

# ---- what jobs may touch on a worker
cat >"$T/shadow.yaml" <<EOF
name: shadow
source: {read_text: {urls: /etc/shadow}}
steps: [count]
EOF
expect_fail "read_text of /etc/shadow" 1 "outside the directories this worker allows" \
    RN c alice run "$T/shadow.yaml"
cat >"$T/escape.yaml" <<EOF
name: escape
source: {range: {n: 10}}
sink: {to_textfiles: {path: "$T/data/out/../../escaped-*.txt"}}
EOF
expect_fail "a sink path with .." 1 "'..' is not allowed" RN c alice run "$T/escape.yaml"
ls "$T"/escaped-* >/dev/null 2>&1 && bad "the sink escaped" || ok
cat >"$T/key.yaml" <<EOF
name: key
source: {read_text: {urls: "$PKI/wa/tls.key"}}
steps: [count]
EOF
expect_fail "a worker's own key" 1 "outside the directories" RN c alice run "$T/key.yaml"
cat >"$T/meta.yaml" <<EOF
name: meta
source: {read_text: {urls: "http://169.254.169.254/latest/meta-data/"}}
steps: [count]
EOF
expect_fail "cloud metadata" 1 "169.254.169.254" RN c alice run "$T/meta.yaml"

# ---- ${VAR} values (often secrets) never show on the cluster
SECRET="tok-$$-not-for-logs"
cat >"$T/secret.yaml" <<'EOF'
name: "grep-${RN_TEST_SECRET}"
source: {read_text: {urls: "${CORPUS}"}}
steps:
  - grep: {pattern: "${RN_TEST_SECRET}"}
  - count
EOF
expect_ok "a run with a secret" env CORPUS="$T/data/corpus.txt" RN_TEST_SECRET="$SECRET" \
    RUNNEL_SCHEDULER="$SCHED" RUNNEL_TLS="$PKI/alice" \
    timeout 120 ip netns exec "${P}c" "$RUNNEL" run "$T/secret.yaml"
check "the secret grep" 0 "$(cat "$T/out")"
cat >"$T/secret-bad.yaml" <<'EOF'
name: bad
source: {read_text: {urls: "${CORPUS}/${RN_TEST_SECRET}"}}
steps: [count]
EOF
expect_fail "a failing run with a secret" 1 '${CORPUS}/${RN_TEST_SECRET}' \
    env CORPUS="$T/data" RN_TEST_SECRET="$SECRET" RUNNEL_SCHEDULER="$SCHED" \
    RUNNEL_TLS="$PKI/alice" timeout 120 ip netns exec "${P}c" "$RUNNEL" run "$T/secret-bad.yaml"
expect_ok "the jobs list" RN c alice jobs
grep -q 'grep-${RN_TEST_SECRET}' "$T/out" && ok || bad "job name as written: $(cat "$T/out")"
if grep -l "$SECRET" "$T/out" "$T/err" "$T/sched.log" "$T/a.log" "$T/b.log" "$T/e.log"; then
    bad "the secret shows in logs or listings"
else ok; fi

# ---- pushing plugins: --push-role admin on a second scheduler
ip netns exec "${P}f" "$RUNNEL" scheduler --tls "$PKI/sched" --push-role admin \
    --state-dir "$T/state2" >"$T/sched2.log" 2>&1 &
S2=$!
CPIDS="$CPIDS $S2"
wait_for "the second scheduler" 30 grep -q "listening at" "$T/sched2.log"
expect_fail "a client pushes under --push-role admin" 1 "PushPlugin is for admins" \
    RN c alice plugin push "$BUILD/examples/wordcount/libwords.so" --scheduler tls://10.77.1.7:8786
expect_ok "an admin pushes" RN c root plugin push "$BUILD/examples/wordcount/libwords.so" \
    --scheduler tls://10.77.1.7:8786

# ---- abuse: the scheduler keeps serving, with bounded memory
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
R0=$(rss "$SPID")
if [ $HAVE_PY -eq 1 ]; then
    expect_a "a heartbeat of 1 M plugins" RESOURCE_EXHAUSTED "too large" f wa heartbeat 1000000
    expect_a "a manifest of 100 000 steps" RESOURCE_EXHAUSTED "more than 10000 steps" \
        c alice steps 100000
    # alice holds 1100 idle uploads; bob and the workers go on meanwhile
    A c alice uploads 1100 12 >"$T/uploads" 2>&1 &
    UP=$!
    wait_for "the uploads" 60 grep -q "refused=" "$T/uploads"
    grep -q "OK refused=1036 held=64" "$T/uploads" && ok ||
        bad "idle uploads: $(cat "$T/uploads")"
    expect_ok "bob's info during the uploads" RN d bob info --json
    wc_run d bob "$T/cluster3" && cmp -s "$T/local" "$T/cluster3" && ok ||
        bad "bob's run during the uploads: $(cat "$T/err") $(diff "$T/local" "$T/cluster3" | head -5)"
    wait "$UP"
fi
expect_ok "info after the abuse" RN c alice info --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["workers"]) == 3, "workers lost: %s" % list(d["workers"])
' "$T/out" && ok || bad "the workers after the abuse: $(cat "$T/out")"
R1=$(rss "$SPID")
echo "scheduler RSS: ${R0} KiB before the abuse, ${R1} KiB after"
# under AddressSanitizer freed memory sits in its quarantine and every
# allocation has red zones: the bound allows for that
BOUND=65536
ldd "$RUNNEL" 2>/dev/null | grep -q libasan && BOUND=262144
[ $((R1 - R0)) -lt $BOUND ] && ok || bad "the scheduler grew from $R0 to $R1 KiB"

# ---- secure by default: no --tls, no --listen: loopback only
ip netns exec "${P}e" "$RUNNEL" scheduler --state-dir "$T/state3" >"$T/sched3.log" 2>&1 &
CPIDS="$CPIDS $!"
wait_for "the loopback scheduler" 30 grep -q "listening at" "$T/sched3.log"
grep -q "listening at tcp://127.0.0.1:8786 " "$T/sched3.log" && ok ||
    bad "default listen: $(cat "$T/sched3.log")"
expect_fail "from another host" 1 "cannot reach" \
    timeout 60 ip netns exec "${P}c" "$RUNNEL" info --scheduler tcp://10.77.1.6:8786
expect_ok "from its own host" timeout 60 ip netns exec "${P}e" "$RUNNEL" info \
    --scheduler tcp://127.0.0.1:8786

# no peer could crash anything
for p in $CPIDS; do alive "$p" || bad "process $p died"; done
grep -q "INSECURE" "$T/sched.log" && bad "the TLS scheduler logs INSECURE" || ok
no_sanitizer_reports
finish
