/*
 * What acc.c calls of acc_spill.c (this module's own; rn_acc_spill and
 * rn_acc_maybe_spill are in acc.h).
 */
#ifndef RN_EXEC_ACC_SPILL_H
#define RN_EXEC_ACC_SPILL_H

#include "exec/acc.h"

/* Removes a's run files and forgets them. */
void rn__acc_runs_free(rn_acc *a);
/* Appends other's runs to a's (other keeps none). RN_ENOMEM leaves the
 * rest with other. */
int rn__acc_runs_take(rn_acc *a, rn_acc *other);
/* Spills the rest of the table, merges every run, combines each key's
 * partials and finishes them with ctx's emit (out NULL) or appends them
 * as [key, acc] pairs to out[rn_acc_bucket(hash, n_out)] (n_out <= 1:
 * all to out[0]); the runs are removed either way. */
int rn__acc_drain(rn_acc *a, rn_task_ctx *ctx, rn_partition **out,
                  uint32_t n_out);

#endif
