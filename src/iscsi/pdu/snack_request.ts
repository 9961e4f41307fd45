/** SNACK Request (RFC 7143 §11.16): asks the target to resend data, status or R2Ts. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, newHeader, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, SnackRequest } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  expStatSN: 28,
  begRun: 40,
  runLength: 44,
} as const
/** §11.16: byte 1 is 1 . . . Type(4). */
const typeMask = 0x0f

export function checkSnackRequest(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeSnackRequest(frame: Frame): SnackRequest {
  const bhs = frame.bhs
  return {
    opcode: Opcode.snackRequest,
    type: bhs[1]! & typeMask,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    expStatSN: readU32(bhs, at.expStatSN),
    begRun: readU32(bhs, at.begRun),
    runLength: readU32(bhs, at.runLength),
  }
}

export function encodeSnackRequest(pdu: SnackRequest): EncodedPdu {
  const flags = BhsMask.final | (pdu.type & typeMask)
  const header = newHeader(Opcode.snackRequest, false, flags, 0, 0)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  writeU32(header, at.begRun, pdu.begRun)
  writeU32(header, at.runLength, pdu.runLength)
  return encoded(header, new Uint8Array(0))
}
