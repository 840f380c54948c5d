/*
 * runnel SDK — the plugin ABI.
 *
 * A plugin is a shared object exporting exactly one entry *function*,
 * RN_PLUGIN_ENTRY_NAME ("runnel_plugin_v1"), that returns a pointer to a
 * static, constant descriptor and does nothing else (no allocation, no
 * side effects: the loader calls it to inspect untrusted files). The
 * descriptor lists the plugin's operators; each operator declares its
 * parameters in a table the engine validates before any plugin code runs.
 *
 * Versioning: RN_ABI_MAJOR changes when a layout below changes
 * incompatibly; the loader refuses any other major. RN_ABI_MINOR grows when
 * fields are appended to rn_op_desc, rn_host or rn_ctx (1.1: rn_ctx's emit
 * buffer; 1.2: rn_host's from_json); the loader refuses a plugin
 * built against a newer minor than it knows. Every struct the two sides
 * exchange starts with (or carries) its size so that appended fields can be
 * detected.
 *
 * Minimal plugin:
 *
 *   static int up_map(void *st, rn_ctx *ctx, const rn_value *in,
 *                     rn_value *out) { ... }
 *   static const rn_op_desc ops[] = {
 *       { RN_OP_HEAD(RN_OP_MAP, "upper", "upper-case a string"),
 *         .map = up_map },
 *   };
 *   RN_PLUGIN_DEFINE("demo", "1.0.0", "demo operators", ops)
 */
#ifndef RUNNEL_PLUGIN_H
#define RUNNEL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "runnel/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RN_ABI_MAJOR 1
#define RN_ABI_MINOR 2
#define RN_PLUGIN_MAGIC 0x4C504E52u /* "RNPL" little-endian */
#define RN_PLUGIN_ENTRY_NAME "runnel_plugin_v1"

#if defined(__GNUC__)
#define RN_EXPORT __attribute__((visibility("default")))
#else
#define RN_EXPORT
#endif

/* Error codes: 0 is success, errors are negative. This list only grows at
 * its end. */
typedef enum rn_err {
    RN_OK = 0,
    RN_EINVAL = -1,    /* invalid argument or parameter */
    RN_ENOMEM = -2,    /* allocation failed or memory limit reached */
    RN_EIO = -3,       /* I/O error */
    RN_EFORMAT = -4,   /* malformed input data */
    RN_ETYPE = -5,     /* a value of the wrong kind */
    RN_ERANGE = -6,    /* out of range */
    RN_ENOTFOUND = -7, /* no such file, key, plugin, operator */
    RN_EABI = -8,      /* plugin ABI mismatch */
    RN_ECANCELED = -9, /* the job was cancelled */
    RN_EPLUGIN = -10,  /* a plugin broke the contract */
    RN_EINTERNAL = -11,
    RN_ELIMIT = -12,   /* a size limit was exceeded */
    RN_EREMOTE = -13,  /* a remote peer failed or vanished */
    RN_EEXIST = -14,
    RN_EPERM = -15     /* not allowed: identity, role or file policy */
} rn_err;

/* Operator kinds. The numbers are part of the ABI. */
typedef enum rn_op_kind {
    RN_OP_SOURCE = 1,    /* plans splits, then reads one split per task */
    RN_OP_MAP = 2,       /* one value in, one value out */
    RN_OP_FLAT_MAP = 3,  /* one value in, zero or more out */
    RN_OP_FILTER = 4,    /* one value in, kept or dropped */
    RN_OP_FOLD = 5,      /* reduce a whole bag: init / step / combine */
    RN_OP_FOLDBY = 6,    /* the keyed variant: one accumulator per key */
    RN_OP_PARTITION = 7, /* a whole partition in, values out */
    RN_OP_SINK = 8       /* write each partition somewhere */
} rn_op_kind;

#define RN_OP_KIND_MAX RN_OP_SINK

/* Parameter types. The engine converts the manifest's text into values:
 *   BOOL -> RN_BOOL, INT -> RN_INT, DOUBLE -> RN_DOUBLE, STRING -> RN_STRING,
 *   SIZE ("64MiB", "1GB", "4096") -> RN_INT bytes,
 *   DURATION ("500ms", "30s", "2m") -> RN_INT nanoseconds,
 *   STRING_LIST (one string or a list) -> RN_LIST of RN_STRING,
 *   ANY -> whatever the YAML holds (scalars typed by YAML rules). */
typedef enum rn_param_type {
    RN_PT_BOOL = 1,
    RN_PT_INT = 2,
    RN_PT_DOUBLE = 3,
    RN_PT_STRING = 4,
    RN_PT_SIZE = 5,
    RN_PT_DURATION = 6,
    RN_PT_STRING_LIST = 7,
    RN_PT_ANY = 8
} rn_param_type;

