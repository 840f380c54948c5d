/*
 * read_csv: the records of CSV files (RFC 4180 quoting, decoded by
 * libcsv through csv_decode.c), like Dask's read_csv but one runnel value
 * per row: a record {column: value} when the columns have names (from
 * the header, or declared), else a list.
 *
 * Plan (listing, compression, whole objects: tio_files.c, as read_text).
 * A whole object (compressed, size unknown, no ranges) is one split. An
 * uncompressed object larger than `blocksize` is cut into blocks ONLY at
 * record boundaries proven safe: the planner reads it once, start to
 * end, through the record-boundary automaton (csv_scan.c, libcsv's
 * states without decoding), and cuts at the first position at or past
 * each blocksize mark where that automaton stands between records. A
 * quoted field holding newlines (or anything) is never cut, and a block
 * always starts where a fresh parser parses exactly as the whole-file
 * parser does there: every blocksize gives the records of reading the
 * file whole. Why not let each block find its own start (quote parity
 * from the block start)? Whether a byte lies inside quotes depends on
 * everything before it: a file without a single quote after the block
 * start is read two ways (inside a field opened earlier, or not) until
 * its end, so a block alone cannot decide, and scanning back to the
 * start from every block is quadratic. The price here is one extra
 * sequential read of a large uncompressed file at plan time (a memchr
 * over quoted fields, a byte loop elsewhere), none for files of one
 * block or compressed ones.
 *
 * A split is {url, start, end, whole}: [start, end) are record
 * boundaries of an uncompressed object, or whole = true.
 *
 * Header: with header: true the file's first record names the columns;
 * blocks after the first read it from offset 0 (one small read). A UTF-8
 * byte order mark at the start of a file is skipped.
 *
 * Values: declared per column (`columns: {age: int, ...}`) or inferred
 * per value: "" -> null, an int ([+-]digits fitting int64), a float
 * (decimal with a point or an exponent, or an int too large for int64),
 * anything else a string. Declared: string (as it is, "" stays ""),
 * int, float, bool (true/false, any case) — "" is null; anything else
 * fails naming the column.
 *
 * Errors name the URL and the line (lines counted by LF from 1): a quoted
 * field open at the end of the data, a record whose field count is not
 * the header's (ragged: error; ragged: pad fills missing fields of short
 * records with null, long records still fail), a value that does not fit
 * its declared type, with strict: true a quote inside an unquoted field
 * or after a closing quote, and a record over 256 MiB. The line is found
 * only when an error happens (by reading the file up to the record
 * again), so the hot path counts nothing.
 *
 * Memory: one read buffer per task; a record's bytes live in the
 * decoder's buffer, its values in scratch memory, released at the
 * rn_flush after each buffer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_decode.h"
#include "csv_plugin.h"
#include "csv_scan.h"
#include "tio_files.h"

#define READ_BUF ((size_t)256 << 10)
#define MAX_RECORD ((size_t)256 << 20)

enum { T_AUTO, T_STRING, T_INT, T_FLOAT, T_BOOL };
static const char *const type_names[] = {"auto", "string", "int", "float",
                                         "bool", NULL};

static const char *const ragged_choices[] = {"error", "pad", NULL};

const rn_param_spec rn_csv_read_params[RN_CSV_READ_NPARAMS] = {
    {.name = "urls",
     .type = RN_PT_STRING_LIST,
     .flags = RN_PF_REQUIRED,
     .help = "paths, globs, directories or URLs (file://, http(s)://, "
             "s3://) of CSV files"},
    {.name = "header",
     .type = RN_PT_BOOL,
     .def = "true",
     .help = "the first record names the columns (records out); false: "
             "every record is data (lists out, unless columns names them)"},
    {.name = "delimiter",
     .type = RN_PT_STRING,
     .def = ",",
     .help = "the field separator, one byte (\"\\t\" for TSV)"},
    {.name = "quote",
     .type = RN_PT_STRING,
     .def = "'\"'",
     .help = "the quote character, one byte"},
    {.name = "columns",
     .type = RN_PT_ANY,
     .def = NULL,
     .help = "a mapping name: type (auto, string, int, float, bool) to "
             "declare types (with header: by name; without: the names "
             "too, in order), or a list of names (without header); "
             "undeclared columns are inferred per value"},
    {.name = "blocksize",
     .type = RN_PT_SIZE,
     .def = "64MiB",
     .min = 1,
     .max = 4611686018427387904.0,
     .help = "bytes per split of an uncompressed file (cut only between "
             "records, found by one scan of the file at plan time)"},
    {.name = "compression",
     .type = RN_PT_STRING,
     .def = "infer",
     .choices = rn_tio_compression_choices,
     .help = "infer (from the name or the first bytes), none, or the "
             "codec of every object"},
    {.name = "strict",
     .type = RN_PT_BOOL,
     .def = "false",
     .help = "fail on a quote inside an unquoted field or text after a "
             "closing quote (default: kept as data, as libcsv does)"},
    {.name = "ragged",
     .type = RN_PT_STRING,
     .def = "error",
     .choices = ragged_choices,
     .help = "a record with a field count other than the columns': error "
             "fails the task; pad fills the missing fields of a short "
             "record with null (a long record still fails)"},
};

typedef struct col_decl {
    rn_str name;
    int type;
} col_decl;

typedef struct rc_state {
    const rn_value *urls;
    uint64_t blocksize;
    int comp;
    int header;
    int strict;
    int pad;
    unsigned char delim, quote;
    col_decl *cols; /* declared columns (NULL: none) */
    size_t ncols;
    int cols_are_names; /* columns was a list of names */
} rc_state;

