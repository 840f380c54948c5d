#!/bin/sh
# ${VAR} values never show: `runnel lint` and `runnel run` with a variable
# holding a marker string, wrong in every way the manifest module and the
# planner report (a parameter's type and range, a choice, an unknown key,
# an operator, a plugin path, a plugin's own init error): stderr names
# the variable, never the marker; the plan lint prints is named as
# written. Also: the largest manifests allowed lint, one step more is
# refused.
. "$2/tests/integration/lib.sh"
setup "$@"

MARK="s3cr3t-Marker-7f1e"
export RN_IT_SECRET="$MARK"
export RN_IT_NUM="1${MARK}"

# never_shown NAME: the last command's stdout and stderr lack the marker
never_shown() {
    if grep -qF -- "$MARK" "$T/out" "$T/err"; then
        bad "$1: the value is shown: $(cat "$T/out" "$T/err" | head -c 600)"
    else ok; fi
}

# case NAME NEEDLE YAML: lint and run fail, stderr has NEEDLE, no marker
case_fails() {
    cname=$1 needle=$2
    printf '%s\n' "$3" >"$T/m.yaml"
    expect_fail "lint $cname" 1 "$needle" "$RUNNEL" lint "$T/m.yaml"
    never_shown "lint $cname"
    expect_fail "run $cname" 1 "$needle" "$RUNNEL" run --quiet "$T/m.yaml"
    never_shown "run $cname"
}

case_fails "int parameter" "k: expected int, got string '\${RN_IT_SECRET}'" \
'source: {range: {n: 3}}
steps:
  - topk: {k: "${RN_IT_SECRET}"}'
case_fails "range" "expected int, got string '\${RN_IT_NUM}'" \
'source:
  range:
    n: ${RN_IT_NUM}'
case_fails "size" "got string 'x\${RN_IT_SECRET}'" \
'source:
  read_text:
    urls: a.txt
    blocksize: x${RN_IT_SECRET}'
case_fails "unknown key" "unknown parameter '\${RN_IT_SECRET}'" \
'source: {range: {n: 3}}
steps:
  - split: {"${RN_IT_SECRET}": 1}'
case_fails "operator" "invalid operator name '\${RN_IT_SECRET}'" \
'source: {range: {n: 3}}
steps:
  - ${RN_IT_SECRET}'
case_fails "plugin path" "plugin \${RN_IT_SECRET}/lib.so" \
'plugins: ["${RN_IT_SECRET}/lib.so"]
source: {range: {n: 3}}'
case_fails "top-level key" "unknown key '\${RN_IT_SECRET}'" \
'source: {range: {n: 3}}
${RN_IT_SECRET}: 1'

# a plugin's own message (grep's init quotes its pattern): run only
printf '%s\n' 'source: {range: {n: 3}}
steps:
  - json_dump
  - grep: {pattern: "(${RN_IT_SECRET}", regex: true}' >"$T/m.yaml"
expect_fail "run grep init" 1 'bad regex "(${RN_IT_SECRET}"' \
    "$RUNNEL" run --quiet "$T/m.yaml"
never_shown "run grep init"

# a valid manifest: the plan lint prints is named as written
printf '%s\n' 'name: nightly-${RN_IT_SECRET}
source: {range: {n: 3}}' >"$T/m.yaml"
expect_ok "lint name" "$RUNNEL" lint "$T/m.yaml"
grep -qF 'pipeline nightly-${RN_IT_SECRET}: 1 stage' "$T/out" && ok ||
    bad "lint name: $(cat "$T/out")"
never_shown "lint name"

# the most steps allowed lint (quickly: building is linear); one more not
{
    echo 'source: {from_sequence: {items: [Ab]}}'
    echo 'steps:'
    i=0
    while [ $i -lt 10000 ]; do
        echo '  - lower'
        i=$((i + 1))
    done
} >"$T/max.yaml"
expect_ok "lint 10000 steps" "$RUNNEL" lint "$T/max.yaml"
expect_ok "run 10000 steps" "$RUNNEL" run --quiet "$T/max.yaml"
check "run 10000 steps" '"ab"' "$(cat "$T/out")"
echo '  - lower' >>"$T/max.yaml"
expect_fail "lint 10001 steps" 1 "max.yaml:10003:5: steps: more than 10000 steps (the limit)" \
    "$RUNNEL" lint "$T/max.yaml"

finish
