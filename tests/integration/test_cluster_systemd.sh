#!/bin/sh
# The systemd units in examples/systemd pass `systemd-analyze verify` (with
# ExecStart pointed at the built binary) without a warning about them,
# are sandboxed (`systemd-analyze security --offline=true` rates each at
# most 3.0), keep their key in a credential only the service reads, and
# the command lines they run are ones runnel accepts.
. "$2/tests/integration/lib.sh"
setup "$@"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed"
    finish
    exit 0
fi
offline=1
if ! systemd-analyze --help 2>&1 | grep -q -- "--offline"; then
    echo "SKIP (exposure): systemd-analyze security lacks --offline" \
        "($(systemd-analyze --version | head -n 1))"
    offline=0
fi
for u in runnel-scheduler runnel-worker; do
    sed "s|/usr/local/bin/runnel|$RUNNEL|" "$SRC/examples/systemd/$u.service" >"$T/$u.service"
    grep -q "^Restart=always" "$T/$u.service" && ok || bad "$u: no Restart=always"
    # unknown keys and bad values are only warnings: they name the file
    if systemd-analyze verify "$T/$u.service" >"$T/out" 2>&1 &&
        ! grep -q "$u.service:" "$T/out"; then ok; else
        bad "$u: systemd-analyze verify: $(cat "$T/out")"
    fi
    if [ "$offline" = 1 ]; then
        systemd-analyze security --offline=true --no-pager "$T/$u.service" \
            >"$T/sec" 2>&1
        x=$(sed -n 's/.*Overall exposure level for [^:]*: *\([0-9][0-9.]*\).*/\1/p' "$T/sec")
        if [ -z "$x" ]; then
            bad "$u: no exposure level in: $(tail -n 5 "$T/sec")"
        elif awk -v x="$x" 'BEGIN { exit !(x <= 3.0) }'; then
            ok
            echo "$u: exposure $x"
        else
            bad "$u: exposure $x > 3.0; unset:" \
                "$(grep '✗' "$T/sec" | awk '{ print $2 }' | head -n 12 | tr '\n' ' ')"
        fi
    fi
    # the key reaches runnel as a credential: --tls names their directory
    for c in ca.crt tls.crt tls.key; do
        grep -q "^LoadCredential=$c:/etc/runnel/" "$T/$u.service" && ok ||
            bad "$u: no LoadCredential=$c"
    done
    # ExecStart as one line, continuations joined
    awk '/^ExecStart=/ { on = 1 }
         on { l = $0; sub(/\\$/, "", l); printf "%s", l; if ($0 !~ /\\$/) exit }' \
        "$T/$u.service" >"$T/$u.exec"
    grep -q -- " --tls %d" "$T/$u.exec" && ok || bad "$u: no --tls %d"
done

# the worker reaches RUNNEL_DATA through --allow-path, and may write its
# default (systemd expands no variable in ReadWritePaths=)
grep -q -- ' --allow-path ${RUNNEL_DATA}' "$T/runnel-worker.exec" && ok ||
    bad "worker: no --allow-path \${RUNNEL_DATA}: $(cat "$T/runnel-worker.exec")"
data=$(sed -n 's/^Environment=RUNNEL_DATA=//p' "$T/runnel-worker.service")
if [ -n "$data" ] &&
    grep "^ReadWritePaths=" "$T/runnel-worker.service" | tr ' =' '\n\n' |
    grep -qx -- "-\{0,1\}$data"; then ok; else
    bad "worker: RUNNEL_DATA=$data is not in ReadWritePaths="
fi

# the options the units pass exist (--tls and --allow-path with the
# mutual-TLS work), and every option of ExecStart is among them
has_opt() { grep -Eq -- "(^|[^-[:alnum:]])$1([^-[:alnum:]]|\$)" "$2"; }
check_opts() {
    role=$1
    shift
    expect_ok "$role --help" "$RUNNEL" "$role" --help
    cp "$T/out" "$T/$role.help"
    for opt in "$@"; do
        has_opt "$opt" "$T/$role.help" && ok || bad "$role lacks $opt"
    done
    for opt in $(grep -o -- ' --[a-z][-a-z]*' "$T/runnel-$role.exec"); do
        case " $* " in
        *" $opt "*) ok ;;
        *) bad "runnel-$role.service passes $opt: add it to the list" ;;
        esac
    done
}
check_opts scheduler --listen --state-dir --tls
check_opts worker --local-dir --tls --allow-path
finish
