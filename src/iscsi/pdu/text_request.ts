/** Text Request (RFC 7143 §11.10): key=value negotiation and SendTargets in full feature phase. */
import { readU32, writeU32 } from '../../base/bytes.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, flag, isImmediate, newHeader, problem, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, TextRequest } from './types.ts'

const at = { initiatorTaskTag: 16, targetTransferTag: 20, cmdSN: 24, expStatSN: 28 } as const

/** §11.10.2: byte 1 is F C . . . . . . */
export const textContinueBit = 0x40

/** §11.10.2: a Text Request with the C bit set MUST have the F bit clear. */
export function checkTextRequest(frame: Frame): Problem | null {
  if (flag(frame.bhs, textContinueBit) && flag(frame.bhs, BhsMask.final)) {
    return problem('protocolError', 'Text Request with both F and C bits set')
  }
  return null
}

export function decodeTextRequest(frame: Frame): TextRequest {
  const bhs = frame.bhs
  return {
    opcode: Opcode.textRequest,
    immediate: isImmediate(bhs),
    final: flag(bhs, BhsMask.final),
    continue: flag(bhs, textContinueBit),
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    targetTransferTag: readU32(bhs, at.targetTransferTag),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
    data: frame.data,
  }
}

export function encodeTextRequest(pdu: TextRequest): EncodedPdu {
  const flags = (pdu.final ? BhsMask.final : 0) | (pdu.continue ? textContinueBit : 0)
  const header = newHeader(Opcode.textRequest, pdu.immediate, flags, 0, pdu.data.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.targetTransferTag, pdu.targetTransferTag)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  return encoded(header, pdu.data)
}
