#!/usr/bin/python3
"""A runnel client in Python: proof that the public protocol is enough.

Nothing of runnel runs on this side. The .proto files (package runnel.v1,
docs/PROTOCOL.md) are compiled with grpc_tools.protoc into a temporary
directory at run time; partitions are encoded and decoded here following
docs/ENCODING.md, CRC32C included. Against a running scheduler it

  1. calls Scheduler.Info and checks the scheduler_info() shape: type, id,
     address, services, started and the workers, each identified by its
     "tcp://IP:PORT" address (and that address really serves Worker);
  2. submits `range(n=1000, npartitions=4) | sum` exactly as the C client
     fills SubmitJobRequest (re-emitted manifest, one StageSpec per stage,
     split_every, the splits as one encoded partition), follows it with
     WatchJob, fetches the result partition from the worker named in
     JobInfo.results with Worker.FetchPartition, decodes it and checks
     499500; then releases the job;
  3. checks that bad requests (unknown or garbage job ids, another protocol
     major, corrupted splits, an unknown method) get a clean gRPC status
     at once and leave the scheduler answering.

Usage: pyclient.py --scheduler tcp://HOST:PORT [--workers N]
                   [--worker-names a,b] [--proto-dir DIR]
Exits 0 when every check passed, 1 otherwise (2 on bad usage).
Run it with /usr/bin/python3 (Debian's python3-grpcio, python3-grpc-tools).
"""

import argparse
import importlib
import ipaddress
import os
import re
import socket
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "core",
                                                  "transport", "proto"))
CALL_TIMEOUT = 10.0          # seconds, every unary call
JOB_TIMEOUT = 120.0          # seconds, the whole job, WatchJob included
MAX_MSG = 64 * 1024 * 1024   # PROTOCOL.md: each side accepts up to 64 MiB

FAILURES = []
WARNINGS = []


def say(msg):
    print("pyclient: " + msg, flush=True)


def check(cond, what):
    if cond:
        say("ok   " + what)
    else:
        say("FAIL " + what)
        FAILURES.append(what)
    return cond


class Fatal(Exception):
    """A failure after which the remaining steps make no sense."""


def require(cond, what):
    if not check(cond, what):
        raise Fatal(what)


# ---------------------------------------------------------------- CRC32C
# Castagnoli, reflected polynomial 0x82F63B78, init and final xor
# 0xFFFFFFFF (docs/ENCODING.md, "Checksum"), one table lookup per byte.

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = CRC32C_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------- codec
# docs/ENCODING.md, version 1.0.

MAGIC = b"\x89RNP"
HEADER = 16
TRAILER = 4
T_NULL, T_BOOL, T_INT, T_DOUBLE, T_STRING, T_BYTES, T_LIST, T_RECORD = range(8)
MAX_DEPTH = 64


class Record(list):
    """A record value: its (name, value) fields in order (duplicates kept)."""


class CodecError(Exception):
    pass


def put_varint(out, u):
    if u < 0 or u >= 1 << 64:
        raise CodecError("varint out of range: %d" % u)
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)


def zigzag(i):
    if not -(1 << 63) <= i < (1 << 63):
        raise CodecError("int out of the int64 range: %d" % i)
    return ((i << 1) ^ (i >> 63)) & 0xFFFFFFFFFFFFFFFF


def unzigzag(u):
    return (u >> 1) ^ -(u & 1)


def put_bytes(out, b):
    put_varint(out, len(b))
    out += b


