#!/usr/bin/env python3
"""Calls a runnel cluster the way an attacker would, over the raw gRPC API
(python3-grpcio and the .proto files, through pyclient.py's helpers): what
the `runnel` command line would refuse to send is sent anyway, so the
scheduler's and workers' own checks are what is tested.

Each subcommand prints one line, "STATUS details" (STATUS a gRPC status
name, or OK), and exits 0; tests/integration/test_cluster_tls.sh reads
it. Usage:

  attacks.py --scheduler tls://IP:PORT --tls DIR [--proto-dir D] CMD ARGS
    register                    RegisterWorker at a made-up address
    submit                      SubmitJob of a `range` job
    steps N                     SubmitJob of a manifest of N steps
    heartbeat N                 RegisterWorker, then a Heartbeat listing N
                                empty plugins
    uploads N SECONDS           N PushPlugin calls that send nothing, held
                                SECONDS: prints how many were refused at
                                once and how many were held
    job JOB                     GetJob: prints OK and a JSON object of its
                                state, capability and results
    fetch ADDR JOB TASK CAP     Worker.FetchPartition with capability CAP
                                ("-" for none): prints OK and the size
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pyclient  # noqa: E402  (the helpers: protos, channels, codec)


def status(e):
    return "%s %s" % (e.code().name, (e.details() or "").replace("\n", " "))


def main():
    import grpc
    ap = argparse.ArgumentParser()
    ap.add_argument("--scheduler", required=True)
    ap.add_argument("--tls", required=True)
    ap.add_argument("--proto-dir", default=pyclient.DEFAULT_PROTO_DIR)
    ap.add_argument("cmd")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    pyclient.TLS = tuple(open(os.path.join(a.tls, f), "rb").read()
                         for f in ("ca.crt", "tls.key", "tls.crt"))
    pyclient.say = lambda msg: None  # quiet helpers
    with tempfile.TemporaryDirectory(prefix="runnel-attacks-") as gen:
        m = pyclient.load_protos(a.proto_dir, gen)
        sp, cp = m["runnel_scheduler_pb2"], m["runnel_common_pb2"]
        ch = pyclient.channel(pyclient.grpc_target(a.scheduler))
        stub = m["runnel_scheduler_pb2_grpc"].SchedulerStub(ch)
        T = pyclient.CALL_TIMEOUT
        try:
            if a.cmd == "register":
                stub.RegisterWorker(sp.RegisterRequest(
                    protocol=1, address="tls://10.77.1.99:1", nthreads=1,
                    instance="fake-%d" % os.getpid()), timeout=T)
                print("OK registered")
            elif a.cmd == "submit":
                stub.SubmitJob(pyclient.submit_request(
                    sp, pyclient.encode_partition(pyclient.range_splits(10, 1))),
                    timeout=T)
                print("OK submitted")
            elif a.cmd == "steps":
                n = int(a.args[0])
                text = "name: steps\nsource: {range: {n: 10}}\nsteps:\n" + \
                    "  - lower\n" * n
                req = pyclient.submit_request(
                    sp, pyclient.encode_partition(pyclient.range_splits(10, 1)))
                req.manifest = text
                stub.SubmitJob(req, timeout=T)
                print("OK submitted")
            elif a.cmd == "heartbeat":
                rep = stub.RegisterWorker(sp.RegisterRequest(
                    protocol=1, address="tls://10.77.1.98:1", nthreads=1,
                    instance="flood-%d" % os.getpid()), timeout=T)
                hb = sp.HeartbeatRequest(worker_id=rep.worker_id)
                hb.plugins.extend([cp.PluginRef()] * int(a.args[0]))
                stub.Heartbeat(hb, timeout=T)
                print("OK heartbeat accepted")
            elif a.cmd == "uploads":
                n, secs = int(a.args[0]), float(a.args[1])
                stop = threading.Event()

                def idle():  # an upload that never sends a byte
                    stop.wait()
                    return
                    yield

                calls = [stub.PushPlugin.future(idle(), timeout=secs + 30)
                         for _ in range(n)]
                time.sleep(min(secs, 3.0))
                refused = sum(1 for c in calls if c.done() and c.exception()
                              and c.exception().code() ==
                              grpc.StatusCode.RESOURCE_EXHAUSTED)
                print("OK refused=%d held=%d" %
                      (refused, sum(1 for c in calls if not c.done())),
                      flush=True)
                time.sleep(max(0.0, secs - 3.0))
                stop.set()
                for c in calls:
                    c.cancel()
            elif a.cmd == "job":
                ji = stub.GetJob(sp.JobRequest(job_id=a.args[0]), timeout=T)
                print("OK " + json.dumps({
                    "state": ji.state, "owner": ji.owner,
                    "capability": ji.capability,
                    "results": [[r.address, r.task_id] for r in ji.results]}))
            elif a.cmd == "fetch":
                addr, job, task, cap = a.args
                data = pyclient.fetch_partition(
                    m["runnel_worker_pb2"], m["runnel_worker_pb2_grpc"], addr,
                    job, int(task), "" if cap == "-" else cap)
                print("OK %d bytes" % len(data))
            else:
                ap.error("unknown command %r" % a.cmd)
        except grpc.RpcError as e:
            print(status(e))
        finally:
            ch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