static int one_byte(rn_ctx *ctx, const rn_value *params, const char *name,
                    const char *def, unsigned char *out)
{
    rn_str s = rn_param_str(params, name, def);
    if (s.len != 1 || s.ptr[0] == '\r' || s.ptr[0] == '\n')
        return rn_error(ctx, RN_EINVAL,
                        "%s: expected one byte other than CR and LF, got "
                        "\"%.*s\"",
                        name, (int)(s.len > 16 ? 16 : s.len), s.ptr);
    *out = (unsigned char)s.ptr[0];
    return 0;
}

static int parse_columns(rn_ctx *ctx, rc_state *st, const rn_value *c)
{
    if (!c || c->kind == RN_NULL)
        return 0;
    if (c->kind != RN_LIST && c->kind != RN_RECORD)
        return rn_error(ctx, RN_EINVAL,
                        "columns: expected a mapping name: type or a list "
                        "of names, got %s", rn_kind_name(c->kind));
    if (c->len == 0)
        return rn_error(ctx, RN_EINVAL, "columns: empty");
    if (!(st->cols = calloc(c->len, sizeof(*st->cols))))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->ncols = c->len;
    st->cols_are_names = c->kind == RN_LIST;
    if (st->cols_are_names && st->header)
        return rn_error(ctx, RN_EINVAL,
                        "columns: a list of names needs header: false (with "
                        "a header, give a mapping name: type)");
    for (uint32_t i = 0; i < c->len; i++) {
        col_decl *d = &st->cols[i];
        if (c->kind == RN_LIST) {
            const rn_value *n = &c->u.items[i];
            if (n->kind != RN_STRING)
                return rn_error(ctx, RN_EINVAL,
                                "columns[%u]: expected a name (string), got "
                                "%s", i, rn_kind_name(n->kind));
            d->name = rn_value_str(n);
            d->type = T_AUTO;
        } else {
            const rn_field *f = &c->u.fields[i];
            rn_str t = rn_value_str(&f->value);
            d->name = f->name;
            d->type = -1;
            if (f->value.kind == RN_STRING)
                for (int k = 0; type_names[k]; k++)
                    if (rn_str_eq(t, type_names[k]))
                        d->type = k;
            if (d->type < 0)
                return rn_error(ctx, RN_EINVAL,
                                "columns.%.*s: expected auto, string, int, "
                                "float or bool",
                                (int)(d->name.len > 64 ? 64 : d->name.len),
                                d->name.ptr);
        }
        for (uint32_t k = 0; k < i; k++)
            if (st->cols[k].name.len == d->name.len &&
                memcmp(st->cols[k].name.ptr, d->name.ptr, d->name.len) == 0)
                return rn_error(ctx, RN_EINVAL,
                                "columns: \"%.*s\" given twice",
                                (int)(d->name.len > 64 ? 64 : d->name.len),
                                d->name.ptr);
    }
    return 0;
}

