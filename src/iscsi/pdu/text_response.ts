/** Text Response (RFC 7143 §11.11). */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, flag, newHeader, problem, readLun, writeLun } from './bhs.ts'
import { textContinueBit } from './text_request.ts'
import type { EncodedPdu, Frame, TextResponse } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  statSN: 24,
  expCmdSN: 28,
  maxCmdSN: 32,
} as const

/** §11.11.2: a Text Response with the C bit set MUST have the F bit clear. */
export function checkTextResponse(frame: Frame): Problem | null {
  if (flag(frame.bhs, textContinueBit) && flag(frame.bhs, BhsMask.final)) {
    return problem('protocolError', 'Text Response with both F and C bits set')
  }
  return null
}

export function decodeTextResponse(frame: Frame): TextResponse {
  const bhs = frame.bhs
  return {
    opcode: Opcode.textResponse,
    final: flag(bhs, BhsMask.final),
    continue: flag(bhs, textContinueBit),
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    statSN: readU32(bhs, at.statSN),
    expCmdSN: readU32(bhs, at.expCmdSN),
    maxCmdSN: readU32(bhs, at.maxCmdSN),
    data: frame.data,
  }
}

export function encodeTextResponse(pdu: TextResponse): EncodedPdu {
  const flags = (pdu.final ? BhsMask.final : 0) | (pdu.continue ? textContinueBit : 0)
  const header = newHeader(Opcode.textResponse, false, flags, 0, pdu.data.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.statSN, pdu.statSN)
  writeU32(header, at.expCmdSN, pdu.expCmdSN)
  writeU32(header, at.maxCmdSN, pdu.maxCmdSN)
  return encoded(header, pdu.data)
}
