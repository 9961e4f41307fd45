/**
 * CRC32C (Castagnoli), for iSCSI header and data digests (RFC 7143 §13.1, test vectors in
 * RFC 3720 B.4) and for metadata checksums. Short inputs (the 48-byte BHS) use a pure slice-by-8
 * table, which beats any native call at that size; long inputs use @node-rs/crc32 (see
 * docs/decisions/0001-dependencies.md).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32'

const tables = buildTables()
const nativeThresholdBytes = 256

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
  if (bytes.length < nativeThresholdBytes) return crc32cTable(bytes)
  // N-API's buffer accessor takes any Uint8Array (node::Buffer::HasInstance is "is an
  // ArrayBufferView"), so no Buffer view is made per call: that halved the cost of a 4 KiB tag.
  return nativeCrc32c(bytes as Buffer) >>> 0
}

/** Exposed for the tests that pin both paths to the same vectors. */
export const crc32cPure = crc32cTable
