#include "common.h"
static const rn_op_desc ops[] = {{RN_OP_HEAD(RN_OP_MAP, "id", "identity"), .map = ok_map}};
BAD_DESC(0xDEADBEEFu, RN_ABI_MAJOR, RN_ABI_MINOR, ops)
