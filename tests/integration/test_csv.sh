#!/bin/sh
# read_csv and to_csv end to end with the runnel CLI, against Python's csv
# module: tricky files (quotes, delimiters and CR/LF/CRLF inside quotes,
# CRLF rows, empty fields, a byte order mark, unicode, ragged rows, a large
# random file from csv.writer) read for many blocksizes, thread counts and
# workers (local, and a scheduler with two workers) must give exactly
# Python's rows (with read_csv's inference
# applied to Python's strings); a gzipped copy too; read_csv -> to_csv ->
# Python's csv gives the rows back; malformed files fail naming the file
# and the line.
. "$2/tests/integration/lib.sh"
setup "$@"

PY=/usr/bin/python3

# The files, and what Python reads: one JSON line per row (lists: header
# false), and the same rows with the header as records.
"$PY" - "$T" <<'P' || bad "making the files failed"
import csv, io, json, random, sys
d = sys.argv[1]
random.seed(13)

def w(name, data, bom=False):
    b = data.encode("utf-8")
    if bom:
        b = b"\xef\xbb\xbf" + b
    open(f"{d}/{name}", "wb").write(b)

w("quotes.csv", 'id,text,n\r\n1,"a, b",2\r\n2,"say ""hi""",\r\n'
  '3,"line1\nline2\r\nline3\rend",4.5\r\n4,"",""\r\n5,,x\r\n')
