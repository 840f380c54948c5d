#!/bin/sh
# runnel security init | issue | show end to end: files and modes, what
# the certificates hold (read back with the openssl command when it is
# installed), usage errors (exit 2) and failures (exit 1, file named).
. "$2/tests/integration/lib.sh"
setup "$@"

mode() { stat -c %a "$1"; }

# --help everywhere
for sub in "" init issue show; do
    expect_ok "security $sub --help" "$RUNNEL" security $sub --help
    grep -q "usage: runnel security init" "$T/out" && ok ||
        bad "security $sub --help: no usage text"
done
expect_ok "top-level help lists security" "$RUNNEL" --help
grep -q "security init" "$T/out" && ok || bad "runnel --help lacks security"

# usage errors: exit 2
expect_fail "no subcommand" 2 "usage: runnel security" "$RUNNEL" security
expect_fail "unknown subcommand" 2 "unknown subcommand 'frob'" "$RUNNEL" security frob
expect_fail "init no dir" 2 "no CA directory given" "$RUNNEL" security init
expect_fail "init bad days" 2 "--days: expected a number from 1 to 36500, got 'x'" \
    "$RUNNEL" security init "$T/ca" --days x
expect_fail "init days 0" 2 "--days: expected a number" "$RUNNEL" security init "$T/ca" --days 0
expect_fail "init unknown option" 2 "unknown option '--frob'" "$RUNNEL" security init "$T/ca" --frob
expect_fail "init two dirs" 2 "more than one directory" "$RUNNEL" security init "$T/a" "$T/b"
[ ! -e "$T/ca" ] && ok || bad "a refused init created $T/ca"

# init
expect_ok "init" "$RUNNEL" security init "$T/ca"
grep -q "^wrote $T/ca/ca.crt (CA \"runnel cluster CA\", valid until 20[0-9-]*)$" "$T/out" && ok ||
    bad "init output: $(cat "$T/out")"
grep -q "^wrote $T/ca/ca.key" "$T/out" && ok || bad "init output lacks ca.key"
check "CA dir mode" 700 "$(mode "$T/ca")"
check "ca.key mode" 600 "$(mode "$T/ca/ca.key")"
check "ca.crt mode" 644 "$(mode "$T/ca/ca.crt")"
check "CA files" "ca.crt ca.key" "$(ls "$T/ca" | tr '\n' ' ' | sed 's/ $//')"
cp "$T/ca/ca.crt" "$T/ca.crt.first"
expect_fail "init twice" 1 "$T/ca/ca.key already exists (use --force to replace it)" \
    "$RUNNEL" security init "$T/ca"
cmp -s "$T/ca/ca.crt" "$T/ca.crt.first" && ok || bad "a refused init changed ca.crt"
expect_ok "init --force" "$RUNNEL" security init "$T/ca" --force --name "Test CA" --days 100
cmp -s "$T/ca/ca.crt" "$T/ca.crt.first" && bad "init --force kept the old ca.crt" || ok
grep -q "CA \"Test CA\"" "$T/out" && ok || bad "init --name output: $(cat "$T/out")"
expect_fail "init bad name" 1 "CA name 'a,b'" "$RUNNEL" security init "$T/ca2" --name 'a,b'

# issue: usage errors
expect_fail "issue no dir" 2 "no CA directory given" "$RUNNEL" security issue
expect_fail "issue no role" 2 "--role is required" \
    "$RUNNEL" security issue "$T/ca" --name w1 --out "$T/w1"
expect_fail "issue no name" 2 "--name is required" \
    "$RUNNEL" security issue "$T/ca" --role worker --out "$T/w1"
expect_fail "issue no out" 2 "--out DIR is required" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1
expect_fail "issue bad role" 2 "unknown role 'root': expected scheduler, worker, client or admin" \
    "$RUNNEL" security issue "$T/ca" --role root --name w1 --out "$T/w1"
