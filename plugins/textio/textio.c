/*
 * textio: lines of text in and out.
 *
 *   read_text     source: lines of local files, globs and URLs, split in
 *                 blocks at line boundaries, decoded when compressed
 *   to_textfiles  sink: one line per value, one file per partition,
 *                 published atomically, compressed by extension
 */
#include "textio.h"

static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_SOURCE, "read_text",
                "Lines of text files (paths, globs, file://, http(s)://, "
                "s3://) as strings without their line terminator; "
                "uncompressed files split by blocksize, compressed ones "
                "read whole"),
     RN_OP_PARAMS(rn_textio_read_text_params),
     .init = rn_textio_read_text_init,
     .destroy = rn_textio_read_text_destroy,
     .plan = rn_textio_read_text_plan,
     .read = rn_textio_read_text_read},
    {RN_OP_HEAD(RN_OP_SINK, "to_textfiles",
                "Writes each value as one line (strings as they are, other "
                "values as JSON), one file per partition, published "
                "atomically; emits the path written"),
     RN_OP_PARAMS(rn_textio_to_textfiles_params),
     .init = rn_textio_to_textfiles_init,
     .destroy = rn_textio_to_textfiles_destroy,
     .sink_open = rn_textio_to_textfiles_open,
     .sink_write = rn_textio_to_textfiles_write,
     .sink_commit = rn_textio_to_textfiles_commit,
     .sink_abort = rn_textio_to_textfiles_abort},
};

RN_PLUGIN_DEFINE("textio", "0.1.0", "read_text and to_textfiles", ops)
