/*
 * The textio plugin's operators, shared between its files.
 */
#ifndef RN_PLUGIN_TEXTIO_H
#define RN_PLUGIN_TEXTIO_H

#include <runnel/runnel.h>

/* read_text.c */
extern const rn_param_spec rn_textio_read_text_params[4];
int rn_textio_read_text_init(rn_ctx *ctx, const rn_value *params,
                             void **state);
void rn_textio_read_text_destroy(void *state);
int rn_textio_read_text_plan(void *state, rn_ctx *ctx);
int rn_textio_read_text_read(void *state, rn_ctx *ctx, const rn_value *split);

/* to_textfiles.c */
extern const rn_param_spec rn_textio_to_textfiles_params[1];
int rn_textio_to_textfiles_init(rn_ctx *ctx, const rn_value *params,
                                void **state);
void rn_textio_to_textfiles_destroy(void *state);
int rn_textio_to_textfiles_open(void *state, rn_ctx *ctx, void **w);
int rn_textio_to_textfiles_write(void *state, rn_ctx *ctx, void *w,
                                 const rn_value *v);
int rn_textio_to_textfiles_commit(void *state, rn_ctx *ctx, void *w);
void rn_textio_to_textfiles_abort(void *state, rn_ctx *ctx, void *w);

#endif
