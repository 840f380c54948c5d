/* The bounds of runnel's wire messages (see pbbounds.h).
 *
 * Every repeated, string and bytes field of runnel_common.proto,
 * runnel_scheduler.proto and runnel_worker.proto has an entry, RN_PB_DEFAULT
 * where the default fits (tests/unit/transport/test_pbbounds.c fails on a
 * field without one, and on an entry that names no field). A bound is a
 * guard against a hostile or broken peer, not the protocol's definition:
 * it leaves room above what runnel sends today where that costs little.
 *
 * RN_PB_ANY_TEXT marks strings that runnel's own senders do not keep
 * UTF-8 today: they cut text at a byte count (rn_errbuf's 1024,
 * scheduler.c dup_short's 200, the plugin store's char version[32]) or
 * quote input bytes in error messages. Refusing them would refuse the
 * whole message (a TasksDone batch, a JobInfo) for a cut character. */
#include "transport/pbbounds.h"

#include "transport/rpc.h"

#define MIB ((size_t)1 << 20)

static const rn_pb_bound bounds[] = {
    /* ---- runnel_common.proto */
    /* chunk.c sends at most RN_RPC_CHUNK data bytes per Chunk, client.c
     * pushes plugin files in read()s of RN_RPC_CHUNK; the slack is for
     * other implementations that count a little differently */
    {"Chunk.data", RN_RPC_CHUNK + 64 * 1024, 0},
    {"PluginRef.id", RN_PB_ID_MAX, 0}, /* 64 hex digits */
    /* names are [a-z_][a-z0-9_]*, at most RN_MAX_NAME (loader.c) */
    {"PluginRef.name", RN_PB_PLUGIN_NAME_MAX, 0},
    /* at most RN_MAX_NAME (loader.c); the scheduler's stores keep 31
     * bytes (rn_plugentry.version), cut anywhere */
    {"PluginRef.version", RN_PB_PLUGIN_NAME_MAX, RN_PB_ANY_TEXT},

    /* ---- runnel_scheduler.proto: workers */
    {"RegisterRequest.address", RN_PB_ADDRESS_MAX, 0}, /* worker.c char[160] */
    /* --name, or the address: the CLI does not bound --name */
    {"RegisterRequest.name", RN_PB_NAME_MAX, 0},
    {"RegisterRequest.instance", RN_PB_ID_MAX, 0}, /* 32 hex digits */
    {"RegisterRequest.worker_id", RN_PB_ID_MAX, 0},
    /* fill_plugins (worker.c): every plugin of the worker's registry */
    {"RegisterRequest.plugins", RN_PB_PLUGINS_MAX, 0},
    /* totals of what workers send most: the entries a sender makes plus
     * room for the fields a newer one adds (unknown fields count), far
     * below total_max (an unknown field costs about 50 bytes unpacked
     * for 2 on the wire) */
    {"RegisterRequest", 4 * RN_PB_PLUGINS_MAX, 0},
    {"RegisterReply.worker_id", RN_PB_ID_MAX, 0},
    {"RegisterReply.scheduler_id", RN_PB_ID_MAX, 0}, /* 46 bytes */
    {"ConnectRequest.worker_id", RN_PB_ID_MAX, 0},
    {"InputRef.address", RN_PB_ADDRESS_MAX, 0},
    {"RunTask.job_id", RN_PB_ID_MAX, 0},
    /* a combine or finish task merges up to split_every partials
     * (jobgraph.c); clients send 8 (plan.c) */
    {"RunTask.inputs", RN_PB_FAN_IN_MAX, 0},
    /* one split of SubmitJobRequest.splits: as large as all of them */
    {"RunTask.split", RN_RPC_MAX_MESSAGE, 0},
    {"RunTask.manifest", RN_RPC_MAX_MESSAGE, 0}, /* the job's, as submitted */
    {"RunTask.capability", RN_PB_ID_MAX, 0}, /* 64 hex digits */
    /* GraphNode.where, passed on: a manifest's path (which need not be
     * UTF-8) and a position */
    {"RunTask.where", RN_PB_ERROR_MAX, RN_PB_ANY_TEXT},
    {"PartitionRef.job_id", RN_PB_ID_MAX, 0},
    {"WorkerCommand.forget_job", RN_PB_ID_MAX, 0},
    {"WorkerCommand.cancel_job", RN_PB_ID_MAX, 0},
    {"WorkerCommand.more", RN_PB_BURST_MAX, 0}, /* scheduler.c send_batch */
    {"HeartbeatRequest.worker_id", RN_PB_ID_MAX, 0},
    {"HeartbeatRequest.plugins", RN_PB_PLUGINS_MAX, 0}, /* fill_plugins */
    {"HeartbeatRequest", 4 * RN_PB_PLUGINS_MAX, 0},
    /* every job the scheduler has not forgotten */
    {"HeartbeatReply.jobs", RN_PB_JOBS_MAX, 0},
    {"HeartbeatReply.jobs[]", RN_PB_ID_MAX, 0},
    {"TaskDoneRequest.worker_id", RN_PB_ID_MAX, 0},
    {"TaskDoneRequest.job_id", RN_PB_ID_MAX, 0},
    /* an rn_errbuf's text: at most 1023 bytes, cut anywhere, quoting
     * plugins' messages and input */
    {"TaskDoneRequest.error", RN_PB_ERROR_MAX, RN_PB_ANY_TEXT},
    {"TasksDoneRequest.worker_id", RN_PB_ID_MAX, 0},
    {"TasksDoneRequest.tasks", RN_PB_REPORT_MAX, 0}, /* MAX_REPORT_BATCH */
    {"TasksDoneRequest", 4 * RN_PB_REPORT_MAX, 0},
    {"TasksDoneReply.accepted", RN_PB_REPORT_MAX, 0}, /* one per task */
    {"FetchPluginRequest.id", RN_PB_ID_MAX, 0},
    {"RetireRequest.worker_id", RN_PB_ID_MAX, 0},

    /* ---- runnel_scheduler.proto: clients */
    {"Service.name", RN_PB_DEFAULT, 0}, /* "grpc" */
    {"WorkerInfo.address", RN_PB_ADDRESS_MAX, 0},
    {"WorkerInfo.id", RN_PB_ID_MAX, 0},
    {"WorkerInfo.name", RN_PB_NAME_MAX, 0}, /* RegisterRequest.name */
    {"WorkerInfo.plugins", RN_PB_PLUGINS_MAX, 0}, /* the worker's heartbeat */
    {"WorkerInfo.status", RN_PB_DEFAULT, 0}, /* "running", "connecting" */
    {"WorkerInfo.identity", RN_PB_DEFAULT, 0}, /* a certificate's CN: 64 */
    {"InfoReply.type", RN_PB_DEFAULT, 0}, /* "Scheduler" */
    {"InfoReply.security", RN_PB_DEFAULT, 0}, /* "mutual-tls"... */
    {"InfoReply.id", RN_PB_ID_MAX, 0},
    {"InfoReply.address", RN_PB_ADDRESS_MAX, 0},
    {"InfoReply.services", 16, 0}, /* one: grpc */
    /* the scheduler does not limit registrations: this is the cluster
     * size a client is willing to list */
    {"InfoReply.workers", RN_PB_WORKERS_MAX, 0},
    /* every worker with all its plugins is more than total_max */
    {"InfoReply", RN_PB_WORKERS_MAX * (RN_PB_PLUGINS_MAX + 1) + 16, 0},
    {"PushPluginReply.id", RN_PB_ID_MAX, 0},
    /* the store keeps every plugin ever pushed */
    {"ListPluginsReply.plugins", RN_PB_STORE_MAX, 0},
    {"StageSpec.ops", RN_PB_OPS_MAX, 0},
    /* "plugin.op": two names of at most RN_MAX_NAME (plan.c) */
    {"StageSpec.ops[]", 2 * RN_PB_PLUGIN_NAME_MAX, 0},
    {"StageSpec.user_ops", RN_PB_OPS_MAX, 0}, /* one per op */
    /* the manifest's `name`, which nothing bounds; the scheduler keeps
     * 200 bytes */
    {"SubmitJobRequest.name", RN_PB_DEFAULT, 0},
    /* re-emitted by the client (jobspec.c); only the message bounds it */
    {"SubmitJobRequest.manifest", RN_RPC_MAX_MESSAGE, 0},
    /* h_submit_job refuses more */
    {"SubmitJobRequest.stages", RN_PB_STAGES_MAX, 0},
    /* the encoded splits (client.c); only the message bounds them */
    {"SubmitJobRequest.splits", RN_RPC_MAX_MESSAGE, 0},
    {"SubmitJobRequest.client", RN_PB_NAME_MAX, 0}, /* client.c who[256] */
    /* a manifest with datasets (jobspec.c rn_jobspec_graph): its
     * pipelines and the node of each output */
    {"SubmitJobRequest.nodes", RN_PB_GRAPH_NODES_MAX, 0},
    {"SubmitJobRequest.outputs", RN_PB_OUTPUTS_MAX, 0},
    {"GraphNode.stages", RN_PB_STAGES_MAX, 0},
    {"GraphNode.inputs", RN_PB_GRAPH_INPUTS_MAX, 0},
    /* plan/graph.c cuts a node's name at 200 bytes, anywhere */
    {"GraphNode.name", RN_PB_NAME_MAX, RN_PB_ANY_TEXT},
    /* "FILE:LINE:COL: zip": the manifest's path need not be UTF-8 */
    {"GraphNode.where", RN_PB_ERROR_MAX, RN_PB_ANY_TEXT},
    /* a source's encoded splits; only the message bounds them */
    {"GraphInput.splits", RN_RPC_MAX_MESSAGE, 0},
    /* the steps of one manifest, split into stages: at most
     * RN_PB_OPS_MAX ops and as many user_ops in all (with datasets, their
     * sources and sinks too), and a graph's nodes and inputs */
    {"SubmitJobRequest", RN_PB_STAGES_MAX + 4 * RN_PB_OPS_MAX +
                             4 * RN_PB_GRAPH_NODES_MAX +
                             RN_PB_GRAPH_INPUTS_MAX, 0},
    {"SubmitJobReply.job_id", RN_PB_ID_MAX, 0},
    {"ResultRef.address", RN_PB_ADDRESS_MAX, 0},
    {"JobInfo.job_id", RN_PB_ID_MAX, 0},
    /* dup_short (scheduler.c): 200 bytes, cut anywhere */
    {"JobInfo.name", RN_PB_NAME_MAX, RN_PB_ANY_TEXT},
    /* job_end (scheduler.c): 1023 bytes, cut anywhere, often a task's
     * error */
    {"JobInfo.error", RN_PB_ERROR_MAX, RN_PB_ANY_TEXT},
    /* one per partition of the last stage: as many as splits when it
     * ends without a fold; the scheduler does not limit splits */
    {"JobInfo.results", RN_PB_RESULTS_MAX, 0},
    {"JobInfo.client", RN_PB_NAME_MAX, RN_PB_ANY_TEXT}, /* dup_short */
    {"JobInfo.capability", RN_PB_ID_MAX, 0}, /* 64 hex digits */
    {"JobInfo.owner", RN_PB_DEFAULT, 0}, /* a certificate's CN: 64 */
    {"JobRequest.job_id", RN_PB_ID_MAX, 0},
    /* h_list_jobs: every job record, without results */
    {"ListJobsReply.jobs", RN_PB_JOBS_MAX, 0},
    {"ReportMissingRequest.job_id", RN_PB_ID_MAX, 0},
    {"ReportMissingRequest.address", RN_PB_ADDRESS_MAX, 0},

    /* ---- runnel_worker.proto */
    {"FetchPartitionRequest.job_id", RN_PB_ID_MAX, 0},
    {"FetchPartitionRequest.capability", RN_PB_ID_MAX, 0},
};

static const rn_pb_limits limits = {
    4096,              /* string_max */
    64 * 1024,         /* bytes_max */
    1024,              /* repeated_max */
    /* depth_max: runnel nests at most 4 deep (WorkerCommand > more >
     * RunTask > InputRef); the limit is what keeps protobuf-c's
     * recursive unpack within its stack */
    16,
    MIB,               /* total_max: JobInfo holds RN_PB_RESULTS_MAX */
    /* unknown_max: a newer peer's added fields; a repeated one shows as
     * many, so as many as a repeated field's entries */
    1024,
    bounds,
    sizeof(bounds) / sizeof(bounds[0]),
};

const rn_pb_limits *rn_pb_runnel_limits(void)
{
    return &limits;
}