void rn_csv_read_destroy(void *state)
{
    rc_state *st = state;
    if (!st)
        return;
    free(st->cols);
    free(st);
}

int rn_csv_read_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    const rn_value *urls = rn_record_get(params, "urls");
    int64_t bs = rn_param_int(params, "blocksize", (int64_t)64 << 20);
    rc_state *st = NULL;
    int rc;

    if ((rc = rn_tio_urls_check(ctx, urls)))
        return rc;
    if (bs < 1)
        return rn_error(ctx, RN_EINVAL, "blocksize: must be at least 1");
    if (!(st = calloc(1, sizeof(*st))))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    st->urls = urls;
    st->blocksize = (uint64_t)bs;
    st->comp = rn_tio_comp_parse(rn_param_str(params, "compression",
                                              "infer"));
    st->header = rn_param_bool(params, "header", 1);
    st->strict = rn_param_bool(params, "strict", 0);
    st->pad = rn_str_eq(rn_param_str(params, "ragged", "error"), "pad");
    if ((rc = one_byte(ctx, params, "delimiter", ",", &st->delim)) ||
        (rc = one_byte(ctx, params, "quote", "\"", &st->quote)))
        goto done;
    if (st->delim == st->quote) {
        rc = rn_error(ctx, RN_EINVAL, "delimiter and quote must differ");
        goto done;
    }
    rc = parse_columns(ctx, st, rn_record_get(params, "columns"));
done:
    if (rc) {
        rn_csv_read_destroy(st);
        return rc;
    }
    *state = st;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Plan                                                                 */

/* Reads [0, size) once and emits splits cut where the automaton stands
 * between records, the first such place at or past each mark. */
static int plan_scan(const rc_state *st, rn_ctx *ctx, const rn_io_entry *e)
{
    unsigned char *buf = malloc(READ_BUF);
    rn_stream *s = NULL;
    rn_csv_scan sc;
    uint64_t off = 0, last = 0, mark = st->blocksize;
    int first = 1, rc;

    if (!buf)
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    rn_csv_scan_init(&sc, st->delim, st->quote);
    if ((rc = rn_io_open(ctx, e->url, 0, UINT64_MAX, 0, &s)))
        goto done;
    for (;;) {
        size_t n = 0, i = 0;
        int64_t got;
        /* at least 3 bytes at first, for the byte order mark */
        do {
            got = rn_io_read(ctx, s, buf + n, READ_BUF - n);
            if (got < 0) {
                rc = (int)got;
                goto done;
            }
            n += (size_t)got;
        } while (got > 0 && first && n < 3);
        if (n == 0)
            break;
        if (first)
            i = rn_csv_bom_len(buf, n);
        first = 0;
        while (i < n) {
            size_t from = mark > off + i ? (mark - off - i > n - i
                                                ? n - i + 1
                                                : (size_t)(mark - off - i))
                                         : 0;
            size_t r;
            /* the first block holds the first record (the header, which
             * the others read from offset 0): no cut before it ends */
            if (sc.rows == 0 && from == 0)
                from = 1;
            if (from > n - i) { /* no mark in this buffer */
                rn_csv_scan_to_row(&sc, buf + i, n - i, n - i + 1);
                break;
            }
            r = rn_csv_scan_to_row(&sc, buf + i, n - i, from);
            if (r > n - i)
                break;
            i += r;
            if (sc.rows > 0 && off + i > last && off + i < e->size) {
                if ((rc = rn_tio_emit_split(ctx, e->url, last, off + i, 0)))
                    goto done;
                last = off + i;
                mark = last + st->blocksize;
            } else if (i == n) {
                break;
            }
        }
        off += n;
    }
    if (last < e->size)
        rc = rn_tio_emit_split(ctx, e->url, last, e->size, 0);
done:
    if (s)
        rn_io_close(ctx, s);
    free(buf);
    return rc;
}

