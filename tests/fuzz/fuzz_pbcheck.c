/*
 * libFuzzer target for the bounds of wire messages
 * (core/transport/pbcheck.c): the bytes a peer sends, checked as the RPC
 * layer does: rn_pb_check_wire, then (when it passes) protobuf-c's unpack and
 * rn_pb_check.
 *
 * The first byte picks the message type (bits 0-2) and the table of
 * limits (bit 3: runnel's, or a tight one whose bounds are easy to
 * reach); the rest is the message. Beyond "no crash, no leak":
 *   - a refusal always says why;
 *   - what the wire check refuses as malformed, protobuf-c refuses too
 *     (but field numbers out of range, which protobuf-c may take; tried
 *     only on inputs too small to nest deeply: protobuf-c's unpack
 *     recurses without a limit, which is why the wire check exists);
 *   - a message that passes rn_pb_check passes rn_pb_check_wire once
 *     packed again (the wire check never refuses what the checks after
 *     unpacking accept).
 *
 * Seeds (corpus/pbcheck/) are messages of each type as runnel sends
 * them, and ones over each kind of bound, packed by protobuf-c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "transport/pbbounds.h"
#include "transport/pbcheck.h"
#include "transport/rpc.h"

#include "runnel_scheduler.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,           \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

static const ProtobufCMessageDescriptor *const types[8] = {
    &runnel__v1__heartbeat_request__descriptor,
    &runnel__v1__tasks_done_request__descriptor,
    &runnel__v1__submit_job_request__descriptor,
    &runnel__v1__worker_command__descriptor,
    &runnel__v1__info_reply__descriptor,
    &runnel__v1__job_info__descriptor,
    &runnel__v1__register_request__descriptor,
    &runnel__v1__push_plugin_request__descriptor,
};

static const rn_pb_bound tight_bounds[] = {
    {"HeartbeatRequest.plugins", 3, 0},
    {"PluginRef.id", 8, 0},
    {"StageSpec.ops[]", 4, 0},
    {"WorkerCommand.more", 5, 0},
    {"TaskDoneRequest.error", RN_PB_DEFAULT, RN_PB_ANY_TEXT},
    {"SubmitJobRequest", 12, 0},
};

static const rn_pb_limits tight = {
    16, /* string_max */
    32, /* bytes_max */
    4,  /* repeated_max */
    4,  /* depth_max */
    40, /* total_max */
    3,  /* unknown_max */
    tight_bounds,
    sizeof(tight_bounds) / sizeof(tight_bounds[0]),
};

/* Inputs this small nest at most 512 levels, which protobuf-c unpacks
 * within the stack even with sanitizers. */
#define SHALLOW 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d;
    const rn_pb_limits *lim;
    ProtobufCMessage *m;
    rn_errbuf err;
    int rc;

    if (size < 1)
        return 0;
    d = types[data[0] & 7];
    lim = data[0] & 8 ? &tight : rn_pb_runnel_limits();
    data++;
    size--;

    rn_error_clear(&err);
    rc = rn_pb_check_wire(d, size ? data : NULL, size, lim, &err);
    CHECK(rc == 0 || rc == RN_ELIMIT || rc == RN_EFORMAT);
    if (rc) {
        CHECK(err.msg[0] != '\0');
        /* field numbers out of range are refused by the spec, not
         * always by protobuf-c */
        if (rc == RN_EFORMAT && size <= SHALLOW &&
            !strstr(err.msg, "(a field number out of range)"))
            CHECK(protobuf_c_message_unpack(d, &rn_pb_allocator, size,
                                        size ? data : (const uint8_t *)"") ==
                  NULL);
        return 0;
    }

    if (!(m = protobuf_c_message_unpack(d, &rn_pb_allocator, size,
                                        size ? data : (const uint8_t *)"")))
        return 0;
    rn_error_clear(&err);
    rc = rn_pb_check(m, lim, &err);
    CHECK(rc == 0 || rc == RN_ELIMIT || rc == RN_EFORMAT);
    if (rc) {
        CHECK(err.msg[0] != '\0');
    } else {
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *b = rn_malloc(n ? n : 1);
        CHECK(b != NULL);
        CHECK(protobuf_c_message_pack(m, b) == n);
        rn_error_clear(&err);
        rc = rn_pb_check_wire(d, b, n, lim, &err);
        if (rc)
            fprintf(stderr, "repacked: %s\n", err.msg);
        CHECK(rc == 0);
        rn_free(b);
    }
    rn_pb_free(m);
    return 0;
}
