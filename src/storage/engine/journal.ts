/**
 * The metadata journal (docs/engine.md §4): an append-only file of checksummed records. A group
 * commit appends every record made since the previous one and syncs; recovery replays records
 * newer than the checkpoint until the first one that is torn or fails its CRC.
 *
 * Record layout (big-endian):
 *   0 u32 payload length · 4 u32 crc32c of bytes 8.. · 8 f64 sequence number · 16 u8 type ·
 *   17 payload
 * Payloads:
 *   mapPut      lineage u32 · chunk f64 · birth u32 · phys f64 · valid u32 · zero u32 ·
 *               killedAt u32
 *   mapDelete   lineage u32 · chunk f64 · birth u32
 *   regionDirty region u32
 *   tables      UTF-8 JSON array of TableChange (volumes, snapshots, views, lineages)
 * Every record is an absolute put or delete, so replaying one twice changes nothing.
 */
import { crc32c } from '../../base/crc32c.ts'

export const recordType = {
  mapPut: 1,
  mapDelete: 2,
  regionDirty: 3,
  tables: 4,
} as const

export const recordHeaderBytes = 17

export interface MapPut {
  readonly type: typeof recordType.mapPut
  readonly lineage: number
  readonly chunk: number
  readonly birth: number
  readonly phys: number
  readonly valid: number
  readonly zero: number
  readonly killedAt: number
}

export interface MapDelete {
  readonly type: typeof recordType.mapDelete
  readonly lineage: number
  readonly chunk: number
  readonly birth: number
}

export interface RegionDirty {
  readonly type: typeof recordType.regionDirty
  readonly region: number
}

/** A put (value) or delete (null) of one row of a table. */
export interface TableChange {
  readonly table: 'volume' | 'snapshot' | 'view' | 'lineage' | 'meta'
  readonly key: string
  readonly value: unknown
}

export interface Tables {
  readonly type: typeof recordType.tables
  readonly changes: readonly TableChange[]
}

export type JournalRecord = MapPut | MapDelete | RegionDirty | Tables

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

const payloadBytes = {
  [recordType.mapPut]: 36,
  [recordType.mapDelete]: 16,
  [recordType.regionDirty]: 4,
}

/**
 * Records waiting for the next commit, encoded into one growing buffer: a record costs no
 * allocation of its own (a reclamation job appends one per freed version, a write one per chunk).
 */
export class RecordBuffer {
  #bytes = new Uint8Array(64 * 1024)
  #view = new DataView(this.#bytes.buffer)
  #length = 0
  #count = 0

  get length(): number {
    return this.#length
  }

  get count(): number {
    return this.#count
  }

  /** Encodes `record` with sequence number `sequence` after the records already here. */
  add(record: JournalRecord, sequence: number): void {
    const json =
      record.type === recordType.tables ? textEncoder.encode(JSON.stringify(record.changes)) : null
    const length = json?.length ?? payloadBytes[record.type as keyof typeof payloadBytes]
    const start = this.#length
    this.#reserve(recordHeaderBytes + length)
    const view = this.#view
    view.setUint32(start, length)
    view.setFloat64(start + 8, sequence)
    this.#bytes[start + 16] = record.type
    const at = start + recordHeaderBytes
    switch (record.type) {
      case recordType.mapPut:
        view.setUint32(at, record.lineage)
        view.setFloat64(at + 4, record.chunk)
        view.setUint32(at + 12, record.birth)
        view.setFloat64(at + 16, record.phys)
        view.setUint32(at + 24, record.valid)
        view.setUint32(at + 28, record.zero)
        view.setUint32(at + 32, record.killedAt)
        break
      case recordType.mapDelete:
        view.setUint32(at, record.lineage)
        view.setFloat64(at + 4, record.chunk)
        view.setUint32(at + 12, record.birth)
        break
      case recordType.regionDirty:
        view.setUint32(at, record.region)
        break
      case recordType.tables:
        this.#bytes.set(json!, at)
        break
    }
    const end = at + length
    view.setUint32(start + 4, crc32c(this.#bytes.subarray(start + 8, end)))
    this.#length = end
    this.#count += 1
  }

  /** The encoded records (a copy), and an empty buffer for the next ones. */
  take(): Uint8Array {
    const taken = this.#bytes.slice(0, this.#length)
    this.clear()
    return taken
  }

  clear(): void {
    this.#length = 0
    this.#count = 0
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#bytes.length) return
    let size = this.#bytes.length
    while (size < this.#length + bytes) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.#bytes.subarray(0, this.#length))
    this.#bytes = grown
    this.#view = new DataView(grown.buffer)
  }
}

/** One record on its own (tests and tools; the committer appends into a RecordBuffer). */
export function encodeRecord(record: JournalRecord, sequence: number): Uint8Array {
  const buffer = new RecordBuffer()
  buffer.add(record, sequence)
  return buffer.take()
}

function decodePayload(type: number, payload: Uint8Array): JournalRecord | null {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  if (type === recordType.mapPut && payload.length === 36)
    return {
      type,
      lineage: view.getUint32(0),
      chunk: view.getFloat64(4),
      birth: view.getUint32(12),
      phys: view.getFloat64(16),
      valid: view.getUint32(24),
      zero: view.getUint32(28),
      killedAt: view.getUint32(32),
    }
  if (type === recordType.mapDelete && payload.length === 16)
    return {
      type,
      lineage: view.getUint32(0),
      chunk: view.getFloat64(4),
      birth: view.getUint32(12),
    }
  if (type === recordType.regionDirty && payload.length === 4)
    return { type, region: view.getUint32(0) }
  if (type === recordType.tables) {
    const changes = JSON.parse(textDecoder.decode(payload)) as TableChange[]
    return Array.isArray(changes) ? { type, changes } : null
  }
  return null
}

export interface DecodedJournal {
  readonly records: { readonly sequence: number; readonly record: JournalRecord }[]
  /** Bytes of whole, valid records: the journal is truncated here before appending. */
  readonly validBytes: number
}

/**
 * Decodes records from the start of `bytes` until the end or the first torn, corrupt or
 * out-of-order record (a crash mid-append leaves such a tail; everything before it is good).
 */
export function decodeJournal(bytes: Uint8Array): DecodedJournal {
  const records: DecodedJournal['records'][number][] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let offset = 0
  let previous = 0
  while (offset + recordHeaderBytes <= bytes.length) {
    const length = view.getUint32(offset)
    const end = offset + recordHeaderBytes + length
    if (end > bytes.length) break
    if (view.getUint32(offset + 4) !== crc32c(bytes.subarray(offset + 8, end))) break
    const sequence = view.getFloat64(offset + 8)
    if (!(sequence > previous)) break
    let record: JournalRecord | null
    try {
      record = decodePayload(bytes[offset + 16]!, bytes.subarray(offset + recordHeaderBytes, end))
    } catch {
      record = null
    }
    if (record === null) break
    records.push({ sequence, record })
    previous = sequence
    offset = end
  }
  return { records, validBytes: offset }
}
