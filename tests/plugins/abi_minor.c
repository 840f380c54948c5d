#include "common.h"
static const rn_op_desc ops[] = {{RN_OP_HEAD(RN_OP_MAP, "id", "identity"), .map = ok_map}};
BAD_DESC(RN_PLUGIN_MAGIC, RN_ABI_MAJOR, RN_ABI_MINOR + 1, ops)
