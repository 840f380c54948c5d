/*
 * libFuzzer target for the avro plugin's decoder (plugins/avro/
 * avro_block.c, compiled in here directly: the fuzz build links
 * runnel_core only, which brings jansson and zlib; snappy, xz and bzip2
 * are left out).
 *
 * Input: byte 0 picks what to decode.
 *   bit 0 set: the rest is the start of a container file (header parse;
 *              on success the schema it carries is walked).
 *   else:      bit 1 picks the codec (null / deflate), byte 1 is the
 *              record count, the rest is one block's data for the fixed
 *              schema below.
 * Arbitrary bytes must give values or an error, never a crash, a read
 * outside the input, or an allocation the input's size does not justify.
 * Every value decoded must encode again (to_avro's encoder) into bytes
 * that decode to one value.
 */
#define RN_AVRO_NO_SNAPPY 1
#define RN_AVRO_NO_LZMA 1
#define RN_AVRO_NO_BZIP2 1
#include "../../plugins/avro/avro_block.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_json[] =
    "{\"type\": \"record\", \"name\": \"Event\", \"namespace\": \"fz\","
    " \"fields\": ["
    "  {\"name\": \"id\", \"type\": \"long\"},"
    "  {\"name\": \"user\", \"type\": \"string\"},"
    "  {\"name\": \"n\", \"type\": \"int\"},"
    "  {\"name\": \"score\", \"type\": \"double\"},"
    "  {\"name\": \"ratio\", \"type\": \"float\"},"
    "  {\"name\": \"ok\", \"type\": \"boolean\"},"
    "  {\"name\": \"tags\", \"type\": {\"type\": \"array\","
    "   \"items\": \"string\"}},"
    "  {\"name\": \"nulls\", \"type\": {\"type\": \"array\","
    "   \"items\": \"null\"}},"
    "  {\"name\": \"attrs\", \"type\": {\"type\": \"map\","
    "   \"values\": \"long\"}},"
    "  {\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"K\","
    "   \"symbols\": [\"A\", \"B\"]}},"
    "  {\"name\": \"md\", \"type\": {\"type\": \"fixed\", \"name\": \"MD\","
    "   \"size\": 2}},"
    "  {\"name\": \"blob\", \"type\": \"bytes\"},"
    "  {\"name\": \"next\", \"type\": [\"null\", \"Event\"]}]}";

typedef struct chunk {
    struct chunk *next;
    max_align_t data[];
} chunk;

static void *fz_alloc(void *ud, size_t n)
{
    chunk **head = ud;
    chunk *c;
    if (n > ((size_t)64 << 20))
        abort(); /* the decoder asked for more than bounded input allows */
    if (!(c = malloc(sizeof(*c) + n)))
        return NULL;
    c->next = *head;
    *head = c;
    return c->data;
}

static uint64_t walk(const rn_value *v)
{
    uint64_t h = v->kind;
    switch (v->kind) {
    case RN_STRING:
    case RN_BYTES:
        for (uint32_t i = 0; i < v->len; i++)
            h = h * 31 + (uint8_t)v->u.s[i];
        break;
    case RN_LIST:
        for (uint32_t i = 0; i < v->len; i++)
            h = h * 31 + walk(&v->u.items[i]);
        break;
    case RN_RECORD:
        for (uint32_t i = 0; i < v->len; i++) {
            for (size_t k = 0; k < v->u.fields[i].name.len; k++)
                h = h * 31 + (uint8_t)v->u.fields[i].name.ptr[k];
            h = h * 31 + walk(&v->u.fields[i].value);
        }
        break;
    default:
        h += (uint64_t)v->u.i;
        break;
    }
    return h;
}

static rn_avro_schema *schema;

static int count_one(void *ud, const rn_value *v)
{
    (void)v;
    ++*(int *)ud;
    return 0;
}

static int fz_emit(void *ud, const rn_value *v)
{
    rn_avro_buf b = {NULL, 0, 0};
    char err[256];
    chunk *head = NULL;
    rn_avro_alloc a = {fz_alloc, &head};
    int n = 0;

    *(uint64_t *)ud += walk(v);
    if (rn_avro_encode(schema, v, &b, err, sizeof(err)) ||
        rn_avro_block_decode(schema, b.p, b.len, 1, &a, count_one, &n, err,
                             sizeof(err), NULL) ||
        n != 1) {
        fprintf(stderr, "fuzz_avro_block: round trip: %s\n", err);
        abort();
    }
    rn_avro_buf_release(&b);
    while (head) {
        chunk *c = head;
        head = c->next;
        free(c);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    chunk *head = NULL;
    rn_avro_alloc a = {fz_alloc, &head};
    uint64_t sum = 0;

    if (size < 2)
        return 0;
    if (!schema &&
        rn_avro_schema_parse(schema_json, sizeof(schema_json) - 1, &schema,
                             err, sizeof(err))) {
        fprintf(stderr, "fuzz_avro_block: schema: %s\n", err);
        abort();
    }
    if (data[0] & 1) {
        rn_avro_header h;
        if (rn_avro_header_parse(data + 1, size - 1, &h, err,
                                 sizeof(err)) == 0)
            rn_avro_schema_free(h.schema);
    } else {
        uint8_t *buf = NULL;
        size_t cap = 0, len = 0, bad = 0;
        const uint8_t *block;
        int codec = data[0] & 2 ? RN_AVRO_CODEC_DEFLATE : RN_AVRO_CODEC_NULL;
        if (rn_avro_block_decompress(codec, data + 2, size - 2, &buf, &cap,
                                     &block, &len, err, sizeof(err)) == 0) {
            int rc = rn_avro_block_decode(schema, block, len, data[1], &a,
                                          fz_emit, &sum, err, sizeof(err),
                                          &bad);
            if (rc && bad > len)
                abort();
        }
        free(buf);
    }
    while (head) {
        chunk *c = head;
        head = c->next;
        free(c);
    }
    return (int)(sum & 0);
}
