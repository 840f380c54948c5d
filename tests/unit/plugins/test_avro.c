/*
 * The avro plugin through the SDK harness: read_avro over files written by
 * independent implementations (python3-avro for null, deflate and bzip2,
 * avro-c's avromod for snappy and lzma, a hand-made spec xz file), every
 * record exactly once whatever the blocksize, the value mapping, bad input
 * (clear errors, no crash), and to_avro read back.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <runnel/harness.h>
#include <runnel/params.h>

#include "testutil.h"

#define PLUGIN RN_TEST_BUILD_DIR "/plugins/libavro.so"

static char *dir;

/* Writes N records of a schema with every Avro type to OUT with CODEC,
 * closing a block every PER records (0: python's own block size). */
static const char gen_py[] =
    "import datetime, json, sys\n"
    "import avro.datafile, avro.io, avro.schema\n"
    "out, codec, n, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), "
    "int(sys.argv[4])\n"
    "ref = {'type': 'record', 'name': 'Ref', 'fields': [\n"
    "  {'name': 'id', 'type': 'int'},\n"
    "  {'name': 'kind', 'type': {'type': 'enum', 'name': 'Kind',\n"
    "                            'symbols': ['A', 'B', 'C']}}]}\n"
    "schema = {'type': 'record', 'name': 'Event', 'namespace': 'test',\n"
    " 'fields': [\n"
    "  {'name': 'id', 'type': 'long'},\n"
    "  {'name': 'user', 'type': 'string'},\n"
    "  {'name': 'size', 'type': 'int'},\n"
    "  {'name': 'score', 'type': 'double'},\n"
    "  {'name': 'ratio', 'type': 'float'},\n"
    "  {'name': 'ok', 'type': 'boolean'},\n"
    "  {'name': 'tags', 'type': {'type': 'array', 'items': 'string'}},\n"
    "  {'name': 'attrs', 'type': {'type': 'map', 'values': 'long'}},\n"
    "  {'name': 'parent', 'type': ['null', ref]},\n"
    "  {'name': 'digest', 'type': {'type': 'fixed', 'name': 'MD', "
    "'size': 4}},\n"
    "  {'name': 'ts', 'type': {'type': 'long', "
    "'logicalType': 'timestamp-millis'}},\n"
    "  {'name': 'note', 'type': ['null', 'string'], 'default': None},\n"
    "  {'name': 'blob', 'type': 'bytes'},\n"
    "  {'name': 'refs', 'type': {'type': 'array', 'items': ['null', "
    "'Ref']}},\n"
    "  {'name': 'nothing', 'type': 'null'}]}\n"
    "s = avro.schema.parse(json.dumps(schema))\n"
    "def rec(i):\n"
    "    return {'id': i, 'user': 'u%d' % (i % 7),\n"
    "            'size': i * 3 % 1000, 'score': i / 4.0,\n"
    "            'ratio': 0.5, 'ok': i % 2 == 0,\n"
    "            'tags': ['t%d' % j for j in range(i % 4)],\n"
    "            'attrs': {'a': i, 'b': -i} if i % 3 else {},\n"
    "            'parent': None if i % 2 else\n"
    "                {'id': i, 'kind': 'ABC'[i % 3]},\n"
    "            'digest': bytes([i & 255, 1, 2, 3]),\n"
    "            'ts': datetime.datetime(2020, 9, 13, 12, 26, 40,\n"
    "                tzinfo=datetime.timezone.utc) +\n"
    "                datetime.timedelta(milliseconds=i),\n"
    "            'note': None if i % 5 else 'note %d' % i,\n"
    "            'blob': b'\\x00\\xff' * (i % 3),\n"
    "            'refs': [None, {'id': 1, 'kind': 'B'}] if i % 4 == 0"
    " else [],\n"
    "            'nothing': None}\n"
    "if codec == 'xz':\n"
    "    # the spec's xz codec (an .xz stream per block, as Java writes\n"
    "    # it): python3-avro lacks it, so the container is made here\n"
    "    import io, lzma, os\n"
    "    f = open(out, 'wb')\n"
    "    e = avro.io.BinaryEncoder(f)\n"
    "    sync = os.urandom(16)\n"
    "    f.write(b'Obj\\x01')\n"
    "    e.write_long(2)\n"
    "    e.write_utf8('avro.schema'); e.write_bytes(json.dumps(schema).encode())\n"
    "    e.write_utf8('avro.codec'); e.write_bytes(b'xz')\n"
    "    e.write_long(0)\n"
    "    f.write(sync)\n"
    "    per = per or n\n"
    "    for lo in range(0, n, per):\n"
    "        b = io.BytesIO()\n"
    "        be = avro.io.BinaryEncoder(b)\n"
    "        for i in range(lo, min(n, lo + per)):\n"
    "            avro.io.DatumWriter(s).write(rec(i), be)\n"
    "        data = lzma.compress(b.getvalue(), format=lzma.FORMAT_XZ)\n"
    "        e.write_long(min(n, lo + per) - lo)\n"
    "        e.write_long(len(data))\n"
    "        f.write(data)\n"
    "        f.write(sync)\n"
    "    f.close()\n"
    "    sys.exit(0)\n"
    "with open(out, 'wb') as f:\n"
    "    w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), s,\n"
    "                                     codec=codec)\n"
    "    for i in range(n):\n"
    "        w.append(rec(i))\n"
    "        if per and (i + 1) % per == 0:\n"
    "            w.sync()\n"
    "    w.close()\n";

