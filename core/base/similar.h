/*
 * Names that are close to each other, for "did you mean" in messages:
 * the Levenshtein distance of two short names, and whether a distance is
 * small enough to be a typo.
 *
 * Thread-safety: pure functions.
 */
#ifndef RN_BASE_SIMILAR_H
#define RN_BASE_SIMILAR_H

#include <stddef.h>

/* Longest name measured; longer ones are SIZE_MAX away from everything. */
#define RN_SIMILAR_MAX 128

/* Edits (insert, delete, replace one byte) from a to b. */
size_t rn_edit_distance(const char *a, size_t na, const char *b, size_t nb);

/* Whether a name of `len` bytes `distance` edits away from another reads
 * as a typo of it: one edit in a short name, two plus one per 8 bytes in a
 * longer one, never every byte. */
int rn_similar_enough(size_t distance, size_t len);

#endif
