/** Ready To Transfer, R2T (RFC 7143 §11.8): the target asks for a burst of write data. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, newHeader, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, ReadyToTransfer } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  r2tSN: 36,
  bufferOffset: 40,
  desiredDataTransferLength: 44,
} as const

export function checkReadyToTransfer(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeReadyToTransfer(frame: Frame): ReadyToTransfer {
  const bhs = frame.bhs
  return {
    opcode: Opcode.readyToTransfer,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    r2tSN: readU32(bhs, at.r2tSN),
    bufferOffset: readU32(bhs, at.bufferOffset),
    desiredDataTransferLength: readU32(bhs, at.desiredDataTransferLength),
  }
}

export function encodeReadyToTransfer(pdu: ReadyToTransfer): EncodedPdu {
  const header = newHeader(Opcode.readyToTransfer, false, BhsMask.final, 0, 0)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU32(header, at.r2tSN, pdu.r2tSN)
  writeU32(header, at.bufferOffset, pdu.bufferOffset)
  writeU32(header, at.desiredDataTransferLength, pdu.desiredDataTransferLength)
  return encoded(header, new Uint8Array(0))
}
