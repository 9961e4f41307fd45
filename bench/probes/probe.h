/*
 * What the probes in this directory share: the region they write and the order they write it
 * in. Both are single-file programs that include this header (gcc finds it beside them).
 */
#ifndef BASALT_PROBE_H
#define BASALT_PROBE_H

#include <stdlib.h>

#define REGION_BYTES (1L << 30)
#define BLOCK_BYTES 4096L
#define BLOCKS (REGION_BYTES / BLOCK_BYTES)

/* Every block of the region once, in a random order (Fisher-Yates over random()). */
static unsigned *permutation(void) {
  unsigned *order = malloc(BLOCKS * sizeof *order);
  if (order == NULL) abort();
  for (long i = 0; i < BLOCKS; i++) order[i] = (unsigned)i;
  for (long i = BLOCKS - 1; i > 0; i--) {
    long j = random() % (i + 1);
    unsigned swap = order[i];
    order[i] = order[j];
    order[j] = swap;
  }
  return order;
}

#endif
