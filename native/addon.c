/*
 * Basalt's Node-API addon (src/base/native.ts loads it; docs/decisions/0002-native-crc32c.md):
 * CRC32C over Uint8Arrays (crc32c.c does the arithmetic) and glibc's malloc_trim, for the
 * daemon's MemoryTrimmer (src/daemon/memory.ts). Each function checks its arguments and throws a
 * TypeError or RangeError on a caller's bug.
 */
#include <node_api.h>
#include <stdint.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "crc32c.h"

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
  uint32_t crc = portable ? ~crc32c_raw_portable(~initial, data, length)
                          : crc32c_update(initial, data, length);
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
  crc32c_init();
  napi_property_descriptor properties[] = {
      {"crc32c", NULL, js_crc32c, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cBlocks", NULL, js_crc32c_blocks, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cPortable", NULL, js_crc32c_portable, NULL, NULL, NULL, napi_default, NULL},
      {"releaseFreeMemory", NULL, js_release_free_memory, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 4, properties);
  napi_value hardware;
  napi_get_boolean(env, crc32c_hardware(), &hardware);
  napi_set_named_property(env, exports, "hardware", hardware);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
