/*
 * What a job is on the wire, built by the client from a manifest it has
 * validated (docs/CLUSTER.md, "What a client sends"):
 *
 *   - the manifest re-emitted with ${VAR} already substituted (the
 *     client's environment decides, not each worker's) and every plugin
 *     path replaced by the `sha256:<id>` of the pushed file, so every
 *     worker builds the same plan from the same text;
 *   - the source's splits, planned once on the client (like Dask's
 *     client-side globbing), as one encoded partition;
 *   - per stage, the shape the scheduler needs (terminal kind,
 *     commutativity, the operators' labels for error messages) without
 *     loading any plugin itself.
 *
 * Thread-safety: reentrant.
 */
#ifndef RN_CLUSTER_JOBSPEC_H
#define RN_CLUSTER_JOBSPEC_H

#include "base/buf.h"
#include "base/error.h"
#include "manifest/manifest.h"
#include "plan/plan.h"

#include "runnel_scheduler.pb-c.h"

/* Appends to out a YAML document that parses (rn_manifest_parse_job, or
 * rn_manifest_parse) into the same pipeline as m: scalars as substituted,
 * `name` always present, plugins[i] replaced by refs[i] when refs and
 * refs[i] are not NULL. A literal "${" in a value is written "$${".
 *
 * Scalars keep their YAML type: a plain scalar stays plain (strings are
 * written quoted), a quoted one stays a string, except that a quoted
 * scalar which held a ${VAR} and reads as a number or bool is written
 * plain (so `k: "${K}"` still binds an int parameter; the one difference
 * is an ANY parameter, which then sees the number, not the text).
 *
 * Every scalar that ${VAR} substitution made (keys and `name` too; a
 * plugin path only when no ref replaces it) is written with the local
 * tag `!var` (RN_MTAG_VAR) in front: `k: !var 10`, `urls: !var "s3://b/x"`.
 * The tag changes nothing of the value or its type (the style after it
 * decides, as above); it marks the value as one never to show, so a
 * scheduler's or worker's message about it says "${...}" (manifest.h).
 * The raw text ("${K}") is not sent: it is the client's.
 *
 * RN_ELIMIT when the text would be larger than RN_MANIFEST_MAX_BYTES
 * (values can be longer than the references they replace); RN_EINVAL for
 * a manifest with datasets (a cluster runs one pipeline for now). */
int rn_jobspec_manifest(const rn_manifest *m, const char *const *refs,
                        rn_buf *out, rn_errbuf *err);

/* The stages of plan as StageSpecs: *out is an array of n pointers to
 * specs allocated with rn_malloc (strings inside view the plan);
 * user_plugin(p) says whether an operator's plugin was pushed by the
 * client. Free with rn_jobspec_stages_free. */
int rn_jobspec_stages(const rn_plan *plan,
                      int (*user_plugin)(const rn_plugin *p, void *ud),
                      void *ud, Runnel__V1__StageSpec ***out, size_t *n,
                      rn_errbuf *err);
void rn_jobspec_stages_free(Runnel__V1__StageSpec **specs, size_t n);

#endif
