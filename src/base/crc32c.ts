/**
 * CRC32C (Castagnoli), for iSCSI header and data digests (RFC 7143 §13.1, test vectors in
 * RFC 3720 B.4), metadata checksums and the engine's 4 KiB data tags: Basalt's own addon
 * (native/crc32c.c: the SSE4.2 instruction in three streams, and one call for all the 4 KiB
 * blocks of a transfer) when the build made it. Without it, short inputs (the 48-byte BHS) use a
 * pure slice-by-8 table, which beats @node-rs/crc32's call at that size, and long ones
 * @node-rs/crc32. See docs/decisions/0002-native-crc32c.md for why and what each costs.
 */
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32'
import { assert } from './assert.ts'
import { nativeAddon as native } from './native.ts'

const tables = buildTables()
/** Below this the table beats @node-rs/crc32 (the fallback). */
const nodeRsThresholdBytes = 256

/** Which code computes long CRCs here: reported at start-up and checked by the tests. */
export const crc32cImplementation: 'native-sse4.2' | 'native-portable' | 'node-rs' =
  native === undefined ? 'node-rs' : native.hardware ? 'native-sse4.2' : 'native-portable'

function buildTables(): Int32Array[] {
  const result = Array.from({ length: 8 }, () => new Int32Array(256))
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    result[0]![n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = result[0]![n]!
    for (let t = 1; t < 8; t++) {
      c = result[0]![c & 0xff]! ^ (c >>> 8)
      result[t]![n] = c
    }
  }
  return result
}

function crc32cTable(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
  ]
  let crc = -1
  let i = 0
  const end8 = bytes.length - (bytes.length % 8)
  for (; i < end8; i += 8) {
    const a =
      crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))
    const b = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24)
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[b & 0xff]! ^
      t2[(b >>> 8) & 0xff]! ^
      t1[(b >>> 16) & 0xff]! ^
      t0[b >>> 24]!
  }
  for (; i < bytes.length; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) >>> 0
}

/** The CRC32C of `bytes` as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array): number {
  // The addon wins at every length (48 bytes: 0.22 µs against the table's 0.42).
  if (native !== undefined) return native.crc32c(bytes, 0)
  return fallbackCrc32c(bytes)
}

/**
 * The CRC32C of each `blockBytes` block of `bytes` into `out` from `outIndex`: one call for a
 * whole transfer's data tags. `bytes.length` is a multiple of `blockBytes`.
 */
export function crc32cBlocks(
  bytes: Uint8Array,
  blockBytes: number,
  out: Uint32Array,
  outIndex: number,
): void {
  if (native !== undefined) native.crc32cBlocks(bytes, blockBytes, out, outIndex)
  else fallbackCrc32cBlocks(bytes, blockBytes, out, outIndex)
}

function fallbackCrc32c(bytes: Uint8Array): number {
  // N-API's buffer accessor takes any Uint8Array (node::Buffer::HasInstance is "is an
  // ArrayBufferView"), so no Buffer view is made per call: that halved the cost of a 4 KiB tag.
  return bytes.length < nodeRsThresholdBytes
    ? crc32cTable(bytes)
    : nodeRsCrc32c(bytes as Buffer) >>> 0
}

function fallbackCrc32cBlocks(
  bytes: Uint8Array,
  blockBytes: number,
  out: Uint32Array,
  outIndex: number,
): void {
  assert(blockBytes > 0 && bytes.length % blockBytes === 0, 'whole blocks')
  assert(outIndex + bytes.length / blockBytes <= out.length, 'room for every block')
  for (let at = 0, index = outIndex; at < bytes.length; at += blockBytes, index += 1) {
    out[index] = fallbackCrc32c(bytes.subarray(at, at + blockBytes))
  }
}

/** Exposed for the tests that pin every path to the same vectors. */
export const crc32cPure = crc32cTable
export const crc32cFallback = { crc32c: fallbackCrc32c, crc32cBlocks: fallbackCrc32cBlocks }
export const crc32cNativePortable = native?.crc32cPortable