#define RN_PT_MAX RN_PT_ANY

#define RN_PF_REQUIRED 0x1u /* the manifest must give it */

typedef struct rn_param_spec {
    const char *name;  /* [a-z_][a-z0-9_]*, at most 64 bytes */
    uint32_t type;     /* rn_param_type */
    uint32_t flags;    /* RN_PF_* */
    const char *def;   /* default, written as in a manifest; NULL = null */
    double min, max;   /* numeric bounds, checked when min < max */
    const char *const *choices; /* NULL-terminated allowed strings, or NULL */
    const char *help;
} rn_param_spec;

/* Limits the loader enforces on a descriptor. */
#define RN_MAX_OPS 256
#define RN_MAX_PARAMS 64
#define RN_MAX_NAME 64
#define RN_MAX_HELP 1024
#define RN_MAX_CHOICES 64

typedef struct rn_ctx rn_ctx; /* see runnel/host.h */

/* Operator flags. */
#define RN_OPF_SCALAR 0x1u /* a fold whose result is one value: it must be
                              the last step (count, sum, mean...) */
#define RN_OPF_COMMUTATIVE 0x2u /* a fold whose result does not depend on
                                   the order of elements or partitions: the
                                   engine may fold several partitions into
                                   one accumulator (count, sum, frequencies;
                                   not take) */
#define RN_OPF_COUNTING 0x4u /* ABI 1.1: a fold (or foldby) whose step adds 1
                                to an int accumulator whatever the element:
                                the engine may do that itself instead of
                                calling step (count, frequencies). step is
                                still required; it is called for an
                                accumulator that is not an int */

/*
 * One operator. Fill the head with RN_OP_HEAD and set the callbacks its
 * kind needs (the loader checks): others stay NULL.
 *
 * Threading: init and destroy run once per job per process, on one thread.
 * Every other callback may run concurrently on several threads with the
 * same `state`, each with its own ctx: treat `state` as read-only after
 * init (or synchronize yourself). A ctx, and any accumulator, is used by
 * one thread at a time.
 *
 * Memory: memory from rn_alloc(ctx) is scratch: valid until the values
 * made from it have been consumed downstream (for map / flat_map / filter
 * / partition: until the callback returns; for a source: until the next
 * rn_flush or the end of read). rn_alloc_keep(ctx) memory lives as long as
 * the task (folds keep their accumulators there). Input values are
 * borrowed: valid during the callback only; emitting or returning them
 * unchanged is allowed.
 *
 * Errors: return a negative rn_err after rn_error(ctx, ...) said why. The
 * engine prefixes plugin, operator and partition to the message.
 */
typedef struct rn_op_desc {
    uint32_t size; /* sizeof(rn_op_desc) the plugin was built with */
    uint32_t kind; /* rn_op_kind */
    const char *name; /* [a-z_][a-z0-9_]*, unique in the plugin */
    const char *help;
    uint32_t flags; /* RN_OPF_* */
    uint32_t n_params;
    const rn_param_spec *params;

    /* Optional. params is a RN_RECORD holding every declared parameter in
     * declaration order, validated and with defaults filled in (absent
     * optional ones are null). params stays valid until destroy. */
    int (*init)(rn_ctx *ctx, const rn_value *params, void **state);
    /* Optional. Frees what init made. */
    void (*destroy)(void *state);

    /* SOURCE: plan emits one value per split (any value the read side
     * understands: it travels between machines encoded). read emits the
     * split's elements. */
    int (*plan)(void *state, rn_ctx *ctx);
    int (*read)(void *state, rn_ctx *ctx, const rn_value *split);

    /* MAP: set *out (may view `in` or scratch memory). */
    int (*map)(void *state, rn_ctx *ctx, const rn_value *in, rn_value *out);
    /* FLAT_MAP: emit zero or more values. */
    int (*flat_map)(void *state, rn_ctx *ctx, const rn_value *in);
    /* FILTER: return 1 to keep, 0 to drop, negative on error. */
    int (*filter)(void *state, rn_ctx *ctx, const rn_value *in);
    /* PARTITION: the whole partition in; emit the outputs. */
    int (*partition)(void *state, rn_ctx *ctx, const rn_value *items,
                     size_t n);

    /* FOLD and FOLDBY. The accumulator is a value; memory it needs comes
     * from rn_alloc_keep. init sets the starting accumulator; step adds
     * one element; combine merges a partial accumulator (perhaps computed
     * on another machine and decoded) into acc and must copy what it keeps
     * of `other`; finish emits the result (optional: the default emits acc
     * for FOLD and [key, acc] for FOLDBY; key is NULL for FOLD).
     * step only sees accumulators fold_init made (and step and combine
     * changed), so it may rely on bookkeeping they keep behind the
     * visible items; combine and finish may also be handed a plain deep
     * copy of a partial (FOLDBY: the engine merging a spilled table's
     * runs), so they must rely on the visible items alone.
     * FOLDBY: key extracts an element's key (optional: the default is the
     * element itself). The engine keeps one accumulator per key in a hash
     * table whose hash is the same on every machine. */
    int (*key)(void *state, rn_ctx *ctx, const rn_value *in, rn_value *key);
    int (*fold_init)(void *state, rn_ctx *ctx, rn_value *acc);
    int (*step)(void *state, rn_ctx *ctx, rn_value *acc, const rn_value *in);
    int (*combine)(void *state, rn_ctx *ctx, rn_value *acc,
                   const rn_value *other);
    int (*finish)(void *state, rn_ctx *ctx, const rn_value *key,
                  const rn_value *acc);

    /* SINK: open for the task's partition (rn_partition_index), write each
     * value, then commit (publish atomically; emit one value saying where
     * it wrote) or abort (discard everything written). */
    int (*sink_open)(void *state, rn_ctx *ctx, void **w);
    int (*sink_write)(void *state, rn_ctx *ctx, void *w, const rn_value *v);
    int (*sink_commit)(void *state, rn_ctx *ctx, void *w);
    void (*sink_abort)(void *state, rn_ctx *ctx, void *w);
} rn_op_desc;

