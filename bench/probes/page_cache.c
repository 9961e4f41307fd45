/*
 * What the kernel alone charges for the engine's write patterns, with no engine in the way
 * (docs/benchmarks.md, "first pass after a snapshot"). One thread, synchronous pwrite, 4 KiB at
 * uniformly random 4 KiB-aligned places, as the engine's writeNow does:
 *
 *   before   overwrites of a 1 GiB region written with 1 MiB writes and synced (clean, cached)
 *   before2  the same after SLEEP seconds (freed guest memory goes back to the host meanwhile)
 *   pass     writes into a fresh 1 GiB region of the same file (holes: redirect-on-write)
 *   after    overwrites of that region, just written
 *
 * A second thread fdatasyncs the file every 250 ms when SYNCER is 1, as the pool's commits do.
 *
 *   gcc -O2 -pthread -o /tmp/page_cache bench/probes/page_cache.c
 *   /tmp/page_cache FILE [SLEEP] [SYNCER]      # e.g. /tmp/page_cache /tmp/probe.bin 2 1
 *
 * Prints µs per write for each phase; removes FILE at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define SYNC_INTERVAL_US 250000

static int file;
static volatile int stopping;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *syncer(void *unused) {
  (void)unused;
  while (!stopping) {
    usleep(SYNC_INTERVAL_US);
    fdatasync(file);
  }
  return NULL;
}

static double us_per_write(long base) {
  static char block[BLOCK_BYTES];
  memset(block, 0x3c, sizeof block);
  unsigned *order = permutation();
  double start = now_s();
  for (long i = 0; i < BLOCKS; i++)
    if (pwrite(file, block, BLOCK_BYTES, base + (long)order[i] * BLOCK_BYTES) != BLOCK_BYTES) {
      perror("pwrite");
      exit(1);
    }
  double seconds = now_s() - start;
  free(order);
  return seconds / BLOCKS * 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE [SLEEP] [SYNCER]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  int sleep_s = argc > 2 ? atoi(argv[2]) : 2;
  int with_syncer = argc > 3 && atoi(argv[3]) != 0;
  unlink(path);
  file = open(path, O_RDWR | O_CREAT, 0644);
  if (file < 0) {
    perror("open");
    return 1;
  }
  static char fill[1 << 20];
  memset(fill, 1, sizeof fill);
  for (long at = 0; at < REGION_BYTES; at += sizeof fill)
    if (pwrite(file, fill, sizeof fill, at) != (ssize_t)sizeof fill) abort();
  fdatasync(file);
  printf("before  %.2f us/write\n", us_per_write(0));
  fdatasync(file);
  sleep(sleep_s);
  pthread_t thread;
  if (with_syncer) pthread_create(&thread, NULL, syncer, NULL);
  printf("before2 %.2f us/write\n", us_per_write(0));
  printf("pass    %.2f us/write\n", us_per_write(REGION_BYTES));
  printf("after   %.2f us/write\n", us_per_write(REGION_BYTES));
  stopping = 1;
  if (with_syncer) pthread_join(thread, NULL);
  close(file);
  unlink(path);
  return 0;
}
