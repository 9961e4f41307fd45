/**
 * The EXTENDED COPY (LID1) parameter list (SPC-4 §6.3): its header, the copy source and copy
 * destination (CSCD) descriptors and the segment descriptors, parsed and checked as untrusted
 * input before anything is copied. Pure: no unit, no device.
 *
 * Supported (advertised in VPD 8Fh and RECEIVE COPY RESULTS, OPERATING PARAMETERS):
 *   CSCD E4h, identification descriptor (SPC-4 §6.3.6.2) of a direct-access LU (peripheral
 *     type 0), naming it by a designation descriptor (the NAA designator of VPD 83h);
 *   segment 02h, block device to block device (SPC-4 §6.3.7.5), and 0Ah, block device to block
 *     device with byte offsets (SPC-4 §6.3.7.7).
 * The order of the checks is the one libiscsi's ExtendedCopy tests expect: the descriptor lists
 * against MAXIMUM DESCRIPTOR LIST LENGTH and the list's own length (PARAMETER LIST LENGTH ERROR),
 * then counts (TOO MANY ... DESCRIPTORS), then types (UNSUPPORTED ... TYPE CODE), then fields
 * (INVALID FIELD IN PARAMETER LIST), each with a field pointer into the parameter list. What
 * needs a unit (CSCD indexes, NAA resolution, LBA ranges) is checked by extended_copy.ts.
 */
import { readU16, readU24, readU32, readU64Safe } from '../../base/bytes.ts'
import type { FieldPointer, SenseReason } from '../sense.ts'

export const copyHeaderBytes = 16
export const cscdDescriptorBytes = 32

/** The copy manager's limits (SPC-4 §6.18.4, §7.8.17). */
export const copyLimits = {
  cscdDescriptorsMax: 8,
  segmentDescriptorsMax: 16,
  /** MAXIMUM DESCRIPTOR LIST LENGTH: CSCD plus segment descriptor lists, in bytes. */
  descriptorListBytesMax: 1024,
  /** MAXIMUM SEGMENT LENGTH: what one segment descriptor may move, in bytes. */
  segmentBytesMax: 32 * 1024 * 1024,
  /** Inline data is not supported (no segment type that uses it). */
  inlineDataBytesMax: 0,
  /** Copies one unit runs at once (TOTAL CONCURRENT COPIES). */
  concurrentCopiesMax: 16,
} as const

/** SPC-4 §6.3.6.1 / §6.3.7.1: descriptor type codes. */
export const CopyDescriptorType = {
  blockToBlock: 0x02,
  blockToBlockWithOffsets: 0x0a,
  identification: 0xe4,
} as const

/** SPC-4 §6.3.1 table 107: LIST ID USAGE. */
export const ListIdUsage = { hold: 0, noHold: 2, noListId: 3 } as const
export type ListIdUsage = (typeof ListIdUsage)[keyof typeof ListIdUsage]

export interface CscdDescriptor {
  /** Byte offset of the descriptor in the parameter list. */
  readonly at: number
  readonly codeSet: number
  readonly association: number
  readonly designatorType: number
  readonly designator: Uint8Array
  /** DISK BLOCK LENGTH. */
  readonly blockBytes: number
}

export interface SegmentDescriptor {
  readonly at: number
  readonly type: number
  readonly sourceIndex: number
  readonly destinationIndex: number
  /** Null when the 64-bit field exceeds 2^53 (then out of range on every unit). */
  readonly sourceLba: number | null
  readonly destinationLba: number | null
  /** 02h: NUMBER OF BLOCKS (in source blocks); 0Ah: 0. */
  readonly blocks: number
  /** 0Ah: NUMBER OF BYTES and the byte offsets; 02h: 0. */
  readonly bytes: number
  readonly sourceOffset: number
  readonly destinationOffset: number
  /** 02h: DC, NUMBER OF BLOCKS counts destination blocks (SPC-4 §6.3.7.5). */
  readonly dc: boolean
}

export interface CopyList {
  readonly listId: number
  readonly listIdUsage: ListIdUsage
  readonly cscds: readonly CscdDescriptor[]
  readonly segments: readonly SegmentDescriptor[]
}

export type CopyParse =
  | { readonly ok: true; readonly list: CopyList | null }
  | { readonly ok: false; readonly reason: SenseReason; readonly field?: FieldPointer }

function refuse(reason: SenseReason, byte?: number, bit?: number): CopyParse {
  if (byte === undefined) return { ok: false, reason }
  const field = bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit }
  return { ok: false, reason, field }
}

