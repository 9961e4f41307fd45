/** Logout Request (RFC 7143 §11.14). */
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { checkNoData, encoded, isImmediate, newHeader } from './bhs.ts'
import type { EncodedPdu, Frame, LogoutRequest } from './types.ts'

const at = { initiatorTaskTag: 16, cid: 20, cmdSN: 24, expStatSN: 28 } as const
/** §11.14: byte 1 is 1 + the 7-bit Reason Code. */
const reasonMask = 0x7f

export function checkLogoutRequest(frame: Frame): Problem | null {
  return checkNoData(frame)
}

export function decodeLogoutRequest(frame: Frame): LogoutRequest {
  const bhs = frame.bhs
  return {
    opcode: Opcode.logoutRequest,
    immediate: isImmediate(bhs),
    reasonCode: bhs[1]! & reasonMask,
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    cid: readU16(bhs, at.cid),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
  }
}

export function encodeLogoutRequest(pdu: LogoutRequest): EncodedPdu {
  const flags = BhsMask.final | (pdu.reasonCode & reasonMask)
  const header = newHeader(Opcode.logoutRequest, pdu.immediate, flags, 0, 0)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU16(header, at.cid, pdu.cid)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  return encoded(header, new Uint8Array(0))
}