expect_fail "issue bad days" 2 "--days: expected a number" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1" --days -3
expect_fail "issue host needs value" 2 "--host needs HOST" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1" --host
expect_fail "issue unknown option" 2 "unknown option '--hosts'" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1" --hosts x
# issue: failures
expect_fail "issue bad name" 1 "name 'a b': expected 1 to 64 characters" \
    "$RUNNEL" security issue "$T/ca" --role worker --name 'a b' --out "$T/w1"
expect_fail "issue reserved host" 1 "host 'runnel-scheduler' is reserved" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1" --host runnel-scheduler
expect_fail "issue bad host" 1 "host 'a..b' is neither an IP address nor a DNS name" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1" --host a..b
expect_fail "issue missing CA" 1 "$T/nope/ca.crt: no such file" \
    "$RUNNEL" security issue "$T/nope" --role worker --name w1 --out "$T/w1"
[ ! -e "$T/w1" ] && ok || bad "a refused issue created $T/w1"

# issue for each role
expect_ok "issue scheduler" "$RUNNEL" security issue "$T/ca" --role scheduler \
    --name sched --out "$T/sched" --host 10.0.0.5 --host sched.example.com
expect_ok "issue worker" "$RUNNEL" security issue "$T/ca" --role=worker \
    --name=w1 --out="$T/w1" --host ::1 --days 30
grep -q "^wrote $T/w1/tls.crt (worker w1, valid until 20[0-9-]*)$" "$T/out" && ok ||
    bad "issue output: $(cat "$T/out")"
expect_ok "issue client" "$RUNNEL" security issue "$T/ca" --role client \
    --name alice@example.org --out "$T/alice"
expect_ok "issue admin" "$RUNNEL" security issue "$T/ca" --role admin \
    --name ops --out "$T/ops" --days 1000
grep -q "valid until" "$T/out" && ok || bad "issue admin output: $(cat "$T/out")"
grep -q "warning: the CA expires on" "$T/err" && ok ||
    bad "issue past the CA's end: no warning ($(cat "$T/err"))"
for d in sched w1 alice ops; do
    check "$d dir mode" 700 "$(mode "$T/$d")"
    check "$d tls.key mode" 600 "$(mode "$T/$d/tls.key")"
    check "$d tls.crt mode" 644 "$(mode "$T/$d/tls.crt")"
    check "$d files" "ca.crt tls.crt tls.key" "$(ls "$T/$d" | tr '\n' ' ' | sed 's/ $//')"
    cmp -s "$T/$d/ca.crt" "$T/ca/ca.crt" && ok || bad "$d/ca.crt is not the CA's"
done
expect_fail "issue twice" 1 "already exists (use --force to replace it)" \
    "$RUNNEL" security issue "$T/ca" --role worker --name w1 --out "$T/w1"
expect_ok "issue --force" "$RUNNEL" security issue "$T/ca" --role worker \
    --name w2 --out "$T/w1" --force

# show
expect_ok "show dir" "$RUNNEL" security show "$T/sched"
grep -q "^subject     CN=sched,OU=scheduler,O=runnel$" "$T/out" && ok || bad "show subject: $(cat "$T/out")"
grep -q "^role        scheduler$" "$T/out" && ok || bad "show role"
grep -q "^name        sched$" "$T/out" && ok || bad "show name"
grep -q "^issuer      CN=Test CA,O=runnel$" "$T/out" && ok || bad "show issuer"
grep -q "^serial      [0-9A-F]\{32\}$" "$T/out" && ok || bad "show serial"
grep -q "^not before  20[0-9-]* [0-9:]* UTC$" "$T/out" && ok || bad "show not before"
grep -q "^not after   20[0-9-]* [0-9:]* UTC (in [0-9]* days)$" "$T/out" && ok || bad "show not after"
grep -q "^SANs        DNS:runnel-scheduler, IP:10.0.0.5, DNS:sched.example.com$" "$T/out" && ok ||
    bad "show SANs: $(grep SANs "$T/out")"
