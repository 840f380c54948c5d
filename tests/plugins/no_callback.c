#include "common.h"
/* a map without its map callback */
static const rn_op_desc ops[] = {{RN_OP_HEAD(RN_OP_MAP, "id", "identity")}};
BAD_DESC(RN_PLUGIN_MAGIC, RN_ABI_MAJOR, RN_ABI_MINOR, ops)
