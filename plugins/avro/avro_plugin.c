/*
 * avro: Avro object container files.
 *
 *   read_avro   source: the records of Avro files, split at sync markers
 *               by blocksize; codecs null, deflate, snappy, xz, lzma,
 *               bzip2
 *   to_avro     sink: one container file per partition, written aside
 *               and published atomically
 */
#include "avro_plugin.h"

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_SOURCE, "read_avro",
                "Records of Avro object container files (paths, globs, "
                "file://, http(s)://, s3://), split at sync markers by "
                "blocksize; codecs null, deflate, snappy, xz, bzip2 and lzma "
                "(avro-c)"),
     RN_OP_PARAMS(rn_avro_read_params),
     .init = rn_avro_read_init,
     .destroy = rn_avro_read_destroy,
     .plan = rn_avro_read_plan,
     .read = rn_avro_read_read},
    {RN_OP_HEAD(RN_OP_SINK, "to_avro",
                "Writes values as records of an Avro schema (inline JSON or "
                "an .avsc path), one container file per partition, "
                "published atomically; emits the path written"),
     RN_OP_PARAMS(rn_avro_to_avro_params),
     .init = rn_avro_to_avro_init,
     .destroy = rn_avro_to_avro_destroy,
     .sink_open = rn_avro_to_avro_open,
     .sink_write = rn_avro_to_avro_write,
     .sink_commit = rn_avro_to_avro_commit,
     .sink_abort = rn_avro_to_avro_abort},
};

RN_PLUGIN_DEFINE("avro", "0.1.0", "read_avro and to_avro", ops)
