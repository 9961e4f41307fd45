/**
 * The 8-byte LUN field (SAM-5 §4.7). We serve single-level LUNs in the peripheral device
 * addressing method (00b, LUN 0..255, SAM-5 §4.7.7.2) and the flat space addressing method
 * (01b, LUN 0..16383, SAM-5 §4.7.7.3), plus the REPORT LUNS well-known logical unit
 * (extended addressing, SAM-5 §4.7.7.5 and §4.7.9: C1h 01h). Anything else addresses no unit.
 */
import { fail } from '../base/assert.ts'

export const lunNumberMax = 16_383

/** The decoded value of the REPORT LUNS well-known LUN (outside the LUN number range). */
export const reportLunsWellKnownLun = 0x1_c101

/** A LUN number (0..16383), `reportLunsWellKnownLun`, or -1 when no unit is addressable. */
export function decodeLun(lun: Uint8Array): number {
  if (lun.length !== 8) return -1
  for (let index = 2; index < 8; index++) if (lun[index] !== 0) return -1
  const first = lun[0]!
  const method = first >>> 6
  if (method === 0) {
    // Peripheral device addressing: BUS IDENTIFIER must be 0 for a single-level LUN.
    return (first & 0x3f) === 0 ? lun[1]! : -1
  }
  if (method === 1) return ((first & 0x3f) << 8) | lun[1]!
  if (first === 0xc1 && lun[1] === 0x01) return reportLunsWellKnownLun
  return -1
}

/** Writes LUN `value` into `target` at `offset` (8 bytes), as peripheral or flat addressing. */
export function encodeLun(value: number, target: Uint8Array, offset: number): void {
  target.fill(0, offset, offset + 8)
  if (value === reportLunsWellKnownLun) {
    target[offset] = 0xc1
    target[offset + 1] = 0x01
    return
  }
  if (!(Number.isInteger(value) && value >= 0 && value <= lunNumberMax)) fail(`bad LUN ${value}`)
  if (value <= 0xff) {
    target[offset + 1] = value
    return
  }
  target[offset] = 0x40 | (value >>> 8)
  target[offset + 1] = value & 0xff
}
