/*
 * CRC32C (Castagnoli) for Basalt's data checksums and iSCSI digests, as a Node-API addon.
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
#include <node_api.h>
#include <stdint.h>
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

static uint32_t raw_software(uint32_t s, const uint8_t *p, size_t n) {
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
  return raw_software(s, p, n);
}
static void detect_hardware(void) { have_hardware = 0; }
#endif

static uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t s = ~crc;
  s = have_hardware ? raw_hardware(s, p, n) : raw_software(s, p, n);
  return ~s;
}

static void init_tables(void) {
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

/* ---- Node-API glue ------------------------------------------------------------------------ */

static int view_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  size_t count;
  void *base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &count, &base, &buffer, &offset) != napi_ok)
    return 0;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return 0;
  *data = base;
  *length = count;
  return 1;
}

/* The CRC32C of argument 0 (a Uint8Array) continuing from argument 1 (default 0). */
static napi_value crc_of_arguments(napi_env env, napi_callback_info info, int portable) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *data;
  size_t length;
  if (argc < 1 || !view_bytes(env, argv[0], &data, &length)) {
    napi_throw_type_error(env, NULL, "crc32c: expected a Uint8Array");
    return NULL;
  }
  uint32_t initial = 0;
  if (argc >= 2) napi_get_value_uint32(env, argv[1], &initial);
  uint32_t crc =
      portable ? ~raw_software(~initial, data, length) : crc32c_update(initial, data, length);
  napi_value result;
  napi_create_uint32(env, crc, &result);
  return result;
}

/* crc32c(bytes: Uint8Array, initial: number): number */
static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  return crc_of_arguments(env, info, 0);
}

/* crc32cPortable(bytes: Uint8Array, initial: number): number — the table path, so that the
 * tests check both paths on machines whose CPU has the instruction. */
static napi_value js_crc32c_portable(napi_env env, napi_callback_info info) {
  return crc_of_arguments(env, info, 1);
}

/* crc32cBlocks(bytes: Uint8Array, blockBytes: number, out: Uint32Array, outIndex: number): void
 * — out[outIndex + i] is the CRC32C of block i; bytes.length must be a multiple of blockBytes
 * and out long enough, else it throws (a caller's bug). */
static napi_value js_crc32c_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *data;
  size_t length;
  uint32_t block = 0;
  uint32_t first = 0;
  napi_typedarray_type type;
  size_t count;
  void *out;
  napi_value buffer;
  size_t offset;
  if (argc < 4 || !view_bytes(env, argv[0], &data, &length) ||
      napi_get_value_uint32(env, argv[1], &block) != napi_ok || block == 0 ||
      length % block != 0 || napi_get_value_uint32(env, argv[3], &first) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &count, &out, &buffer, &offset) != napi_ok ||
      type != napi_uint32_array || first > count || count - first < length / block) {
    napi_throw_range_error(env, NULL,
                           "crc32cBlocks: expected (Uint8Array of whole blocks, blockBytes, "
                           "Uint32Array with room, outIndex)");
    return NULL;
  }
  uint32_t *crcs = (uint32_t *)out + first;
  for (size_t i = 0; i < length / block; i++) crcs[i] = crc32c_update(0, data + i * block, block);
  return NULL;
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* releaseFreeMemory(): boolean — hands the C heap's free pages back to the kernel. */
static napi_value js_release_free_memory(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  init_tables();
  napi_property_descriptor properties[] = {
      {"crc32c", NULL, js_crc32c, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cBlocks", NULL, js_crc32c_blocks, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cPortable", NULL, js_crc32c_portable, NULL, NULL, NULL, napi_default, NULL},
      {"releaseFreeMemory", NULL, js_release_free_memory, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 4, properties);
  napi_value hardware;
  napi_get_boolean(env, have_hardware, &hardware);
  napi_set_named_property(env, exports, "hardware", hardware);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
