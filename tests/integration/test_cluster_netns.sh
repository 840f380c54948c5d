#!/bin/sh
# A multi-host cluster in network namespaces: a scheduler, two workers
# and a client, each in a namespace of its own with a 10.77.0.x address,
# joined by a bridge that lives in a fifth namespace, so no address or
# packet of the test touches the host's network. Needs root; skipped
# (with a message) otherwise.
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: the network-namespace test needs root"
    finish
    exit 0
fi
P="rn$$"
if ! ip netns add "${P}br" 2>"$T/err"; then
    echo "SKIP: cannot create network namespaces: $(cat "$T/err")"
    finish
    exit 0
fi
netns_cleanup() {
    for n in br s a b c d; do ip netns del "$P$n" 2>/dev/null; done
}
CLUSTER_EXTRA_CLEANUP=netns_cleanup

# the bridge, in its own namespace; one veth per node, its bridge end in
# the bridge namespace and its other end (eth0) in the node's
ip -n "${P}br" link add br0 type bridge || bad "bridge"
ip -n "${P}br" link set br0 up
i=1
for n in s a b c d; do
    ip netns add "$P$n" || bad "netns $n"
    ip -n "${P}br" link add "e$n" type veth peer name eth0 netns "$P$n" || bad "veth $n"
    ip -n "${P}br" link set "e$n" master br0 up
    ip -n "$P$n" addr add "10.77.0.$i/24" dev eth0
    ip -n "$P$n" link set eth0 up
    ip -n "$P$n" link set lo up
    i=$((i + 1))
done
# the host's own interfaces know nothing of it
ip -4 addr show | grep -q "10\.77\.0\." && bad "a 10.77.0.x address leaked to the host" || ok

# secure by default: plaintext beyond loopback is refused without
# --insecure, by the scheduler and by a worker (test_cluster_tls.sh runs
# the same journey with mutual TLS)
expect_fail "scheduler on 0.0.0.0 without TLS" 1 "without --tls" \
    timeout 20 ip netns exec "${P}s" "$RUNNEL" scheduler --listen 0.0.0.0:8786 --state-dir "$T/state"
expect_fail "worker of a remote plaintext scheduler" 1 "--insecure" \
    timeout 20 ip netns exec "${P}a" "$RUNNEL" worker tcp://10.77.0.1:8786 --local-dir "$T/a"

# (ip netns exec execs the command: $! is the runnel process itself)
SCHED=tcp://10.77.0.1:8786
ip netns exec "${P}s" "$RUNNEL" scheduler --listen 0.0.0.0:8786 --insecure --state-dir "$T/state" --heartbeat-timeout 3s >"$T/sched.log" 2>&1 &
SPID=$!
CPIDS="$CPIDS $SPID"
wait_for "the scheduler" 30 grep -q "listening at" "$T/sched.log"
grep -q "listening at tcp://10.77.0.1:8786 " "$T/sched.log" && ok ||
    bad "scheduler address: $(cat "$T/sched.log")"
grep -q "INSECURE" "$T/sched.log" && ok || bad "--insecure is not logged loudly"
for n in a b; do
    ip netns exec "$P$n" "$RUNNEL" worker "$SCHED" --insecure --nthreads 2 --name "host-$n" --local-dir "$T/$n" \
        >"$T/$n.log" 2>&1 &
    CPIDS="$CPIDS $!"
    wait_for "worker $n" 30 grep -q "registered with" "$T/$n.log"
done

R() { timeout 120 ip netns exec "${P}c" "$RUNNEL" "$@"; }
expect_ok "info for people" R info --scheduler "$SCHED"
grep -q "security  plaintext-insecure  WARNING" "$T/out" && ok ||
    bad "info does not show the insecure port: $(cat "$T/out")"
expect_ok "info from the client's host" R info --scheduler "$SCHED" --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["address"] == "tcp://10.77.0.1:8786", d["address"]
assert set(d) == {"type", "id", "address", "services", "started", "workers"}, d.keys()
hosts = sorted(a.rsplit(":", 1)[0] for a in d["workers"])
assert hosts == ["tcp://10.77.0.2", "tcp://10.77.0.3"], hosts
assert sorted(w["name"] for w in d["workers"].values()) == ["host-a", "host-b"], d
' "$T/out" && ok || bad "info: $(cat "$T/out")"

