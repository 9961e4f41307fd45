/**
 * Helpers shared by the PDU codecs in this folder: allocating an encoded header, and the checks
 * every decoder relies on (RFC 7143 §11.2). Each codec owns its opcode-specific offsets.
 */
import { assert } from '../../base/assert.ts'
import { readU24, writeU24 } from '../../base/bytes.ts'
import { Bhs, BhsMask, dataSegmentBytesMax } from '../spec/bhs_layout.ts'
import { bhsBytes } from '../spec/opcodes.ts'
import type { EncodedPdu, Frame } from './types.ts'

/** Why a frame is not a valid PDU; `reason` maps onto a Reject reason (§11.17.1). */
export interface Problem {
  readonly reason: 'protocolError' | 'invalidPduField'
  readonly detail: string
}

export function problem(reason: Problem['reason'], detail: string): Problem {
  return { reason, detail }
}

/**
 * Allocates the one header buffer of an encoded PDU (BHS plus `ahsBytes` of AHS) and fills the
 * fields common to every PDU (§11.2.1): opcode, I bit, byte 1, TotalAHSLength and
 * DataSegmentLength.
 */
export function newHeader(
  opcode: number,
  immediate: boolean,
  flags: number,
  ahsBytes: number,
  dataBytes: number,
): Uint8Array {
  assert(ahsBytes % 4 === 0, 'AHS must be a whole number of words')
  assert(ahsBytes <= 255 * 4, 'AHS too long')
  assert(dataBytes <= dataSegmentBytesMax, 'data segment too long')
  const header = new Uint8Array(bhsBytes + ahsBytes)
  header[Bhs.opcodeByte] = opcode | (immediate ? BhsMask.immediate : 0)
  header[Bhs.flagsByte] = flags
  header[Bhs.totalAhsLength] = ahsBytes / 4
  writeU24(header, Bhs.dataSegmentLength, dataBytes)
  return header
}

export function encoded(header: Uint8Array, data: Uint8Array): EncodedPdu {
  return { header, data }
}

export function writeLun(header: Uint8Array, lun: Uint8Array): void {
  assert(lun.length === 8, 'LUN field is 8 bytes')
  header.set(lun, Bhs.lun)
}

export function readLun(bhs: Uint8Array): Uint8Array {
  return bhs.subarray(Bhs.lun, Bhs.lun + 8)
}

export function isImmediate(bhs: Uint8Array): boolean {
  return (bhs[Bhs.opcodeByte]! & BhsMask.immediate) !== 0
}

export function flag(bhs: Uint8Array, mask: number): boolean {
  return (bhs[Bhs.flagsByte]! & mask) !== 0
}

export function opcodeOf(bhs: Uint8Array): number {
  return bhs[Bhs.opcodeByte]! & BhsMask.opcode
}

export function totalAhsBytes(bhs: Uint8Array): number {
  return bhs[Bhs.totalAhsLength]! * 4
}

export function dataSegmentLength(bhs: Uint8Array): number {
  return readU24(bhs, Bhs.dataSegmentLength)
}

/** §11.2.1.5: most PDUs carry no AHS; only the SCSI Command defines AHS types. */
export function checkNoAhs(frame: Frame): Problem | null {
  if (frame.ahs.length === 0) return null
  return problem('protocolError', 'AHS present on a PDU that defines none')
}

/** For PDUs whose DataSegmentLength the RFC fixes at 0 (e.g. §11.5, §11.14, §11.16). */
export function checkNoData(frame: Frame): Problem | null {
  if (frame.data.length === 0) return null
  return problem('protocolError', 'data segment on a PDU that carries none')
}
