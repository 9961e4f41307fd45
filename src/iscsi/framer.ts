/**
 * The framer: cuts an iSCSI byte stream into PDUs (RFC 7143 §11.2) and checks header and data
 * digests (§13.1, CRC32C). Sans-IO: the connection pushes socket chunks and receives events.
 *
 * The BHS is validated before any payload is buffered, so memory is bounded by the limits: one
 * PDU at most (BHS + AHS + digest + maxRecvDataSegmentLength + padding + digest). When a chunk
 * holds a whole PDU the frame is a zero-copy view into it. A PDU that spans chunks is assembled,
 * either in a buffer of its own or, when the owner's `place` hook names one (a Data-Out's spot in
 * its task's buffer), with its data segment written straight where it belongs.
 *
 * With `transientChunks`, a chunk is valid only while `push` runs (the portal reads every socket
 * into one buffer of its own): a whole PDU is then copied out of it, except a Data-Out, whose
 * owner copies its data into its task before `push` returns, as it always does.
 */
import { assert } from '../base/assert.ts'
import { transferBuffers } from '../base/buffer_pool.ts'
import { padTo4, readU24 } from '../base/bytes.ts'
import { crc32c } from '../base/crc32c.ts'
import type { EncodedPdu, Frame } from './pdu/types.ts'
import { ahsBytesMax } from './spec/ahs.ts'
import { Bhs, BhsMask, dataSegmentBytesMax, digestBytes } from './spec/bhs_layout.ts'
import { bhsBytes, Opcode } from './spec/opcodes.ts'

export interface FramerLimits {
  maxRecvDataSegmentLength: number
  headerDigest: boolean
  dataDigest: boolean
  maxAhsBytes?: number
}

/**
 * Where the data segment of the PDU whose BHS this is should be assembled, or null for a buffer of
 * its own. Asked only for a PDU that spans socket chunks, has data and no padding; the returned
 * view must be exactly `dataBytes` long, and may hold garbage if the PDU then fails its digest.
 */
export type PlaceData = (bhs: Uint8Array, dataBytes: number) => Uint8Array | null

export type FramerEvent =
  /**
   * `assembled` is the pooled buffer the PDU was gathered in, if any: the owner may return it to
   * `transferBuffers` once nothing refers to the frame. A placed PDU has none.
   */
  | { kind: 'frame'; frame: Frame; assembled: Uint8Array | null }
  /** RFC 7143 §7.8: discard the PDU, answer Reject (0x02) carrying this header. */
  | { kind: 'dataDigestError'; bhs: Uint8Array }
  /** Drop the connection; the framer emits nothing after this. */
  | { kind: 'fatal'; reason: FatalReason }

type FatalReason = 'headerDigestError' | 'dataSegmentTooLong' | 'ahsTooLong'

/** The sizes of one PDU on the wire, computed from its BHS and the current limits. */
interface Layout {
  readonly ahsBytes: number
  readonly dataBytes: number
  /** Offset of the data segment from the start of the PDU. */
  readonly dataOffset: number
  readonly totalBytes: number
}

export class Framer {
  #limits: Required<FramerLimits>
  /** Holds a BHS that arrived in pieces. */
  readonly #bhsStage = new Uint8Array(bhsBytes)
  #bhsFilled = 0
  /** Holds a PDU (from its BHS onward) that arrived in pieces; sized exactly for it. */
  #pdu: Uint8Array | null = null
  /** Or, for a placed PDU: its header part here, its data in `#placed`, its digest in `#tail`. */
  #head: Uint8Array | null = null
  #placed: Uint8Array | null = null
  #tail: Uint8Array | null = null
  #pduFilled = 0
  #layout: Layout | null = null
  #failed = false
  readonly #place: PlaceData | null
  readonly #transientChunks: boolean