def put_value(out, v, depth=0):
    if depth > MAX_DEPTH:
        raise CodecError("nested deeper than %d" % MAX_DEPTH)
    if v is None:
        out.append(T_NULL)
    elif isinstance(v, bool):
        out += bytes((T_BOOL, 1 if v else 0))
    elif isinstance(v, int):
        out.append(T_INT)
        put_varint(out, zigzag(v))
    elif isinstance(v, float):
        out.append(T_DOUBLE)
        out += struct.pack("<d", v)
    elif isinstance(v, str):
        out.append(T_STRING)
        put_bytes(out, v.encode("utf-8"))
    elif isinstance(v, (bytes, bytearray)):
        out.append(T_BYTES)
        put_bytes(out, bytes(v))
    elif isinstance(v, Record) or isinstance(v, dict):
        fields = list(v) if isinstance(v, Record) else list(v.items())
        out.append(T_RECORD)
        put_varint(out, len(fields))
        for name, fv in fields:
            put_bytes(out, name.encode("utf-8"))
            put_value(out, fv, depth + 1)
    elif isinstance(v, (list, tuple)):
        out.append(T_LIST)
        put_varint(out, len(v))
        for item in v:
            put_value(out, item, depth + 1)
    else:
        raise CodecError("cannot encode a %s" % type(v).__name__)


def encode_partition(values):
    """The encoding of a partition holding values (a list)."""
    body = bytearray()
    put_varint(body, len(values))
    for v in values:
        put_value(body, v)
    out = bytearray(MAGIC)
    out += bytes((1, 0))                     # version 1.0
    out += struct.pack("<H", 0)              # flags
    out += struct.pack("<Q", len(body))
    out += body
    out += struct.pack("<I", crc32c(out))
    return bytes(out)


class _Reader:
    def __init__(self, buf, pos, end):
        self.buf, self.pos, self.end = buf, pos, end

    def fail(self, msg, at=None):
        raise CodecError("bad encoded partition at byte offset %d: %s"
                         % (self.pos if at is None else at, msg))

    def left(self):
        return self.end - self.pos

    def byte(self):
        if self.pos >= self.end:
            self.fail("truncated value")
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        if n > self.left():
            self.fail("length of %d but only %d bytes are left" % (n, self.left()))
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def varint(self):
        start, u, shift = self.pos, 0, 0
        for i in range(10):
            b = self.byte()
            if i == 9 and b > 0x01:
                self.fail("varint overflows 64 bits", start)
            u |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if i > 0 and b == 0:
                    self.fail("non-minimal varint", start)
                return u
        self.fail("varint longer than 10 bytes", start)

    def count(self, min_each, what):
        at = self.pos
        n = self.varint()
        if n >= 1 << 32:
            self.fail("%s of %d is past the limit" % (what, n), at)
        if n * min_each > self.left():
            self.fail("%s of %d but only %d bytes are left"
                      % (what, n, self.left()), at)
        return n

    def value(self, depth):
        if depth > MAX_DEPTH:
            self.fail("nested deeper than %d" % MAX_DEPTH)
        at = self.pos
        tag = self.byte()
        if tag == T_NULL:
            return None
        if tag == T_BOOL:
            b = self.byte()
            if b > 1:
                self.fail("bool byte %d" % b, at + 1)
            return b == 1
        if tag == T_INT:
            return unzigzag(self.varint())
        if tag == T_DOUBLE:
            return struct.unpack("<d", self.take(8))[0]
        if tag == T_STRING:
            return self.take(self.count(1, "string length")).decode("utf-8", "replace")
        if tag == T_BYTES:
            return self.take(self.count(1, "bytes length"))
        if tag == T_LIST:
            n = self.count(1, "list length")
            return [self.value(depth + 1) for _ in range(n)]
        if tag == T_RECORD:
            n = self.count(2, "record field count")
            rec = Record()
            for _ in range(n):
                name = self.take(self.count(1, "field name length")).decode("utf-8", "replace")
                rec.append((name, self.value(depth + 1)))
            return rec
        self.fail("unknown value tag 0x%02x" % tag, at)


