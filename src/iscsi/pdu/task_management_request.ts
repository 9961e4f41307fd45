/** Task Management Function Request (RFC 7143 §11.5). */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, isImmediate, newHeader, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, TaskManagementRequest } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  referencedTaskTag: 20,
  cmdSN: 24,
  expStatSN: 28,
  refCmdSN: 32,
  expDataSN: 36,
} as const

/** §11.5: byte 1 is 1 + the 7-bit Function. */
const functionMask = 0x7f

/** §11.5: TotalAHSLength and DataSegmentLength are 0. */
export function checkTaskManagementRequest(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeTaskManagementRequest(frame: Frame): TaskManagementRequest {
  const bhs = frame.bhs
  return {
    opcode: Opcode.taskManagementRequest,
    immediate: isImmediate(bhs),
    function: bhs[1]! & functionMask,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    referencedTaskTag: readU32(bhs, at.referencedTaskTag),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
    refCmdSN: readU32(bhs, at.refCmdSN),
    expDataSN: readU32(bhs, at.expDataSN),
  }
}

export function encodeTaskManagementRequest(pdu: TaskManagementRequest): EncodedPdu {
  const flags = BhsMask.final | (pdu.function & functionMask)
  const header = newHeader(Opcode.taskManagementRequest, pdu.immediate, flags, 0, 0)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.referencedTaskTag, pdu.referencedTaskTag)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  writeU32(header, at.refCmdSN, pdu.refCmdSN)
  writeU32(header, at.expDataSN, pdu.expDataSN)
  return encoded(header, new Uint8Array(0))
}