grep -q "^ext usage   serverAuth, clientAuth$" "$T/out" && ok || bad "show EKU"
expect_ok "show file" "$RUNNEL" security show "$T/alice/tls.crt"
grep -q "^ext usage   clientAuth$" "$T/out" && ok || bad "show client EKU"
grep -q "^SANs        none$" "$T/out" && ok || bad "show client SANs"
expect_ok "show CA dir" "$RUNNEL" security show "$T/ca"
grep -q "^CA          yes (path length 0)$" "$T/out" && ok || bad "show CA: $(cat "$T/out")"
expect_fail "show missing" 1 "$T/nope.crt: no such file" "$RUNNEL" security show "$T/nope.crt"
expect_fail "show key" 1 "$T/w1/tls.key: not a PEM certificate" "$RUNNEL" security show "$T/w1/tls.key"
expect_fail "show nothing" 2 "no DIR or FILE given" "$RUNNEL" security show
expect_fail "show two" 2 "more than one file given" "$RUNNEL" security show a b

# the openssl command's view of the same files
if command -v openssl >/dev/null 2>&1; then
    for d in sched w1 alice ops; do
        expect_ok "openssl verify $d" openssl verify -CAfile "$T/ca/ca.crt" "$T/$d/tls.crt"
    done
    expect_fail "openssl verify, other CA" 2 "unable to get local issuer certificate" \
        openssl verify -CAfile "$T/ca.crt.first" "$T/w1/tls.crt"
    check "subject RFC 2253" "subject=CN=sched,OU=scheduler,O=runnel" \
        "$(openssl x509 -in "$T/sched/tls.crt" -noout -subject -nameopt RFC2253)"
    check "worker subject" "subject=CN=w2,OU=worker,O=runnel" \
        "$(openssl x509 -in "$T/w1/tls.crt" -noout -subject -nameopt RFC2253)"
    check "client subject" "subject=CN=alice@example.org,OU=client,O=runnel" \
        "$(openssl x509 -in "$T/alice/tls.crt" -noout -subject -nameopt RFC2253)"
    check "CA subject" "subject=CN=Test CA,O=runnel" \
        "$(openssl x509 -in "$T/ca/ca.crt" -noout -subject -nameopt RFC2253)"
    openssl x509 -in "$T/ca/ca.crt" -noout -text >"$T/ca.txt"
    grep -A1 "Basic Constraints: critical" "$T/ca.txt" | grep -q "CA:TRUE, pathlen:0" && ok ||
        bad "CA basicConstraints: $(cat "$T/ca.txt")"
    grep -A1 "Key Usage: critical" "$T/ca.txt" | grep -q "Certificate Sign, CRL Sign" && ok ||
        bad "CA keyUsage"
    openssl x509 -in "$T/w1/tls.crt" -noout -text >"$T/w1.txt"
    grep -q "DNS:runnel-worker$" "$T/w1.txt" && ok ||
        bad "worker SANs: $(grep -A1 Alternative "$T/w1.txt")"
    openssl x509 -in "$T/sched/tls.crt" -noout -text >"$T/sched.txt"
    grep -q "DNS:runnel-scheduler, IP Address:10.0.0.5, DNS:sched.example.com" "$T/sched.txt" && ok ||
        bad "scheduler SANs: $(grep -A1 Alternative "$T/sched.txt")"
    grep -q "TLS Web Server Authentication, TLS Web Client Authentication" "$T/w1.txt" && ok ||
        bad "worker EKU"
    openssl pkey -in "$T/w1/tls.key" -noout -text 2>/dev/null | grep -q "prime256v1\|P-256" && ok ||
        bad "worker key is not P-256"
    # the key matches the certificate
    check "key matches cert" \
        "$(openssl x509 -in "$T/w1/tls.crt" -noout -pubkey)" \
        "$(openssl pkey -in "$T/w1/tls.key" -pubout)"
else
    echo "openssl command not found: skipping the openssl checks" >&2
fi
finish