static const char *P(const char *name)
{
    static char ring[8][4096];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
    return p;
}

static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static void gen(const char *name, const char *codec, int n, int per)
{
    sh("/usr/bin/python3 %s %s %s %d %d", P("gen.py"), P(name), codec, n,
       per);
}

static int setup(void **state)
{
    (void)state;
    dir = rn_test_tmpdir("avro");
    if (!dir ||
        rn_test_write_file(P("gen.py"), gen_py, sizeof(gen_py) - 1))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rn_test_rmtree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

/* Reads urls with blocksize; returns the finished harness, *rc the
 * result of rn_harness_finish, err its message. */
static rn_harness *run(const char *urls, const char *blocksize, int *rc,
                       char *err, size_t errlen)
{
    char params[4096];
    rn_harness *h;
    snprintf(params, sizeof(params), "{urls: %s, blocksize: %s}", urls,
             blocksize);
    h = rn_harness_new(PLUGIN, "read_avro", params, err, errlen);
    if (!h) {
        *rc = -1;
        return NULL;
    }
    *rc = rn_harness_finish(h);
    snprintf(err, errlen, "%s", rn_harness_error(h));
    return h;
}

static int64_t field_int(const rn_value *rec, const char *name)
{
    const rn_value *v = rn_record_get(rec, name);
    assert_non_null(v);
    assert_int_equal(v->kind, RN_INT);
    return v->u.i;
}

/* Every id in [0, n) exactly once, and the sum of sizes as written. */
static void check_ids(rn_harness *h, int n)
{
    char *seen = calloc((size_t)n, 1);
    int64_t size_sum = 0, want = 0;
    assert_non_null(seen);
    assert_int_equal(rn_harness_count(h), (size_t)n);
    for (size_t i = 0; i < rn_harness_count(h); i++) {
        const rn_value *v = rn_harness_output(h, i);
        int64_t id;
        assert_int_equal(v->kind, RN_RECORD);
        id = field_int(v, "id");
        assert_true(id >= 0 && id < n);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
        size_sum += field_int(v, "size");
    }
    for (int i = 0; i < n; i++)
        want += i * 3 % 1000;
    assert_int_equal(size_sum, want);
    free(seen);
}

static void read_ok(const char *name, const char *blocksize, int n)
{
    char urls[4200], err[1024];
    int rc;
    rn_harness *h;
    snprintf(urls, sizeof(urls), "[\"%s\"]", P(name));
    h = run(urls, blocksize, &rc, err, sizeof(err));
    if (!h || rc != 0)
        fail_msg("%s blocksize %s: %s", name, blocksize, err);
    check_ids(h, n);
    rn_harness_free(h);
}

/* For files to_avro wrote: ids 0..n-1 in order, whatever the blocksize. */
static void read_ok_rows(const char *name, int n)
{
    static const char *const bs[] = {"1", "64", "64MiB"};
    for (size_t k = 0; k < 3; k++) {
        char urls[4200], err[1024];
        int rc;
        rn_harness *h;
        snprintf(urls, sizeof(urls), "[\"%s\"]", P(name));
        h = run(urls, bs[k], &rc, err, sizeof(err));
        if (!h || rc)
            fail_msg("%s: %s", name, err);
        assert_int_equal(rn_harness_count(h), (size_t)n);
        for (int i = 0; i < n; i++)
            assert_int_equal(field_int(rn_harness_output(h, (size_t)i), "id"),
                             i);
        rn_harness_free(h);
    }
}

static const char *const blocksizes[] = {"1", "7", "100", "1000", "4096",
                                         "64MiB"};

static void every_blocksize(const char *name, int n)
{
    for (size_t i = 0; i < sizeof(blocksizes) / sizeof(blocksizes[0]); i++)
        read_ok(name, blocksizes[i], n);
}

static void test_null_codec_blocksizes(void **state)
{
    (void)state;
    gen("null.avro", "null", 500, 7);
    every_blocksize("null.avro", 500);
}

static void test_deflate_codec_blocksizes(void **state)
{
    (void)state;
    gen("deflate.avro", "deflate", 500, 13);
    every_blocksize("deflate.avro", 500);
}

static void test_snappy_and_xz_by_avro_c(void **state)
{
    (void)state;
    gen("src.avro", "null", 800, 0);
    sh("avromod --codec=snappy --block-size=2048 %s %s", P("src.avro"),
       P("snappy.avro"));
    sh("avromod --codec=lzma --block-size=2048 %s %s", P("src.avro"),
       P("xz.avro"));
    sh("avromod --codec=deflate --block-size=100000 %s %s", P("src.avro"),
       P("one.avro"));
    every_blocksize("snappy.avro", 800);
    every_blocksize("xz.avro", 800);
    every_blocksize("one.avro", 800);
}

static void test_bzip2_codec(void **state)
{
    (void)state;
    gen("bzip2.avro", "bzip2", 400, 21);
    every_blocksize("bzip2.avro", 400);
}

static void test_xz_codec_as_the_spec_says(void **state)
{
    (void)state;
    gen("xzspec.avro", "xz", 600, 37);
    every_blocksize("xzspec.avro", 600);
}

/* A block that decompresses to far more than it takes (grows the
 * buffers), with avro-c's lzma and snappy and python's deflate. */
static void test_big_compressible_block(void **state)
{
    (void)state;
    gen("big.avro", "deflate", 20000, 0);
    sh("avromod --codec=lzma --block-size=4000000 %s %s", P("big.avro"),
       P("big-lzma.avro"));
    read_ok("big.avro", "64MiB", 20000);
    read_ok("big-lzma.avro", "64MiB", 20000);
    read_ok("big-lzma.avro", "1000", 20000);
}

static void test_one_block_and_empty(void **state)
{
    char urls[4200], err[1024];
    rn_harness *h;
    int rc;
    (void)state;
    gen("single.avro", "deflate", 1, 0);
    every_blocksize("single.avro", 1);
    gen("empty.avro", "null", 0, 0);
    snprintf(urls, sizeof(urls), "[\"%s\"]", P("empty.avro"));
    h = run(urls, "1", &rc, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(rc, 0);
    assert_int_equal(rn_harness_count(h), 0);
    rn_harness_free(h);
}

static void test_glob_of_files(void **state)
{
    char urls[4200], err[1024];
    rn_harness *h;
    int rc;
    (void)state;
    sh("mkdir -p %s", P("many"));
    gen("many/a.avro", "null", 100, 9);
    gen("many/b.avro", "deflate", 50, 0);
    snprintf(urls, sizeof(urls), "[\"%s/*.avro\"]", P("many"));
    h = run(urls, "200", &rc, err, sizeof(err));
    if (!h || rc)
        fail_msg("%s", err);
    assert_int_equal(rn_harness_count(h), 150);
    rn_harness_free(h);
}

static void test_values(void **state)
{
    char urls[4200], err[1024];
    rn_harness *h;
    int rc;
    const char *json, *first;
    (void)state;
    gen("values.avro", "null", 5, 0);
    snprintf(urls, sizeof(urls), "[\"%s\"]", P("values.avro"));
    h = run(urls, "64MiB", &rc, err, sizeof(err));
    if (!h || rc)
        fail_msg("%s", err);
    json = rn_harness_output_json(h);
    /* record 0: union null-or-Ref holds a Ref, enum as string, fixed and
     * bytes as bytes, logical type as its long, float as double */
    first = "{\"id\": 0, \"user\": \"u0\", \"size\": 0, \"score\": 0.0, "
            "\"ratio\": 0.5, \"ok\": true, \"tags\": [], \"attrs\": {}, "
            "\"parent\": {\"id\": 0, \"kind\": \"A\"}, ";
    if (!strstr(json, "\"parent\": {\"id\": 0, \"kind\": \"A\"}") &&
        !strstr(json, "\"parent\":{\"id\":0,\"kind\":\"A\"}"))
        fail_msg("expected %s... in\n%s", first, json);
    {
        const rn_value *r1 = rn_harness_output(h, 1);
        const rn_value *tags = rn_record_get(r1, "tags");
        const rn_value *attrs = rn_record_get(r1, "attrs");
        const rn_value *parent = rn_record_get(r1, "parent");
        const rn_value *digest = rn_record_get(r1, "digest");
        const rn_value *ratio = rn_record_get(r1, "ratio");
        const rn_value *ts = rn_record_get(r1, "ts");
        const rn_value *ok = rn_record_get(r1, "ok");
        assert_int_equal(tags->kind, RN_LIST);
        assert_int_equal(tags->len, 1);
        assert_int_equal(tags->u.items[0].kind, RN_STRING);
        assert_memory_equal(tags->u.items[0].u.s, "t0", 2);
        assert_int_equal(attrs->kind, RN_RECORD);
        assert_int_equal(attrs->len, 2);
        assert_int_equal(field_int(attrs, "b"), -1);
        assert_int_equal(parent->kind, RN_NULL);
        assert_int_equal(digest->kind, RN_BYTES);
        assert_int_equal(digest->len, 4);
        assert_int_equal(digest->u.bytes[0], 1);
        assert_int_equal(ratio->kind, RN_DOUBLE);
        assert_true(ratio->u.d == 0.5);
        assert_int_equal(ts->kind, RN_INT);
        assert_int_equal(ts->u.i, 1600000000001LL);
        assert_int_equal(ok->kind, RN_BOOL);
        assert_int_equal(ok->u.i, 0);
    }
    {
        const rn_value *r0 = rn_harness_output(h, 0);
        const rn_value *refs = rn_record_get(r0, "refs");
        const rn_value *note = rn_record_get(r0, "note");
        const rn_value *blob = rn_record_get(rn_harness_output(h, 2),
                                             "blob");
        assert_int_equal(refs->kind, RN_LIST);
        assert_int_equal(refs->len, 2);
        assert_int_equal(refs->u.items[0].kind, RN_NULL);
        assert_int_equal(refs->u.items[1].kind, RN_RECORD);
        assert_int_equal(note->kind, RN_STRING);
        assert_int_equal(note->len, 6);
        assert_memory_equal(note->u.s, "note 0", 6);
        assert_int_equal(blob->kind, RN_BYTES);
        assert_int_equal(blob->len, 4);
        assert_memory_equal(blob->u.bytes, "\x00\xff\x00\xff", 4);
    }
    rn_harness_free(h);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                           */

/* Reading name fails, and the message names the file and has needle. */
static void read_fails(const char *name, const char *blocksize,
                       const char *needle)
{
    char urls[4200], err[1024];
    int rc;
    rn_harness *h;
    snprintf(urls, sizeof(urls), "[\"%s\"]", P(name));
    h = run(urls, blocksize, &rc, err, sizeof(err));
    assert_non_null(h);
    if (rc == 0)
        fail_msg("%s: expected an error with '%s', got %zu values", name,
                 needle, rn_harness_count(h));
    if (!strstr(err, P(name)) || !strstr(err, needle))
        fail_msg("%s: expected the path and '%s' in: %s", name, needle,
                 err);
    rn_harness_free(h);
}

static unsigned char *slurp(const char *name, size_t *len)
{
    unsigned char *p = (unsigned char *)rn_test_read_file(P(name), len);
    assert_non_null(p);
    return p;
}

static void put(const char *name, const void *p, size_t len)
{
    assert_int_equal(rn_test_write_file(P(name), p, len), 0);
}

/* Offset of the first block: just after the first copy of the file's
 * sync marker (its last 16 bytes). */
static size_t first_block(const unsigned char *p, size_t len)
{
    const unsigned char *m = memmem(p, len, p + len - 16, 16);
    assert_non_null(m);
    return (size_t)(m - p) + 16;
}

static void test_bad_magic_and_truncated_header(void **state)
{
    unsigned char *p;
    size_t len;
    (void)state;
    put("text.avro", "hello, world\n", 13);
    read_fails("text.avro", "64MiB", "wrong magic");
    put("zero.avro", "", 0);
    read_fails("zero.avro", "64MiB", "byte 0");
    gen("h.avro", "null", 3, 0);
    p = slurp("h.avro", &len);
    put("h-trunc.avro", p, 40);
    read_fails("h-trunc.avro", "64MiB", "truncated Avro header");
    free(p);
}

static void test_truncated_and_corrupt_blocks(void **state)
{
    unsigned char *p, *q;
    size_t len, b;
    char needle[64];
    (void)state;
    gen("t.avro", "null", 200, 20);
    p = slurp("t.avro", &len);
    b = first_block(p, len);
    /* cut in the middle of the last block */
    put("t-cut.avro", p, len - 30);
    read_fails("t-cut.avro", "64MiB", "truncated block");
    read_fails("t-cut.avro", "100", "truncated block");
    /* a block size that is too large: the marker is not where it says */
    q = malloc(len);
    assert_non_null(q);
    memcpy(q, p, len);
    assert_true(q[b] < 0x80 && q[b + 1] >= 0x80); /* count 1 byte */
    q[b + 1] = 0xff;
    q[b + 2] = 0xff;
    q[b + 3] = 0xff;
    q[b + 4] = 0x7f;
    put("t-size.avro", q, len);
    snprintf(needle, sizeof(needle), "byte %zu", b);
    read_fails("t-size.avro", "64MiB", needle);
    /* a negative count */
    memcpy(q, p, len);
    q[b] = 0x01;
    put("t-count.avro", q, len);
    read_fails("t-count.avro", "64MiB", "bad block header");
    /* a string length pointing past the block */
    memcpy(q, p, len);
    q[b + 4] = 0x7f; /* after the first id (1 byte): user length -64 */
    put("t-data.avro", q, len);
    {
        char urls[4200], err[1024];
        int rc;
        rn_harness *h;
        snprintf(urls, sizeof(urls), "[\"%s\"]", P("t-data.avro"));
        h = run(urls, "64MiB", &rc, err, sizeof(err));
        assert_non_null(h);
        assert_int_not_equal(rc, 0);
        assert_non_null(strstr(err, P("t-data.avro")));
        assert_non_null(strstr(err, "byte "));
        rn_harness_free(h);
    }
    free(q);
    free(p);
}

static void test_bad_compressed_data(void **state)
{
    unsigned char *p;
    size_t len, b;
    (void)state;
    gen("d.avro", "deflate", 300, 50);
    p = slurp("d.avro", &len);
    b = first_block(p, len);
    memset(p + b + 4, 0xff, 12);
    put("d-bad.avro", p, len);
    read_fails("d-bad.avro", "64MiB", "block");
    free(p);

    gen("s0.avro", "null", 300, 0);
    sh("avromod --codec=snappy --block-size=4096 %s %s", P("s0.avro"),
       P("s.avro"));
    p = slurp("s.avro", &len);
    b = first_block(p, len);
    p[b + 40] ^= 0x55; /* the data no longer matches its CRC */
    put("s-bad.avro", p, len);
    read_fails("s-bad.avro", "64MiB", "block");
    free(p);
}

/* Every byte of a small file set to a few values: an error or values,
 * never a crash (run under ASan in CI). */
static void test_every_byte_corrupted(void **state)
{
    unsigned char *p, *q;
    size_t len;
    static const unsigned char vals[] = {0x00, 0x7f, 0xff};
    (void)state;
    gen("f.avro", "deflate", 12, 4);
    p = slurp("f.avro", &len);
    q = malloc(len);
    assert_non_null(q);
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof(vals); k++) {
            char urls[4200], err[1024];
            int rc;
            rn_harness *h;
            memcpy(q, p, len);
            q[i] = vals[k];
            put("f-x.avro", q, len);
            snprintf(urls, sizeof(urls), "[\"%s\"]", P("f-x.avro"));
            h = run(urls, i % 2 ? "64MiB" : "50", &rc, err, sizeof(err));
            assert_non_null(h);
            if (rc)
                assert_non_null(strstr(err, P("f-x.avro")));
            rn_harness_free(h);
        }
    free(q);
    free(p);
}


/* ------------------------------------------------------------------ */
/* to_avro                                                             */

static const char sink_schema[] =
    "{\"type\": \"record\", \"name\": \"Row\", \"fields\": ["
    "{\"name\": \"id\", \"type\": \"long\"},"
    "{\"name\": \"name\", \"type\": \"string\"},"
    "{\"name\": \"score\", \"type\": \"double\"},"
    "{\"name\": \"tags\", \"type\": {\"type\": \"array\", \"items\": "
    "\"string\"}},"
    "{\"name\": \"attrs\", \"type\": {\"type\": \"map\", \"values\": "
    "\"int\"}},"
    "{\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"K\", "
    "\"symbols\": [\"A\", \"B\"]}},"
    "{\"name\": \"inner\", \"type\": [\"null\", {\"type\": \"record\", "
    "\"name\": \"In\", \"fields\": [{\"name\": \"x\", \"type\": "
    "\"int\"}]}]},"
    "{\"name\": \"note\", \"type\": [\"null\", \"string\"]}]}";

/* Writes n rows through to_avro with codec into out-*.avro (schema inline
 * or, with from_file, from a file); returns rn_harness_finish's result. */
static int write_rows(const char *codec, int n, int from_file, int bad_at,
                      char *err, size_t errlen)
{
    char params[8192], row[512];
    rn_harness *h;
    int rc = 0;
    if (from_file) {
        assert_int_equal(rn_test_write_file(P("row.avsc"), sink_schema,
                                            sizeof(sink_schema) - 1),
                         0);
        snprintf(params, sizeof(params),
                 "{path: \"%s\", schema: \"%s\", codec: %s, "
                 "block_size: 100}",
                 P("out-*.avro"), P("row.avsc"), codec);
    } else {
        snprintf(params, sizeof(params),
                 "{path: \"%s\", schema: '%s', codec: %s, block_size: 100}",
                 P("out-*.avro"), sink_schema, codec);
    }
    h = rn_harness_new(PLUGIN, "to_avro", params, err, errlen);
    if (!h)
        fail_msg("to_avro: %s", err);
    for (int i = 0; i < n && rc == 0; i++) {
        if (i == bad_at)
            snprintf(row, sizeof(row),
                     "{\"id\": %d, \"name\": \"n\", \"score\": 1, "
                     "\"tags\": [], \"attrs\": {}, \"kind\": \"A\", "
                     "\"inner\": {\"x\": \"not an int\"}}", i);
        else
            snprintf(row, sizeof(row),
                     "{\"id\": %d, \"name\": \"n%d\", \"score\": %d.5, "
                     "\"tags\": [\"a\", \"b%d\"], \"attrs\": {\"k\": %d}, "
                     "\"kind\": \"%s\", \"inner\": %s%s}",
                     i, i, i, i, i, i % 2 ? "B" : "A",
                     i % 3 ? "null" : "{\"x\": 7}",
                     i % 4 ? "" : ", \"note\": \"hi\"");
        rc = rn_harness_push_json(h, row);
    }
    if (rc == 0)
        rc = rn_harness_finish(h);
    snprintf(err, errlen, "%s", rn_harness_error(h));
    rn_harness_free(h);
    return rc;
}

static void test_to_avro_read_by_python(void **state)
{
    static const char *const codecs[] = {"null", "deflate", "bzip2"};
    char err[1024];
    (void)state;
    for (size_t c = 0; c < 3; c++) {
        if (write_rows(codecs[c], 300, c == 1, -1, err, sizeof(err)))
            fail_msg("to_avro %s: %s", codecs[c], err);
        /* python3-avro reads every row back as written */
        sh("/usr/bin/python3 -c \""
           "import avro.datafile, avro.io\n"
           "r = avro.datafile.DataFileReader(open('%s', 'rb'), "
           "avro.io.DatumReader())\n"
           "rows = list(r)\n"
           "assert len(rows) == 300, len(rows)\n"
           "for i, x in enumerate(rows):\n"
           "    assert x['id'] == i and x['name'] == 'n%%d' %% i, x\n"
           "    assert x['score'] == i + 0.5 and x['tags'] == ['a', 'b%%d' %% i]\n"
           "    assert x['attrs'] == {'k': i} and x['kind'] == 'AB'[i %% 2]\n"
           "    assert x['inner'] == (None if i %% 3 else {'x': 7}), x\n"
           "    assert x['note'] == (None if i %% 4 else 'hi'), x\n"
           "\"",
           P("out-0.avro"));
        /* and read_avro too */
        read_ok_rows("out-0.avro", 300);
    }
}

static void test_to_avro_snappy_xz_read_back(void **state)
{
    static const char *const codecs[] = {"snappy", "xz", "lzma"};
    char err[1024];
    (void)state;
    for (size_t c = 0; c < 3; c++) {
        if (write_rows(codecs[c], 500, 0, -1, err, sizeof(err)))
            fail_msg("to_avro %s: %s", codecs[c], err);
        read_ok_rows("out-0.avro", 500);
        if (c != 1) /* avro-c reads snappy and its own lzma */
            sh("test \"$(avrocat %s | wc -l)\" = 500", P("out-0.avro"));
    }
}

static void test_to_avro_bad_value_names_the_field(void **state)
{
    char err[1024];
    (void)state;
    sh("rm -f %s", P("out-0.avro"));
    assert_int_not_equal(write_rows("deflate", 20, 0, 5, err, sizeof(err)),
                         0);
    if (!strstr(err, "inner.x") || !strstr(err, "int"))
        fail_msg("expected the field inner.x in: %s", err);
    /* nothing was published */
    sh("test ! -e %s", P("out-0.avro"));
}

/* Varints: the decoder reads short ones a word at a time, the last bytes
 * of a block and 9- and 10-byte ones byte by byte; all must agree with
 * the spec. A file of longs (null codec, one block) holds canonical
 * encodings of every bit length, padded (non-canonical) ones up to 10
 * bytes and 10-byte ones with bits beyond 64, at every distance from the
 * block's end; each value must come out as the reference decodes it. */
typedef struct vbuf {
    unsigned char p[1 << 16];
    size_t len;
} vbuf;

static void vb_byte(vbuf *b, unsigned c)
{
    assert_true(b->len < sizeof(b->p));
    b->p[b->len++] = (unsigned char)c;
}

/* The zig-zag varint of v, padded to at least `width` bytes. */
static void vb_long(vbuf *b, int64_t v, int width)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    int n = 0;
    while (z >= 0x80 || n + 1 < width) {
        vb_byte(b, (unsigned)(z & 0x7f) | 0x80);
        z >>= 7;
        n++;
    }
    vb_byte(b, (unsigned)z);
}

/* The spec's decoding (up to 10 bytes; bits past 64 are dropped). */
static int64_t ref_long(const unsigned char *p, size_t *pos)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        unsigned char c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
    }
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* An Avro file with schema "long", null codec, one block of count
 * values whose encodings are data[0, len). */
