#!/bin/sh
# A client in another language: pyclient.py (Python 3, grpcio, the .proto
# files compiled at run time, partitions encoded and decoded in Python)
# drives a real scheduler and two workers on loopback (ephemeral ports):
# Info, SubmitJob, WatchJob, Worker.FetchPartition, ReleaseJob and clean
# errors for bad requests. No runnel binary runs on the client side.
# Skipped (exit 0) when /usr/bin/python3 lacks grpcio or grpc_tools.
if ! /usr/bin/python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
    echo "SKIP: python3-grpcio / python3-grpc-tools not installed"
    exit 0
fi
. "$2/tests/integration/lib.sh"
setup "$@"
. "$SRC/tests/unit/cluster/fixtures/cluster.sh"

start_scheduler || { finish; exit 1; }
start_worker w1 --nthreads 2 || { finish; exit 1; }
start_worker w2 --nthreads 2 || { finish; exit 1; }

# the client's own deadlines (10 s a call, 120 s for the job) come first;
# timeout(1) is the backstop should Python itself hang
timeout -k 10 300 "$PY" "$SRC/tests/integration/pyclient.py" \
    --scheduler "$SCHED" --workers 2 --worker-names w1,w2 \
    --proto-dir "$SRC/core/transport/proto" >"$T/py.out" 2>&1
rc=$?
cat "$T/py.out"
if [ $rc -eq 0 ]; then ok; else
    bad "pyclient.py: exit $rc$( [ $rc -eq 124 ] && echo ' (timed out)')"
fi

alive "$SPID" && ok || bad "the scheduler died: $(tail -5 "$T/sched.log")"
alive "$PID_w1" && ok || bad "worker w1 died: $(tail -5 "$T/w1.log")"
alive "$PID_w2" && ok || bad "worker w2 died: $(tail -5 "$T/w2.log")"
no_sanitizer_reports
finish
