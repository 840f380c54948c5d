/*
 * Manifests: the YAML file a pipeline author writes, parsed into a tree of
 * nodes that remember their file:line:column, checked against the fixed
 * top-level schema, and the binding of one step's parameters to the table
 * its operator declares.
 *
 *   name: wordcount                       # optional: defaults to the
 *   plugins: [build/libwords.so]          #   file's base name
 *   source:                               # required: an op name, or a
 *     read_text: {urls: data/a.txt}       #   one-key map op -> params
 *   steps:                                # optional list, each item an
 *     - words.split: {lower: true}        #   op name or a one-key map
 *     - frequencies
 *   sink: {to_textfiles: {path: out/p.txt}}   # optional
 *
 * YAML rules. One document (a second is an error). Scalars are typed by
 * the YAML 1.2 core schema: null/Null/NULL/~/empty, true/false (three
 * spellings each), ints (decimal, 0o octal, 0x hex), floats (1.5, 1e3,
 * .inf, .nan); every quoted or block (| >) scalar is a string, as is any
 * scalar tagged `!` or `!!str`. Other tags are refused. Aliases (*a) are
 * refused (they could expand a small file into a huge tree); anchors are
 * accepted and ignored. Keys must be scalars and unique in their mapping.
 *
 * Environment substitution happens in every scalar (keys too, quoted or
 * not) after YAML parsing, so a variable's value can never change the
 * document's structure, and before any validation, so `k: ${K}` with K=10
 * binds as the int 10 (a quoted "${K}" stays a string):
 *   ${VAR}           the value of VAR; an error when VAR is unset
 *   ${VAR:-default}  the value of VAR, or `default` when VAR is unset or
 *                    empty (shell semantics); the default is literal text
 *                    up to the first '}' (no nesting)
 *   $${              a literal "${" (the escape; any other '$' is literal:
 *                    "a$b", "$$" and "100$" are kept as they are)
 * VAR is [A-Za-z_][A-Za-z0-9_]*. Anything else after "${" is an error.
 * Inside a flow collection the reference must be quoted, since '{' and '}'
 * end a plain scalar there: `topk: {k: "${K}"}`. Such a quoted scalar
 * stays a string for ANY parameters, but BOOL, INT and DOUBLE parameters
 * type a quoted scalar that holds a substitution by YAML rules, so both
 * `k: ${K}` and `{k: "${K}"}` bind K=10 as the int 10.
 *
 * Limits (hostile input never crashes or exhausts memory): 16 MiB of
 * text, 64 levels of nesting, 1 Mi nodes, 64 MiB of scalar text after
 * substitution.
 *
 * Errors read "file:line:col: message" with 1-based line and column
 * (columns count characters). Codes: RN_EFORMAT for malformed YAML,
 * RN_EINVAL for schema and parameter errors, RN_ELIMIT for the limits,
 * RN_ENOTFOUND / RN_EIO when the file cannot be read, RN_ENOMEM.
 *
 * Thread-safety: every function is reentrant; the parsers read the
 * environment with getenv (do not setenv concurrently). A manifest is
 * immutable after parsing and may be read from several threads.
 */
#ifndef RN_CORE_MANIFEST_H
#define RN_CORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <runnel/plugin.h>
#include <runnel/value.h>

#include "base/arena.h"
#include "base/error.h"

#define RN_MANIFEST_MAX_BYTES ((size_t)16 << 20)
#define RN_MANIFEST_MAX_DEPTH 64
#define RN_MANIFEST_MAX_NODES ((size_t)1 << 20)
#define RN_MANIFEST_MAX_EXPANDED ((size_t)64 << 20)

/* A position in a manifest; line and col are 1-based. */
typedef struct rn_mpos {
    const char *file;
    uint32_t line, col;
} rn_mpos;

typedef enum { RN_MN_SCALAR = 1, RN_MN_SEQ, RN_MN_MAP } rn_mnode_type;

/* One YAML node. Every pointer views the arena the tree was parsed in. */
typedef struct rn_mnode {
    int type; /* rn_mnode_type */
    rn_mpos pos;
    /* SCALAR: the text after ${VAR} substitution, NUL-terminated (it may
     * hold other NULs when a quoted scalar wrote "\0"); plain is 1 when
     * the scalar was unquoted, untagged and thus typed by YAML rules. */
    const char *text;
    size_t len;
    int plain;
    struct rn_mnode **items; /* SEQ items; MAP values */
    size_t n;
    struct rn_mnode **keys; /* MAP keys (scalars), same n */
    /* SCALAR: 1 when ${VAR} substitution produced some of the text. */
    int subst;
} rn_mnode;

/* An operator reference: `op` is its name as written ("op" or
 * "plugin.op"), pos where that name is, params a MAP node or NULL. */
typedef struct rn_mstep {
    const char *op;
    rn_mpos pos;
    const rn_mnode *params;
} rn_mstep;

/* Everything lives in `arena`, freed by rn_manifest_free. */
typedef struct rn_manifest {
    rn_arena arena;
    const char *file; /* the label errors use */
    const char *name;
    const char **plugins; /* paths or "sha256:<64 hex>" ids, as written */
    rn_mpos *plugin_pos;
    size_t n_plugins;
    rn_mstep source;
    rn_mstep *steps;
    size_t n_steps;
    rn_mstep sink;
    int has_sink;
    const rn_mnode *root; /* the whole document */
} rn_manifest;

