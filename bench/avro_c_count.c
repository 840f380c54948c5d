/*
 * avro_c_count: the anchor of the Avro benchmark (issue 6). avro-c's
 * generic reader (avro_file_reader + avro_value_t, the way its own
 * documentation reads a file): every record is decoded into one reused
 * generic value; counts the records and sums the long field `bytes`.
 * Prints "COUNT SUM".
 *
 *   avro_c_count FILE.avro [FIELD]      FIELD defaults to "bytes"
 *
 * Built by bench/avro.sh: cc -O2 avro_c_count.c -lavro.
 */
#include <avro.h>
#include <inttypes.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    avro_file_reader_t r;
    avro_schema_t schema;
    avro_value_iface_t *iface;
    avro_value_t rec, f;
    const char *field = argc > 2 ? argv[2] : "bytes";
    size_t idx;
    int64_t count = 0, sum = 0, x;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: avro_c_count FILE.avro [FIELD]\n");
        return 2;
    }
    if (avro_file_reader(argv[1], &r)) {
        fprintf(stderr, "avro_c_count: %s: %s\n", argv[1], avro_strerror());
        return 1;
    }
    schema = avro_file_reader_get_writer_schema(r);
    if (!(iface = avro_generic_class_from_schema(schema)) ||
        avro_generic_value_new(iface, &rec)) {
        fprintf(stderr, "avro_c_count: %s\n", avro_strerror());
        return 1;
    }
    /* the field's index, looked up once */
    if (avro_value_get_by_name(&rec, field, &f, &idx)) {
        fprintf(stderr, "avro_c_count: no field '%s'\n", field);
        return 1;
    }
    while ((rc = avro_file_reader_read_value(r, &rec)) == 0) {
        if (avro_value_get_by_index(&rec, idx, &f, NULL) ||
            avro_value_get_long(&f, &x)) {
            fprintf(stderr, "avro_c_count: %s\n", avro_strerror());
            return 1;
        }
        sum += x;
        count++;
    }
    if (rc != EOF) {
        fprintf(stderr, "avro_c_count: %s: %s\n", argv[1], avro_strerror());
        return 1;
    }
    printf("%" PRId64 " %" PRId64 "\n", count, sum);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    avro_file_reader_close(r);
    return 0;
}
