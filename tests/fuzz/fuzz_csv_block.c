/*
 * libFuzzer target for the csv plugin's block decoder (plugins/csv/
 * csv_decode.c over libcsv) and its record-boundary automaton
 * (csv_scan.c), both compiled in here directly.
 *
 * Input: byte 0 picks the options (bit 0 strict, bit 1 ';' as the
 * delimiter, bit 2 '\'' as the quote, bits 3-7 a blocksize of 1..32
 * bytes); the rest is the file.
 *
 * Checks, on arbitrary bytes: no crash or read outside the input; the
 * automaton counts as many records as libcsv delivers (lenient mode);
 * and cutting the file in blocks where the automaton stands between
 * records (as read_csv's plan does) and decoding each block with a fresh
 * decoder gives exactly the records of decoding it whole, and the same
 * error (kind, and byte offset for strict mode), whatever the blocksize.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/csv/csv_decode.c"
#include "../../plugins/csv/csv_scan.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Records serialized: per field its length (8 bytes) and bytes, a 0xFF
 * byte after each record. */
typedef struct out {
    unsigned char *p;
    size_t len, cap;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t c = o->cap ? o->cap : 256;
        while (c < o->len + n)
            c *= 2;
        if (!(o->p = realloc(o->p, c)))
            abort();
        o->cap = c;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

static int keep_row(void *arg, const rn_csv_field *f, size_t n)
{
    out *o = arg;
    unsigned char end = 0xFF;
    for (size_t i = 0; i < n; i++) {
        uint64_t l = f[i].len;
        if (f[i].ptr[f[i].len] != '\0')
            abort(); /* fields are NUL-terminated */
        put(o, &l, sizeof l);
        put(o, f[i].ptr, f[i].len);
    }
    put(o, &end, 1);
    return 0;
}

typedef struct result {
    out rec;
    rn_csv_err err;
    uint64_t err_offset; /* strict: absolute */
    uint64_t rows;
} result;

static void decode(const uint8_t *p, size_t n, uint64_t base, int opts,
                   int bom, result *r)
{
    rn_csv_decoder d;
    unsigned char delim = opts & 2 ? ';' : ',';
    unsigned char quote = opts & 4 ? '\'' : '"';
    if (rn_csv_decoder_init(&d, delim, quote, opts & 1, bom, 1 << 20,
                            keep_row, &r->rec) < 0)
        abort();
    /* feed in two pieces, to cross a feed boundary */
    if (rn_csv_decoder_feed(&d, p, n / 2) == RN_CSV_OK &&
        rn_csv_decoder_feed(&d, p + n / 2, n - n / 2) == RN_CSV_OK)
        rn_csv_decoder_finish(&d);
    r->err = d.err;
    r->err_offset = base + d.err_offset;
    r->rows += d.rows;
    rn_csv_decoder_release(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    result whole = {0}, blocks = {0};
    rn_csv_scan sc;
    size_t bs, last, skip;
    int opts;

    if (size < 1)
        return 0;
    opts = data[0];
    bs = (size_t)(opts >> 3) + 1;
    data++;
    size--;

    decode(data, size, 0, opts, 1, &whole);

    /* the automaton's record count */
    skip = rn_csv_bom_len(data, size);
    rn_csv_scan_init(&sc, opts & 2 ? ';' : ',', opts & 4 ? '\'' : '"');
    rn_csv_scan_to_row(&sc, data + skip, size - skip, size - skip + 1);
    /* a last record without a line end counts at the end of the data,
     * unless a quoted field is still open (an error, no record) */
    if (!(opts & 1) &&
        sc.rows + (sc.state != RN_CSV_ROW && sc.state != RN_CSV_QUOTED) !=
            whole.rows)
        abort();

    /* blocks cut as read_csv's plan cuts them */
    rn_csv_scan_init(&sc, opts & 2 ? ';' : ',', opts & 4 ? '\'' : '"');
    last = 0;
    {
        size_t i = skip, mark = bs;
        while (i < size) {
            size_t from = mark > i ? mark - i : 0, r;
            r = rn_csv_scan_to_row(&sc, data + i, size - i,
                                   from > size - i ? size - i + 1 : from);
            if (r > size - i)
                break;
            i += r;
            if (i >= size)
                break;
            if (i > last) {
                decode(data + last, i - last, last, opts, last == 0,
                       &blocks);
                if (blocks.err)
                    break;
                last = i;
                mark = i + bs;
            }
        }
    }
    if (!blocks.err)
        decode(data + last, size - last, last, opts, last == 0, &blocks);

    if (whole.err != blocks.err || whole.rows != blocks.rows ||
        whole.rec.len != blocks.rec.len ||
        (whole.rec.len && memcmp(whole.rec.p, blocks.rec.p, whole.rec.len)) ||
        (whole.err == RN_CSV_ERR_STRICT &&
         whole.err_offset != blocks.err_offset)) {
        fprintf(stderr,
                "blocks of %zu differ from the whole: err %d/%d rows "
                "%llu/%llu bytes %zu/%zu\n",
                bs, whole.err, blocks.err, (unsigned long long)whole.rows,
                (unsigned long long)blocks.rows, whole.rec.len,
                blocks.rec.len);
        abort();
    }
    free(whole.rec.p);
    free(blocks.rec.p);
    return 0;
}
