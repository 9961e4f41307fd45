/** Task Management Function Response (RFC 7143 §11.6). */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, newHeader } from './bhs.ts'
import type { EncodedPdu, Frame, TaskManagementResponse } from './types.ts'

const at = { response: 2, initiatorTaskTag: 16, statSN: 24, expCmdSN: 28, maxCmdSN: 32 } as const

export function checkTaskManagementResponse(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeTaskManagementResponse(frame: Frame): TaskManagementResponse {
  const bhs = frame.bhs
  return {
    opcode: Opcode.taskManagementResponse,
    response: bhs[at.response]!,
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
  }
}

export function encodeTaskManagementResponse(pdu: TaskManagementResponse): EncodedPdu {
  const header = newHeader(Opcode.taskManagementResponse, false, BhsMask.final, 0, 0)
  header[at.response] = pdu.response
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  return encoded(header, new Uint8Array(0))
}
