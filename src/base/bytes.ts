/**
 * Big-endian field access over Uint8Array for wire formats (iSCSI BHS, SCSI CDBs and parameter
 * data). 64-bit fields become `number` only through one checked conversion (STYLE rule 15).
 */
import { assert, fail } from './assert.ts'

export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!
}

export function readU24(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 16) | (bytes[offset + 1]! << 8) | bytes[offset + 2]!
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) >>> 0) +
    ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)
  )
}

/** A 64-bit big-endian value, or null when it does not fit in a safe integer. */
export function readU64Safe(bytes: Uint8Array, offset: number): number | null {
  const high = readU32(bytes, offset)
  const low = readU32(bytes, offset + 4)
  if (high > 0x1fffff) return null
  return high * 0x1_0000_0000 + low
}

export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffff)) fail(`u16 range: ${value}`)
  bytes[offset] = value >>> 8
  bytes[offset + 1] = value & 0xff
}

export function writeU24(bytes: Uint8Array, offset: number, value: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffffff)) fail(`u24 range: ${value}`)
  bytes[offset] = value >>> 16
  bytes[offset + 1] = (value >>> 8) & 0xff
  bytes[offset + 2] = value & 0xff
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff)) fail(`u32 range: ${value}`)
  bytes[offset] = value >>> 24
  bytes[offset + 1] = (value >>> 16) & 0xff
  bytes[offset + 2] = (value >>> 8) & 0xff
  bytes[offset + 3] = value & 0xff
}

export function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) fail(`u64 range: ${value}`)
  writeU32(bytes, offset, Math.floor(value / 0x1_0000_0000))
  writeU32(bytes, offset + 4, value % 0x1_0000_0000)
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex(hex: string): Uint8Array {
  assert(hex.length % 2 === 0, 'odd hex length')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** Rounds a data-segment length up to the 4-byte boundary (RFC 7143 §11.2.5 padding). */
export function padTo4(length: number): number {
  return (length + 3) & ~3
}
