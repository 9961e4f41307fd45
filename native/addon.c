/*
 * Basalt's Node-API addon (src/base/native.ts loads it; docs/decisions/0002-native-crc32c.md):
 * CRC32C over Uint8Arrays (crc32c.c does the arithmetic), glibc's malloc_trim for the daemon's
 * MemoryTrimmer (src/daemon/memory.ts), a positional write in pieces done by one threadpool
 * job (src/storage/positional_io.ts), and hole punching over a list of ranges in one job (the
 * engine's freed slots). Each function checks its arguments and throws a TypeError or
 * RangeError on a caller's bug.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

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

/*
 * A threadpool job that ends by calling a JavaScript callback with an errno (0 for success).
 * Each job's struct starts with this one; `keep` is the typed array the job reads (its memory
 * must outlive the job), `done` the callback.
 */
typedef struct {
  napi_async_work work;
  napi_ref keep_ref;
  napi_ref done_ref;
  int error;
} errno_job;

static void errno_job_complete(napi_env env, napi_status status, void *data) {
  errno_job *job = data;
  napi_value done;
  napi_value global;
  napi_value argv[1];
  int error = status == napi_ok ? job->error : ECANCELED;
  napi_get_reference_value(env, job->done_ref, &done);
  napi_get_global(env, &global);
  napi_create_int32(env, error, &argv[0]);
  napi_delete_reference(env, job->keep_ref);
  napi_delete_reference(env, job->done_ref);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, done, 1, argv, NULL);
}

/* Queues `job` (allocated by the caller with calloc); on failure throws and frees it. */
static void errno_job_queue(napi_env env, errno_job *job, const char *name, napi_value keep,
                            napi_value done, napi_async_execute_callback execute) {
  napi_value resource_name;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  /* The references keep the bytes (and so their memory) and the callback alive until done. */
  if (napi_create_reference(env, keep, 1, &job->keep_ref) != napi_ok ||
      napi_create_reference(env, done, 1, &job->done_ref) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, execute, errno_job_complete, job,
                             &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, NULL, "cannot queue the work");
    free(job);
  }
}

/*
 * writePieces(fd, bytes: Uint8Array, position, pieceBytes, done: (errno: number) => void): void
 *
 * Writes all of `bytes` at `position` with pwrite(2) calls that never cross a multiple of
 * `pieceBytes` in the file, one after the other in a single threadpool job, then calls `done`
 * with 0 or the errno of the call that failed. Node's fs.write sends each piece to the
 * threadpool on its own: the pieces of one 1 MiB write then contend for the inode's lock on
 * four threads, and each costs a wake-up and a completion on the event loop.
 */
typedef struct {
  errno_job base;
  int fd;
  uint8_t *data;
  size_t length;
  int64_t position;
  int64_t piece;
} write_job;

static void write_pieces_execute(napi_env env, void *data) {
  (void)env;
  write_job *job = data;
  size_t offset = 0;
  while (offset < job->length) {
    int64_t at = job->position + (int64_t)offset;
    size_t room = (size_t)(job->piece - at % job->piece);
    size_t count = job->length - offset < room ? job->length - offset : room;
    ssize_t written = pwrite(job->fd, job->data + offset, count, at);
    if (written < 0) {
      if (errno == EINTR) continue;
      job->base.error = errno;
      return;
    }
    offset += (size_t)written;
  }
}

static napi_value js_write_pieces(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint8_t *bytes;
  size_t length;
  int64_t position = -1;
  int64_t piece = 0;
  napi_valuetype done_type = napi_undefined;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      !view_bytes(env, argv[1], &bytes, &length) ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok || position < 0 ||
      napi_get_value_int64(env, argv[3], &piece) != napi_ok || piece <= 0 ||
      napi_typeof(env, argv[4], &done_type) != napi_ok || done_type != napi_function) {
    napi_throw_range_error(env, NULL,
                           "writePieces: expected (fd, Uint8Array, position >= 0, pieceBytes > 0, "
                           "callback)");
    return NULL;
  }
  write_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    napi_throw_error(env, NULL, "writePieces: out of memory");
    return NULL;
  }
  job->fd = fd;
  job->data = bytes;
  job->length = length;
  job->position = position;
  job->piece = piece;
  errno_job_queue(env, &job->base, "basalt.writePieces", argv[1], argv[4], write_pieces_execute);
  return NULL;
}

/*
 * punchRanges(fd, ranges: Float64Array, done: (errno: number) => void): void
 *
 * For each (offset, length) pair of `ranges`, in order and in one threadpool job:
 * fallocate(2) with FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE. Stops at the first failure and
 * calls `done` with its errno, or 0. (Without the addon, a shell runs util-linux `fallocate`
 * per range: a process per batch, and a fork of the daemon to start it.)
 */
typedef struct {
  errno_job base;
  int fd;
  const double *ranges;
  size_t count;
} punch_job;

static void punch_execute(napi_env env, void *data) {
  (void)env;
  punch_job *job = data;
  for (size_t index = 0; index + 1 < job->count; index += 2) {
    off_t offset = (off_t)job->ranges[index];
    off_t length = (off_t)job->ranges[index + 1];
    if (length <= 0) continue;
    while (fallocate(job->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
      if (errno == EINTR) continue;
      job->base.error = errno;
      return;
    }
  }
}

static napi_value js_punch_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  bool is_typed = false;
  napi_typedarray_type type = napi_uint8_array;
  size_t count = 0;
  void *base = NULL;
  napi_value buffer;
  size_t offset;
  napi_valuetype done_type = napi_undefined;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &count, &base, &buffer, &offset) != napi_ok ||
      type != napi_float64_array || count % 2 != 0 ||
      napi_typeof(env, argv[2], &done_type) != napi_ok || done_type != napi_function) {
    napi_throw_range_error(env, NULL,
                           "punchRanges: expected (fd, Float64Array of offset/length pairs, "
                           "callback)");
    return NULL;
  }
  punch_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    napi_throw_error(env, NULL, "punchRanges: out of memory");
    return NULL;
  }
  job->fd = fd;
  job->ranges = base;
  job->count = count;
  errno_job_queue(env, &job->base, "basalt.punchRanges", argv[1], argv[2], punch_execute);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  crc32c_init();
  napi_property_descriptor properties[] = {
      {"crc32c", NULL, js_crc32c, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cBlocks", NULL, js_crc32c_blocks, NULL, NULL, NULL, napi_default, NULL},
      {"crc32cPortable", NULL, js_crc32c_portable, NULL, NULL, NULL, napi_default, NULL},
      {"releaseFreeMemory", NULL, js_release_free_memory, NULL, NULL, NULL, napi_default, NULL},
      {"writePieces", NULL, js_write_pieces, NULL, NULL, NULL, napi_default, NULL},
      {"punchRanges", NULL, js_punch_ranges, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 6, properties);
  napi_value hardware;
  napi_get_boolean(env, crc32c_hardware(), &hardware);
  napi_set_named_property(env, exports, "hardware", hardware);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