#define RN_OP_HEAD(kind_, name_, help_)                                      \
    .size = sizeof(rn_op_desc), .kind = (kind_), .name = (name_),              \
    .help = (help_)

/* Attach a parameter table (a static array) to an operator. */
#define RN_OP_PARAMS(table_)                                                 \
    .n_params = (uint32_t)(sizeof(table_) / sizeof((table_)[0])),              \
    .params = (table_)

typedef struct rn_plugin_desc {
    uint32_t magic;      /* RN_PLUGIN_MAGIC */
    uint16_t abi_major;  /* RN_ABI_MAJOR */
    uint16_t abi_minor;  /* RN_ABI_MINOR */
    uint32_t desc_size;  /* sizeof(rn_plugin_desc) */
    uint32_t op_size;    /* sizeof(rn_op_desc) */
    uint32_t param_size; /* sizeof(rn_param_spec) */
    uint32_t value_size; /* sizeof(rn_value) */
    const char *name;    /* [a-z_][a-z0-9_]*: the prefix in "plugin.op" */
    const char *version;
    const char *description;
    uint32_t n_ops;
    const rn_op_desc *ops;
} rn_plugin_desc;

typedef const rn_plugin_desc *(*rn_plugin_entry_fn)(void);

/* Defines the entry function. ops_ must be a static array. */
#define RN_PLUGIN_DEFINE(name_, version_, description_, ops_)                \
    RN_EXPORT const rn_plugin_desc *runnel_plugin_v1(void);                    \
    RN_EXPORT const rn_plugin_desc *runnel_plugin_v1(void)                     \
    {                                                                          \
        static const rn_plugin_desc desc_ = {                                  \
            RN_PLUGIN_MAGIC,                                                   \
            RN_ABI_MAJOR,                                                      \
            RN_ABI_MINOR,                                                      \
            (uint32_t)sizeof(rn_plugin_desc),                                  \
            (uint32_t)sizeof(rn_op_desc),                                      \
            (uint32_t)sizeof(rn_param_spec),                                   \
            (uint32_t)sizeof(rn_value),                                        \
            (name_),                                                           \
            (version_),                                                        \
            (description_),                                                    \
            (uint32_t)(sizeof(ops_) / sizeof((ops_)[0])),                      \
            (ops_)};                                                           \
        return &desc_;                                                         \
    }

/* Name of an operator kind ("source", "map", ...), "?" when unknown. */
static inline const char *rn_op_kind_name(uint32_t kind)
{
    static const char *const names[] = {"?",      "source", "map",
                                        "flat_map", "filter", "fold",
                                        "foldby", "partition", "sink"};
    return kind <= RN_OP_KIND_MAX ? names[kind] : "?";
}

static inline const char *rn_param_type_name(uint32_t type)
{
    static const char *const names[] = {"?",      "bool",     "int",
                                        "double", "string",   "size",
                                        "duration", "string_list", "any"};
    return type <= RN_PT_MAX ? names[type] : "?";
}

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_PLUGIN_H */
