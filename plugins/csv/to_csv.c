/*
 * to_csv: one CSV file per partition (Dask's bag.to_csv is a dataframe's;
 * this writes a bag's records). Every '*' in `path` becomes the partition
 * number; a path without '*' is a directory, written as <path>/<n>.csv.
 * Written aside and published on commit, compressed by extension
 * (tio_files.c, as to_textfiles); commit emits the path written.
 *
 * Rows (RFC 4180): fields joined by the delimiter, each record ended by
 * CRLF (line_terminator: lf for LF). A field is quoted when it holds the
 * delimiter, a quote, CR or LF, starts or ends with a space or a tab, or
 * is an empty string (so "" and null differ, and a row of one empty
 * field is no blank line); quotes inside are doubled.
 *
 * Values: a record is a row, its fields in the order of the file's
 * columns, which are the first record's field names (the header line,
 * with header: true); a later record lacking a column leaves it empty, a
 * record with a field that is no column fails the task (naming it). A
 * list is a row of its items (no header). Anything else is a row of one
 * field. A field's text: null -> empty, a string as it is, any other
 * value as its JSON (numbers, true/false, lists and records as JSON).
 */
#include <stdlib.h>
#include <string.h>

#include "csv_plugin.h"
#include "tio_files.h"

static const char *const term_choices[] = {"crlf", "lf", NULL};

const rn_param_spec rn_csv_write_params[RN_CSV_WRITE_NPARAMS] = {
    {.name = "path",
     .type = RN_PT_STRING,
     .flags = RN_PF_REQUIRED,
     .help = "file to write per partition, '*' replaced by the partition "
             "number (out/part-*.csv.gz); without '*', a directory"},
    {.name = "header",
     .type = RN_PT_BOOL,
     .def = "true",
     .help = "write the columns (the first record's field names) as the "
             "first line of each file"},
    {.name = "delimiter",
     .type = RN_PT_STRING,
     .def = ",",
     .help = "the field separator, one byte other than '\"', CR, LF"},
    {.name = "line_terminator",
     .type = RN_PT_STRING,
     .def = "crlf",
     .choices = term_choices,
     .help = "crlf (RFC 4180) or lf"},
};

typedef struct tc_state {
    char *path;
    int header;
    char delim;
    int lf;
} tc_state;

typedef struct tc_out {
    rn_tio_out *o;
    rn_str *cols; /* the file's columns (task memory), NULL before */
    size_t ncols;
} tc_out;

void rn_csv_write_destroy(void *state)
{
    tc_state *st = state;
    if (!st)
        return;
    free(st->path);
    free(st);
}

int rn_csv_write_init(rn_ctx *ctx, const rn_value *params, void **state)
{
    rn_str d = rn_param_str(params, "delimiter", ",");
    tc_state *st;
    int rc;

    if (d.len != 1 || d.ptr[0] == '"' || d.ptr[0] == '\r' || d.ptr[0] == '\n')
        return rn_error(ctx, RN_EINVAL,
                        "delimiter: expected one byte other than '\"', CR "
                        "and LF");
    if (!(st = calloc(1, sizeof(*st))))
        return rn_error(ctx, RN_ENOMEM, "out of memory");
    if ((rc = rn_tio_path_copy(ctx, params, &st->path))) {
        free(st);
        return rc;
    }
    st->header = rn_param_bool(params, "header", 1);
    st->delim = d.ptr[0];
    st->lf = rn_str_eq(rn_param_str(params, "line_terminator", "crlf"),
                       "lf");
    *state = st;
    return 0;
}

int rn_csv_write_open(void *state, rn_ctx *ctx, void **w)
{
    const tc_state *st = state;
    tc_out *t = rn_alloc_keep(ctx, sizeof(*t));
    int rc;

    *w = NULL;
    if (!t)
        return RN_ENOMEM;
    memset(t, 0, sizeof(*t));
    if ((rc = rn_tio_out_open(ctx, st->path, ".csv", &t->o)))
        return rc;
    *w = t;
    return 0;
}

/* One field, quoted when it must be. */
static int put_text(const tc_state *st, rn_ctx *ctx, tc_out *t,
                    const char *p, size_t n, int is_str)
{
    int quote = is_str && n == 0;
    const char *q, *end = p + n;
    int rc;

    if (n && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
              p[n - 1] == '\t'))
        quote = 1;
    for (size_t i = 0; !quote && i < n; i++)
        quote = p[i] == st->delim || p[i] == '"' || p[i] == '\r' ||
                p[i] == '\n';
    if (!quote)
        return rn_tio_out_put(ctx, t->o, p, n);
    if ((rc = rn_tio_out_put(ctx, t->o, "\"", 1)))
        return rc;
    /* each run up to and including a quote, then the quote again */
    while ((q = memchr(p, '"', (size_t)(end - p))) != NULL) {
        if ((rc = rn_tio_out_put(ctx, t->o, p, (size_t)(q - p) + 1)) ||
            (rc = rn_tio_out_put(ctx, t->o, "\"", 1)))
            return rc;
        p = q + 1;
    }
    if ((rc = rn_tio_out_put(ctx, t->o, p, (size_t)(end - p))))
        return rc;
    return rn_tio_out_put(ctx, t->o, "\"", 1);
}