static int plan_entry(void *arg, rn_ctx *ctx, const rn_io_entry *e,
                      int whole)
{
    const rc_state *st = arg;
    if (whole)
        return rn_tio_emit_split(ctx, e->url, 0,
                                 e->size == UINT64_MAX ? 0 : e->size, 1);
    if (e->size <= st->blocksize)
        return rn_tio_emit_split(ctx, e->url, 0, e->size, 0);
    return plan_scan(st, ctx, e);
}

int rn_csv_read_plan(void *state, rn_ctx *ctx)
{
    const rc_state *st = state;
    return rn_tio_plan(ctx, st->urls, st->comp, plan_entry, (void *)st);
}

/* ------------------------------------------------------------------ */
/* Where an error is: the line                                          */

/* The line (from 1, counted by LF) of the first byte of record `row`
 * (counted from the block start), or with row UINT64_MAX of the byte at
 * block offset `at`. 0 when it cannot be found. Reads the object from 0
 * again: only ever called on the way to an error. */
static uint64_t find_line(const rc_state *st, rn_ctx *ctx,
                          const rn_tio_split *sp, uint64_t row, uint64_t at)
{
    unsigned char *buf = malloc(READ_BUF);
    rn_stream *s = NULL;
    rn_csv_scan sc;
    uint64_t off = 0, line = 1, found = 0;
    int first_block_byte = 1;

    rn_csv_scan_init(&sc, st->delim, st->quote);
    if (!buf || (sp->whole ? rn_tio_open_whole(ctx, sp->url, st->comp, &s)
                           : rn_io_open(ctx, sp->url, 0, UINT64_MAX, 0, &s)))
        goto done;
    while (!found) {
        int64_t got = rn_io_read(ctx, s, buf, READ_BUF);
        size_t n, i = 0, stop;
        if (got <= 0)
            break;
        n = (size_t)got;
        stop = n;
        if (off + n > sp->start) {
            i = off < sp->start ? (size_t)(sp->start - off) : 0;
            if (first_block_byte && sp->start == 0)
                i += rn_csv_bom_len(buf + i, n - i);
            first_block_byte = 0;
            if (row == UINT64_MAX) {
                if (sp->start + at < off + n) {
                    stop = (size_t)(sp->start + at - off);
                    found = 1;
                }
            } else {
                size_t r = rn_csv_scan_to_record(&sc, buf + i, n - i, row);
                if (r <= n - i) {
                    stop = i + r;
                    found = 1;
                }
            }
        }
        for (const unsigned char *p = buf, *end = buf + stop;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
            line++;
        off += n;
    }
done:
    if (s)
        rn_io_close(ctx, s);
    free(buf);
    return found ? line : 0;
}

/* ------------------------------------------------------------------ */
/* Reading one split                                                    */

typedef struct reader {
    rn_ctx *ctx;
    const rc_state *st;
    const rn_tio_split *sp;
    rn_str *names;    /* column names (task memory), NULL: lists */
    int *types;       /* per column */
    size_t ncols;
    int skip_header;  /* the block's first record is the header */
    int rc;           /* why the row callback stopped */
    uint64_t bad_row; /* the record at fault (from the block start) */
    char why[256];
} reader;

static int fail(reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the error of record d->rows - 1 (line found at the end). */
static int fail(reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->rc = code;
    return code;
}

static int parse_int(const char *p, size_t n, int64_t *out)
{
    size_t i = 0;
    uint64_t v = 0, lim;
    int neg = 0;
    if (n && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n)
        return 0;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return 0;
        if (v > (lim - d) / 10)
            return -1; /* digits, but too large */
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits], at least one
 * digit before the exponent. p is NUL-terminated at n.
 *
 * Fast path (Clinger's): at most 15 significant digits without an
 * exponent are an integer m < 2^53 divided by 10^k, k <= 22, both exact
 * doubles, so one division rounds correctly, as strtod would. */
static int parse_float(const char *p, size_t n, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,
                                   1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
                                   1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0, digits = 0, frac = 0;
    uint64_t m = 0;
    int neg = 0, expo = 0;
    char *end;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        m = m * 10 + (uint64_t)(p[i] - '0');
        i++, digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            m = m * 10 + (uint64_t)(p[i] - '0');
            i++, digits++, frac++;
        }
    }
    if (!digits)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t e = ++i;
        expo = 1;
        if (i < n && (p[i] == '-' || p[i] == '+'))
            e = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == e)
            return 0;
    }
    if (i != n)
        return 0;
    if (!expo && digits <= 15 && frac <= 22) {
        double v = (double)m / pow10[frac];
        *out = neg ? -v : v;
        return 1;
    }
    errno = 0;
    *out = strtod(p, &end);
    /* overflow to infinity is no number JSON can hold: a string then */
    return end == p + n && !(errno == ERANGE && (*out > 1 || *out < -1));
}

