/*
 * CRC32C (Castagnoli) for Basalt's data checksums and iSCSI digests (addon.c exposes it to
 * JavaScript).
 *
 * Why native: a 4 KiB sub-block is checksummed on every read and every write; the JS table
 * runs at ~0.5 GB/s and @node-rs/crc32 at ~2.6 GB/s for 4 KiB (its hardware loop calls the crc32
 * instruction out of line). Here the SSE4.2 instruction runs in three independent streams, whose
 * states are merged with precomputed "append n zero bytes" tables (CRC is linear over GF(2)),
 * and one call checksums every 4 KiB block of a buffer (crc32cBlocks), so a 1 MiB transfer costs
 * one crossing into C instead of 256. docs/decisions/0002-native-crc32c.md has the numbers.
 *
 * The JS side (src/base/crc32c.ts) falls back to @node-rs/crc32 when this addon is not built, and
 * the unit tests pin both to the same vectors.
 */
#include "crc32c.h"

#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

/* Stream lengths of the three-way loop: long for big buffers, short for the 4 KiB blocks. */
#define LONG_BYTES 8192
#define SHORT_BYTES 256

static uint32_t table_bytes[8][256];      /* slice-by-8, for CPUs without the instruction */
static uint32_t shift_long[4][256];       /* state -> state after LONG_BYTES zero bytes */
static uint32_t shift_short[4][256];      /* state -> state after SHORT_BYTES zero bytes */
static int have_hardware;

/* The raw register after feeding `n` zero bytes to state `s`, one bit at a time (init only). */
static uint32_t zeros_slow(uint32_t s, size_t n) {
  for (size_t i = 0; i < n * 8; i++) s = (s & 1) ? (s >> 1) ^ POLY : s >> 1;
  return s;
}

static void build_shift(uint32_t table[4][256], size_t n) {
  /* Linear over GF(2): the image of each bit is enough, then a byte's image is the xor. */
  uint32_t bit[32];
  for (int k = 0; k < 32; k++) bit[k] = zeros_slow(1u << k, n);
  for (int byte = 0; byte < 4; byte++) {
    for (int v = 0; v < 256; v++) {
      uint32_t image = 0;
      for (int k = 0; k < 8; k++)
        if (v & (1 << k)) image ^= bit[byte * 8 + k];
      table[byte][v] = image;
    }
  }
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t s) {
  return table[0][s & 0xff] ^ table[1][(s >> 8) & 0xff] ^ table[2][(s >> 16) & 0xff] ^
         table[3][s >> 24];
}

uint32_t crc32c_raw_portable(uint32_t s, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= s;
    s = table_bytes[7][lo & 0xff] ^ table_bytes[6][(lo >> 8) & 0xff] ^
        table_bytes[5][(lo >> 16) & 0xff] ^ table_bytes[4][lo >> 24] ^
        table_bytes[3][hi & 0xff] ^ table_bytes[2][(hi >> 8) & 0xff] ^
        table_bytes[1][(hi >> 16) & 0xff] ^ table_bytes[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) s = table_bytes[0][(s ^ *p++) & 0xff] ^ (s >> 8);
  return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HARDWARE_TARGET __attribute__((target("sse4.2")))

HARDWARE_TARGET static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* Three streams of `len` bytes each, merged: returns the state after all 3 × len bytes. */
HARDWARE_TARGET static inline uint32_t three_way(uint32_t s, const uint8_t *p, size_t len,
                                                 const uint32_t table[4][256]) {
  uint64_t a = s, b = 0, c = 0;
  const uint8_t *end = p + len;
  for (; p < end; p += 8) {
    a = _mm_crc32_u64(a, load64(p));
    b = _mm_crc32_u64(b, load64(p + len));
    c = _mm_crc32_u64(c, load64(p + 2 * len));
  }
  return shift(table, shift(table, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
}

HARDWARE_TARGET static uint32_t raw_hardware(uint32_t s, const uint8_t *p, size_t n) {
  while (n >= 3 * LONG_BYTES) {
    s = three_way(s, p, LONG_BYTES, shift_long);
    p += 3 * LONG_BYTES;
    n -= 3 * LONG_BYTES;
  }
  while (n >= 3 * SHORT_BYTES) {
    s = three_way(s, p, SHORT_BYTES, shift_short);
    p += 3 * SHORT_BYTES;
    n -= 3 * SHORT_BYTES;
  }
  uint64_t w = s;
  for (; n >= 8; n -= 8, p += 8) w = _mm_crc32_u64(w, load64(p));
  s = (uint32_t)w;
  for (; n > 0; n--) s = _mm_crc32_u8(s, *p++);
  return s;
}

static void detect_hardware(void) { have_hardware = __builtin_cpu_supports("sse4.2"); }
#else
static uint32_t raw_hardware(uint32_t s, const uint8_t *p, size_t n) {
  return crc32c_raw_portable(s, p, n);
}
static void detect_hardware(void) { have_hardware = 0; }
#endif

uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t s = ~crc;
  s = have_hardware ? raw_hardware(s, p, n) : crc32c_raw_portable(s, p, n);
  return ~s;
}

void crc32c_init(void) {
  for (int n = 0; n < 256; n++) table_bytes[0][n] = zeros_slow((uint32_t)n, 1);
  for (int n = 0; n < 256; n++) {
    uint32_t c = table_bytes[0][n];
    for (int t = 1; t < 8; t++) {
      c = table_bytes[0][c & 0xff] ^ (c >> 8);
      table_bytes[t][n] = c;
    }
  }
  build_shift(shift_long, LONG_BYTES);
  build_shift(shift_short, SHORT_BYTES);
  detect_hardware();
}

int crc32c_hardware(void) { return have_hardware; }