static int put_value(const tc_state *st, rn_ctx *ctx, tc_out *t,
                     const rn_value *v)
{
    rn_str s;
    int rc;
    if (v->kind == RN_NULL)
        return 0;
    if (v->kind == RN_STRING) {
        s = rn_value_str(v);
        return put_text(st, ctx, t, s.ptr, s.len, 1);
    }
    if ((rc = rn_to_json(ctx, v, &s)))
        return rc;
    return put_text(st, ctx, t, s.ptr, s.len, 0);
}

static int end_row(const tc_state *st, rn_ctx *ctx, tc_out *t)
{
    return st->lf ? rn_tio_out_put(ctx, t->o, "\n", 1)
                  : rn_tio_out_put(ctx, t->o, "\r\n", 2);
}

static int put_sep(const tc_state *st, rn_ctx *ctx, tc_out *t)
{
    return rn_tio_out_put(ctx, t->o, &st->delim, 1);
}

static int name_eq(rn_str a, rn_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The first record fixes the columns (and writes the header). */
static int set_columns(const tc_state *st, rn_ctx *ctx, tc_out *t,
                       const rn_value *rec)
{
    int rc;
    if (!(t->cols = rn_alloc_keep(ctx, (rec->len ? rec->len : 1) *
                                           sizeof(*t->cols))))
        return RN_ENOMEM;
    for (uint32_t i = 0; i < rec->len; i++) {
        rn_str n = rec->u.fields[i].name;
        char *c = rn_alloc_keep(ctx, n.len ? n.len : 1);
        if (!c)
            return RN_ENOMEM;
        if (n.len)
            memcpy(c, n.ptr, n.len);
        t->cols[i] = (rn_str){c, n.len};
    }
    t->ncols = rec->len;
    if (!st->header)
        return 0;
    for (size_t i = 0; i < t->ncols; i++)
        if ((i && (rc = put_sep(st, ctx, t))) ||
            (rc = put_text(st, ctx, t, t->cols[i].ptr, t->cols[i].len,
                           t->ncols == 1)))
            return rc;
    return end_row(st, ctx, t);
}

static int put_record(const tc_state *st, rn_ctx *ctx, tc_out *t,
                      const rn_value *rec)
{
    size_t matched = 0;
    int rc;

    if (!t->cols && (rc = set_columns(st, ctx, t, rec)))
        return rc;
    /* a row of one empty field must not read as a blank line */
    if (t->ncols == 1 && rec->len == 1 &&
        rec->u.fields[0].value.kind == RN_NULL) {
        if ((rc = rn_tio_out_put(ctx, t->o, "\"\"", 2)))
            return rc;
        return end_row(st, ctx, t);
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const rn_value *v = NULL;
        if (i < rec->len && name_eq(rec->u.fields[i].name, t->cols[i]))
            v = &rec->u.fields[i].value;
        for (uint32_t k = 0; !v && k < rec->len; k++)
            if (name_eq(rec->u.fields[k].name, t->cols[i]))
                v = &rec->u.fields[k].value;
        if (i && (rc = put_sep(st, ctx, t)))
            return rc;
        if (v) {
            matched++;
            if ((rc = put_value(st, ctx, t, v)))
                return rc;
        }
    }
    if (matched < rec->len) {
        for (uint32_t k = 0; k < rec->len; k++) {
            size_t i = 0;
            while (i < t->ncols && !name_eq(rec->u.fields[k].name, t->cols[i]))
                i++;
            if (i == t->ncols) {
                rn_str n = rec->u.fields[k].name;
                return rn_error(ctx, RN_EINVAL,
                                "field \"%.*s\" is not a column of this file "
                                "(its columns are the first record's fields)",
                                (int)(n.len > 64 ? 64 : n.len), n.ptr);
            }
        }
    }
    return end_row(st, ctx, t);
}

int rn_csv_write_value(void *state, rn_ctx *ctx, void *w, const rn_value *v)
{
    const tc_state *st = state;
    tc_out *t = w;
    int rc;

    if (v->kind == RN_RECORD)
        return put_record(st, ctx, t, v);
    if (v->kind == RN_LIST) {
        if (v->len == 1 && v->u.items[0].kind == RN_NULL) {
            if ((rc = rn_tio_out_put(ctx, t->o, "\"\"", 2)))
                return rc;
        }
        for (uint32_t i = 0; i < v->len; i++)
            if ((i && (rc = put_sep(st, ctx, t))) ||
                (rc = put_value(st, ctx, t, &v->u.items[i])))
                return rc;
        return end_row(st, ctx, t);
    }
    if (v->kind == RN_NULL) {
        if ((rc = rn_tio_out_put(ctx, t->o, "\"\"", 2)))
            return rc;
    } else if ((rc = put_value(st, ctx, t, v))) {
        return rc;
    }
    return end_row(st, ctx, t);
}

int rn_csv_write_commit(void *state, rn_ctx *ctx, void *w)
{
    tc_out *t = w;
    return rn_tio_out_commit(ctx, t->o);
}

void rn_csv_write_abort(void *state, rn_ctx *ctx, void *w)
{
    tc_out *t = w;
    if (t)
        rn_tio_out_abort(ctx, t->o);
}