static int str_value(reader *r, const rn_csv_field *f, rn_value *out)
{
    char *c = NULL;
    if (f->len && !(c = rn_alloc(r->ctx, f->len)))
        return RN_ENOMEM;
    if (f->len)
        memcpy(c, f->ptr, f->len);
    *out = rn_string(c ? c : "", f->len);
    return 0;
}

static int bad_value(reader *r, size_t col, const rn_csv_field *f,
                     const char *want)
{
    char name[80];
    if (r->names)
        snprintf(name, sizeof(name), "column \"%.*s\"",
                 (int)(r->names[col].len > 64 ? 64 : r->names[col].len),
                 r->names[col].ptr);
    else
        snprintf(name, sizeof(name), "column %zu", col + 1);
    return fail(r, RN_EFORMAT, "%s: expected %s, got \"%.*s%s\"", name, want,
                (int)(f->len > 64 ? 64 : f->len), f->ptr,
                f->len > 64 ? "..." : "");
}

static int convert(reader *r, size_t col, int type, const rn_csv_field *f,
                   rn_value *out)
{
    int64_t i;
    double d;
    int k;

    if (type == T_STRING)
        return str_value(r, f, out);
    if (f->len == 0) {
        *out = rn_null();
        return 0;
    }
    switch (type) {
    case T_INT:
        if (parse_int(f->ptr, f->len, &i) != 1)
            return bad_value(r, col, f, "an int");
        *out = rn_int(i);
        return 0;
    case T_FLOAT:
        if (!parse_float(f->ptr, f->len, &d))
            return bad_value(r, col, f, "a float");
        *out = rn_double(d);
        return 0;
    case T_BOOL:
        if (f->len == 4 && strncasecmp(f->ptr, "true", 4) == 0) {
            *out = rn_bool(1);
        } else if (f->len == 5 && strncasecmp(f->ptr, "false", 5) == 0) {
            *out = rn_bool(0);
        } else {
            return bad_value(r, col, f, "true or false");
        }
        return 0;
    default:
        k = parse_int(f->ptr, f->len, &i);
        if (k == 1) {
            *out = rn_int(i);
            return 0;
        }
        if (parse_float(f->ptr, f->len, &d)) {
            *out = rn_double(d);
            return 0;
        }
        return str_value(r, f, out);
    }
}

/* The header record: column names in task memory, types from columns. */
static int take_header(reader *r, const rn_csv_field *f, size_t n)
{
    const rc_state *st = r->st;
    if (n == 0)
        return fail(r, RN_EFORMAT, "an empty header");
    r->names = rn_alloc_keep(r->ctx, n * sizeof(*r->names));
    r->types = rn_alloc_keep(r->ctx, n * sizeof(*r->types));
    if (!r->names || !r->types)
        return r->rc = RN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char *c = rn_alloc_keep(r->ctx, f[i].len + 1);
        if (!c)
            return r->rc = RN_ENOMEM;
        memcpy(c, f[i].ptr, f[i].len + 1);
        r->names[i] = (rn_str){c, f[i].len};
        r->types[i] = T_AUTO;
        for (size_t k = 0; k < i; k++)
            if (r->names[k].len == f[i].len &&
                memcmp(r->names[k].ptr, c, f[i].len) == 0)
                return fail(r, RN_EFORMAT,
                            "the header names column \"%.*s\" twice",
                            (int)(f[i].len > 64 ? 64 : f[i].len), c);
    }
    r->ncols = n;
    for (size_t k = 0; k < st->ncols; k++) {
        size_t i = 0;
        while (i < n && !(r->names[i].len == st->cols[k].name.len &&
                          memcmp(r->names[i].ptr, st->cols[k].name.ptr,
                                 st->cols[k].name.len) == 0))
            i++;
        if (i == n)
            return fail(r, RN_EFORMAT,
                        "columns: \"%.*s\" is not in the header",
                        (int)(st->cols[k].name.len > 64
                                  ? 64
                                  : st->cols[k].name.len),
                        st->cols[k].name.ptr);
        r->types[i] = st->cols[k].type;
    }
    return 0;
}

