/*
 * The engine's own operators behind a manifest's `join` step (a dataset's
 * step `join: {with: OTHER, key: K, right_key: K2, how: inner|left,
 * npartitions: N}`; plan/graph.h). A join is a cogroup:
 *
 *   left partitions  -> join_left  (map: v -> [0, v]) -+
 *                                                       +-> join (a keyed
 *   right partitions -> join_right (map: v -> [1, v]) -+   fold, the hash
 *                                                          shuffle of N)
 *
 * `join` is an RN_OP_FOLDBY run by the engine's keyed table (exec/acc.c,
 * which spills under the memory budget), so the join is as big as the
 * keyed table may be, and `npartitions` cuts its result like any keyed
 * fold's.
 *   key        the element's key: `key` for a left element, `right_key`
 *              (default: key) for a right one; a key path
 *              (runnel/keypath.h: a field, an index, a.b[0], a list).
 *              An element without it fails the task, naming the key and
 *              quoting the element.
 *   acc        [lefts, rights]: deep copies of the elements, each side
 *              a list of segments [partition, v, v...] by input
 *              partition. The partitions keep the input order whatever
 *              order partials combine in, so the fold is commutative:
 *              the engine keeps one table per thread.
 *   finish     per key, in the keyed table's order (ascending key hash):
 *              [l, r] for every l of lefts and r of rights, l-major (a
 *              many-to-many key gives the cross product); how: left
 *              gives [l, null] for each l of a key no right element has.
 * Keys match as the keyed table groups them (rn_value_hash and its
 * equality: numbers by value, so 1 matches 1.0; null matches null, as in
 * Dask's bag join; a string never matches a number).
 *
 * Thread-safety: as any operator (state read-only after init).
 */
#ifndef RN_CORE_JOIN_H
#define RN_CORE_JOIN_H

#include <runnel/plugin.h>

#include "plan/plan.h"

/* The keyed fold (parameters: with, key, right_key, how). */
extern const rn_op_desc rn_join_op;
/* The tags: side 0 (left) and 1 (right). No parameters, no state. */
extern const rn_op_desc rn_join_tag_ops[2];

#endif
