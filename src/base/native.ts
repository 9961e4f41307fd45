/**
 * Basalt's Node-API addon (native/: addon.c, crc32c.c; built by `npm run build`), loaded
 * once. Undefined where the build could not make it (no compiler): every user has a fallback,
 * and `BASALT_NATIVE_REQUIRED=1` makes the unit suite fail instead (docs/decisions/0002).
 */
import { createRequire } from 'node:module'

export interface NativeAddon {
  crc32c(bytes: Uint8Array, initial: number): number
  crc32cBlocks(bytes: Uint8Array, blockBytes: number, out: Uint32Array, outIndex: number): void
  /** The CRC's table path, whatever the CPU: for the tests. */
  crc32cPortable(bytes: Uint8Array, initial?: number): number
  /** Whether the CPU has the CRC32C instruction (SSE4.2) and the addon uses it. */
  readonly hardware: boolean
  /** glibc's malloc_trim(0): the C heap's free pages go back to the kernel. False elsewhere. */
  releaseFreeMemory(): boolean
  /**
   * pwrite(2)s all of `bytes` at `position` in calls that do not cross a multiple of
   * `pieceBytes`, one after the other in one threadpool job; `done` gets 0 or the errno.
   */
  writePieces(
    fd: number,
    bytes: Uint8Array,
    position: number,
    pieceBytes: number,
    done: (errno: number) => void,
  ): void
  /**
   * Punches a hole (fallocate PUNCH_HOLE | KEEP_SIZE) at each (offset, length) pair of
   * `ranges`, in order, in one threadpool job; `done` gets 0 or the errno of the first failure.
   */
  punchRanges(fd: number, ranges: Float64Array, done: (errno: number) => void): void
}

function load(): NativeAddon | undefined {
  try {
    // The same relative path from src/base and from dist/base.
    return createRequire(import.meta.url)('../../native/build/Release/basalt_native.node')
  } catch {
    return undefined
  }
}

export const nativeAddon: NativeAddon | undefined = load()
