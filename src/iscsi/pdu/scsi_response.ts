/**
 * SCSI Response (RFC 7143 §11.4). The data segment is SenseLength (2 bytes) + sense data
 * (§11.4.7); `senseSegment`/`senseFromSegment` convert between sense bytes and that segment.
 */

import { assert } from '../../base/assert.ts'
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encoded, flag, newHeader } from './bhs.ts'
import type { EncodedPdu, Frame, ScsiResponse } from './types.ts'

const at = {
  response: 2,
  status: 3,
  initiatorTaskTag: 16,
  snackTag: 20,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  expDataSN: 36,
  bidiReadResidualCount: 40,
  residualCount: 44,
} as const

/** §11.4.1: byte 1 is 1 . . o u O U . */
const Flag = {
  bidiReadResidualOverflow: 0x10,
  bidiReadResidualUnderflow: 0x08,
  residualOverflow: 0x04,
  residualUnderflow: 0x02,
} as const

export function decodeScsiResponse(frame: Frame): ScsiResponse {
  const bhs = frame.bhs
  return {
    opcode: Opcode.scsiResponse,
    bidiReadResidualOverflow: flag(bhs, Flag.bidiReadResidualOverflow),
    bidiReadResidualUnderflow: flag(bhs, Flag.bidiReadResidualUnderflow),
    residualOverflow: flag(bhs, Flag.residualOverflow),
    residualUnderflow: flag(bhs, Flag.residualUnderflow),
    response: bhs[at.response]!,
    status: bhs[at.status]!,
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    snackTag: readU32(bhs, at.snackTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    expDataSN: readU32(bhs, at.expDataSN),
    bidiReadResidualCount: readU32(bhs, at.bidiReadResidualCount),
    residualCount: readU32(bhs, at.residualCount),
    senseData: frame.data,
  }
}

export function encodeScsiResponse(pdu: ScsiResponse): EncodedPdu {
  const flags =
    BhsMask.final |
    (pdu.bidiReadResidualOverflow ? Flag.bidiReadResidualOverflow : 0) |
    (pdu.bidiReadResidualUnderflow ? Flag.bidiReadResidualUnderflow : 0) |
    (pdu.residualOverflow ? Flag.residualOverflow : 0) |
    (pdu.residualUnderflow ? Flag.residualUnderflow : 0)
  const header = newHeader(Opcode.scsiResponse, false, flags, 0, pdu.senseData.length)
  header[at.response] = pdu.response
  header[at.status] = pdu.status
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.snackTag, pdu.snackTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU32(header, at.expDataSN, pdu.expDataSN)
  writeU32(header, at.bidiReadResidualCount, pdu.bidiReadResidualCount)
  writeU32(header, at.residualCount, pdu.residualCount)
  return encoded(header, pdu.senseData)
}

/** §11.4.7.1: wraps sense bytes in the SenseLength-prefixed data segment (empty → empty). */
export function senseSegment(sense: Uint8Array): Uint8Array {
  if (sense.length === 0) return sense
  assert(sense.length <= 0xffff, 'sense data too long')
  const segment = new Uint8Array(2 + sense.length)
  writeU16(segment, 0, sense.length)
  segment.set(sense, 2)
  return segment
}

/**
 * §11.4.7: the sense bytes inside a SCSI Response data segment (a view, no copy). A segment too
 * short for its SenseLength yields what is there; an empty or 1-byte segment yields no sense.
 */
export function senseFromSegment(segment: Uint8Array): Uint8Array {
  if (segment.length < 2) return segment.subarray(0, 0)
  const senseLength = readU16(segment, 0)
  return segment.subarray(2, Math.min(segment.length, 2 + senseLength))
}
