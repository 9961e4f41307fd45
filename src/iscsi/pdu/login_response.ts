/** Login Response (RFC 7143 §11.13). The status is packed Status-Class << 8 | Status-Detail. */

import { assert } from '../../base/assert.ts'
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encoded, flag, newHeader } from './bhs.ts'
import { LoginFlag, loginStageFlags } from './login_request.ts'
import type { EncodedPdu, Frame, LoginResponse } from './types.ts'

const at = {
  versionMax: 2,
  versionActive: 3,
  isid: 8,
  tsih: 14,
  initiatorTaskTag: 16,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  status: 36,
} as const

export function decodeLoginResponse(frame: Frame): LoginResponse {
  const bhs = frame.bhs
  return {
    opcode: Opcode.loginResponse,
    transit: flag(bhs, LoginFlag.transit),
    continue: flag(bhs, LoginFlag.continue),
    currentStage: (bhs[1]! >>> 2) & 0x03,
    nextStage: bhs[1]! & 0x03,
    versionMax: bhs[at.versionMax]!,
    versionActive: bhs[at.versionActive]!,
    isid: bhs.subarray(at.isid, at.isid + 6),
    tsih: readU16(bhs, at.tsih),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    status: readU16(bhs, at.status),
    data: frame.data,
  }
}

export function encodeLoginResponse(pdu: LoginResponse): EncodedPdu {
  assert(pdu.isid.length === 6, 'ISID is 6 bytes')
  const flags = loginStageFlags(pdu.transit, pdu.continue, pdu.currentStage, pdu.nextStage)
  const header = newHeader(Opcode.loginResponse, false, flags, 0, pdu.data.length)
  header[at.versionMax] = pdu.versionMax
  header[at.versionActive] = pdu.versionActive
  header.set(pdu.isid, at.isid)
  writeU16(header, at.tsih, pdu.tsih)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU16(header, at.status, pdu.status)
  return encoded(header, pdu.data)
}
