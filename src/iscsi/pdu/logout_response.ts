/** Logout Response (RFC 7143 §11.15). */
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, newHeader } from './bhs.ts'
import type { EncodedPdu, Frame, LogoutResponse } from './types.ts'

const at = {
  response: 2,
  initiatorTaskTag: 16,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  time2Wait: 40,
  time2Retain: 42,
} as const

export function checkLogoutResponse(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeLogoutResponse(frame: Frame): LogoutResponse {
  const bhs = frame.bhs
  return {
    opcode: Opcode.logoutResponse,
    response: bhs[at.response]!,
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    time2Wait: readU16(bhs, at.time2Wait),
    time2Retain: readU16(bhs, at.time2Retain),
  }
}

export function encodeLogoutResponse(pdu: LogoutResponse): EncodedPdu {
  const header = newHeader(Opcode.logoutResponse, false, BhsMask.final, 0, 0)
  header[at.response] = pdu.response
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU16(header, at.time2Wait, pdu.time2Wait)
  writeU16(header, at.time2Retain, pdu.time2Retain)
  return encoded(header, new Uint8Array(0))
}