def decode_partition(buf):
    """The values of one encoded partition, checked as rn_codec_decode does."""
    buf = bytes(buf)
    r = _Reader(buf, 0, len(buf))
    for i, m in enumerate(MAGIC):
        if i >= len(buf):
            r.fail("truncated header", i)
        if buf[i] != m:
            r.fail("not an encoded partition (bad magic)", i)
    if len(buf) < 5:
        r.fail("truncated header", len(buf))
    if buf[4] != 1:
        r.fail("expected encoding version 1, got %d" % buf[4], 4)
    if len(buf) < HEADER:
        r.fail("truncated header", len(buf))
    flags = struct.unpack_from("<H", buf, 6)[0]
    if flags:
        r.fail("unknown flags 0x%04x" % flags, 6)
    blen = struct.unpack_from("<Q", buf, 8)[0]
    if HEADER + blen + TRAILER > len(buf):
        r.fail("truncated: body of %d bytes, %d given"
               % (blen, len(buf) - HEADER - TRAILER), 8)
    if HEADER + blen + TRAILER < len(buf):
        r.fail("%d bytes of trailing data" % (len(buf) - HEADER - blen - TRAILER),
               HEADER + blen + TRAILER)
    stored = struct.unpack_from("<I", buf, HEADER + blen)[0]
    computed = crc32c(buf[:HEADER + blen])
    if stored != computed:
        r.fail("checksum mismatch (stored 0x%08x, computed 0x%08x): the data is "
               "corrupted" % (stored, computed), HEADER + blen)
    r = _Reader(buf, HEADER, HEADER + blen)
    n = r.count(1, "element count")
    values = [r.value(0) for _ in range(n)]
    if r.pos != r.end:
        r.fail("%d bytes after the last element" % r.left())
    return values


# The example of docs/ENCODING.md, byte for byte.
DOC_EXAMPLE = bytes.fromhex(
    "89524e5001000000" "2200000000000000" "04"
    "0602" "0403746865" "02d496fd03"
    "0701" "0475736572" "040178"
    "0201" "03000000000000f03f" "f2dbc561")
DOC_EXAMPLE_VALUES = [["the", 4171178], Record([("user", "x")]), -1, 1.0]

# What `runnel submit` sends as `splits` for range(n=1000, npartitions=4)
# (captured once from the C client): the codec is canonical, so ours must
# be the same bytes.
C_CLIENT_SPLITS = bytes.fromhex(
    "89524e50010000004c000000000000000407020573746172740200047374"
    "6f7002f403070205737461727402f4030473746f7002e807070205737461"
    "727402e8070473746f7002dc0b070205737461727402dc0b0473746f7002"
    "d00f0f7751f8")


def codec_self_test():
    check(crc32c(b"123456789") == 0xE3069283,
          "CRC32C check value crc32c('123456789') = 0xE3069283")
    enc = encode_partition(DOC_EXAMPLE_VALUES)
    check(enc == DOC_EXAMPLE, "encoder reproduces the 58-byte example of "
          "docs/ENCODING.md (got %s)" % enc.hex())
    check(decode_partition(DOC_EXAMPLE) == DOC_EXAMPLE_VALUES,
          "decoder reads the docs/ENCODING.md example back")
    check(encode_partition([]) == MAGIC + b"\x01\x00\x00\x00" + struct.pack("<Q", 1)
          + b"\x00" + struct.pack("<I", crc32c(MAGIC + b"\x01\x00\x00\x00"
                                               + struct.pack("<Q", 1) + b"\x00"))
          and len(encode_partition([])) == 21, "an empty partition is 21 bytes")
    for v in (0, -1, 1, (1 << 63) - 1, -(1 << 63), 300, -300):
        check(decode_partition(encode_partition([v])) == [v],
              "int %d round-trips (zigzag varint)" % v)
    bad = bytearray(DOC_EXAMPLE)
    bad[20] ^= 0x01
    try:
        decode_partition(bytes(bad))
        check(False, "a flipped bit is caught by the CRC")
    except CodecError as e:
        check("checksum mismatch" in str(e), "a flipped bit is caught by the CRC (%s)" % e)
    v2 = bytearray(DOC_EXAMPLE)
    v2[4] = 2
    try:
        decode_partition(bytes(v2))
        check(False, "version 2 is refused")
    except CodecError as e:
        check("expected encoding version 1, got 2" in str(e), "version 2 is refused (%s)" % e)


# ---------------------------------------------------------------- protos

