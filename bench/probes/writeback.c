/*
 * What a first pass after a snapshot costs the whole machine, kernel writeback included, with
 * no engine in the way (docs/benchmarks.md, session 11). One thread writes every 4 KiB block of
 * a 1 GiB region once, in random order, with synchronous pwrite (as the engine's writeNow does);
 * a second thread fdatasyncs the file every INTERVAL ms, as the pool's commits do while records
 * that map new data are pending (0: one fdatasync at the end). The region is, by MODE:
 *
 *   holes      never written: what a redirected write meets in a sparse data file
 *   unwritten  fallocated (mode 0): unwritten extents, converted by ext4 at writeback
 *   written    written with zeros in 64 KiB pieces, synced and dropped from the page cache:
 *              allocated blocks, as on a raw device or a file written ahead
 *   cached     written in 4 KiB pieces and still dirty in the page cache: an overwrite in place,
 *              what the engine's steady state before a snapshot does
 *
 * Per write it prints the wall time, the writer's CPU, the syncer's CPU (the writeback that
 * fdatasync does in its own context) and the whole machine's busy time from /proc/stat (the
 * flusher and ext4's end-of-I/O workers included). Run it on a quiet machine.
 *
 *   gcc -O2 -pthread -o /tmp/writeback bench/probes/writeback.c
 *   /tmp/writeback FILE MODE INTERVAL      # e.g. /tmp/writeback /tmp/probe.bin holes 250
 *
 * Removes FILE at the end.
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

#define PIECE_BYTES (64L * 1024)

static int file;
static int interval_ms;
static volatile int stopping;
static double syncer_cpu_s;

static double seconds(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* Busy CPU seconds of the whole machine (user, nice, system, irq, softirq). */
static double machine_busy_s(void) {
  unsigned long long user, nice, system, idle, iowait, irq, softirq;
  FILE *stat = fopen("/proc/stat", "r");
  if (stat == NULL) abort();
  if (fscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle,
             &iowait, &irq, &softirq) != 7)
    abort();
  fclose(stat);
  return (double)(user + nice + system + irq + softirq) / sysconf(_SC_CLK_TCK);
}

static void *syncer(void *unused) {
  (void)unused;
  double start = seconds(CLOCK_THREAD_CPUTIME_ID);
  while (!stopping) {
    usleep(interval_ms * 1000);
    fdatasync(file);
  }
  syncer_cpu_s = seconds(CLOCK_THREAD_CPUTIME_ID) - start;
  return NULL;
}

static void write_region(long piece_bytes) {
  char *zeros = aligned_alloc(BLOCK_BYTES, piece_bytes);
  if (zeros == NULL) abort();
  memset(zeros, 0, piece_bytes);
  for (long at = 0; at < REGION_BYTES; at += piece_bytes)
    if (pwrite(file, zeros, piece_bytes, at) != piece_bytes) abort();
  free(zeros);
}

static void prepare(const char *mode) {
  if (strcmp(mode, "holes") == 0) return;
  if (strcmp(mode, "unwritten") == 0) {
    if (fallocate(file, 0, 0, REGION_BYTES) != 0) abort();
    fdatasync(file);
  } else if (strcmp(mode, "written") == 0) {
    write_region(PIECE_BYTES);
    fdatasync(file);
    posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);
  } else if (strcmp(mode, "cached") == 0) {
    write_region(BLOCK_BYTES);
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    exit(2);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FILE holes|unwritten|written|cached INTERVAL_MS\n", argv[0]);
    return 2;
  }
  interval_ms = atoi(argv[3]);
  file = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (file < 0) abort();
  prepare(argv[2]);
  unsigned *order = permutation();
  char *block = aligned_alloc(BLOCK_BYTES, BLOCK_BYTES);
  if (block == NULL) abort();
  memset(block, 0x3c, BLOCK_BYTES);
  pthread_t thread;
  if (interval_ms > 0) pthread_create(&thread, NULL, syncer, NULL);
  double busy0 = machine_busy_s();
  double cpu0 = seconds(CLOCK_THREAD_CPUTIME_ID);
  double wall0 = seconds(CLOCK_MONOTONIC);
  for (long i = 0; i < BLOCKS; i++)
    if (pwrite(file, block, BLOCK_BYTES, (long)order[i] * BLOCK_BYTES) != BLOCK_BYTES) abort();
  double wall1 = seconds(CLOCK_MONOTONIC);
  double cpu1 = seconds(CLOCK_THREAD_CPUTIME_ID);
  stopping = 1;
  if (interval_ms > 0) pthread_join(thread, NULL);
  fdatasync(file); /* what is still dirty: the machine's figure counts all writeback */
  double wall2 = seconds(CLOCK_MONOTONIC);
  double busy2 = machine_busy_s();
  double us = 1e6 / BLOCKS;
  printf("%-9s sync every %5d ms: wall %5.2f us/write, writer cpu %5.2f, syncer cpu %5.2f, "
         "machine busy %5.2f (final sync %4.0f ms)\n",
         argv[2], interval_ms, (wall1 - wall0) * us, (cpu1 - cpu0) * us, syncer_cpu_s * us,
         (busy2 - busy0) * us, (wall2 - wall1) * 1e3);
  unlink(argv[1]);
  return 0;
}
