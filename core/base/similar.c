/* Close names: Levenshtein distance over one row. */
#include "base/similar.h"

#include <stdint.h>

size_t rn_edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[RN_SIMILAR_MAX + 1];
    if (na > RN_SIMILAR_MAX || nb > RN_SIMILAR_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

int rn_similar_enough(size_t distance, size_t len)
{
    return distance <= (len < 3 ? 1 : 2 + len / 8) && distance < len;
}
