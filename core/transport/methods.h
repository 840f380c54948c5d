/*
 * The gRPC method paths of runnel's services (the .proto files in transport/proto):
 * "/<package>.<Service>/<Method>". protoc-c does not generate gRPC stubs,
 * so the paths are spelled here, once.
 */
#ifndef RN_TRANSPORT_METHODS_H
#define RN_TRANSPORT_METHODS_H

#define RN_SCHED "/runnel.v1.Scheduler/"
#define RN_M_REGISTER RN_SCHED "RegisterWorker"
#define RN_M_CONNECT RN_SCHED "Connect"
#define RN_M_HEARTBEAT RN_SCHED "Heartbeat"
#define RN_M_TASK_DONE RN_SCHED "TaskDone"
#define RN_M_TASKS_DONE RN_SCHED "TasksDone"
#define RN_M_FETCH_PLUGIN RN_SCHED "FetchPlugin"
#define RN_M_RETIRE RN_SCHED "Retire"
#define RN_M_INFO RN_SCHED "Info"
#define RN_M_PUSH_PLUGIN RN_SCHED "PushPlugin"
#define RN_M_LIST_PLUGINS RN_SCHED "ListPlugins"
#define RN_M_SUBMIT_JOB RN_SCHED "SubmitJob"
#define RN_M_WATCH_JOB RN_SCHED "WatchJob"
#define RN_M_GET_JOB RN_SCHED "GetJob"
#define RN_M_LIST_JOBS RN_SCHED "ListJobs"
#define RN_M_CANCEL_JOB RN_SCHED "CancelJob"
#define RN_M_RELEASE_JOB RN_SCHED "ReleaseJob"
#define RN_M_REPORT_MISSING RN_SCHED "ReportMissing"

#define RN_WORKER "/runnel.v1.Worker/"
#define RN_M_FETCH_PARTITION RN_WORKER "FetchPartition"

/* The protocol version in RegisterRequest and SubmitJobRequest. */
#define RN_PROTOCOL_VERSION 1
/* The minor of v1 this build speaks (RegisterRequest/Reply.minor):
 * 1 = WorkerCommand.more, TasksDone, more tasks queued than threads. */
#define RN_PROTOCOL_MINOR 1

#endif
