/*
 * runnel SDK — a test harness: run one operator over a few values, with no
 * cluster and no manifest (GStreamer's GstHarness is the model).
 *
 *   rn_harness *h = rn_harness_new("build/libwords.so", "split",
 *                                  "{lower: true}", err, sizeof err);
 *   rn_harness_push_json(h, "\"Hello World\"");
 *   rn_harness_finish(h);
 *   // rn_harness_output_json(h) == "\"hello\"\n\"world\"\n"
 *   rn_harness_free(h);
 *
 * Link with librunnel-harness.a (it contains the engine). A harness is used
 * by one thread at a time. Inputs pushed are copied; outputs stay valid
 * until rn_harness_free.
 */
#ifndef RUNNEL_HARNESS_H
#define RUNNEL_HARNESS_H

#include <stddef.h>

#include "runnel/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rn_harness rn_harness;

/* Loads the plugin at `plugin_path` (or, with NULL, searches the shipped
 * plugins) and prepares operator `op` with `params_yaml` (a YAML mapping
 * such as "{k: 10}", or NULL for none), validated exactly as a manifest's.
 * Returns NULL on failure with a message in err. */
rn_harness *rn_harness_new(const char *plugin_path, const char *op,
                           const char *params_yaml, char *err, size_t errlen);

/* Feeds one input element (not for sources). Returns 0 or a negative
 * rn_err; rn_harness_error tells why. */
int rn_harness_push(rn_harness *h, const rn_value *v);
/* Same, with the value written as JSON. */
int rn_harness_push_json(rn_harness *h, const char *json);
/* Ends the input: folds finish, sinks commit, sources plan and read every
 * split. Call once. */
int rn_harness_finish(rn_harness *h);

size_t rn_harness_count(const rn_harness *h);
const rn_value *rn_harness_output(const rn_harness *h, size_t i);
/* Every output as JSON, one per line. Owned by h. */
const char *rn_harness_output_json(rn_harness *h);
/* The last error message, "" when none. */
const char *rn_harness_error(const rn_harness *h);

void rn_harness_free(rn_harness *h);

#ifdef __cplusplus
}
#endif

#endif /* RUNNEL_HARNESS_H */
