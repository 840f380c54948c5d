/*
 * The avro plugin's operators, shared between its files.
 */
#ifndef RN_PLUGIN_AVRO_PLUGIN_H
#define RN_PLUGIN_AVRO_PLUGIN_H

#include <runnel/runnel.h>

/* read_avro.c */
extern const rn_param_spec rn_avro_read_params[2];
int rn_avro_read_init(rn_ctx *ctx, const rn_value *params, void **state);
void rn_avro_read_destroy(void *state);
int rn_avro_read_plan(void *state, rn_ctx *ctx);
int rn_avro_read_read(void *state, rn_ctx *ctx, const rn_value *split);

/* to_avro.c */
extern const rn_param_spec rn_avro_to_avro_params[4];
int rn_avro_to_avro_init(rn_ctx *ctx, const rn_value *params, void **state);
void rn_avro_to_avro_destroy(void *state);
int rn_avro_to_avro_open(void *state, rn_ctx *ctx, void **w);
int rn_avro_to_avro_write(void *state, rn_ctx *ctx, void *w,
                          const rn_value *v);
int rn_avro_to_avro_commit(void *state, rn_ctx *ctx, void *w);
void rn_avro_to_avro_abort(void *state, rn_ctx *ctx, void *w);

#endif