def load_protos(proto_dir, out_dir):
    from grpc_tools import protoc
    import grpc_tools
    files = sorted(f for f in os.listdir(proto_dir) if f.endswith(".proto"))
    if not files:
        raise Fatal("no .proto files in %s" % proto_dir)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["grpc_tools.protoc", "-I" + proto_dir, "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir]
    if os.path.isdir(include):
        args.append("-I" + include)
    rc = protoc.main(args + [os.path.join(proto_dir, f) for f in files])
    if rc != 0:
        raise Fatal("grpc_tools.protoc failed on %s (exit %d)" % (proto_dir, rc))
    sys.path.insert(0, out_dir)
    mods = {}
    for name in ("runnel_common_pb2", "runnel_scheduler_pb2",
                 "runnel_scheduler_pb2_grpc", "runnel_worker_pb2",
                 "runnel_worker_pb2_grpc"):
        mods[name] = importlib.import_module(name)
    say("compiled %s from %s" % (", ".join(files), proto_dir))
    return mods


# ---------------------------------------------------------------- helpers

ADDR_RE = re.compile(r"^(?:tcp|tls)://(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]+)$")
# (ca.crt, tls.key, tls.crt) bytes with --tls DIR: every channel is then
# mutual TLS, checking the DNS name of the server's role
# (docs/SECURITY.md) instead of the address dialled
TLS = None


def parse_address(addr):
    """tcp://IP:PORT (or tls://) -> (ip, port) or None; the IP must be literal."""
    m = ADDR_RE.match(addr or "")
    if not m:
        return None
    host = m.group(1) or m.group(2)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    port = int(m.group(3))
    if not 0 < port < 65536:
        return None
    return host, port


def grpc_target(addr):
    host, port = parse_address(addr)
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def channel(target, peer_name="runnel-scheduler"):
    import grpc
    options = [
        ("grpc.max_receive_message_length", MAX_MSG),
        ("grpc.max_send_message_length", MAX_MSG),
        ("grpc.enable_http_proxy", 0),
    ]
    if TLS is None:
        return grpc.insecure_channel(target, options=options)
    creds = grpc.ssl_channel_credentials(root_certificates=TLS[0],
                                         private_key=TLS[1],
                                         certificate_chain=TLS[2])
    return grpc.secure_channel(target, creds, options=options + [
        ("grpc.ssl_target_name_override", peer_name)])


def rpc_error(call, *args, **kw):
    """Runs call; returns (None, grpc.RpcError) on failure, (reply, None)."""
    import grpc
    try:
        return call(*args, **kw), None
    except grpc.RpcError as e:
        return None, e


def expect_status(what, want, needle, call, *args, **kw):
    """call must fail quickly with status want (a set) and needle in details."""
    import grpc
    t0 = time.monotonic()
    try:
        reply = call(*args, **kw)
        if hasattr(reply, "__next__"):   # a server stream: drain it
            reply = list(reply)
    except grpc.RpcError as e:
        took = time.monotonic() - t0
        code, details = e.code(), e.details() or ""
        good = code in want and needle in details and took < CALL_TIMEOUT / 2
        check(good, "%s: %s '%s' in %.2fs (wanted %s%s)"
              % (what, code.name, details, took,
                 "/".join(sorted(c.name for c in want)),
                 ", '%s'" % needle if needle else ""))
        return e
    check(False, "%s: succeeded (%r), wanted %s" % (what, reply,
                                                     "/".join(c.name for c in want)))
    return None


def fetch_partition(pb, wpb_grpc, addr, job_id, task_id, capability="",
                    limit=1 << 34):
    """FetchPartition from the worker at addr, with the chunk rules of
    docs/PROTOCOL.md; returns the bytes. Raises grpc.RpcError or Fatal."""
    ch = channel(grpc_target(addr), "runnel-worker")
    try:
        stub = wpb_grpc.WorkerStub(ch)
        req = pb.FetchPartitionRequest(job_id=job_id, task_id=task_id,
                                       capability=capability)
        buf, total = bytearray(), None
        for c in stub.FetchPartition(req, timeout=30):
            if total is None:
                total = c.total
                if total > limit:
                    raise Fatal("partition of %d bytes is over the limit" % total)
            if c.total != total:
                raise Fatal("chunk repeats total %d, the first said %d" % (c.total, total))
            if c.offset != len(buf):
                raise Fatal("chunk at offset %d, expected %d" % (c.offset, len(buf)))
            if len(c.data) > 1 << 20:
                raise Fatal("chunk of %d bytes (> 1 MiB)" % len(c.data))
            if c.offset + len(c.data) > total:
                raise Fatal("chunk runs past total %d" % total)
            buf += c.data
        if total is None or len(buf) != total:
            raise Fatal("truncated stream: got %d of %s bytes" % (len(buf), total))
        return bytes(buf)
    finally:
        ch.close()


# ---------------------------------------------------------------- steps

def step_info(m, stub, args):
    sp = m["runnel_scheduler_pb2"]
    say("== Info")
    t0 = time.time()
    info = stub.Info(sp.InfoRequest(), timeout=CALL_TIMEOUT)
    present = {f.name for f, _ in info.ListFields()}
    for k in ("type", "id", "address", "services", "started", "workers"):
        check(k in present, "Info carries '%s'" % k)
    check(info.type == "Scheduler", "type is 'Scheduler' (%r)" % info.type)
    check(info.id.startswith("Scheduler-"), "id looks like Scheduler-… (%r)" % info.id)
    check(parse_address(info.address) is not None,
          "address is tcp://IP:PORT (%r)" % info.address)
    _, sched_port = parse_address(args.scheduler) or (None, None)
    services = {s.name: s.port for s in info.services}
    check(len(services) >= 1 and all(p > 0 for p in services.values()),
          "services name ports (%s)" % services)
    check(services.get("grpc") == sched_port,
          "services['grpc'] is the port we called (%s vs %s)" % (services.get("grpc"), sched_port))
    check(0 < info.started <= t0 + 5 and info.started > t0 - 86400,
          "started is a recent Unix time (%.3f)" % info.started)
    workers = {}
    for w in info.workers:
        check(parse_address(w.address) is not None,
              "worker address %r is tcp://IP:PORT" % w.address)
        check(w.address not in workers, "worker address %r is unique" % w.address)
        workers[w.address] = w
    check(len(workers) >= args.workers,
          "at least %d workers (%d: %s)" % (args.workers, len(workers), sorted(workers)))
    for addr, w in sorted(workers.items()):
        check(w.id != "" and w.name != "" and w.nthreads > 0 and w.HasField("tasks")
              and w.last_seen > info.started - 1 and w.status in ("running", "retiring"),
              "worker %s: id %r, name %r, nthreads %d, status %r, last_seen %.3f"
              % (addr, w.id, w.name, w.nthreads, w.status, w.last_seen))
        check(any(p.name == "agg" for p in w.plugins) and
              any(p.name == "sources" for p in w.plugins),
              "worker %s has the agg and sources plugins loaded" % addr)
    if args.worker_names:
        want = sorted(args.worker_names.split(","))
        check(sorted(w.name for w in workers.values()) == want,
              "worker names %s" % want)
    # each address really is a Worker service: a partition it does not hold
    # is NOT_FOUND (not UNAVAILABLE, not UNIMPLEMENTED)
    import grpc
    for addr in sorted(workers):
        try:
            fetch_partition(m["runnel_worker_pb2"], m["runnel_worker_pb2_grpc"],
                            addr, "j-nope", 1)
            check(False, "worker %s serves a partition of job j-nope?" % addr)
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.NOT_FOUND,
                  "worker %s answers FetchPartition(j-nope): %s '%s'"
                  % (addr, e.code().name, e.details()))
    return info, workers


