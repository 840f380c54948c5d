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
 * Or, with several inputs and results, named datasets and outputs
 * (docs/MANIFEST.md; the graph is checked and planned by plan/graph.h):
 *
 *   datasets:                             # a mapping name -> dataset
 *     logs:  {source: {read_text: {urls: a.jsonl}}, steps: [json_parse]}
 *     users: {source: {read_text: {urls: u.jsonl}}, steps: [json_parse]}
 *     big:   {from: logs, steps: [...]}   # exactly one of source, from,
 *     both:  {concat: [logs, users]}      #   concat, zip; steps optional
 *     pairs: {zip: [logs, users]}
 *   outputs:                              # a non-empty list: a dataset
 *     - big                               #   name (printed) or
 *     - {dataset: both, sink: {to_textfiles: {path: "o/p-*.txt"}}}
 *
 * Both forms cannot be mixed: with `datasets` (which needs `outputs`),
 * the top-level `source`, `steps` and `sink` are refused. This module
 * checks the shape only (keys, kinds, name syntax); which names exist,
 * cycles and unused datasets are the planner's (plan/graph.h). Dataset
 * names are [A-Za-z_][A-Za-z0-9_-]* of at most RN_MANIFEST_MAX_DSNAME
 * bytes.
 *
 * YAML rules. One document (a second is an error). Scalars are typed by
 * the YAML 1.2 core schema: null/Null/NULL/~/empty, true/false (three
 * spellings each), ints (decimal, 0o octal, 0x hex), floats (1.5, 1e3,
 * .inf, .nan); every quoted or block (| >) scalar is a string, as is any
 * scalar tagged `!` or `!!str`. The local tag `!var` is described below
 * (values substituted elsewhere). A scalar tagged `!file` is a path
 * (after substitution; relative to the manifest's directory) whose
 * file's text becomes the value, a string (bounded as a scalar); a job's
 * manifest (rn_manifest_parse_job) refuses it: the client read the file
 * and sent its text. Other tags are refused. Aliases (*a) are
 * refused (they could expand a small file into a huge tree: "billion
 * laughs"); anchors are accepted and ignored. Keys must be scalars and
 * unique in their mapping.
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
 * Substituted values are never shown. Variables often hold secrets (keys,
 * tokens, private prefixes), so no message of this module, of the planner
 * or of anything that quotes a manifest scalar through rn_mnode_display
 * repeats them:
 *   - a scalar that ${VAR} substitution produced (wholly or partly) has
 *     `subst` set and keeps its text as written (`raw`, e.g.
 *     "s3://b/${PREFIX}/x"); rn_mnode_display gives that raw text, and the
 *     value only for scalars without substitution;
 *   - the manifest's `display_name` is `name` shown by the same rule
 *     ("nightly-${DATE}"): what lists, logs and job tables show;
 *   - the cluster client re-emits a manifest with its values substituted
 *     (workers need them) and tags every substituted scalar `!var`
 *     (cluster/jobspec.h). Where that text is parsed, a `!var` scalar binds
 *     exactly as its text and style say (`!var 10` is the int 10,
 *     `!var "x"` a string; no tag means what it always did), and is
 *     marked substituted with no raw text: it displays as "${...}"
 *     (RN_MNODE_HIDDEN), so a worker's message never repeats it either;
 *   - messages written by code that never sees the nodes (plugins, the
 *     loader) are cleaned with rn_msecrets_redact: every substituted value
 *     of RN_MANIFEST_REDACT_MIN bytes or more is replaced by "${VAR}" (or
 *     "${...}" for a `!var` value). Shorter values cannot be told from the
 *     message's own words and are left; so is a value a plugin prints
 *     only in part.
 * Operator names are identifiers, not values: a step written `- ${OP}` is
 * shown as written while it is parsed, but once resolved its label
 * ("text.lower") names the operator in every later message.
 *
 * Limits (hostile input never crashes or exhausts memory; each refused
 * with RN_ELIMIT and "file:line:col: ..." where it is passed): 16 MiB of
 * text, 64 levels of nesting, 1 Mi nodes, 256 Ki items in one list or
 * keys in one mapping, 16 MiB for one scalar and 64 MiB for all scalars
 * after substitution, 10 000 steps, 256 plugins, a `name` of 128 bytes
 * without control characters. They are the RN_MANIFEST_MAX_* below.
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

/* The bounds on a manifest (see above); one place for all of them. */
#define RN_MANIFEST_MAX_BYTES ((size_t)16 << 20)  /* text given to the parser */
#define RN_MANIFEST_MAX_DEPTH 64                  /* nested collections */
#define RN_MANIFEST_MAX_NODES ((size_t)1 << 20)   /* nodes in the tree */
#define RN_MANIFEST_MAX_ITEMS ((size_t)1 << 18)   /* per list or mapping */
#define RN_MANIFEST_MAX_SCALAR ((size_t)16 << 20) /* one scalar, substituted */
#define RN_MANIFEST_MAX_EXPANDED ((size_t)64 << 20) /* all scalars */
#define RN_MANIFEST_MAX_STEPS 10000
#define RN_MANIFEST_MAX_PLUGINS 256
#define RN_MANIFEST_MAX_NAME 128                  /* bytes of `name` */
#define RN_MANIFEST_MAX_DATASETS 1000             /* datasets, and outputs */
#define RN_MANIFEST_MAX_INPUTS 256                /* names in concat / zip */
#define RN_MANIFEST_MAX_DSNAME 64                 /* bytes of a dataset name */

/* The local tag of a scalar whose value was substituted elsewhere. */
#define RN_MTAG_VAR "!var"
/* What a substituted scalar without raw text (`!var`) displays as. */
#define RN_MNODE_HIDDEN "${...}"
/* Shorter substituted values are not searched for by rn_msecrets_redact. */
#define RN_MANIFEST_REDACT_MIN 4

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
    /* SCALAR: 1 when ${VAR} substitution produced some of the text (or
     * the scalar was tagged `!var`). Then raw is the text as written,
     * before substitution ("s3://b/${PREFIX}/x"), NULL for `!var`. */
    int subst;
    const char *raw;
    size_t raw_len;
} rn_mnode;

/* A value substitution put into a manifest, and what stands for it in
 * messages: "${NAME}" for a variable's value, RN_MNODE_HIDDEN for the
 * value of a `!var` scalar. */
typedef struct rn_msecret {
    const char *value;
    size_t len;
    const char *shown;
} rn_msecret;

/* An operator reference: `op` is its name ("op" or "plugin.op", after
 * substitution), pos where that name is, name_node the scalar it came
 * from (for rn_mnode_display), params a MAP node or NULL. */
typedef struct rn_mstep {
    const char *op;
    rn_mpos pos;
    const rn_mnode *params;
    const rn_mnode *name_node;
} rn_mstep;

/* A dataset named where another dataset or an output reads it (or the
 * name a dataset is given): the name (substituted), where it is, and the
 * scalar it came from (for rn_mnode_display). */
typedef struct rn_mref {
    const char *name;
    rn_mpos pos;
    const rn_mnode *node;
} rn_mref;

/* Where a dataset's elements come from. */
typedef enum {
    RN_MDS_SOURCE = 1, /* a source operator */
    RN_MDS_FROM,       /* another dataset's elements */
    RN_MDS_CONCAT,     /* the partitions of each dataset named, in order */
    RN_MDS_ZIP         /* [x, y, ...] from the same place in each */
} rn_mds_kind;

typedef struct rn_mdataset {
    rn_mref name;      /* its key in `datasets` */
    int kind;          /* rn_mds_kind */
    rn_mpos kind_pos;  /* where source/from/concat/zip is written */
    rn_mstep source;   /* RN_MDS_SOURCE */
    rn_mref *inputs;   /* FROM: one; CONCAT, ZIP: the list, in order */
    size_t n_inputs;
    rn_mstep *steps;   /* as a manifest's steps; `join` among them is the
                          planner's (plan/graph.h) */
    size_t n_steps;
} rn_mdataset;

/* One item of `outputs`: a dataset printed, or written by a sink. */
typedef struct rn_moutput {
    rn_mref dataset;
    rn_mpos pos;       /* the item */
    rn_mstep sink;
    int has_sink;
} rn_moutput;

/* Everything lives in `arena`, freed by rn_manifest_free. */
typedef struct rn_manifest {
    rn_arena arena;
    const char *file; /* the label errors use */
    const char *name; /* the value (substituted): what the job is */
    /* `name` as messages, logs and job lists show it: rn_mnode_display of
     * it ("nightly-${DATE}"), or the default name */
    const char *display_name;
    const char **plugins; /* paths or "sha256:<64 hex>" ids, substituted */
    rn_mpos *plugin_pos;
    const rn_mnode **plugin_nodes; /* the scalars, for rn_mnode_display */
    size_t n_plugins;
    rn_mstep source;
    rn_mstep *steps;
    size_t n_steps;
    rn_mstep sink;
    int has_sink;
    /* The datasets form (n_datasets > 0): then source.op is NULL and
     * n_steps and has_sink are 0; datasets in the order written. */
    rn_mdataset *datasets;
    size_t n_datasets;
    rn_moutput *outputs;
    size_t n_outputs;
    const rn_mnode *root; /* the whole document */
    /* every distinct substituted value, longest first (rn_msecrets_redact) */
    const rn_msecret *secrets;
    size_t n_secrets;
} rn_manifest;

/* Reads and parses the file at `path` (used as the label in errors). */
int rn_manifest_load(const char *path, rn_manifest **out, rn_errbuf *err);
/* Parses text[0..len) (no NUL needed); `label` names it in errors. */
int rn_manifest_parse(const char *label, const char *text, size_t len,
                      rn_manifest **out, rn_errbuf *err);
/* Parses a manifest received from elsewhere: the text a cluster client
 * submitted (cluster/jobspec.h). Its values were substituted where it was
 * submitted, so nothing is read from this process's environment: $${ is
 * still the escape of a literal "${", but a ${VAR} is refused (else a
 * submitted job could copy the scheduler's or a worker's environment
 * into its output). Everything else as rn_manifest_parse. */
int rn_manifest_parse_job(const char *label, const char *text, size_t len,
                          rn_manifest **out, rn_errbuf *err);
void rn_manifest_free(rn_manifest *m); /* NULL ok */

/* Parses one YAML document (e.g. the flow mapping "{k: 10, key: 1}") into
 * a node tree in arena `a`, with ${VAR} substitution. An empty text gives
 * a null scalar at 1:1. */
int rn_mnode_parse(rn_arena *a, const char *label, const char *text,
                   size_t len, rn_mnode **out, rn_errbuf *err);

/* The text messages may show for scalar n, in *len: its value when no
 * substitution made it, else its raw text as written ("${KEY}",
 * "s3://b/${PREFIX}/x"), else RN_MNODE_HIDDEN. Never a substituted
 * value. NUL-terminated; views n or a static string. */
const char *rn_mnode_display(const rn_mnode *n, size_t *len);

/* Replaces, in err's message, every value of secrets[0..n) of at least
 * RN_MANIFEST_REDACT_MIN bytes by its `shown` text, and a message cut
 * (at the errbuf's size) inside such a value from that point on. For
 * messages whose authors never saw the nodes: plugin errors, the
 * loader's. secrets must be sorted longest first (as rn_manifest's are).
 * err may be NULL. */
void rn_msecrets_redact(const rn_msecret *secrets, size_t n, rn_errbuf *err);

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
/* rn__excerpt of rn_mnode_display(n): how messages quote a scalar. */
const char *rn__mnode_excerpt(char *buf, size_t cap, const rn_mnode *n);
/* "string 'ten'", "int 10", "null", "a list", "a mapping" */
const char *rn__mnode_describe(char *buf, size_t cap, const rn_mnode *n);

#endif