  constructor(limits: FramerLimits, place: PlaceData | null = null, transientChunks = false) {
    this.#limits = { maxAhsBytes: ahsBytesMax, ...limits }
    checkLimits(this.#limits)
    this.#place = place
    this.#transientChunks = transientChunks
  }

  /** Changes limits between PDUs (digests after login; MaxRecvDataSegmentLength after it). */
  setLimits(limits: Partial<FramerLimits>): void {
    this.#limits = { ...this.#limits, ...limits }
    checkLimits(this.#limits)
  }

  get bufferedBytes(): number {
    return this.#bhsFilled + this.#pduFilled
  }

  get #assembling(): boolean {
    return this.#pdu !== null || this.#head !== null
  }

  /** Consumes bytes; returns every complete event. */
  push(chunk: Uint8Array): FramerEvent[] {
    const events: FramerEvent[] = []
    let offset = 0
    while (offset < chunk.length && !this.#failed) {
      if (this.#assembling) {
        offset = this.#fillPdu(chunk, offset, events)
      } else if (this.#bhsFilled > 0 || chunk.length - offset < bhsBytes) {
        offset = this.#fillBhs(chunk, offset, events)
      } else {
        offset = this.#fromChunk(chunk, offset, events)
      }
    }
    return events
  }

  /** Fast path: a BHS starts at `offset` and lies whole in the chunk. */
  #fromChunk(chunk: Uint8Array, offset: number, events: FramerEvent[]): number {
    const layout = this.#layoutOf(chunk, offset, events)
    if (layout === null) return chunk.length
    if (chunk.length - offset >= layout.totalBytes) {
      this.#emitFromChunk(chunk, offset, layout, events)
      return offset + layout.totalBytes
    }
    this.#startPdu(layout, view(chunk, offset, offset + bhsBytes))
    return this.#fillPdu(chunk, offset, events)
  }

