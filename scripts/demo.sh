#!/bin/sh
# The README's first command ends here: generate a corpus (once) and count
# its words on the embedded local cluster.
set -eu
BUILD=${1:-build}
SIZE=${DEMO_SIZE:-64MiB}
CORPUS=corpus/corpus-$SIZE.txt
mkdir -p corpus
if [ ! -s "$CORPUS" ]; then
    echo "generating $CORPUS ..." >&2
    "$BUILD/bench/gen_corpus" "$SIZE" "$CORPUS" >&2
fi
export RUNNEL_BUILD_DIR="$BUILD" CORPUS
echo "\$ runnel run examples/wordcount/wordcount.yaml    # top 10 words of $CORPUS"
"$BUILD/runnel" run examples/wordcount/wordcount.yaml
echo "\$ runnel run examples/wordcount/distinct.yaml     # distinct words"
"$BUILD/runnel" run examples/wordcount/distinct.yaml
