# Shared by the integration tests (POSIX sh). Usage in a test:
#   . "$SRC/tests/integration/lib.sh"; setup "$@"
# then check / expect_ok / expect_fail, and finish at the end.
set -u
PASSED=0
FAILED=0

setup() {
    BUILD=$(cd "$1" && pwd)
    SRC=$(cd "$2" && pwd)
    RUNNEL="$BUILD/runnel"
    export RUNNEL_PLUGIN_PATH="$BUILD/plugins"
    export RUNNEL_BUILD_DIR="$BUILD"
    T=$(mktemp -d "${TMPDIR:-/tmp}/runnel-it-XXXXXX")
    trap 'rm -rf "$T"' EXIT
    cd "$SRC"
}

ok() { PASSED=$((PASSED + 1)); }
bad() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $*" >&2
}

# expect_ok NAME CMD...: exit 0
expect_ok() {
    name=$1
    shift
    if "$@" >"$T/out" 2>"$T/err"; then ok; else
        bad "$name: exit $? (stderr: $(head -c 600 "$T/err"))"
    fi
}

# expect_fail NAME STATUS NEEDLE CMD...: exits with STATUS and stderr
# contains NEEDLE
expect_fail() {
    name=$1 want=$2 needle=$3
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        bad "$name: exit $got, wanted $want (stderr: $(head -c 600 "$T/err"))"
    elif ! grep -qF -- "$needle" "$T/err"; then
        bad "$name: stderr lacks '$needle': $(head -c 600 "$T/err")"
    elif grep -q "AddressSanitizer\|runtime error" "$T/err"; then
        bad "$name: sanitizer report: $(head -c 600 "$T/err")"
    else ok; fi
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok; else
        bad "$1: expected [$2], got [$3]"
    fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
