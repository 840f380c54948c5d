/*
 * csv: CSV files in and out.
 *
 *   read_csv  source: records of CSV files (libcsv), split in blocks only
 *             between records, typed by declaration or per value
 *   to_csv    sink: RFC 4180 CSV, one file per partition, published
 *             atomically, compressed by extension
 *
 * Files, splits and atomic writers come from textio's tio_files.c.
 */
#include "csv_plugin.h"

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_SOURCE, "read_csv",
                "Records of CSV files (paths, globs, file://, http(s)://, "
                "s3://): header names the fields, values typed by "
                "declaration or inferred; split between records only"),
     RN_OP_PARAMS(rn_csv_read_params),
     .init = rn_csv_read_init,
     .destroy = rn_csv_read_destroy,
     .plan = rn_csv_read_plan,
     .read = rn_csv_read_read},
    {RN_OP_HEAD(RN_OP_SINK, "to_csv",
                "Writes records (or lists) as RFC 4180 CSV, one file per "
                "partition with a header line, published atomically; "
                "emits the path written"),
     RN_OP_PARAMS(rn_csv_write_params),
     .init = rn_csv_write_init,
     .destroy = rn_csv_write_destroy,
     .sink_open = rn_csv_write_open,
     .sink_write = rn_csv_write_value,
     .sink_commit = rn_csv_write_commit,
     .sink_abort = rn_csv_write_abort},
};

RN_PLUGIN_DEFINE("csv", "0.1.0", "read_csv and to_csv", ops)
