/* Shared by the deliberately broken test plugins: a descriptor like the one
 * RN_PLUGIN_DEFINE builds, with one field overridden per plugin. */
#include <runnel/runnel.h>

__attribute__((unused)) static int ok_map(void *st, rn_ctx *ctx, const rn_value *in, rn_value *out)
{
    (void)st;
    (void)ctx;
    *out = *in;
    return 0;
}

#define BAD_DESC(magic_, major_, minor_, ops_)                               \
    RN_EXPORT const rn_plugin_desc *runnel_plugin_v1(void);                    \
    RN_EXPORT const rn_plugin_desc *runnel_plugin_v1(void)                     \
    {                                                                          \
        static const rn_plugin_desc d = {                                      \
            (magic_), (major_), (minor_), (uint32_t)sizeof(rn_plugin_desc),    \
            (uint32_t)sizeof(rn_op_desc), (uint32_t)sizeof(rn_param_spec),     \
            (uint32_t)sizeof(rn_value), "broken", "0.0.1", "test plugin",      \
            (uint32_t)(sizeof(ops_) / sizeof((ops_)[0])), (ops_)};             \
        return &d;                                                             \
    }
