/**
 * SCSI Command (RFC 7143 §11.3), with its two AHS types (§11.2.2): the Extended CDB AHS for CDBs
 * longer than 16 bytes, and the Bidirectional Read Data Length AHS.
 */

import { assert } from '../../base/assert.ts'
import { padTo4, readU16, readU32, writeU16, writeU32 } from '../../base/bytes.ts'
import { AhsType, ahsBytesMax, bidirectionalAhsLength } from '../spec/ahs.ts'
import { BhsMask } from '../spec/bhs_layout.ts'
import { bhsBytes, Opcode } from '../spec/opcodes.ts'
import type { Problem } from './bhs.ts'
import { encoded, flag, isImmediate, newHeader, problem, readLun, writeLun } from './bhs.ts'
import type { EncodedPdu, Frame, ScsiCommand, TaskAttributeCode } from './types.ts'

const at = {
  initiatorTaskTag: 16,
  expectedDataTransferLength: 20,
  cmdSN: 24,
  expStatSN: 28,
  cdb: 32,
} as const
const bhsCdbBytes = 16

/** §11.3.1: byte 1 is F R W . . ATTR(3). */
const Flag = { read: 0x40, write: 0x20, attributeMask: 0x07 } as const
const taskAttributeMax = 4

interface CommandAhs {
  readonly extendedCdb: Uint8Array
  readonly bidirectionalReadDataLength: number | null
}

/** The common case, a CDB of 16 bytes or less: no AHS. */
const noAhs: CommandAhs = Object.freeze({
  extendedCdb: new Uint8Array(0),
  bidirectionalReadDataLength: null,
})

/** §11.2.2: AHSLength(2) AHSType(1) then AHSLength bytes of AHS-specific data, padded to 4. */
function parseAhs(ahs: Uint8Array): CommandAhs | Problem {
  if (ahs.length === 0) return noAhs
  let extendedCdb: Uint8Array | null = null
  let bidiLength: number | null = null
  let offset = 0
  while (offset < ahs.length) {
    if (ahs.length - offset < 4) return problem('invalidPduField', 'truncated AHS')
    const length = readU16(ahs, offset)
    const type = ahs[offset + 2]! & 0x3f
    const end = offset + padTo4(3 + length)
    if (end > ahs.length) return problem('invalidPduField', 'AHSLength beyond TotalAHSLength')
    if (type === AhsType.extendedCdb && extendedCdb === null && length >= 2) {
      // §11.2.2.3: AHSLength = CDB length - 15 (a reserved byte, then CDB bytes 16 onward).
      extendedCdb = ahs.subarray(offset + 4, offset + 3 + length)
    } else if (type === AhsType.bidirectionalReadDataLength && bidiLength === null) {
      if (length !== bidirectionalAhsLength) {
        return problem('invalidPduField', 'Bidirectional Read Data Length AHS length is not 5')
      }
      bidiLength = readU32(ahs, offset + 4)
    } else {
      return problem('invalidPduField', `unexpected or repeated AHS type ${type}`)
    }
    offset = end
  }
  return { extendedCdb: extendedCdb ?? ahs.subarray(0, 0), bidirectionalReadDataLength: bidiLength }
}

function isProblem(value: CommandAhs | Problem): value is Problem {
  return 'reason' in value
}

/**
 * §11.3.1: the F bit may be clear only when unsolicited Data-Out follows, which needs W; likewise
 * immediate data needs W (§11.3.4). Task attributes 5..7 are reserved. The AHS must parse.
 */
export function checkScsiCommand(frame: Frame): Problem | null {
  const bhs = frame.bhs
  const write = flag(bhs, Flag.write)
  if (!flag(bhs, BhsMask.final) && !write) {
    return problem('protocolError', 'SCSI Command with F bit clear but W bit clear')
  }
  if (frame.data.length > 0 && !write) {
    return problem('protocolError', 'immediate data on a SCSI Command without W bit')
  }
  if ((bhs[1]! & Flag.attributeMask) > taskAttributeMax) {
    return problem('invalidPduField', 'reserved task attribute')
  }
  const ahs = parseAhs(frame.ahs)
  return isProblem(ahs) ? ahs : null
}

export function decodeScsiCommand(frame: Frame): ScsiCommand {
  const bhs = frame.bhs
  const ahs = parseAhs(frame.ahs)
  assert(!isProblem(ahs), 'decodeScsiCommand called on an unchecked frame')
  const bhsCdb = bhs.subarray(at.cdb, at.cdb + bhsCdbBytes)
  let cdb = bhsCdb
  if (ahs.extendedCdb.length > 0) {
    cdb = new Uint8Array(bhsCdbBytes + ahs.extendedCdb.length)
    cdb.set(bhsCdb, 0)
    cdb.set(ahs.extendedCdb, bhsCdbBytes)
  }
  return {
    opcode: Opcode.scsiCommand,
    immediate: isImmediate(bhs),
    final: flag(bhs, BhsMask.final),
    read: flag(bhs, Flag.read),
    write: flag(bhs, Flag.write),
    taskAttribute: (bhs[1]! & Flag.attributeMask) as TaskAttributeCode,
    lun: readLun(bhs),
    initiatorTaskTag: readU32(bhs, at.initiatorTaskTag),
    expectedDataTransferLength: readU32(bhs, at.expectedDataTransferLength),
    cmdSN: readU32(bhs, at.cmdSN),
    expStatSN: readU32(bhs, at.expStatSN),
    cdb,
    expectedBidirectionalReadDataLength: ahs.bidirectionalReadDataLength,
    data: frame.data,
  }
}

export function encodeScsiCommand(pdu: ScsiCommand): EncodedPdu {
  const extendedBytes = Math.max(0, pdu.cdb.length - bhsCdbBytes)
  const extendedAhsBytes = extendedBytes > 0 ? padTo4(4 + extendedBytes) : 0
  const bidiAhsBytes = pdu.expectedBidirectionalReadDataLength === null ? 0 : 8
  const ahsBytes = extendedAhsBytes + bidiAhsBytes
  assert(ahsBytes <= ahsBytesMax, 'CDB too long for the AHS')
  const flags =
    (pdu.final ? BhsMask.final : 0) |
    (pdu.read ? Flag.read : 0) |
    (pdu.write ? Flag.write : 0) |
    pdu.taskAttribute
  const header = newHeader(Opcode.scsiCommand, pdu.immediate, flags, ahsBytes, pdu.data.length)
  writeLun(header, pdu.lun)
  writeU32(header, at.initiatorTaskTag, pdu.initiatorTaskTag)
  writeU32(header, at.expectedDataTransferLength, pdu.expectedDataTransferLength)
  writeU32(header, at.cmdSN, pdu.cmdSN)
  writeU32(header, at.expStatSN, pdu.expStatSN)
  header.set(pdu.cdb.subarray(0, bhsCdbBytes), at.cdb)
  let offset = bhsBytes
  if (extendedBytes > 0) {
    writeU16(header, offset, extendedBytes + 1)
    header[offset + 2] = AhsType.extendedCdb
    header.set(pdu.cdb.subarray(bhsCdbBytes), offset + 4)
    offset += extendedAhsBytes
  }
  if (pdu.expectedBidirectionalReadDataLength !== null) {
    writeU16(header, offset, bidirectionalAhsLength)
    header[offset + 2] = AhsType.bidirectionalReadDataLength
    writeU32(header, offset + 4, pdu.expectedBidirectionalReadDataLength)
  }
  return encoded(header, pdu.data)
}
