#!/bin/sh
# The systemd units in examples/systemd pass `systemd-analyze verify` (with
# ExecStart pointed at the built binary), and the command lines they run
# are ones runnel accepts.
. "$2/tests/integration/lib.sh"
setup "$@"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze is not installed"
    finish
    exit 0
fi
for u in runnel-scheduler runnel-worker; do
    sed "s|/usr/local/bin/runnel|$RUNNEL|" "$SRC/examples/systemd/$u.service" >"$T/$u.service"
    grep -q "^Restart=always" "$T/$u.service" && ok || bad "$u: no Restart=always"
    if systemd-analyze verify "$T/$u.service" >"$T/out" 2>&1; then ok; else
        bad "$u: systemd-analyze verify: $(cat "$T/out")"
    fi
done
# the options the units pass exist
expect_ok "scheduler --help" "$RUNNEL" scheduler --help
for opt in --listen --state-dir; do
    grep -q -- "$opt" "$T/out" && ok || bad "scheduler lacks $opt"
done
expect_ok "worker --help" "$RUNNEL" worker --help
grep -q -- "--local-dir" "$T/out" && ok || bad "worker lacks --local-dir"
finish
