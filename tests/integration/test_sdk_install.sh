#!/bin/sh
# A plugin author's path: install the SDK into a prefix, then build the
# word-count plugin out of tree twice — with CMake find_package(runnel) and
# runnel_add_plugin(), and with pkg-config runnel-sdk — and load both.
. "$2/tests/integration/lib.sh"
setup "$@"

P="$T/prefix"
# In a sanitizer build the installed SDK library is instrumented: a plugin
# linked against it needs the same runtime flags (what a user building
# against a sanitized SDK would do too).
SAN=""
if grep -q "^RUNNEL_SANITIZE:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi
expect_ok "cmake --install" cmake --install "$BUILD" --prefix "$P"
[ -f "$P/include/runnel/runnel.h" ] && ok || bad "headers not installed"
ls "$P"/lib*/pkgconfig/runnel-sdk.pc >/dev/null 2>&1 && ok || bad "runnel-sdk.pc not installed"
ls "$P"/lib*/cmake/runnel/runnelConfig.cmake >/dev/null 2>&1 && ok || bad "CMake package not installed"

# CMake, out of tree
expect_ok "cmake configure (find_package)" cmake -S "$SRC/examples/wordcount" -B "$T/b1" \
    -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$SAN" -DCMAKE_MODULE_LINKER_FLAGS="$SAN"
expect_ok "cmake build" cmake --build "$T/b1"
so1=$(find "$T/b1" -name libwords.so | head -1)
expect_ok "inspect cmake-built plugin" "$RUNNEL" plugin inspect "$so1"
grep -q "words.split" "$T/out" && ok || bad "cmake-built plugin lacks words.split"

# pkg-config, out of tree
PCDIR=$(dirname "$(ls "$P"/lib*/pkgconfig/runnel-sdk.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$PCDIR" pkg-config --define-variable=prefix="$P" --cflags --libs runnel-sdk)
expect_ok "cc with pkg-config" cc -shared -O2 $SAN -Wl,-z,defs -o "$T/libwords.so" \
    "$SRC/examples/wordcount/words.c" $flags
expect_ok "inspect pkg-config-built plugin" "$RUNNEL" plugin inspect "$T/libwords.so"
grep -q "words.split" "$T/out" && ok || bad "pkg-config-built plugin lacks words.split"

# and it runs
printf 'Hello world\nhello runnel\n' >"$T/in.txt"
cat >"$T/m.yaml" <<Y
plugins: ["$T/libwords.so"]
source: {read_text: {urls: "$T/in.txt"}}
steps:
  - words.split: {lower: true}
  - frequencies
  - topk: {k: 1, key: 1}
Y
check "out-of-tree plugin runs" '["hello", 2]' "$("$RUNNEL" run "$T/m.yaml" 2>&1)"
finish