static void write_longs(const char *name, const vbuf *data, size_t count)
{
    static const unsigned char sync[16] = "0123456789abcdef";
    vbuf *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    memcpy(f->p, "Obj\x01\x02\x16" "avro.schema\x0c\"long\"\x00", 25);
    f->len = 25;
    memcpy(f->p + f->len, sync, 16);
    f->len += 16;
    vb_long(f, (int64_t)count, 0);
    vb_long(f, (int64_t)data->len, 0);
    assert_true(f->len + data->len + 16 <= sizeof(f->p));
    memcpy(f->p + f->len, data->p, data->len);
    f->len += data->len;
    memcpy(f->p + f->len, sync, 16);
    f->len += 16;
    put(name, f->p, f->len);
    free(f);
}

static void test_varints(void **state)
{
    vbuf *b = calloc(1, sizeof(*b));
    int64_t *want = calloc(4096, sizeof(*want));
    size_t n = 0, pos = 0;
    char urls[4200], err[1024];
    rn_harness *h;
    int rc;
    (void)state;
    assert_non_null(b);
    assert_non_null(want);
    for (int bits = 0; bits < 64; bits++) {
        /* in unsigned arithmetic: at bit 63, -x would overflow */
        uint64_t u = (uint64_t)1 << bits;
        int64_t vals[6] = {(int64_t)u,       (int64_t)(0 - u),
                           (int64_t)(u - 1), (int64_t)(1 - u),
                           (int64_t)(u + 3), (int64_t)(0 - u - 3)};
        for (int k = 0; k < 6; k++)
            for (int width = 0; width <= 10; width += 3) {
                vb_long(b, vals[k], width);
                n++;
            }
    }
    vb_long(b, INT64_MAX, 0);
    vb_long(b, INT64_MIN, 0);
    n += 2;
    /* 10 bytes, the last with bits past 64 set (dropped) */
    for (unsigned last = 0; last < 0x80; last += 0x15) {
        for (int i = 0; i < 9; i++)
            vb_byte(b, i & 1 ? 0xff : 0x81);
        vb_byte(b, last);
        n++;
    }
    /* the end of the block at every distance from a long varint */
    for (int k = 0; k < 12; k++) {
        vb_long(b, k & 1 ? -1234567890123LL : 7, k % 3 ? 0 : 9);
        n++;
    }
    for (size_t i = 0; i < n; i++)
        want[i] = ref_long(b->p, &pos);
    assert_int_equal(pos, b->len);
    write_longs("longs.avro", b, n);
    snprintf(urls, sizeof(urls), "[\"%s\"]", P("longs.avro"));
    h = run(urls, "64MiB", &rc, err, sizeof(err));
    if (!h || rc)
        fail_msg("longs.avro: %s", err);
    assert_int_equal(rn_harness_count(h), n);
    for (size_t i = 0; i < n; i++) {
        const rn_value *v = rn_harness_output(h, i);
        assert_int_equal(v->kind, RN_INT);
        if (v->u.i != want[i])
            fail_msg("value %zu: got %lld, want %lld", i, (long long)v->u.i,
                     (long long)want[i]);
    }
    rn_harness_free(h);

    /* 11 bytes: refused; a varint cut by the block's end: refused */
    b->len = 0;
    vb_long(b, 5, 0);
    for (int i = 0; i < 10; i++)
        vb_byte(b, 0x80);
    vb_byte(b, 0x00);
    vb_long(b, 5, 0);
    write_longs("long11.avro", b, 3);
    read_fails("long11.avro", "64MiB", "longer than 10 bytes");
    b->len = 0;
    vb_long(b, 5, 0);
    vb_byte(b, 0x80);
    vb_byte(b, 0x80);
    write_longs("longcut.avro", b, 2);
    read_fails("longcut.avro", "64MiB", "data ends inside a number");
    free(want);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_codec_blocksizes),
        cmocka_unit_test(test_deflate_codec_blocksizes),
        cmocka_unit_test(test_snappy_and_xz_by_avro_c),
        cmocka_unit_test(test_bzip2_codec),
        cmocka_unit_test(test_xz_codec_as_the_spec_says),
        cmocka_unit_test(test_big_compressible_block),
        cmocka_unit_test(test_one_block_and_empty),
        cmocka_unit_test(test_glob_of_files),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bad_magic_and_truncated_header),
        cmocka_unit_test(test_truncated_and_corrupt_blocks),
        cmocka_unit_test(test_bad_compressed_data),
        cmocka_unit_test(test_every_byte_corrupted),
        cmocka_unit_test(test_to_avro_read_by_python),
        cmocka_unit_test(test_to_avro_snappy_xz_read_back),
        cmocka_unit_test(test_to_avro_bad_value_names_the_field),
        cmocka_unit_test(test_varints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
