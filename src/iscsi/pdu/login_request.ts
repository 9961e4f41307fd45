/**
 * Login Request (RFC 7143 §11.12). Decoding is deliberately lenient: stage, version and T/C bit
 * errors are answered by the login layer with a Login Response status (§11.13.5), never a Reject.
 */

import { assert } from '../../base/assert.ts'
import { readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encoded, flag, newHeader } from './bhs.ts'
import type { EncodedPdu, Frame, LoginRequest } from './types.ts'

const at = {
  versionMax: 2,
  versionMin: 3,
  isid: 8,
  tsih: 14,
  initiatorTaskTag: 16,
  cid: 20,
  cmdSN: 24,
  expStatSN: 28,
} as const

/** §11.12: byte 1 is T C . . CSG(2) NSG(2); shared with the Login Response (§11.13). */
export const LoginFlag = { transit: 0x80, continue: 0x40 } as const

export function loginStageFlags(transit: boolean, more: boolean, csg: number, nsg: number): number {
  assert(csg >= 0 && csg <= 3 && nsg >= 0 && nsg <= 3, 'login stage out of range')
  return (transit ? LoginFlag.transit : 0) | (more ? LoginFlag.continue : 0) | (csg << 2) | nsg
}

export function decodeLoginRequest(frame: Frame): LoginRequest {
  const bhs = frame.bhs
  return {
    opcode: Opcode.loginRequest,
    // §11.12: the I bit is always 1 on a Login Request; we report what the peer sent.
    immediate: (bhs[0]! & 0x40) !== 0,
    transit: flag(bhs, LoginFlag.transit),
    continue: flag(bhs, LoginFlag.continue),
    currentStage: (bhs[1]! >>> 2) & 0x03,
    nextStage: bhs[1]! & 0x03,
    versionMax: bhs[at.versionMax]!,
    versionMin: bhs[at.versionMin]!,
    isid: bhs.subarray(at.isid, at.isid + 6),
    tsih: readU16(bhs, at.tsih),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    cid: readU16(bhs, at.cid),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
    data: frame.data,
  }
}

export function encodeLoginRequest(pdu: LoginRequest): EncodedPdu {
  assert(pdu.isid.length === 6, 'ISID is 6 bytes')
  const flags = loginStageFlags(pdu.transit, pdu.continue, pdu.currentStage, pdu.nextStage)
  const header = newHeader(Opcode.loginRequest, pdu.immediate, flags, 0, pdu.data.length)
  header[at.versionMax] = pdu.versionMax
  header[at.versionMin] = pdu.versionMin
  header.set(pdu.isid, at.isid)
  writeU16(header, at.tsih, pdu.tsih)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU16(header, at.cid, pdu.cid)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  return encoded(header, pdu.data)
}
