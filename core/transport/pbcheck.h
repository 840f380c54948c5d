/*
 * Bounds for protobuf messages received from a peer: every repeated field,
 * string and bytes field has a maximum, and so have the nesting of
 * messages and the number of entries in one message. protobuf-c itself
 * only knows the size of the whole message, and a small message can hold
 * a great many entries (a 2 MB HeartbeatRequest of 1 M empty PluginRefs
 * unpacks into hundreds of MB), or nest deeply enough to overflow the
 * stack of protobuf_c_message_unpack (a WorkerCommand nested 9000 times
 * through `more`, 30 KB, crashes it on an 8 MiB stack).
 *
 * Generic: the checks walk protobuf-c's descriptors, so any message type
 * is checked against a table of limits (core/transport/pbbounds.h holds
 * runnel's). Two checks:
 *
 *   rn_pb_check_wire  before unpacking, on the encoded bytes: nesting,
 *                     entries per field (per occurrence of the enclosing
 *                     message), entries in all, unknown fields, lengths.
 *                     Allocates nothing, recurses at most depth_max deep:
 *                     what passes it unpacks without a stack overflow and
 *                     into at most total_max entries.
 *   rn_pb_check       after unpacking, on the message handlers will read:
 *                     the same limits exactly (protobuf-c merges repeated
 *                     occurrences of a message field, so only the unpacked
 *                     message has the final counts), and every string
 *                     checked for UTF-8 (proto3 says strings are UTF-8;
 *                     protobuf-c does not check).
 *
 * A receiver runs both: check_wire, unpack, check.
 *
 * Bounds are looked up by "Message.field" (the message's short_name, a
 * dot, the field's name, as in the .proto file) and resolved once per
 * (limits, message type) into a process-wide cache, so a check costs a
 * walk over the message and nothing else: no allocation, no string
 * comparison. The cache holds up to a few hundred message types; past
 * that, checks still work, resolving bounds on every use (slower).
 *
 * Thread-safety: every function may run on any number of threads at
 * once. A limits table, and its bounds array, must not change after its
 * first use (the cache keys on their addresses and the defaults): use
 * static tables.
 */
#ifndef RN_TRANSPORT_PBCHECK_H
#define RN_TRANSPORT_PBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/error.h"

/* rn_pb_bound.max meaning "the default of this kind of field": an entry
 * that says a field was considered and the default fits it. */
#define RN_PB_DEFAULT SIZE_MAX

/* rn_pb_bound.flags: a string field whose text is not checked for UTF-8
 * (free text that a sender may cut inside a character). */
#define RN_PB_ANY_TEXT 1u

typedef struct rn_pb_bound {
    /* "HeartbeatRequest.plugins": entries of a repeated field, bytes of a
     *     string or bytes field;
     * "StageSpec.ops[]": bytes of each element of a repeated string or
     *     bytes field (default: string_max / bytes_max);
     * "SubmitJobRequest": entries in all of a message of that type
     *     checked as the root (default: total_max). */
    const char *field;
    size_t max; /* or RN_PB_DEFAULT */
    unsigned flags;
} rn_pb_bound;

typedef struct rn_pb_limits {
    size_t string_max;   /* bytes of a string without an entry */
    size_t bytes_max;    /* bytes of a bytes field (and unknown field) */
    size_t repeated_max; /* entries of a repeated field */
    size_t depth_max;    /* messages nested (the root is 1) */
    size_t total_max;    /* repeated entries and unknown fields in all */
    size_t unknown_max;  /* unknown fields in one message */
    const rn_pb_bound *bounds;
    size_t n_bounds;
} rn_pb_limits;

/* An unpacked message. 0, or RN_ELIMIT with the path to what is over its
 * bound ("HeartbeatRequest.plugins: 1000000 entries, at most 256",
 * "SubmitJobRequest.stages[3].ops[0]: 5000 bytes, at most 256"), or
 * RN_EFORMAT for a string that is not UTF-8 ("TaskDoneRequest.job_id: not
 * valid UTF-8 (byte 3)"). Counts and lengths are the ones handlers see
 * (a string's length is up to its first NUL). Reads only members that
 * are set (a oneof's other members are never touched). */
int rn_pb_check(const ProtobufCMessage *m, const rn_pb_limits *lim,
                rn_errbuf *err);

/* The encoded message data[0..n) of type d, before it is unpacked: 0, or
 * RN_ELIMIT as rn_pb_check (lengths being the encoded ones), or
 * RN_EFORMAT when the bytes cannot be walked (truncated, a field number
 * 0, groups) - protobuf-c would refuse those too. Strings are not checked
 * for UTF-8 here. Entries of a repeated field are counted per occurrence
 * of the message holding it (protobuf-c merges occurrences: rn_pb_check
 * has the last word). */
int rn_pb_check_wire(const ProtobufCMessageDescriptor *d, const void *data,
                     size_t n, const rn_pb_limits *lim, rn_errbuf *err);

/* For tests and start-up: every entry of lim names a message reachable
 * from roots[0..n) (their fields, recursively) or a field of one, of a
 * kind that takes the entry (a repeated, string or bytes field; "[]"
 * only on a repeated string or bytes field; RN_PB_ANY_TEXT only on a
 * string), once. RN_EINVAL naming the first that does not, so a misspelt
 * entry cannot silently leave a field at its default. */
int rn_pb_limits_verify(const rn_pb_limits *lim,
                        const ProtobufCMessageDescriptor *const *roots,
                        size_t n, rn_errbuf *err);

#endif
