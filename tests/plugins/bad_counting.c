#include "common.h"
/* RN_OPF_COUNTING is for folds: on a map it is refused */
static const rn_op_desc ops[] = {{RN_OP_HEAD(RN_OP_MAP, "id", "identity"),
                                  .flags = RN_OPF_COUNTING, .map = ok_map}};
BAD_DESC(RN_PLUGIN_MAGIC, RN_ABI_MAJOR, RN_ABI_MINOR, ops)
