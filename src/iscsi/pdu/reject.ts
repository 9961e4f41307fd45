/** Reject (RFC 7143 §11.17): the data segment is the complete header of the rejected PDU. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { bhsBytes, Opcode, reservedTag } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, newHeader, problem } from './bhs.ts'
import type { EncodedPdu, Frame, Reject } from './types.ts'

const at = {
  reason: 2,
  initiatorTaskTag: 16,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
  dataSN: 36,
} as const

/** §11.17.3: the data segment carries the rejected PDU's header, so it holds at least a BHS. */
export function checkReject(frame: Frame): Problem | null {
  if (frame.data.length >= bhsBytes) return null
  return problem('protocolError', 'Reject data segment shorter than a BHS')
}

export function decodeReject(frame: Frame): Reject {
  const bhs = frame.bhs
  return {
    opcode: Opcode.reject,
    reason: bhs[at.reason]!,
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    dataSN: readU32(bhs, at.dataSN),
    header: frame.data,
  }
}

export function encodeReject(pdu: Reject): EncodedPdu {
  const header = newHeader(Opcode.reject, false, BhsMask.final, 0, pdu.header.length)
  header[at.reason] = pdu.reason
  // §11.17: the ITT of a Reject is always 0xffffffff.
  writeU32(header, at.initiatorTaskTag, reservedTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  writeU32(header, at.dataSN, pdu.dataSN)
  return encoded(header, pdu.header)
}
