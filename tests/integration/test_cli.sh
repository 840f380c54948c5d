#!/bin/sh
# The runnel command line: help, version, plugin inspect on every shipped
# plugin and refusal of every malformed one.
. "$2/tests/integration/lib.sh"
setup "$@"

expect_ok "--version" "$RUNNEL" --version
grep -q "^runnel 0\." "$T/out" && ok || bad "--version output: $(cat "$T/out")"
expect_ok "--help" "$RUNNEL" --help
for c in run lint plugin scheduler worker info submit jobs status cancel; do
    expect_ok "$c --help" "$RUNNEL" $c --help
done
expect_fail "no command" 2 "usage: runnel" "$RUNNEL"
expect_fail "unknown command" 2 "unknown command 'frobnicate'" "$RUNNEL" frobnicate
expect_fail "run without manifest" 2 "no manifest given" "$RUNNEL" run
expect_fail "run bad option" 2 "unknown option '--frob'" "$RUNNEL" run x.yaml --frob
expect_fail "run bad threads" 2 "--threads: expected a number" "$RUNNEL" run x.yaml --threads zero

# every shipped plugin inspects, in text and JSON
n=0
for so in "$BUILD"/plugins/lib*.so "$BUILD"/examples/*/lib*.so; do
    n=$((n + 1))
    expect_ok "inspect $so" "$RUNNEL" plugin inspect "$so"
    grep -q "^id          sha256:[0-9a-f]\{64\}$" "$T/out" && ok || bad "inspect $so: no id line"
    grep -q "^abi         1\.1" "$T/out" && ok || bad "inspect $so: no abi line"
    expect_ok "inspect --json $so" "$RUNNEL" plugin inspect "$so" --json
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert set(["file", "id", "abi", "name", "version", "operators"]) <= set(d), d.keys()
assert len(d["id"]) == 64 and d["operators"], d
for op in d["operators"]:
    assert op["kind"] in ("source", "map", "flat_map", "filter", "fold", "foldby", "partition", "sink"), op
    for p in op["params"]:
        assert p["type"] in ("bool", "int", "double", "string", "size", "duration", "string_list", "any"), p
' "$T/out" && ok || bad "inspect --json $so: bad JSON"
done
[ "$n" -ge 6 ] && ok || bad "expected at least 6 plugins, found $n"
# the id is the SHA-256 of the file
so="$BUILD/plugins/libagg.so"
"$RUNNEL" plugin inspect "$so" >"$T/out"
check "id = sha256sum" "$(sha256sum "$so" | cut -d' ' -f1)" \
    "$(sed -n 's/^id          sha256://p' "$T/out")"
expect_ok "plugin list" "$RUNNEL" plugin list
grep -q "frequencies" "$T/out" && ok || bad "plugin list lacks frequencies"

# bad plugins: clear message, exit 1, no crash
B="$BUILD/tests/plugins"
printf 'not a plugin\n' >"$T/libtext.so"
expect_fail "not ELF" 1 "not an ELF shared object" "$RUNNEL" plugin inspect "$T/libtext.so"
for z in /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1; do
    if [ -f "$z" ]; then
        expect_fail "libz" 1 "no runnel_plugin_v1 entry function: not a runnel plugin" \
            "$RUNNEL" plugin inspect "$z"
        break
    fi
done
expect_fail "missing" 1 "No such file or directory" "$RUNNEL" plugin inspect "$T/nope.so"
expect_fail "bad magic" 1 "bad descriptor magic" "$RUNNEL" plugin inspect "$B/libbad_magic.so"
expect_fail "abi major" 1 "expected ABI 1.x, got 2.0" "$RUNNEL" plugin inspect "$B/libabi_major.so"
expect_fail "abi minor" 1 "plugin needs ABI 1.2, this runnel provides 1.1" "$RUNNEL" plugin inspect "$B/libabi_minor.so"
expect_fail "unknown kind" 1 "unknown kind 99" "$RUNNEL" plugin inspect "$B/libbad_kind.so"
expect_fail "unknown param type" 1 "unknown type 42" "$RUNNEL" plugin inspect "$B/libbad_ptype.so"
expect_fail "no callback" 1 "has no map callback" "$RUNNEL" plugin inspect "$B/libno_callback.so"
expect_fail "inspect no file" 2 "no plugin file given" "$RUNNEL" plugin inspect

# lint reports every error it finds, each at its place, with "did you mean"
printf 'name: t\nsource: {range: {n: 3, bogus: 1}}\nsteps:\n  - json_pars\n  - agg.cout\n  - topk: {k: x}\n  - count\n  - count\n' >"$T/many.yaml"
expect_fail "lint: every error" 1 "many.yaml:2:24: sources.range: unknown parameter 'bogus'" "$RUNNEL" lint "$T/many.yaml"
grep -qF "many.yaml:4:5: unknown operator 'json_pars' (did you mean 'json_parse'?)" "$T/err" && ok || bad "lint: json_pars: $(cat "$T/err")"
grep -qF "many.yaml:5:5: unknown operator 'agg.cout': plugin 'agg' has no operator 'cout' (did you mean 'agg.count'?)" "$T/err" && ok || bad "lint: agg.cout: $(cat "$T/err")"
grep -qF "many.yaml:6:15: agg.topk: k: expected int" "$T/err" && ok || bad "lint: topk: $(cat "$T/err")"
grep -qF "many.yaml:8:5: 'agg.count' cannot follow 'agg.count'" "$T/err" && ok || bad "lint: count: $(cat "$T/err")"
printf 'name: t\nsource: {range: {n: 3}}\nsteps:\n  - zzzzzz\n' >"$T/far.yaml"
expect_fail "nothing close: no guess" 1 "unknown operator 'zzzzzz'" "$RUNNEL" lint "$T/far.yaml"
grep -q "did you mean" "$T/err" && bad "a guess for zzzzzz: $(cat "$T/err")" || ok
# a bare value goes to the one required (or only) parameter
printf 'name: t\nsource: {from_sequence: {items: [{"u": "a"}, {"u": "b"}]}}\nsteps:\n  - pluck: u\n  - take: 1\n' >"$T/bare.yaml"
expect_ok "bare parameters" "$RUNNEL" run "$T/bare.yaml" --quiet
check "pluck: u, take: 1" '"a"' "$(cat "$T/out")"
printf 'name: t\nsource: {range: {n: 3}}\nsteps:\n  - split: ","\n' >"$T/bare2.yaml"
expect_fail "bare value, no single parameter" 1 "text.split: parameters must be a mapping, got string ','" "$RUNNEL" lint "$T/bare2.yaml"

finish
