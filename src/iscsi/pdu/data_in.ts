/** SCSI Data-In (RFC 7143 §11.7): read data, optionally with status (phase collapse, §11.7.4). */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, flag, newHeader, problem, readLun, writeLun } from './bhs.ts'
import type { DataIn, EncodedPdu, Frame } from './types.ts'

const at = {
  status: 3,
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  dataSN: 36,
  bufferOffset: 40,
  residualCount: 44,
} as const

/** §11.7: byte 1 is F A 0 0 0 O U S. */
const Flag = { acknowledge: 0x40, residualOverflow: 0x04, residualUnderflow: 0x02, status: 0x01 }

/** §11.7.1: the S bit may only be set together with the F bit. */
export function checkDataIn(frame: Frame): Problem | null {
  if (flag(frame.bhs, Flag.status) && !flag(frame.bhs, BhsMask.final)) {
    return problem('protocolError', 'Data-In with S bit set but F bit clear')
  }
  return null
}

export function decodeDataIn(frame: Frame): DataIn {
  const bhs = frame.bhs
  return {
    opcode: Opcode.dataIn,
    final: flag(bhs, BhsMask.final),
    acknowledge: flag(bhs, Flag.acknowledge),
    residualOverflow: flag(bhs, Flag.residualOverflow),
    residualUnderflow: flag(bhs, Flag.residualUnderflow),
    hasStatus: flag(bhs, Flag.status),
    status: bhs[at.status]!,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    dataSN: readU32(bhs, at.dataSN),
    bufferOffset: readU32(bhs, at.bufferOffset),
    residualCount: readU32(bhs, at.residualCount),
    data: frame.data,
  }
}

export function encodeDataIn(pdu: DataIn): EncodedPdu {
  const flags =
    (pdu.final ? BhsMask.final : 0) |
    (pdu.acknowledge ? Flag.acknowledge : 0) |
    (pdu.residualOverflow ? Flag.residualOverflow : 0) |
    (pdu.residualUnderflow ? Flag.residualUnderflow : 0) |
    (pdu.hasStatus ? Flag.status : 0)
  const header = newHeader(Opcode.dataIn, false, flags, 0, pdu.data.length)
  header[at.status] = pdu.status
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU32(header, at.dataSN, pdu.dataSN)
  writeU32(header, at.bufferOffset, pdu.bufferOffset)
  writeU32(header, at.residualCount, pdu.residualCount)
  return encoded(header, pdu.data)
}
