#include "common.h"
static const rn_param_spec params[] = {{.name = "n", .type = 42, .help = "?"}};
static const rn_op_desc ops[] = {
    {RN_OP_HEAD(RN_OP_MAP, "id", "identity"), RN_OP_PARAMS(params), .map = ok_map}};
BAD_DESC(RN_PLUGIN_MAGIC, RN_ABI_MAJOR, RN_ABI_MINOR, ops)