static int on_record(void *arg, const rn_csv_field *f, size_t n)
{
    reader *r = arg;
    rn_value v;
    int rc;

    if (r->skip_header) {
        r->skip_header = 0;
        return take_header(r, f, n);
    }
    if (!r->names) {
        rn_value *items = rn_alloc(r->ctx, (n ? n : 1) * sizeof(*items));
        if (!items)
            return r->rc = RN_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if ((rc = convert(r, i, T_AUTO, &f[i], &items[i])))
                return r->rc = rc;
        v = rn_list(items, n);
    } else {
        rn_field *fields;
        if (n > r->ncols || (n < r->ncols && !r->st->pad))
            return fail(r, RN_EFORMAT,
                        "a record of %zu fields where there are %zu "
                        "columns%s",
                        n, r->ncols,
                        n < r->ncols ? " (ragged: pad fills short records "
                                       "with null)"
                                     : "");
        if (!(fields = rn_alloc(r->ctx, r->ncols * sizeof(*fields))))
            return r->rc = RN_ENOMEM;
        for (size_t i = 0; i < r->ncols; i++) {
            fields[i].name = r->names[i];
            if (i >= n)
                fields[i].value = rn_null();
            else if ((rc = convert(r, i, r->types[i], &f[i],
                                   &fields[i].value)))
                return r->rc = rc;
        }
        v = rn_record(fields, r->ncols);
    }
    if ((rc = rn_emit(r->ctx, &v)))
        return r->rc = rc;
    return 0;
}

static int header_only(void *arg, const rn_csv_field *f, size_t n)
{
    reader *r = arg;
    int rc = take_header(r, f, n);
    return rc ? rc : 1; /* stop after it */
}

/* Feeds stream s to the decoder until its end (or an error). */
static int pump(reader *r, rn_csv_decoder *d, rn_stream *s,
                unsigned char *buf, int count, int header)
{
    for (;;) {
        int64_t got = rn_io_read(r->ctx, s, buf, READ_BUF);
        int rc;
        if (got < 0)
            return (int)got;
        if (got == 0)
            break;
        if (count)
            rn_add_bytes_read(r->ctx, (uint64_t)got);
        if (rn_csv_decoder_feed(d, buf, (size_t)got))
            break;
        /* values emitted view scratch memory: hand them on */
        if (!header && (rc = rn_flush(r->ctx)))
            return rc;
    }
    if (d->err == RN_CSV_OK)
        rn_csv_decoder_finish(d);
    return 0;
}

/* Turns the decoder's state into the task's error, naming URL and line. */
static int report(reader *r, const rn_csv_decoder *d)
{
    uint64_t line = 0;
    const char *what;
    char buf[300];

    switch (d->err) {
    case RN_CSV_OK:
        return 0;
    case RN_CSV_ERR_ROW_FN:
        if (r->rc == RN_ENOMEM || !r->why[0])
            return r->rc;
        line = find_line(r->st, r->ctx, r->sp, d->rows - 1, 0);
        what = r->why;
        break;
    case RN_CSV_ERR_STRICT:
        line = find_line(r->st, r->ctx, r->sp, UINT64_MAX, d->err_offset);
        what = "a quote inside an unquoted field, or text after a closing "
               "quote (strict: true)";
        break;
    case RN_CSV_ERR_UNTERMINATED:
        line = find_line(r->st, r->ctx, r->sp, d->rows, 0);
        what = "a quoted field is still open at the end of the data (the "
               "record starts here)";
        break;
    case RN_CSV_ERR_TOO_LONG:
        line = find_line(r->st, r->ctx, r->sp, d->rows, 0);
        snprintf(buf, sizeof(buf), "a record longer than %zu MiB",
                 MAX_RECORD >> 20);
        what = buf;
        break;
    case RN_CSV_ERR_NOMEM:
    default:
        return rn_error(r->ctx, RN_ENOMEM, "%s: out of memory", r->sp->url);
    }
    if (line)
        return rn_error(r->ctx, RN_EFORMAT, "%s: line %llu: %s", r->sp->url,
                        (unsigned long long)line, what);
    return rn_error(r->ctx, RN_EFORMAT, "%s: record %llu of the block at "
                    "byte %llu: %s", r->sp->url,
                    (unsigned long long)d->rows,
                    (unsigned long long)r->sp->start, what);
}

