/* Runs a libFuzzer target's entry point over files, without libFuzzer: the
 * regular (gcc, ASan) test suite replays every seed and saved crash input
 * this way, so a decoder regression fails `make test` too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, r;
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        do {
            if (len == cap) {
                uint8_t *nb;
                cap = cap ? cap * 2 : 4096;
                if (!(nb = realloc(buf, cap))) {
                    fclose(f);
                    free(buf);
                    return 1;
                }
                buf = nb;
            }
            r = fread(buf + len, 1, cap - len, f);
            len += r;
        } while (r > 0);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        n++;
    }
    printf("replayed %d inputs\n", n);
    return 0;
}
