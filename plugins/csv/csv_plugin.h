/*
 * The csv plugin's operators, shared between its files.
 */
#ifndef RN_PLUGIN_CSV_H
#define RN_PLUGIN_CSV_H

#include <runnel/runnel.h>

/* read_csv.c */
#define RN_CSV_READ_NPARAMS 9
extern const rn_param_spec rn_csv_read_params[RN_CSV_READ_NPARAMS];
int rn_csv_read_init(rn_ctx *ctx, const rn_value *params, void **state);
void rn_csv_read_destroy(void *state);
int rn_csv_read_plan(void *state, rn_ctx *ctx);
int rn_csv_read_read(void *state, rn_ctx *ctx, const rn_value *split);

/* to_csv.c */
#define RN_CSV_WRITE_NPARAMS 4
extern const rn_param_spec rn_csv_write_params[RN_CSV_WRITE_NPARAMS];
int rn_csv_write_init(rn_ctx *ctx, const rn_value *params, void **state);
void rn_csv_write_destroy(void *state);
int rn_csv_write_open(void *state, rn_ctx *ctx, void **w);
int rn_csv_write_value(void *state, rn_ctx *ctx, void *w, const rn_value *v);
int rn_csv_write_commit(void *state, rn_ctx *ctx, void *w);
void rn_csv_write_abort(void *state, rn_ctx *ctx, void *w);

#endif