MANIFEST = ('# sent by tests/integration/pyclient.py\n'
            'name: "pyclient-sum"\n'
            'source: {range: {n: 1000, npartitions: 4}}\n'
            'steps: [sum]\n')


def range_splits(n, nparts):
    """The splits the range source plans (plugins/sources: seq_plan)."""
    size, extra, start, out = n // nparts, n % nparts, 0, []
    for i in range(nparts):
        stop = start + size + (1 if i < extra else 0)
        out.append(Record([("start", start), ("stop", stop)]))
        start = stop
    return out


def submit_request(sp, splits, protocol=1, name="pyclient-sum"):
    stage = sp.StageSpec(terminal=sp.TERMINAL_FOLD, commutative=True,
                         ops=["sources.range", "agg.sum"], user_ops=[False, False])
    return sp.SubmitJobRequest(
        protocol=protocol, name=name, manifest=MANIFEST, stages=[stage],
        split_every=8, splits=splits,
        client="pyclient@%s" % socket.gethostname(), detached=False)


def step_job(m, stub, workers):
    import grpc
    sp = m["runnel_scheduler_pb2"]
    say("== SubmitJob: range(n=1000, npartitions=4) | sum")
    splits = encode_partition(range_splits(1000, 4))
    check(splits == C_CLIENT_SPLITS,
          "our splits are byte for byte those the C client sends")
    check(decode_partition(splits) == range_splits(1000, 4), "our splits decode back")
    req = submit_request(sp, splits)
    rep = stub.SubmitJob(req, timeout=CALL_TIMEOUT)
    job = rep.job_id
    require(re.match(r"^j-[0-9a-f]+$", job) is not None, "job id %r" % job)

    say("== WatchJob %s (deadline %.0fs)" % (job, JOB_TIMEOUT))
    states, last = [], None
    stream = stub.WatchJob(sp.JobRequest(job_id=job), timeout=JOB_TIMEOUT)
    try:
        for ji in stream:
            last = ji
            name = sp.JobState.Name(ji.state)
            if not states or states[-1] != name:
                states.append(name)
                say("     %s %s %d/%d tasks" % (ji.job_id, name, ji.tasks_done,
                                                 ji.tasks_total))
    except grpc.RpcError as e:
        stream.cancel()
        raise Fatal("WatchJob %s: %s '%s'" % (job, e.code().name, e.details()))
    require(last is not None, "WatchJob sent the job's state")
    require(last.state == sp.JOB_DONE, "the job ends done (%s, error %r)"
            % (sp.JobState.Name(last.state), last.error))
    check(last.job_id == job and last.name == "pyclient-sum" and
          last.client == req.client,
          "JobInfo names the job, its name and client (%r %r %r)"
          % (last.job_id, last.name, last.client))
    # 4 source tasks, then one FINISH merging their 4 partials (<= split_every)
    check(last.tasks_total == 5 and last.tasks_done == 5,
          "tasks %d/%d, expected 5/5" % (last.tasks_done, last.tasks_total))
    require(len(last.results) == 1, "one result partition (%d)" % len(last.results))
    r = last.results[0]
    check(r.address in workers, "the result is on a worker Info listed (%s)" % r.address)

    got, err = rpc_error(stub.GetJob, sp.JobRequest(job_id=job), timeout=CALL_TIMEOUT)
    check(err is None and got.state == sp.JOB_DONE and list(got.results) == list(last.results),
          "GetJob agrees with WatchJob's final state")
    jobs, err = rpc_error(stub.ListJobs, sp.ListJobsRequest(), timeout=CALL_TIMEOUT)
    check(err is None and any(j.job_id == job for j in jobs.jobs), "ListJobs lists it")

    say("== FetchPartition %s/%d from %s" % (job, r.task_id, r.address))
    wpb, wgrpc = m["runnel_worker_pb2"], m["runnel_worker_pb2_grpc"]
    # the job's capability came with its results (64 hex digits); a fetch
    # without it, or with another, is refused
    check(re.match(r"^[0-9a-f]{64}$", last.capability or "") is not None,
          "JobInfo.capability is 64 hex digits (%r)" % last.capability)
    for bad_cap in ("", "0" * 64):
        try:
            fetch_partition(wpb, wgrpc, r.address, job, r.task_id, bad_cap)
            check(False, "FetchPartition with capability %r succeeded" % bad_cap)
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.PERMISSION_DENIED and
                  "capability" in (e.details() or ""),
                  "FetchPartition with capability %r: %s '%s'"
                  % (bad_cap, e.code().name, e.details()))
    try:
        data = fetch_partition(wpb, wgrpc, r.address, job, r.task_id,
                               last.capability)
    except grpc.RpcError as e:
        raise Fatal("FetchPartition: %s '%s'" % (e.code().name, e.details()))
    # ResultRef.bytes is the partition's in-memory size on the worker (a
    # locality weight, runnel_scheduler.proto), never less than its items
    check(r.bytes >= 16 * r.items, "ResultRef.bytes %d covers %d items" % (r.bytes, r.items))
    try:
        values = decode_partition(data)
    except CodecError as e:
        raise Fatal("the result does not decode: %s (%s)" % (e, data[:64].hex()))
    check(len(values) == r.items, "%d items, ResultRef says %d" % (len(values), r.items))
    check(values == [499500], "sum(range(1000)) = 499500 (got %r)" % (values,))

    say("== ReleaseJob %s" % job)
    rel, err = rpc_error(stub.ReleaseJob, sp.JobRequest(job_id=job), timeout=CALL_TIMEOUT)
    check(err is None and rel.job_id == job,
          "ReleaseJob answers (%s)" % (err.code().name if err else "ok"))
    # the workers drop the job's partitions (forget_job, or at the latest
    # the next heartbeat's list of jobs to keep)
    deadline, code = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        try:
            fetch_partition(wpb, wgrpc, r.address, job, r.task_id)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
            if e.code() == grpc.StatusCode.NOT_FOUND:
                break
        time.sleep(0.2)
    check(code == "NOT_FOUND", "after ReleaseJob the worker no longer serves "
          "the result (%s)" % code)
    return job


