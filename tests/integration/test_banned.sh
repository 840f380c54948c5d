#!/bin/sh
# Functions that invite overflows or hide errors never appear in runnel's
# C (git's and curl's banned.h, as a source check): strcpy, strcat,
# sprintf, vsprintf, strtok, atoi, atol, atoll, gets. Use the bounded or
# checked forms (snprintf, rn_buf, strtok_r, strtol with errno).
. "$2/tests/integration/lib.sh"
setup "$@"
hits=$(grep -rnE '(^|[^_a-zA-Z0-9])(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets)[[:space:]]*\(' \
    core plugins sdk examples tests/unit tests/fuzz --include='*.c' --include='*.h' || true)
if [ -n "$hits" ]; then
    bad "banned functions used:
$hits"
else
    ok
fi
finish
