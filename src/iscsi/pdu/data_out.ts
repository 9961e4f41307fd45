/** SCSI Data-Out (RFC 7143 §11.7): write data, unsolicited or answering an R2T. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encoded, flag, newHeader, readLun, writeLun } from './bhs.ts'
import type { DataOut, EncodedPdu, Frame } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  expStatSN: 28,
  dataSN: 36,
  bufferOffset: 40,
} as const

export function decodeDataOut(frame: Frame): DataOut {
  const bhs = frame.bhs
  return {
    opcode: Opcode.dataOut,
    final: flag(bhs, BhsMask.final),
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    expStatSN: readU32(bhs, at.expStatSN),
    dataSN: readU32(bhs, at.dataSN),
    bufferOffset: readU32(bhs, at.bufferOffset),
    data: frame.data,
  }
}

export function encodeDataOut(pdu: DataOut): EncodedPdu {
  const flags = pdu.final ? BhsMask.final : 0
  const header = newHeader(Opcode.dataOut, false, flags, 0, pdu.data.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  writeU32(header, at.dataSN, pdu.dataSN)
  writeU32(header, at.bufferOffset, pdu.bufferOffset)
  return encoded(header, pdu.data)
}
