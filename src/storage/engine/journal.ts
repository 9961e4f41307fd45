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

function payloadOf(record: JournalRecord): Uint8Array {
  switch (record.type) {
    case recordType.mapPut: {
      const bytes = new Uint8Array(36)
      const view = new DataView(bytes.buffer)
      view.setUint32(0, record.lineage)
      view.setFloat64(4, record.chunk)
      view.setUint32(12, record.birth)
      view.setFloat64(16, record.phys)
      view.setUint32(24, record.valid)
      view.setUint32(28, record.zero)
      view.setUint32(32, record.killedAt)
      return bytes
    }
    case recordType.mapDelete: {
      const bytes = new Uint8Array(16)
      const view = new DataView(bytes.buffer)
      view.setUint32(0, record.lineage)
      view.setFloat64(4, record.chunk)
      view.setUint32(12, record.birth)
      return bytes
    }
    case recordType.regionDirty: {
      const bytes = new Uint8Array(4)
      new DataView(bytes.buffer).setUint32(0, record.region)
      return bytes
    }
    case recordType.tables:
      return textEncoder.encode(JSON.stringify(record.changes))
  }
}

export function encodeRecord(record: JournalRecord, sequence: number): Uint8Array {
  const payload = payloadOf(record)
  const bytes = new Uint8Array(recordHeaderBytes + payload.length)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, payload.length)
  view.setFloat64(8, sequence)
  bytes[16] = record.type
  bytes.set(payload, recordHeaderBytes)
  view.setUint32(4, crc32c(bytes.subarray(8)))
  return bytes
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