  /** Slow path: gathers a BHS split across chunks. */
  #fillBhs(chunk: Uint8Array, offset: number, events: FramerEvent[]): number {
    const take = Math.min(bhsBytes - this.#bhsFilled, chunk.length - offset)
    this.#bhsStage.set(chunk.subarray(offset, offset + take), this.#bhsFilled)
    this.#bhsFilled += take
    if (this.#bhsFilled < bhsBytes) return offset + take
    const layout = this.#layoutOf(this.#bhsStage, 0, events)
    this.#bhsFilled = 0
    if (layout === null) return chunk.length
    this.#startPdu(layout, this.#bhsStage)
    this.#copyIn(this.#bhsStage, 0, bhsBytes)
    if (this.#pduFilled === layout.totalBytes) this.#finishPdu(events)
    return offset + take
  }

  #startPdu(layout: Layout, bhs: Uint8Array): void {
    assert(!this.#assembling, 'framer already assembling a PDU')
    this.#pduFilled = 0
    this.#layout = layout
    const { dataBytes, dataOffset, totalBytes } = layout
    const placed =
      this.#place !== null && dataBytes > 0 && padTo4(dataBytes) === dataBytes
        ? this.#place(bhs, dataBytes)
        : null
    if (placed !== null) {
      assert(placed.length === dataBytes, 'placed data segment of the wrong size')
      this.#head = new Uint8Array(dataOffset)
      this.#placed = placed
      this.#tail = new Uint8Array(totalBytes - dataOffset - dataBytes)
      return
    }
    // Every byte is written before the PDU is emitted, so no zero-fill. A large PDU (a 256 KiB
    // Data-Out arriving in 64 KiB socket chunks) is assembled in a buffer lent by the transfer
    // pool, which the connection returns once the Data-Out's bytes are in its task.
    this.#pdu = transferBuffers.acquire(totalBytes)
  }

  #fillPdu(chunk: Uint8Array, offset: number, events: FramerEvent[]): number {
    const take = Math.min(this.#layout!.totalBytes - this.#pduFilled, chunk.length - offset)
    this.#copyIn(chunk, offset, take)
    if (this.#pduFilled === this.#layout!.totalBytes) this.#finishPdu(events)
    return offset + take
  }

  /** Copies `length` bytes of `source` at `offset` to where the PDU's next bytes belong. */
  #copyIn(source: Uint8Array, offset: number, length: number): void {
    let from = offset
    const end = offset + length
    if (this.#pdu !== null) {
      this.#pdu.set(source.subarray(from, end), this.#pduFilled)
      this.#pduFilled += length
      return
    }
    // A placed PDU: header, then data segment, then digest, each in its own place.
    const head = this.#head!
    const placed = this.#placed!
    const dataEnd = head.length + placed.length
    while (from < end) {
      const at = this.#pduFilled
      const [part, into] =
        at < head.length
          ? [head, at]
          : at < dataEnd
            ? [placed, at - head.length]
            : [this.#tail!, at - dataEnd]
      const take = Math.min(part.length - into, end - from)
      assert(take > 0, 'framer copied past the end of a PDU')
      part.set(source.subarray(from, from + take), into)
      from += take
      this.#pduFilled += take
    }
  }

  #finishPdu(events: FramerEvent[]): void {
    const layout = this.#layout!
    const pdu = this.#pdu
    const [head, placed, tail] = [this.#head, this.#placed, this.#tail]
    this.#pdu = this.#head = this.#placed = this.#tail = null
    this.#pduFilled = 0
    this.#layout = null
    if (pdu !== null) this.#emit(pdu, 0, layout, events, pdu)
    else this.#emitPlaced(head!, placed!, tail!, layout, events)
  }

  /** Validates a BHS against the limits before any of its payload is buffered. */
  #layoutOf(bytes: Uint8Array, start: number, events: FramerEvent[]): Layout | null {
    const limits = this.#limits
    const ahsBytes = bytes[start + Bhs.totalAhsLength]! * 4
    const dataBytes = readU24(bytes, start + Bhs.dataSegmentLength)
    if (ahsBytes > limits.maxAhsBytes) return this.#fail('ahsTooLong', events)
    if (dataBytes > limits.maxRecvDataSegmentLength) return this.#fail('dataSegmentTooLong', events)
    const headerBytes = bhsBytes + ahsBytes + (limits.headerDigest ? digestBytes : 0)
    // §11.2: the Data-Digest follows the data segment; without a segment there is none.
    const dataDigest = limits.dataDigest && dataBytes > 0 ? digestBytes : 0
    const totalBytes = headerBytes + padTo4(dataBytes) + dataDigest
    return { ahsBytes, dataBytes, dataOffset: headerBytes, totalBytes }
  }

  /**
   * A whole PDU that lies in the chunk being pushed: emitted as views of it, or, when the chunk
   * is about to be reused (`transientChunks`), from a copy of its own (pooled when large). A
   * Data-Out is never copied: its owner copies the data into its task before `push` returns.
   */
  #emitFromChunk(chunk: Uint8Array, start: number, layout: Layout, events: FramerEvent[]): void {
    if (!this.#transientChunks || isDataOut(chunk, start)) {
      this.#emit(chunk, start, layout, events)
      return
    }
    const { totalBytes } = layout
    const pooled = totalBytes > ownedCopyPooledAboveBytes
    const owned = pooled ? transferBuffers.acquire(totalBytes) : new Uint8Array(totalBytes)
    owned.set(view(chunk, start, start + totalBytes))
    this.#emit(owned, 0, layout, events, pooled ? owned : null)
  }

  /**
   * The PDU at `start` of `bytes` is whole: checks its digests and emits it. Its parts are plain
   * Uint8Array views (a socket chunk is a Buffer, whose views cost more to make), and an absent
   * AHS or data segment is one shared empty array: a QD 1 read command costs one view, its BHS.
   */
  #emit(
    bytes: Uint8Array,
    start: number,
    layout: Layout,
    events: FramerEvent[],
    assembled: Uint8Array | null = null,
  ): void {
    const headerEnd = start + bhsBytes + layout.ahsBytes
    if (this.#limits.headerDigest) {
      const expected = crc32c(view(bytes, start, headerEnd))
      if (readDigest(bytes, headerEnd) !== expected) {
        this.#fail('headerDigestError', events)
        return
      }
    }
    const bhs = view(bytes, start, start + bhsBytes)
    const dataStart = start + layout.dataOffset
    const paddedEnd = dataStart + padTo4(layout.dataBytes)
    if (this.#limits.dataDigest && layout.dataBytes > 0) {
      // §13.1: the data digest covers the data segment and its padding.
      const expected = crc32c(view(bytes, dataStart, paddedEnd))
      if (readDigest(bytes, paddedEnd) !== expected) {
        events.push({ kind: 'dataDigestError', bhs: bhs.slice() })
        return
      }
    }
    const ahs = layout.ahsBytes === 0 ? empty : view(bytes, start + bhsBytes, headerEnd)
    const data =
      layout.dataBytes === 0 ? empty : view(bytes, dataStart, dataStart + layout.dataBytes)
    events.push({ kind: 'frame', frame: { bhs, ahs, data }, assembled })
  }

