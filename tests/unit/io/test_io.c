/* The I/O layer: listing, ranged reads, decompression, atomic writers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "io/io.h"
#include "testutil.h"

static char *dir; /* per-test scratch directory */

static int setup(void **state)
{
    dir = rn_test_tmpdir("io");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    rn_test_rmtree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

/* dir + "/" + name, in a static ring so a test can hold a few. */
static const char *P(const char *name)
{
    static char ring[8][4096];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, sizeof(ring[0]), "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    assert_int_equal(rn_test_write_file(P(name), text, strlen(text)), 0);
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

/* Reads a whole stream in odd-sized pieces. Returns the rn_err (0 on
 * success); *out is malloc'd. */
static int slurp(const char *url, uint64_t off, uint64_t len, uint32_t flags,
                 char **out, size_t *n, rn_errbuf *err)
{
    struct rn_stream *s = NULL;
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    int rc = rn_io_open_url(url, off, len, flags, &s, err);
    while (rc == 0) {
        if (cap - have < 7777) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        int64_t k = rn_io_stream_read(s, buf + have, 7777, err);
        if (k < 0)
            rc = (int)k;
        else if (k == 0)
            break;
        else
            have += (size_t)k;
    }
    rn_io_stream_close(s);
    buf[have] = '\0';
    *out = buf;
    *n = have;
    return rc;
}

/* Some text: `lines` numbered lines (JSON lines when json). */
static char *make_text(int lines, int json, size_t *len)
{
    size_t cap = (size_t)lines * 64 + 1, n = 0;
    char *t = malloc(cap);
    for (int i = 0; i < lines; i++)
        n += (size_t)snprintf(t + n, cap - n,
                              json ? "{\"id\":%d,\"w\":\"x%d\"}\n"
                                   : "line %d of the test text\n",
                              i, i * 7);
    *len = n;
    return t;
}

/* ------------------------------------------------------------------ */

static void test_list_file(void **state)
{
    rn_arena a;
    rn_io_entry *e;
    size_t n;
    rn_errbuf err = {0};
    char url[4200];

    rn_arena_init(&a, 0);
    put("one.txt", "hello\n");
    assert_int_equal(rn_io_list_urls(&a, P("one.txt"), &e, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].url, P("one.txt"));
    assert_int_equal(e[0].size, 6);
    assert_int_equal(e[0].compressed, 0);
    assert_int_equal(e[0].ranged, 1);

    put("two.json.GZ", "x");
    assert_int_equal(rn_io_list_urls(&a, P("two.json.GZ"), &e, &n, &err), 0);
    assert_int_equal(e[0].compressed, 1);

    /* file:// keeps its spelling */
    snprintf(url, sizeof(url), "file://%s", P("one.txt"));
    assert_int_equal(rn_io_list_urls(&a, url, &e, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].url, url);
    snprintf(url, sizeof(url), "file://localhost%s", P("one.txt"));
    assert_int_equal(rn_io_list_urls(&a, url, &e, &n, &err), 0);
    assert_int_equal(rn_io_list_urls(&a, "file://relative.txt", &e, &n, &err),
                     RN_EINVAL);
    rn_arena_release(&a);
}

static void test_list_glob_and_dir(void **state)
{
    rn_arena a;
    rn_io_entry *e;
    size_t n;
    rn_errbuf err = {0};
    char url[4200];

    rn_arena_init(&a, 0);
    put("c.txt", "ccc");
    put("a.txt", "a");
    put("b.txt", "bb");
    put("b.log", "no");
    put(".hidden.txt", "no");
    assert_int_equal(mkdir(P("d.txt"), 0777), 0); /* a directory: skipped */

    assert_int_equal(rn_io_list_urls(&a, P("*.txt"), &e, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].url, P("a.txt"));
    assert_string_equal(e[1].url, P("b.txt"));
    assert_string_equal(e[2].url, P("c.txt"));
    assert_int_equal(e[0].size, 1);
    assert_int_equal(e[2].size, 3);

    snprintf(url, sizeof(url), "file://%s", P("?.txt"));
    assert_int_equal(rn_io_list_urls(&a, url, &e, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_non_null(strstr(e[1].url, "file:///"));

    /* a directory lists its regular files, hidden ones and subdirs not */
    assert_int_equal(rn_io_list_urls(&a, dir, &e, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].url, P("a.txt"));
    assert_string_equal(e[1].url, P("b.log"));

    /* an empty directory is no match */
    assert_int_equal(rn_io_list_urls(&a, P("d.txt"), &e, &n, &err),
                     RN_ENOTFOUND);
    rn_arena_release(&a);
}

static void test_list_errors(void **state)
{
    rn_arena a;
    rn_io_entry *e;
    size_t n;
    rn_errbuf err = {0};
    char want[4200];

    rn_arena_init(&a, 0);
    assert_int_equal(rn_io_list_urls(&a, P("*.nothing"), &e, &n, &err),
                     RN_ENOTFOUND);
    snprintf(want, sizeof(want), "no file matches '%s'", P("*.nothing"));
    assert_string_equal(err.msg, want);

    assert_int_equal(rn_io_list_urls(&a, P("missing.txt"), &e, &n, &err),
                     RN_ENOTFOUND);
    snprintf(want, sizeof(want), "%s: No such file or directory",
             P("missing.txt"));
    assert_string_equal(err.msg, want);

    /* s3:// and http(s):// work (tests/integration/test_s3.sh); without
     * credentials s3:// says what to set, before any request. */
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(rn_io_list_urls(&a, "s3://bucket/key*.gz", &e, &n, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "set AWS_ACCESS_KEY_ID"));
    assert_int_equal(rn_io_list_urls(&a, "gopher://x/y", &e, &n, &err),
                     RN_EINVAL);
    assert_non_null(strstr(err.msg, "unknown URL scheme 'gopher'"));
    rn_arena_release(&a);
}

static void test_ranged_reads(void **state)
{
    char *b;
    size_t n;
    rn_errbuf err = {0};

    put("r.txt", "0123456789");
    assert_int_equal(slurp(P("r.txt"), 3, 4, 0, &b, &n, &err), 0);
    assert_string_equal(b, "3456");
    free(b);
    assert_int_equal(slurp(P("r.txt"), 8, UINT64_MAX, 0, &b, &n, &err), 0);
    assert_string_equal(b, "89");
    free(b);
    assert_int_equal(slurp(P("r.txt"), 0, UINT64_MAX, 0, &b, &n, &err), 0);
    assert_string_equal(b, "0123456789");
    free(b);
    assert_int_equal(slurp(P("r.txt"), 20, 5, 0, &b, &n, &err), 0);
    assert_int_equal(n, 0);
    free(b);

    assert_int_equal(slurp(P("nope.txt"), 0, 5, 0, &b, &n, &err),
                     RN_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope.txt: No such file or directory"));
    free(b);
    assert_int_equal(slurp(dir, 0, 5, 0, &b, &n, &err), RN_EIO);
    assert_non_null(strstr(err.msg, "Is a directory"));
    free(b);
    /* decompression reads whole objects only */
    assert_int_equal(slurp(P("r.txt"), 1, 5, RN_IO_DECOMPRESS, &b, &n, &err),
                     RN_EINVAL);
    free(b);
}

/* Compresses `name` with the command-line tool, then reads it back
 * decoded, both under its own name and under a name without extension. */
static void check_codec(const char *tool, const char *ext, rn_io_codec want)
{
    size_t len, n;
    char *text = make_text(50000, 0, &len), *b;
    char name[64], bare[64];
    rn_errbuf err = {0};

    snprintf(name, sizeof(name), "in.txt%s", ext);
    snprintf(bare, sizeof(bare), "in-%s", ext + 1);
    assert_int_equal(rn_test_write_file(P("in.txt"), text, len), 0);
    sh("%s -c < %s > %s", tool, P("in.txt"), P(name));
    sh("cp %s %s", P(name), P(bare));

    {
        char head[RN_IO_MAGIC_MAX];
        FILE *f = fopen(P(name), "rb");
        assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
        fclose(f);
        assert_int_equal(rn_io_codec_from_magic(head, sizeof(head)), want);
        assert_int_equal(rn_io_codec_from_name(name), want);
    }

    assert_int_equal(slurp(P(name), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                           &err),
                     0);
    assert_int_equal(n, len);
    assert_memory_equal(b, text, len);
    free(b);
    assert_int_equal(slurp(P(bare), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                           &err),
                     0);
    assert_int_equal(n, len);
    assert_memory_equal(b, text, len);
    free(b);
    /* without the flag: the raw bytes */
    assert_int_equal(slurp(P(name), 0, UINT64_MAX, 0, &b, &n, &err), 0);
    assert_true(n != len || memcmp(b, text, len) != 0);
    free(b);
    free(text);
}

static void test_decompress_gzip(void **state)
{
    check_codec("gzip", ".gz", RN_CODEC_GZIP);
}
static void test_decompress_bzip2(void **state)
{
    check_codec("bzip2", ".bz2", RN_CODEC_BZIP2);
}
static void test_decompress_xz(void **state)
{
    check_codec("xz", ".xz", RN_CODEC_XZ);
}
static void test_decompress_zstd(void **state)
{
    check_codec("zstd -q", ".zst", RN_CODEC_ZSTD);
}
static void test_decompress_lz4(void **state)
{
    check_codec("lz4 -q", ".lz4", RN_CODEC_LZ4);
}

static void test_decompress_multimember_gzip(void **state)
{
    char *b;
    size_t n;
    rn_errbuf err = {0};
    put("p1", "first\n");
    put("p2", "second\n");
    sh("gzip -c %s > %s && gzip -c %s >> %s", P("p1"), P("m.gz"), P("p2"),
       P("m.gz"));
    assert_int_equal(slurp(P("m.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                           &err),
                     0);
    assert_string_equal(b, "first\nsecond\n");
    free(b);
}

/* libarchive's mtree reader claims one-token-per-line text and returns 0
 * bytes without an error: JSON lines must come out whole. */
static void test_jsonl_in_gzip_not_eaten(void **state)
{
    size_t len, n;
    char *text = make_text(1000, 1, &len), *b;
    rn_errbuf err = {0};
    const char *words = "alpha\nbeta\ngamma\n";

    assert_int_equal(rn_test_write_file(P("j.jsonl"), text, len), 0);
    sh("gzip -k %s", P("j.jsonl"));
    assert_int_equal(slurp(P("j.jsonl.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS,
                           &b, &n, &err),
                     0);
    assert_int_equal(n, len);
    assert_memory_equal(b, text, len);
    free(b);

    put("w.txt", words);
    sh("zstd -q %s -o %s", P("w.txt"), P("w.txt.zst"));
    assert_int_equal(slurp(P("w.txt.zst"), 0, UINT64_MAX, RN_IO_DECOMPRESS,
                           &b, &n, &err),
                     0);
    assert_string_equal(b, words);
    free(b);
    /* uncompressed text passes through unchanged */
    assert_int_equal(slurp(P("j.jsonl"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    assert_int_equal(n, len);
    assert_memory_equal(b, text, len);
    free(b);
    /* text that looks uuencoded is not decoded either */
    put("uu.txt", "begin 644 x\n#86)C\n`\nend\n");
    assert_int_equal(slurp(P("uu.txt"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    assert_string_equal(b, "begin 644 x\n#86)C\n`\nend\n");
    free(b);
    sh("gzip -k %s", P("uu.txt"));
    assert_int_equal(slurp(P("uu.txt.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS,
                           &b, &n, &err),
                     0);
    assert_string_equal(b, "begin 644 x\n#86)C\n`\nend\n");
    free(b);
    free(text);
}

static void test_decompress_empty(void **state)
{
    char *b;
    size_t n;
    rn_errbuf err = {0};
    put("e.txt", "");
    sh("gzip -k %s", P("e.txt"));
    assert_int_equal(slurp(P("e.txt.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    assert_int_equal(n, 0);
    free(b);
    assert_int_equal(slurp(P("e.txt"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    assert_int_equal(n, 0);
    free(b);
    put("zero.gz", ""); /* 0 bytes decode to nothing whatever the name */
    assert_int_equal(slurp(P("zero.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    assert_int_equal(n, 0);
    free(b);
}

static void test_corrupt_gzip(void **state)
{
    size_t len, n, zlen;
    char *text = make_text(20000, 0, &len), *b, *z, *orig;
    rn_errbuf err = {0};

    assert_int_equal(rn_test_write_file(P("c.txt"), text, len), 0);
    sh("gzip -k %s", P("c.txt"));
    z = rn_test_read_file(P("c.txt.gz"), &zlen);
    assert_non_null(z);
    orig = malloc(zlen);
    memcpy(orig, z, zlen);

    /* truncated: half the stream */
    assert_int_equal(rn_test_write_file(P("t.gz"), z, zlen / 2), 0);
    assert_int_equal(slurp(P("t.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                           &err),
                     RN_EFORMAT);
    assert_non_null(strstr(err.msg, P("t.gz")));
    assert_non_null(strstr(err.msg, "truncated"));
    free(b);

    /* truncated inside the trailer */
    assert_int_equal(rn_test_write_file(P("t2.gz"), z, zlen - 3), 0);
    assert_true(slurp(P("t2.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                      &err) < 0);
    assert_non_null(strstr(err.msg, P("t2.gz")));
    free(b);

    /* corrupt deflate data */
    for (size_t i = zlen / 3; i < zlen / 3 + 64; i++)
        z[i] = (char)(z[i] ^ 0x5a);
    assert_int_equal(rn_test_write_file(P("x.gz"), z, zlen), 0);
    assert_true(slurp(P("x.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                      &err) < 0);
    assert_non_null(strstr(err.msg, P("x.gz")));
    free(b);

    /* the trailer is checked: CRC-32 and length (libarchive does not) */
    memcpy(z, orig, zlen);
    z[zlen - 8] = (char)(z[zlen - 8] ^ 0xff);
    assert_int_equal(rn_test_write_file(P("crc.gz"), z, zlen), 0);
    assert_int_equal(slurp(P("crc.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     RN_EFORMAT);
    assert_non_null(strstr(err.msg, "crc.gz: corrupt gzip data"));
    free(b);
    memcpy(z, orig, zlen);
    z[zlen - 2] = (char)(z[zlen - 2] ^ 0x01);
    assert_int_equal(rn_test_write_file(P("len.gz"), z, zlen), 0);
    assert_int_equal(slurp(P("len.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     RN_EFORMAT);
    free(b);
    /* one flipped bit that still inflates: caught by the CRC */
    memcpy(z, orig, zlen);
    z[zlen / 2] = (char)(z[zlen / 2] ^ 0x01);
    assert_int_equal(rn_test_write_file(P("bit.gz"), z, zlen), 0);
    assert_int_equal(slurp(P("bit.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     RN_EFORMAT);
    free(b);

    /* after the last member: zero padding is fine, other bytes are not */
    memcpy(z, orig, zlen);
    {
        char *pad = calloc(1, zlen + 100);
        memcpy(pad, orig, zlen);
        assert_int_equal(rn_test_write_file(P("pad.gz"), pad, zlen + 100), 0);
        assert_int_equal(slurp(P("pad.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS,
                               &b, &n, &err),
                         0);
        assert_int_equal(n, len);
        free(b);
        memcpy(pad + zlen, "garbage!", 8);
        assert_int_equal(rn_test_write_file(P("junk.gz"), pad, zlen + 8), 0);
        assert_int_equal(slurp(P("junk.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS,
                               &b, &n, &err),
                         RN_EFORMAT);
        assert_non_null(strstr(err.msg, "junk.gz: trailing garbage"));
        free(b);
        free(pad);
    }

    /* a bad header (named .gz, not gzip) */
    put("plain.gz", "just text\n");
    assert_int_equal(slurp(P("plain.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     RN_EFORMAT);
    assert_non_null(strstr(err.msg, "not gzip data"));
    free(b);
    free(orig);
    free(z);
    free(text);
}

/* The directory's names, sorted, joined by spaces. */
static void dir_names(const char *d, char *out, size_t cap)
{
    struct dirent **list;
    int k = scandir(d, &list, NULL, alphasort);
    out[0] = '\0';
    assert_true(k >= 0);
    for (int i = 0; i < k; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
            if (out[0])
                strncat(out, " ", cap - strlen(out) - 1);
            strncat(out, list[i]->d_name, cap - strlen(out) - 1);
        }
        free(list[i]);
    }
    free(list);
}

static void test_writer_commit_abort(void **state)
{
    struct rn_writer *w = NULL;
    rn_errbuf err = {0};
    char names[4096];
    size_t n;
    char *b;

    /* parent directories are made */
    assert_int_equal(rn_io_create_url(P("out/sub/part-0.txt"), &w, &err), 0);
    assert_int_equal(rn_io_writer_write(w, "a\n", 2, &err), 0);
    assert_int_equal(rn_io_writer_write(w, "b\n", 2, &err), 0);
    dir_names(P("out/sub"), names, sizeof(names));
    assert_non_null(strstr(names, ".part-0.txt.tmp-"));
    assert_null(strchr(names, ' ')); /* only the temporary file */
    assert_int_equal(rn_io_writer_commit(w, &err), 0);
    dir_names(P("out/sub"), names, sizeof(names));
    assert_string_equal(names, "part-0.txt");
    b = rn_test_read_file(P("out/sub/part-0.txt"), &n);
    assert_string_equal(b, "a\nb\n");
    free(b);

    /* commit replaces; abort leaves the old file alone */
    assert_int_equal(rn_io_create_url(P("out/sub/part-0.txt"), &w, &err), 0);
    assert_int_equal(rn_io_writer_write(w, "new\n", 4, &err), 0);
    rn_io_writer_abort(w);
    dir_names(P("out/sub"), names, sizeof(names));
    assert_string_equal(names, "part-0.txt");
    b = rn_test_read_file(P("out/sub/part-0.txt"), &n);
    assert_string_equal(b, "a\nb\n");
    free(b);
    assert_int_equal(rn_io_create_url(P("out/sub/part-0.txt"), &w, &err), 0);
    assert_int_equal(rn_io_writer_write(w, "new\n", 4, &err), 0);
    assert_int_equal(rn_io_writer_commit(w, &err), 0);
    b = rn_test_read_file(P("out/sub/part-0.txt"), &n);
    assert_string_equal(b, "new\n");
    free(b);

    /* abort of a fresh name leaves nothing */
    assert_int_equal(rn_io_create_url(P("out/sub/part-1.txt.gz"), &w, &err),
                     0);
    assert_int_equal(rn_io_writer_write(w, "x\n", 2, &err), 0);
    rn_io_writer_abort(w);
    rn_io_writer_abort(NULL);
    dir_names(P("out/sub"), names, sizeof(names));
    assert_string_equal(names, "part-0.txt");

    /* an empty file commits too; file:// works */
    {
        char url[4200];
        snprintf(url, sizeof(url), "file://%s", P("out/empty.txt"));
        assert_int_equal(rn_io_create_url(url, &w, &err), 0);
        assert_int_equal(rn_io_writer_commit(w, &err), 0);
        b = rn_test_read_file(P("out/empty.txt"), &n);
        assert_int_equal(n, 0);
        free(b);
    }

    /* a directory in the way */
    assert_int_equal(rn_io_create_url(P("out"), &w, &err), RN_EIO);
    assert_non_null(strstr(err.msg, "Is a directory"));
    unsetenv("AWS_ACCESS_KEY_ID");
    assert_int_equal(rn_io_create_url("s3://b/k.txt", &w, &err), RN_EINVAL);
}

static void check_write_codec(const char *ext, const char *tool)
{
    struct rn_writer *w = NULL;
    rn_errbuf err = {0};
    size_t len, n;
    char *text = make_text(120000, 0, &len), *b, name[64];

    snprintf(name, sizeof(name), "rt.txt%s", ext);
    assert_int_equal(rn_io_create_url(P(name), &w, &err), 0);
    /* uneven pieces, one bigger than the buffers */
    assert_int_equal(rn_io_writer_write(w, text, 10, &err), 0);
    assert_int_equal(rn_io_writer_write(w, text + 10, len / 2 - 10, &err), 0);
    for (size_t off = len / 2; off < len; off += 1000)
        assert_int_equal(rn_io_writer_write(
                             w, text + off, len - off < 1000 ? len - off : 1000,
                             &err),
                         0);
    assert_int_equal(rn_io_writer_commit(w, &err), 0);

    assert_int_equal(slurp(P(name), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b, &n,
                           &err),
                     0);
    assert_int_equal(n, len);
    assert_memory_equal(b, text, len);
    free(b);
    if (*ext) {
        /* the command-line tool agrees, with no trailing garbage */
        sh("%s -dc < %s > %s", tool, P(name), P("rt.check"));
        b = rn_test_read_file(P("rt.check"), &n);
        assert_int_equal(n, len);
        assert_memory_equal(b, text, len);
        free(b);
        sh("%s -t < %s 2>/dev/null", tool, P(name));
    }
    free(text);
}

static void test_writer_plain_big(void **state)
{
    check_write_codec("", NULL);
}
static void test_writer_gzip(void **state)
{
    check_write_codec(".gz", "gzip");
}
static void test_writer_bzip2(void **state)
{
    check_write_codec(".bz2", "bzip2");
}
static void test_writer_xz(void **state)
{
    check_write_codec(".xz", "xz");
}
static void test_writer_zstd(void **state)
{
    check_write_codec(".zst", "zstd -q");
}
static void test_writer_lz4(void **state)
{
    check_write_codec(".lz4", "lz4 -q");
}

static void test_gzip_writer_deterministic(void **state)
{
    struct rn_writer *w = NULL;
    rn_errbuf err = {0};
    char *a, *b;
    size_t na, nb;

    for (int i = 0; i < 2; i++) {
        assert_int_equal(rn_io_create_url(P(i ? "d2.gz" : "d1.gz"), &w, &err),
                         0);
        assert_int_equal(rn_io_writer_write(w, "same\n", 5, &err), 0);
        assert_int_equal(rn_io_writer_commit(w, &err), 0);
        if (i == 0)
            sleep(1);
    }
    a = rn_test_read_file(P("d1.gz"), &na);
    b = rn_test_read_file(P("d2.gz"), &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
}

static void test_no_leaks(void **state)
{
    size_t before = rn_alloc_in_use();
    char *b;
    size_t n;
    rn_errbuf err = {0};
    struct rn_writer *w = NULL;

    put("l.txt", "x\ny\n");
    sh("gzip -k %s", P("l.txt"));
    assert_int_equal(slurp(P("l.txt.gz"), 0, UINT64_MAX, RN_IO_DECOMPRESS, &b,
                           &n, &err),
                     0);
    free(b);
    assert_int_equal(rn_io_create_url(P("l2.txt.zst"), &w, &err), 0);
    assert_int_equal(rn_io_writer_write(w, "x\n", 2, &err), 0);
    rn_io_writer_abort(w);
    assert_int_equal(rn_io_create_url(P("l3.txt.xz"), &w, &err), 0);
    assert_int_equal(rn_io_writer_commit(w, &err), 0);
    assert_int_equal(rn_alloc_in_use(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_glob_and_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranged_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decompress_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decompress_bzip2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_decompress_xz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decompress_zstd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decompress_lz4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decompress_multimember_gzip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_in_gzip_not_eaten, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_decompress_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_commit_abort, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_plain_big, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_bzip2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_xz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_zstd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_lz4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_writer_deterministic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_leaks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
