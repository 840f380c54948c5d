/*
 * The fused pipeline of one task: values pushed in from a source split (or
 * an input partition) flow in batches through the stage's narrow operators
 * and end in its terminal: collected into the output partition, folded
 * into an accumulator, or written by a sink.
 *
 * Memory: each operator has a scratch arena, reset once the batch it
 * produced has been consumed downstream; the source's is reset at
 * rn_flush. Only the terminal copies values (into the output partition or
 * the accumulator's arena), so a string read from a file is never copied
 * on its way to a fold.
 *
 * Errors name the operator and partition: "json.json_parse (partition 3):
 * ...". One thread at a time.
 */
#ifndef RN_CORE_CHAIN_H
#define RN_CORE_CHAIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "exec/acc.h"
#include "exec/ctx.h"
#include "plan/plan.h"
#include "value/partition.h"

/* Values per batch between two operators. A long chain gets smaller
 * batches (chain.c: all its batches together stay near 2 MiB) and hands
 * them on in a loop, so neither a task's memory nor the stack grows by
 * more than a few hundred bytes per step. */
#define RN_CHAIN_BATCH 512

typedef struct rn_chain rn_chain;

/* Prepares a task of `stage` for partition number `partition`.
 *  - terminal FOLD/FOLDBY: acc (already rn_acc_init'ed) receives elements;
 *  - terminal SINK: the sink is opened now; its commit result goes to out;
 *  - no terminal: every output element is copied into out.
 * bytes_read and cancel may be NULL. */
int rn_chain_open(rn_chain **out_chain, const rn_stage *stage,
                  uint32_t partition, rn_acc *acc, rn_partition *out,
                  atomic_uint_fast64_t *bytes_read, atomic_bool *cancel,
                  rn_errbuf *err);
/* Reads one split of the source through the chain. */
int rn_chain_run_source(rn_chain *c, const rn_opinst *src,
                        const rn_value *split);
/* Pushes input values (e.g. an input partition) through the chain. */
int rn_chain_push(rn_chain *c, const rn_value *vals, size_t n);
/* Ends the task: with ok, drains pending values, runs partition operators
 * and commits the sink; without, aborts the sink. Frees the chain. Returns
 * the first error of the drain/commit (0 when !ok). */
int rn_chain_close(rn_chain *c, int ok);

/* ---- zip (a dataset `zip: [a, b, ...]`, docs/MANIFEST.md) ------------
 * Shared by the local executor (exec/local.c) and cluster tasks
 * (cluster/taskrun.c), so both pair up and refuse alike. */

/* Pushes the n tuples [cols[0][i], cols[1][i], ..., cols[k-1][i]] through
 * the chain, a batch at a time. The lists view the columns' values, which
 * must stay valid during the call (the chain takes every batch to its
 * terminal before it returns). */
int rn_chain_push_zip(rn_chain *c, const rn_value *const *cols, size_t k,
                      size_t n);
/* The errors of a zip whose inputs do not line up, where is "FILE:LINE:
 * COL: zip": input `label` has n partitions (elements in partition p)
 * where the first input, label0, has n0. Return err's code, RN_EINVAL. */
int rn_chain_zip_parts_error(rn_errbuf *err, const char *where,
                             const char *label0, size_t n0,
                             const char *label, size_t n);
int rn_chain_zip_len_error(rn_errbuf *err, const char *where, size_t p,
                           const char *label0, size_t n0, const char *label,
                           size_t n);

/* Runs a source's plan: the splits are appended to out. */
int rn_source_plan(const rn_opinst *src, rn_partition *out, rn_errbuf *err);

#endif
