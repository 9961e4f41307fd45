/** NOP-In (RFC 7143 §11.19): the target's ping, or its answer to a NOP-Out. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encoded, newHeader, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, NopIn } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
} as const

export function decodeNopIn(frame: Frame): NopIn {
  const bhs = frame.bhs
  return {
    opcode: Opcode.nopIn,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    pingData: frame.data,
  }
}

export function encodeNopIn(pdu: NopIn): EncodedPdu {
  const header = newHeader(Opcode.nopIn, false, BhsMask.final, 0, pdu.pingData.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  return encoded(header, pdu.pingData)
}