def step_errors(m, stub, sched_ch, job):
    import grpc
    sp = m["runnel_scheduler_pb2"]
    SC = grpc.StatusCode
    say("== bad requests get a clean status at once")
    req = sp.JobRequest(job_id="j-nope")
    expect_status("GetJob j-nope", {SC.NOT_FOUND}, "unknown job 'j-nope'",
                  stub.GetJob, req, timeout=CALL_TIMEOUT)
    expect_status("WatchJob j-nope", {SC.NOT_FOUND}, "unknown job 'j-nope'",
                  stub.WatchJob, req, timeout=CALL_TIMEOUT)
    expect_status("CancelJob j-nope", {SC.NOT_FOUND}, "unknown job 'j-nope'",
                  stub.CancelJob, req, timeout=CALL_TIMEOUT)
    expect_status("ReleaseJob j-nope", {SC.NOT_FOUND}, "unknown job 'j-nope'",
                  stub.ReleaseJob, req, timeout=CALL_TIMEOUT)
    expect_status("ReportMissing j-nope", {SC.NOT_FOUND}, "unknown job",
                  stub.ReportMissing,
                  sp.ReportMissingRequest(job_id="j-nope", task_id=1,
                                          address="tcp://127.0.0.1:1"),
                  timeout=CALL_TIMEOUT)
    # an id too long for a JobRequest is refused by the bounds on requests
    clean = {SC.NOT_FOUND, SC.INVALID_ARGUMENT, SC.RESOURCE_EXHAUSTED}
    for what, jid in (("an empty job id", ""),
                      ("a job id of 100000 bytes", "j-" + "x" * 100000),
                      ("a job id with format directives", "%s%n%x%s%n"),
                      ("a job id with NUL and non-ASCII", "j-\x00\u00e9\U0001F600"),
                      ("a job id one char off", job[:-1] + ("0" if job[-1] != "0" else "1"))):
        expect_status("GetJob with %s" % what, clean, "",
                      stub.GetJob, sp.JobRequest(job_id=jid), timeout=CALL_TIMEOUT)
    # a SubmitJobRequest from another protocol major; corrupted splits
    splits = encode_partition(range_splits(1000, 4))
    expect_status("SubmitJob protocol 2", {SC.FAILED_PRECONDITION},
                  "protocol version 2 is not supported",
                  stub.SubmitJob, submit_request(sp, splits, protocol=2),
                  timeout=CALL_TIMEOUT)
    bad = bytearray(splits)
    bad[20] ^= 0x40
    expect_status("SubmitJob with a corrupted split", {SC.INVALID_ARGUMENT},
                  "checksum mismatch",
                  stub.SubmitJob, submit_request(sp, bytes(bad)), timeout=CALL_TIMEOUT)
    # bytes that are not a SubmitJobRequest at all
    raw = sched_ch.unary_unary("/runnel.v1.Scheduler/SubmitJob",
                               request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    expect_status("SubmitJob with garbage bytes", {SC.INVALID_ARGUMENT}, "malformed",
                  raw, b"\xff\xff\xff\xff\x0f garbage", timeout=CALL_TIMEOUT)
    nope = sched_ch.unary_unary("/runnel.v1.Scheduler/NoSuchMethod",
                                request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    expect_status("an unknown method", {SC.UNIMPLEMENTED}, "", nope, b"",
                  timeout=CALL_TIMEOUT)
    info, err = rpc_error(stub.Info, sp.InfoRequest(), timeout=CALL_TIMEOUT)
    check(err is None and info.type == "Scheduler", "the scheduler still answers Info")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scheduler", required=True, help="tcp://IP:PORT")
    ap.add_argument("--workers", type=int, default=1,
                    help="at least this many workers must be registered")
    ap.add_argument("--worker-names", default="",
                    help="comma-separated names the workers must have")
    ap.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    ap.add_argument("--tls", default="",
                    help="DIR with ca.crt, tls.crt, tls.key of a client: "
                         "mutual TLS (the scheduler's address is tls://)")
    args = ap.parse_args()
    if parse_address(args.scheduler) is None:
        ap.error("--scheduler must be tcp://IP:PORT or tls://IP:PORT, got %r"
                 % args.scheduler)
    if args.tls:
        global TLS
        TLS = tuple(open(os.path.join(args.tls, f), "rb").read()
                    for f in ("ca.crt", "tls.key", "tls.crt"))
    try:
        grpc = importlib.import_module("grpc")
        importlib.import_module("grpc_tools.protoc")
    except ImportError as e:
        say("FAIL cannot import grpc / grpc_tools (%s): run with /usr/bin/python3 "
            "(python3-grpcio, python3-grpc-tools)" % e)
        return 1

    say("== codec self-test (docs/ENCODING.md)")
    codec_self_test()
    with tempfile.TemporaryDirectory(prefix="runnel-pyclient-") as gen:
        ch = None
        try:
            m = load_protos(args.proto_dir, gen)
            ch = channel(grpc_target(args.scheduler))
            try:
                grpc.channel_ready_future(ch).result(timeout=CALL_TIMEOUT)
            except grpc.FutureTimeoutError:
                raise Fatal("cannot reach %s within %.0fs" % (args.scheduler, CALL_TIMEOUT))
            stub = m["runnel_scheduler_pb2_grpc"].SchedulerStub(ch)
            info, workers = step_info(m, stub, args)
            job = step_job(m, stub, workers)
            step_errors(m, stub, ch, job)
        except Fatal as e:
            if str(e) not in FAILURES:
                say("FAIL " + str(e))
                FAILURES.append(str(e))
        except Exception as e:  # a gRPC error where none was expected, a bug here
            import traceback
            traceback.print_exc()
            msg = "unexpected %s: %s" % (type(e).__name__, e)
            say("FAIL " + msg)
            FAILURES.append(msg)
        finally:
            if ch is not None:
                ch.close()
    for w in WARNINGS:
        say("warning: " + w)
    if FAILURES:
        say("%d check(s) failed:" % len(FAILURES))
        for f in FAILURES:
            say("  - " + f)
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