"$BUILD/bench/gen_corpus" 1MiB "$T/corpus.txt" >/dev/null 2>&1
CORPUS="$T/corpus.txt" BLOCKSIZE=64KiB "$RUNNEL" run examples/wordcount/wordcount.yaml \
    --threads 1 >"$T/local" 2>&1
CORPUS="$T/corpus.txt" BLOCKSIZE=64KiB R run examples/wordcount/wordcount.yaml \
    --scheduler "$SCHED" >"$T/cluster" 2>"$T/err" || bad "cluster run: $(cat "$T/err")"
if [ -s "$T/local" ] && cmp -s "$T/local" "$T/cluster"; then ok; else
    bad "wordcount across hosts: $(diff "$T/local" "$T/cluster" | head -5)"
fi
# both hosts ran tasks and fetched the plugin from the scheduler
expect_ok "info after the run" R info --scheduler "$SCHED" --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert all(w["tasks"]["done"] > 0 for w in d["workers"].values()), d["workers"]
assert all(any(p["name"] == "words" for p in w["plugins"]) for w in d["workers"].values()), d
' "$T/out" && ok || bad "work spread: $(cat "$T/out")"

# a hash shuffle across the hosts: 4 reducers fetch their buckets from
# the other host's workers, the answer is the local one byte for byte
cat >"$T/shuffle.yaml" <<Y
name: shuffle
plugins: ["$BUILD/examples/wordcount/libwords.so"]
source: {read_text: {urls: "$T/corpus.txt", blocksize: 64KiB}}
steps:
  - words.split: {lower: true}
  - frequencies: {npartitions: 4}
Y
"$RUNNEL" run "$T/shuffle.yaml" --threads 1 >"$T/shuffle.local" 2>&1
R run "$T/shuffle.yaml" --scheduler "$SCHED" >"$T/shuffle.cluster" 2>"$T/err" ||
    bad "cluster shuffle: $(cat "$T/err")"
if [ -s "$T/shuffle.local" ] && cmp -s "$T/shuffle.local" "$T/shuffle.cluster"; then ok; else
    bad "shuffle across hosts: $(diff "$T/shuffle.local" "$T/shuffle.cluster" | head -5)"
fi

# the seed's last step: a third worker on a new machine joins, shows in
# info, and takes work in the next job
ip netns exec "${P}d" "$RUNNEL" worker "$SCHED" --insecure --nthreads 2 --name host-d --local-dir "$T/d" \
    >"$T/d.log" 2>&1 &
CPIDS="$CPIDS $!"
wait_for "worker d" 30 grep -q "registered with" "$T/d.log"
CORPUS="$T/corpus.txt" BLOCKSIZE=16KiB "$RUNNEL" run examples/wordcount/wordcount.yaml \
    --threads 1 >"$T/local2" 2>&1
CORPUS="$T/corpus.txt" BLOCKSIZE=16KiB R run examples/wordcount/wordcount.yaml \
    --scheduler "$SCHED" >"$T/cluster2" 2>"$T/err" || bad "cluster run 2: $(cat "$T/err")"
if [ -s "$T/local2" ] && cmp -s "$T/local2" "$T/cluster2"; then ok; else
    bad "wordcount with three hosts: $(diff "$T/local2" "$T/cluster2" | head -5)"
fi
expect_ok "info with three workers" R info --scheduler "$SCHED" --json
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
hosts = sorted(a.rsplit(":", 1)[0] for a in d["workers"])
assert hosts == ["tcp://10.77.0.2", "tcp://10.77.0.3", "tcp://10.77.0.5"], hosts
new = [w for w in d["workers"].values() if w["name"] == "host-d"][0]
assert new["tasks"]["done"] > 0, new
' "$T/out" && ok || bad "third worker: $(cat "$T/out")"

no_sanitizer_reports
finish
