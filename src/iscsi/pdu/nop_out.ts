/** NOP-Out (RFC 7143 §11.18): the initiator's ping, or its answer to a target's NOP-In. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, isImmediate, newHeader, problem, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, NopOut } from './types.ts'

const at = { initiatorTaskTag: 16, targetTransferTag: 20, cmdSN: 24, expStatSN: 28 } as const

/** §11.18.1: an ITT of 0xffffffff asks for no response, and such a NOP-Out must be immediate. */
export function checkNopOut(frame: Frame): Problem | null {
  const itt = readU32(frame.bhs, at.initiatorTaskTag)
  if (itt === reservedTag && !isImmediate(frame.bhs)) {
    return problem('protocolError', 'NOP-Out with ITT 0xffffffff must have the I bit set')
  }
  return null
}

export function decodeNopOut(frame: Frame): NopOut {
  const bhs = frame.bhs
  return {
    opcode: Opcode.nopOut,
    immediate: isImmediate(bhs),
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
    pingData: frame.data,
  }
}

export function encodeNopOut(pdu: NopOut): EncodedPdu {
  const header = newHeader(Opcode.nopOut, pdu.immediate, BhsMask.final, 0, pdu.pingData.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  return encoded(header, pdu.pingData)
}