/* Reads and parses the file at `path` (used as the label in errors). */
int rn_manifest_load(const char *path, rn_manifest **out, rn_errbuf *err);
/* Parses text[0..len) (no NUL needed); `label` names it in errors. */
int rn_manifest_parse(const char *label, const char *text, size_t len,
                      rn_manifest **out, rn_errbuf *err);
void rn_manifest_free(rn_manifest *m); /* NULL ok */

/* Parses one YAML document (e.g. the flow mapping "{k: 10, key: 1}") into
 * a node tree in arena `a`, with ${VAR} substitution. An empty text gives
 * a null scalar at 1:1. */
int rn_mnode_parse(rn_arena *a, const char *label, const char *text,
                   size_t len, rn_mnode **out, rn_errbuf *err);

/* 1 when n is NULL or a scalar YAML types as null. */
int rn_mnode_is_null(const rn_mnode *n);
/* The typed value of a scalar (YAML 1.2 core rules; strings view n->text),
 * RN_ETYPE for a SEQ or MAP. */
int rn_mnode_scalar_value(const rn_mnode *n, rn_value *out);
/* Converts any node to a value in arena `a` (for RN_PT_ANY parameters,
 * from_sequence items...): scalars typed as above (strings copied), SEQ
 * -> RN_LIST, MAP -> RN_RECORD with the keys' text as field names. */
int rn_mnode_to_value(rn_arena *a, const rn_mnode *n, rn_value *out,
                      rn_errbuf *err);

/*
 * Binds a step's params to an operator's declared table. On success *out
 * is a RN_RECORD in arena `a` (self-contained: no pointer into the
 * manifest or the plugin) holding EVERY declared parameter in declaration
 * order. A parameter that is absent or explicitly null takes its default
 * (null when spec->def is NULL); a required one must be given, non-null.
 *
 * Conversions: BOOL and INT want a plain scalar of that YAML type (or a
 * quoted one holding a ${VAR} substitution, see above); DOUBLE takes ints
 * too; STRING takes any non-null scalar as its text (so
 * `pattern: 2024` is "2024"); SIZE and DURATION take scalar text parsed by
 * rn_parse_size / rn_parse_duration; STRING_LIST takes one scalar or a
 * list of scalars; ANY takes anything (rn_mnode_to_value). min/max apply
 * (when min < max) to INT, DOUBLE, SIZE (bytes) and DURATION
 * (nanoseconds); choices to STRING and every STRING_LIST item.
 *
 * Defaults are text as written in a manifest after "key: ". One that
 * starts with '[', '{', '"' or '\'' is parsed as YAML (so ["a", "b"] is a
 * list and "\" \"" one space); any other is a plain scalar taken verbatim
 * (so ", " or ": " need no quoting). Defaults get no ${VAR} substitution.
 * A default that does not convert is the plugin's bug: RN_EPLUGIN.
 *
 * Errors are "file:line:col: <op_label>: <param>: message", positioned at
 * the offending node, or at params (or `where` when params is NULL) for a
 * missing parameter. Unknown keys are refused with the valid ones listed.
 * op_label may be NULL (then op->name is used).
 */
int rn_params_bind(rn_arena *a, const rn_op_desc *op, const char *op_label,
                   const rn_mnode *params, rn_mpos where, rn_value *out,
                   rn_errbuf *err);

/* Checks that every default of op's table converts to its type and fits
 * its bounds and choices (for the plugin loader). RN_EPLUGIN if not. */
int rn_params_check_defaults(const rn_op_desc *op, rn_errbuf *err);

/*
 * Sizes, in bytes: a decimal number, optionally with a fraction, then an
 * optional unit (case-insensitive, spaces allowed before it): B; K/KB,
 * M/MB, G/GB, T/TB, P/PB (powers of 1000); Ki/KiB, Mi/MiB, Gi/GiB,
 * Ti/TiB, Pi/PiB (powers of 1024). "64MiB", "1GB", "4096", "1.5KiB";
 * fractions of a byte are dropped. Returns 0, or RN_EINVAL for bad text,
 * a negative number or more than INT64_MAX.
 */
int rn_parse_size(const char *s, size_t n, int64_t *out);
/*
 * Durations, in nanoseconds: one or more <number><unit> terms added up
 * (Go's time.ParseDuration): units ns, us (or µs), ms, s, m, h, d, case-
 * sensitive; numbers may have a fraction: "500ms", "30s", "2m", "1h30m",
 * "1.5s", "250us". A bare "0" is allowed; other numbers need a unit.
 * Returns 0, or RN_EINVAL for bad text, negatives or overflow.
 */
int rn_parse_duration(const char *s, size_t n, int64_t *out);

/* Sets err to "file:line:col: <message>" (for the planner and the CLI,
 * which report their own errors at manifest positions); returns code. */
int rn_mpos_error(rn_errbuf *err, int code, rn_mpos pos, const char *fmt,
                  ...) RN_FMT(4, 5);

/* ---- internal to core/manifest ------------------------------------- */

/* rn_mnode_parse with substitution switchable (off for defaults). */
int rn__mnode_parse(rn_arena *a, const char *label, const char *text,
                    size_t len, int subst, rn_mnode **out, rn_errbuf *err);
/* A short printable excerpt of s (escaped, cut with "..."), into buf. */
const char *rn__excerpt(char *buf, size_t cap, const char *s, size_t n);
/* "string 'ten'", "int 10", "null", "a list", "a mapping" */
const char *rn__mnode_describe(char *buf, size_t cap, const rn_mnode *n);

#endif