/** Parses an EXTENDED COPY (LID1) parameter list; an empty one is a copy of nothing. */
export function parseCopyList(list: Uint8Array): CopyParse {
  if (list.length === 0) return { ok: true, list: null }
  if (list.length < copyHeaderBytes) return refuse('parameterListLengthError')
  const usage = (list[1]! >> 3) & 0x03
  if (usage === 1) return refuse('invalidFieldInParameterList', 1, 4)
  const listId = list[0]!
  if (usage === ListIdUsage.noListId && listId !== 0)
    return refuse('invalidFieldInParameterList', 0)
  const cscdBytes = readU16(list, 2)
  const segmentBytes = readU32(list, 8)
  const inlineBytes = readU32(list, 12)
  // SPC-4 §6.3.1: lists longer than advertised, or than the parameter list holds.
  if (cscdBytes + segmentBytes > copyLimits.descriptorListBytesMax)
    return refuse('parameterListLengthError')
  if (inlineBytes > copyLimits.inlineDataBytesMax) return refuse('parameterListLengthError')
  if (copyHeaderBytes + cscdBytes + segmentBytes + inlineBytes > list.length)
    return refuse('parameterListLengthError')
  if (cscdBytes % cscdDescriptorBytes !== 0) return refuse('parameterListLengthError')
  if (cscdBytes / cscdDescriptorBytes > copyLimits.cscdDescriptorsMax)
    return refuse('tooManyTargetDescriptors', 2)
  const cscds: CscdDescriptor[] = []
  for (let at = copyHeaderBytes; at < copyHeaderBytes + cscdBytes; at += cscdDescriptorBytes) {
    const parsed = parseCscd(list, at)
    if ('reason' in parsed) return parsed
    cscds.push(parsed)
  }
  const segments = parseSegments(list, copyHeaderBytes + cscdBytes, segmentBytes)
  if (!Array.isArray(segments)) return segments as CopyParse
  const usageValue = usage as ListIdUsage
  return { ok: true, list: { listId, listIdUsage: usageValue, cscds, segments } }
}

/** SPC-4 §6.3.6.2: the identification CSCD descriptor (E4h). */
function parseCscd(
  list: Uint8Array,
  at: number,
): CscdDescriptor | Extract<CopyParse, { ok: false }> {
  const fail = (reason: SenseReason, byte: number) =>
    refuse(reason, byte) as Extract<CopyParse, { ok: false }>
  if (list[at] !== CopyDescriptorType.identification)
    return fail('unsupportedTargetDescriptorTypeCode', at)
  // LU ID TYPE and NUL are ignored (SPC-4 r37: NUL is obsolete); only direct-access units.
  if ((list[at + 1]! & 0x1f) !== 0) return fail('invalidFieldInParameterList', at + 1)
  const length = list[at + 7]!
  if (length > 20) return fail('invalidFieldInParameterList', at + 7)
  const blockBytes = readU24(list, at + 29)
  if (blockBytes === 0) return fail('invalidFieldInParameterList', at + 29)
  return {
    at,
    codeSet: list[at + 4]! & 0x0f,
    association: (list[at + 5]! >> 4) & 0x03,
    designatorType: list[at + 5]! & 0x0f,
    designator: list.slice(at + 8, at + 8 + length),
    blockBytes,
  }
}

/** SPC-4 §6.3.7: walks the segment descriptor list, each sized by its DESCRIPTOR LENGTH. */
function parseSegments(
  list: Uint8Array,
  start: number,
  length: number,
): SegmentDescriptor[] | CopyParse {
  const segments: SegmentDescriptor[] = []
  const end = start + length
  for (let at = start; at < end; ) {
    if (end - at < 4) return refuse('parameterListLengthError')
    const type = list[at]!
    const descriptorLength = readU16(list, at + 2)
    if (at + 4 + descriptorLength > end) return refuse('parameterListLengthError')
    if (segments.length === copyLimits.segmentDescriptorsMax)
      return refuse('tooManySegmentDescriptors', at)
    const segment = parseSegment(list, at, type, descriptorLength)
    if ('reason' in segment) return segment
    segments.push(segment)
    at += 4 + descriptorLength
  }
  return segments
}

function parseSegment(
  list: Uint8Array,
  at: number,
  type: number,
  descriptorLength: number,
): SegmentDescriptor | Extract<CopyParse, { ok: false }> {
  const fail = (reason: SenseReason, byte: number) =>
    refuse(reason, byte) as Extract<CopyParse, { ok: false }>
  const common = {
    at,
    type,
    sourceIndex: readU16(list, at + 4),
    destinationIndex: readU16(list, at + 6),
    sourceLba: readU64Safe(list, at + 12),
    destinationLba: readU64Safe(list, at + 20),
  }
  if (type === CopyDescriptorType.blockToBlock) {
    if (descriptorLength !== 0x18) return fail('invalidFieldInParameterList', at + 2)
    const blocks = readU16(list, at + 10)
    const dc = (list[at + 1]! & 0x02) !== 0
    return { ...common, blocks, bytes: 0, sourceOffset: 0, destinationOffset: 0, dc }
  }
  if (type === CopyDescriptorType.blockToBlockWithOffsets) {
    if (descriptorLength !== 0x1c) return fail('invalidFieldInParameterList', at + 2)
    const bytes = readU32(list, at + 8)
    if (bytes > copyLimits.segmentBytesMax) return fail('invalidFieldInParameterList', at + 8)
    const sourceOffset = readU16(list, at + 28)
    const destinationOffset = readU16(list, at + 30)
    return { ...common, blocks: 0, bytes, sourceOffset, destinationOffset, dc: false }
  }
  return fail('unsupportedSegmentDescriptorTypeCode', at)
}
