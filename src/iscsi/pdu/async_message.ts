/** Asynchronous Message (RFC 7143 §11.9): target-initiated events. */
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { encoded, newHeader, readLun, writeLun } from './bhs.ts'
import type { AsyncMessage, EncodedPdu, Frame } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  asyncEvent: 36,
  asyncVCode: 37,
  parameter1: 38,
  parameter2: 40,
  parameter3: 42,
} as const

export function decodeAsyncMessage(frame: Frame): AsyncMessage {
  const bhs = frame.bhs
  return {
    opcode: Opcode.asyncMessage,
    lun: readLun(bhs),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    asyncEvent: bhs[at.asyncEvent]!,
    asyncVCode: bhs[at.asyncVCode]!,
    parameter1: readU16(bhs, at.parameter1),
    parameter2: readU16(bhs, at.parameter2),
    parameter3: readU16(bhs, at.parameter3),
    data: frame.data,
  }
}

export function encodeAsyncMessage(pdu: AsyncMessage): EncodedPdu {
  const header = newHeader(Opcode.asyncMessage, false, BhsMask.final, 0, pdu.data.length)
  writeLun(header, pdu.lun)
  // §11.9: the ITT of an Asynchronous Message is always 0xffffffff.
  writeU32(header, at.initiatorTaskTag, reservedTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  header[at.asyncEvent] = pdu.asyncEvent
  header[at.asyncVCode] = pdu.asyncVCode
  writeU16(header, at.parameter1, pdu.parameter1)
  writeU16(header, at.parameter2, pdu.parameter2)
  writeU16(header, at.parameter3, pdu.parameter3)
  return encoded(header, pdu.data)
}