/* Blocks after the first: the header is the file's first record. */
static int read_header(reader *r, unsigned char *buf)
{
    rn_csv_decoder d;
    rn_stream *s = NULL;
    int rc;

    if (rn_csv_decoder_init(&d, r->st->delim, r->st->quote, r->st->strict,
                            1, MAX_RECORD, header_only, r) < 0)
        return rn_error(r->ctx, RN_ENOMEM, "out of memory");
    if ((rc = rn_io_open(r->ctx, r->sp->url, 0, UINT64_MAX, 0, &s)) == 0)
        rc = pump(r, &d, s, buf, 0, 1);
    if (rc == 0 && (r->rc || !r->names)) {
        if (r->why[0])
            rc = rn_error(r->ctx, RN_EFORMAT, "%s: the header: %s",
                          r->sp->url, r->why);
        else if (r->rc)
            rc = r->rc;
        else
            rc = rn_error(r->ctx, RN_EFORMAT,
                          "%s: the header (the first record) cannot be "
                          "read: %s",
                          r->sp->url,
                          d.err == RN_CSV_ERR_UNTERMINATED
                              ? "a quoted field is never closed"
                          : d.err == RN_CSV_ERR_STRICT
                              ? "a misplaced quote (strict: true)"
                          : d.err == RN_CSV_ERR_TOO_LONG ? "too long"
                                                         : "no record");
    }
    if (s)
        rn_io_close(r->ctx, s);
    rn_csv_decoder_release(&d);
    r->rc = 0;
    return rc;
}

int rn_csv_read_read(void *state, rn_ctx *ctx, const rn_value *split)
{
    const rc_state *st = state;
    rn_tio_split sp;
    reader r;
    rn_csv_decoder d;
    int d_ready = 0;
    rn_stream *s = NULL;
    unsigned char *buf = NULL;
    int rc;

    if ((rc = rn_tio_split_get(ctx, split, &sp)))
        return rc;
    if (!sp.whole && sp.end == sp.start)
        return 0;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.st = st;
    r.sp = &sp;
    if (!(buf = rn_alloc_keep(ctx, READ_BUF)))
        return RN_ENOMEM;
    if (st->header) {
        if (sp.whole || sp.start == 0)
            r.skip_header = 1;
        else if ((rc = read_header(&r, buf)))
            goto done;
    } else if (st->cols) {
        if (!(r.names = rn_alloc_keep(ctx, st->ncols * sizeof(*r.names))) ||
            !(r.types = rn_alloc_keep(ctx, st->ncols * sizeof(*r.types)))) {
            rc = RN_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < st->ncols; i++) {
            r.names[i] = st->cols[i].name;
            r.types[i] = st->cols[i].type;
        }
        r.ncols = st->ncols;
    }
    if (rn_csv_decoder_init(&d, st->delim, st->quote, st->strict,
                            sp.whole || sp.start == 0, MAX_RECORD,
                            on_record, &r) < 0) {
        rc = rn_error(ctx, RN_ENOMEM, "out of memory");
        goto done;
    }
    d_ready = 1;
    rc = sp.whole ? rn_tio_open_whole(ctx, sp.url, st->comp, &s)
                  : rn_io_open(ctx, sp.url, sp.start, sp.end - sp.start, 0,
                               &s);
    if (rc)
        goto done;
    if ((rc = pump(&r, &d, s, buf, 1, 0)))
        goto done;
    rc = report(&r, &d);
done:
    if (s)
        rn_io_close(ctx, s);
    if (d_ready)
        rn_csv_decoder_release(&d);
    return rc;
}