w("bom.csv", 'k,v\n1,"é"\n2,日本\n', bom=True)
w("blank.csv", "a,b\n\n1,2\r\n\r\n\n3,4")
w("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
w("spaces.csv", 'a,b\n  x , y \n" q ",\t\n')
w("unicode.csv", 'mot,emoji\n"naïve, ça",🙂\nÅngström,"日本\n語"\n')
w("numbers.csv", "i,f,s\n007,1e3,-\n-12,.5,1e\n+3,5.,0x10\n"
  "9223372036854775807,-0.0,nan\n")

# a large file written by csv.writer: every kind of field
pool = ["", " ", "plain", "a,b", 'q"uote', '""', "multi\nline",
        "cr\rlf\r\n", "naïve", "日本語", "12", "-7", "3.25", "1e-3",
        "007", "x y", "\t", ","]
buf = io.StringIO()
cw = csv.writer(buf, lineterminator="\r\n")
cw.writerow(["c0", "c1", "c2", "c3", "c4"])
for i in range(3000):
    cw.writerow([random.choice(pool) + random.choice(pool)
                 for _ in range(5)])
w("big.csv", buf.getvalue())
P

# What Python's csv reads, with read_csv's inference applied.
cat >"$T/pyread.py" <<'P'
import csv, json, re, sys

INT = re.compile(r"[+-]?[0-9]+\Z")
FLT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")

def infer(s):
    if s == "":
        return None
    if INT.match(s):
        v = int(s)
        if -2**63 <= v < 2**63:
            return v
        return float(s)
    if FLT.match(s):
        return float(s)
    return s

def rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [r for r in csv.reader(f) if r]

if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    rs = rows(path)
    if mode == "lists":
        for r in rs:
            print(json.dumps([infer(x) for x in r], ensure_ascii=False))
    else:
        head = rs[0]
        for r in rs[1:]:
            print(json.dumps({k: infer(v) for k, v in zip(head, r)},
                             ensure_ascii=False))
P

# Compares runnel's JSON lines with Python's, as values.
cat >"$T/same.py" <<'P'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if a != b:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            print(f"row {i}: runnel {x!r} python {y!r}")
            break
    print(f"{len(a)} rows from runnel, {len(b)} from python")
    sys.exit(1)
P

# read_case FILE HEADER BLOCKSIZE RUN-OPTIONS...
read_case() {
    f=$1 h=$2 bs=$3
    shift 3
    cat >"$T/m.yaml" <<EOF
name: csv-read
source:
  read_csv: {urls: "$T/$f", header: $h, blocksize: $bs}
EOF
    if "$RUNNEL" run "$T/m.yaml" --quiet "$@" >"$T/got" 2>"$T/err"; then
        if "$PY" "$T/same.py" "$T/got" "$T/want.$f.$h" >"$T/diff"; then ok
        else bad "read_csv $f header=$h bs=$bs $*: $(cat "$T/diff")"; fi
    else
        bad "read_csv $f header=$h bs=$bs $*: $(head -c 600 "$T/err")"
    fi
}

for f in quotes.csv bom.csv blank.csv ragged.csv spaces.csv unicode.csv \
         numbers.csv big.csv; do
    "$PY" "$T/pyread.py" lists "$T/$f" >"$T/want.$f.false"
    "$PY" "$T/pyread.py" records "$T/$f" >"$T/want.$f.true"
    for bs in 1 2 3 5 8 13 64 1000 64MiB; do
        [ "$f" = big.csv ] && [ "$bs" != 64MiB ] && [ "$bs" != 1000 ] &&
            [ "$bs" != 13 ] && continue
        read_case "$f" false "$bs"
        [ "$f" = ragged.csv ] || read_case "$f" true "$bs"
    done
done
# threads and local workers change nothing
read_case big.csv true 4096 --threads 1
read_case big.csv true 4096 --threads 2 --workers 2
read_case quotes.csv false 3 --threads 1 --workers 3

# a compressed copy is read whole, the same rows
gzip -c "$T/big.csv" >"$T/bigz.csv.gz"
cp "$T/want.big.csv.true" "$T/want.bigz.csv.gz.true"
read_case bigz.csv.gz true 1000

# ---- round trip: read_csv -> to_csv -> Python's csv ---------------------
for bs in 64MiB 5000; do
    rm -rf "$T/rt"
    cat >"$T/rt.yaml" <<EOF
name: csv-round-trip
source:
  read_csv: {urls: "$T/big.csv", blocksize: $bs}
sink:
  to_csv: {path: "$T/rt/part-*.csv"}
EOF
    expect_ok "round trip bs=$bs" "$RUNNEL" run "$T/rt.yaml" --quiet
    "$PY" - "$T/rt" "$T/want.big.csv.true" >"$T/diff" <<'P' ||
import csv, glob, json, os, re, sys
sys.path.insert(0, os.path.dirname(sys.argv[2]))
from pyread import infer
files = sorted(glob.glob(sys.argv[1] + "/part-*.csv"),
               key=lambda p: int(re.search(r"part-(\d+)", p).group(1)))
got = []
for p in files:
    with open(p, newline="", encoding="utf-8") as f:
        rs = list(csv.reader(f))
    head = rs[0]
    got += [{k: infer(v) for k, v in zip(head, r)} for r in rs[1:]]
want = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if got != want:
    print(f"{len(files)} files, {len(got)} rows, want {len(want)}")
    sys.exit(1)
print(len(files))
P
        bad "round trip bs=$bs: $(cat "$T/diff")"
    [ "$bs" = 5000 ] && [ "$(cat "$T/diff")" -lt 2 ] &&
        bad "round trip bs=5000 wrote $(cat "$T/diff") file(s), wanted several"
done

# ---- on a cluster: a scheduler and two workers on loopback ---------------
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"
if start_scheduler && start_worker w1 --nthreads 2 &&
    start_worker w2 --nthreads 2; then
    read_case big.csv true 5000 --scheduler "$SCHED"
    read_case quotes.csv false 3 --scheduler "$SCHED"
    read_case bom.csv true 2 --scheduler "$SCHED"
else
    bad "could not start the cluster"
fi
stop_cluster

# ---- malformed files ----------------------------------------------------
printf 'a,b\n1,2\n3,"open\nstill\n' >"$T/open.csv"
printf 'a,b,c\n1,2,3\n\n"x\ny",5\n' >"$T/short.csv"
for bs in 64MiB 4; do
    cat >"$T/bad.yaml" <<EOF
name: csv-bad
source:
  read_csv: {urls: "$T/open.csv", blocksize: $bs}
EOF
    expect_fail "unterminated bs=$bs" 1 "$T/open.csv: line 3: a quoted field is still open" \
        "$RUNNEL" run "$T/bad.yaml" --quiet
    cat >"$T/bad.yaml" <<EOF
name: csv-bad
source:
  read_csv: {urls: "$T/short.csv", blocksize: $bs}
EOF
    expect_fail "ragged bs=$bs" 1 "$T/short.csv: line 4: a record of 2 fields where there are 3 columns" \
        "$RUNNEL" run "$T/bad.yaml" --quiet
done

no_sanitizer_reports
finish