  /** As `#emit`, for a PDU whose data segment was written in place (it has no padding). */
  #emitPlaced(
    head: Uint8Array,
    data: Uint8Array,
    tail: Uint8Array,
    layout: Layout,
    events: FramerEvent[],
  ): void {
    const headerEnd = bhsBytes + layout.ahsBytes
    if (
      this.#limits.headerDigest &&
      readDigest(head, headerEnd) !== crc32c(head.subarray(0, headerEnd))
    ) {
      this.#fail('headerDigestError', events)
      return
    }
    const bhs = view(head, 0, bhsBytes)
    if (this.#limits.dataDigest && readDigest(tail, 0) !== crc32c(data)) {
      events.push({ kind: 'dataDigestError', bhs })
      return
    }
    const ahs = layout.ahsBytes === 0 ? empty : view(head, bhsBytes, headerEnd)
    events.push({ kind: 'frame', frame: { bhs, ahs, data }, assembled: null })
  }

  #fail(reason: FatalReason, events: FramerEvent[]): null {
    this.#failed = true
    this.#pdu = this.#head = this.#placed = this.#tail = null
    this.#pduFilled = 0
    this.#bhsFilled = 0
    events.push({ kind: 'fatal', reason })
    return null
  }
}

/** Zero bytes: the AHS or data segment of a PDU that has none (nothing can write into it). */
const empty = new Uint8Array(0)

/** A PDU copied out of a transient chunk takes a pooled buffer above this (4 KiB writes do). */
const ownedCopyPooledAboveBytes = 2 * 1024

function isDataOut(bytes: Uint8Array, start: number): boolean {
  return (bytes[start]! & BhsMask.opcode) === Opcode.dataOut
}

function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start)
}

function checkLimits(limits: Required<FramerLimits>): void {
  assert(Number.isInteger(limits.maxRecvDataSegmentLength), 'MaxRecvDataSegmentLength integer')
  assert(limits.maxRecvDataSegmentLength >= 0, 'MaxRecvDataSegmentLength negative')
  assert(limits.maxRecvDataSegmentLength <= dataSegmentBytesMax, 'MaxRecvDataSegmentLength too big')
  assert(limits.maxAhsBytes >= 0 && limits.maxAhsBytes <= ahsBytesMax, 'maxAhsBytes out of range')
}

/** §13.1: digests travel least significant byte first (RFC 3720 B.4 shows the byte order). */
function readDigest(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! |
      (bytes[offset + 1]! << 8) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 24)) >>>
    0
  )
}

const crc32cPolynomialReflected = 0x82f63b78

function digestOf(bytes: Uint8Array): Uint8Array {
  const value = crc32c(bytes)
  return Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24)
}

/**
 * Wire bytes for one PDU, in order, for socket writev (cork/uncork): the header, its digest, the
 * data segment, then padding and data digest together. Empty pieces are left out; nothing is
 * copied except the 4-byte digests and the padding tail.
 */
export function serializePdu(
  pdu: EncodedPdu,
  digests: { header: boolean; data: boolean },
): Uint8Array[] {
  const pieces: Uint8Array[] = [pdu.header]
  if (digests.header) pieces.push(digestOf(pdu.header))
  const dataBytes = pdu.data.length
  if (dataBytes === 0) return pieces
  pieces.push(pdu.data)
  const padBytes = padTo4(dataBytes) - dataBytes
  const tailBytes = padBytes + (digests.data ? digestBytes : 0)
  if (tailBytes === 0) return pieces
  const tail = new Uint8Array(tailBytes)
  if (digests.data) {
    const value = padBytes === 0 ? crc32c(pdu.data) : crc32cPadded(pdu.data, padBytes)
    tail[padBytes] = value & 0xff
    tail[padBytes + 1] = (value >>> 8) & 0xff
    tail[padBytes + 2] = (value >>> 16) & 0xff
    tail[padBytes + 3] = value >>> 24
  }
  pieces.push(tail)
  return pieces
}

/**
 * CRC32C over `data` followed by `padBytes` zero bytes (§13.1: padding is inside the CRC),
 * without copying the data: extend the finished CRC bit by bit over at most 3 zero bytes.
 */
function crc32cPadded(data: Uint8Array, padBytes: number): number {
  assert(padBytes > 0 && padBytes < 4, 'padding is 1..3 bytes')
  let state = ~crc32c(data) >>> 0
  for (let bit = 0; bit < padBytes * 8; bit++) {
    state = state & 1 ? (state >>> 1) ^ crc32cPolynomialReflected : state >>> 1
  }
  return ~state >>> 0
}
