/*
 * The bounds of runnel's wire messages (the three runnel_*.proto files
 * in proto/), for transport/pbcheck.h: one table for every message that
 * scheduler, workers and clients receive, requests and replies alike
 * (field names are per message, so the services need no tables of their
 * own).
 *
 * The numbers come from what runnel's own code sends (pbbounds.c says
 * where, per entry). Senders may use the constants below to stay within
 * them: a message over a bound is refused whole.
 *
 * Thread-safety: the table is constant.
 */
#ifndef RN_TRANSPORT_PBBOUNDS_H
#define RN_TRANSPORT_PBBOUNDS_H

#include <stddef.h>

#include "transport/pbcheck.h"

/* Bytes of an id: a plugin's lower-case hex SHA-256 (64), job "j-" + 10
 * hex, worker "w-" + 8 hex, scheduler "Scheduler-" + a UUID (46), a
 * worker instance (32 hex). */
#define RN_PB_ID_MAX 64
/* "tcp://HOST:PORT": the worker and scheduler keep it in char[160]. */
#define RN_PB_ADDRESS_MAX 160
/* A worker's --name (its address by default) or a job's name. */
#define RN_PB_NAME_MAX 256
/* A plugin's name or version (the loader allows RN_MAX_NAME = 64). */
#define RN_PB_PLUGIN_NAME_MAX 128
/* Plugins a worker reports (shipped and fetched ones). */
#define RN_PB_PLUGINS_MAX 256
/* Task outcomes in one TasksDone request (worker.c MAX_REPORT_BATCH). */
#define RN_PB_REPORT_MAX 1024
/* Inputs of one task: a combine's fan-in, SubmitJobRequest.split_every;
 * a zip's inputs. */
#define RN_PB_FAN_IN_MAX 1024
/* Stages of a job (the scheduler refuses more). */
#define RN_PB_STAGES_MAX 1024
/* Operators of one stage: a manifest has at most this many steps. */
#define RN_PB_OPS_MAX 10000
/* Pipelines of one job of several datasets (SubmitJobRequest.nodes): a
 * manifest has at most 1000 datasets and 1000 outputs, and a join starts
 * a pipeline (10 000 steps in all). */
#define RN_PB_GRAPH_NODES_MAX 16384
/* What one pipeline reads (GraphNode.inputs): a concat names at most 256
 * datasets, each of which may bring the inputs of a concat it absorbed. */
#define RN_PB_GRAPH_INPUTS_MAX 65536
/* A manifest's outputs (SubmitJobRequest.outputs): at most 1000. */
#define RN_PB_OUTPUTS_MAX 1024
/* Workers in one InfoReply. */
#define RN_PB_WORKERS_MAX 4096
/* Jobs in ListJobsReply / HeartbeatReply: 1000 finished records kept
 * (scheduler.c MAX_JOB_RECORDS) plus the queued and running ones. */
#define RN_PB_JOBS_MAX 65536
/* Result partitions of one job (JobInfo.results). */
#define RN_PB_RESULTS_MAX ((size_t)1 << 20)
/* Plugins in the scheduler's store (ListPluginsReply). */
#define RN_PB_STORE_MAX 65536
/* Commands in one WorkerCommand burst (`more`): a burst is at most 1 MiB
 * (scheduler.c MAX_BURST_BYTES); its smallest element today is 16 bytes
 * (a forget_job of a 12-byte job id), this allows 8. */
#define RN_PB_BURST_MAX ((size_t)1 << 17)
/* An error message (rn_errbuf holds 1023 bytes). */
#define RN_PB_ERROR_MAX 4096

/* The table (static; never NULL). */
const rn_pb_limits *rn_pb_runnel_limits(void);

#endif
