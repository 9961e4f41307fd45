/**
 * The checkpoint file (docs/engine.md §4): the whole metadata state at one journal sequence
 * number, written atomically (PoolMedia.replace) so that the journal before it can be dropped.
 *
 * Layout (big-endian): 0 "BSLTCKP1" · 8 f64 sequence · 16 u32 crc32c of bytes 20.. ·
 * 20 u32 JSON length · 24 JSON {tables, dirtyRegions} · then u32 version count and 36-byte
 * versions (lineage u32 · chunk f64 · birth u32 · phys f64 · valid u32 · zero u32 · killedAt u32).
 */
import { crc32c } from '../../base/crc32c.ts'
import { SanError } from '../../base/errors.ts'
import type { TableChange } from './journal.ts'

const magic = 'BSLTCKP1'
const versionBytes = 36

export interface CheckpointVersion {
  readonly lineage: number
  readonly chunk: number
  readonly birth: number
  readonly phys: number
  readonly valid: number
  readonly zero: number
  readonly killedAt: number
}

export interface CheckpointState {
  readonly sequence: number
  readonly tables: readonly TableChange[]
  readonly dirtyRegions: readonly number[]
  readonly versions: readonly CheckpointVersion[]
}

export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({ tables: state.tables, dirtyRegions: state.dirtyRegions }),
  )
  const bytes = new Uint8Array(28 + json.length + state.versions.length * versionBytes)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(magic), 0)
  view.setFloat64(8, state.sequence)
  view.setUint32(20, json.length)
  bytes.set(json, 24)
  let offset = 24 + json.length
  view.setUint32(offset, state.versions.length)
  offset += 4
  for (const version of state.versions) {
    view.setUint32(offset, version.lineage)
    view.setFloat64(offset + 4, version.chunk)
    view.setUint32(offset + 12, version.birth)
    view.setFloat64(offset + 16, version.phys)
    view.setUint32(offset + 24, version.valid)
    view.setUint32(offset + 28, version.zero)
    view.setUint32(offset + 32, version.killedAt)
    offset += versionBytes
  }
  view.setUint32(16, crc32c(bytes.subarray(20)))
  return bytes
}

/** Decodes a checkpoint; a damaged one is DATA_DIR_INVALID (it was written atomically). */
export function decodeCheckpoint(bytes: Uint8Array, where: string): CheckpointState {
  const fail = (why: string): never => {
    throw new SanError('DATA_DIR_INVALID', `${where}: checkpoint ${why}`)
  }
  if (bytes.length < 28) fail('is truncated')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== magic) fail('has an unknown format')
  if (view.getUint32(16) !== crc32c(bytes.subarray(20))) fail('fails its checksum')
  const sequence = view.getFloat64(8)
  const jsonLength = view.getUint32(20)
  if (24 + jsonLength + 4 > bytes.length) fail('is truncated')
  const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(24, 24 + jsonLength))) as {
    tables: TableChange[]
    dirtyRegions: number[]
  }
  let offset = 24 + jsonLength
  const count = view.getUint32(offset)
  offset += 4
  if (offset + count * versionBytes !== bytes.length) fail('has a wrong length')
  const versions: CheckpointVersion[] = []
  for (let index = 0; index < count; index += 1) {
    versions.push({
      lineage: view.getUint32(offset),
      chunk: view.getFloat64(offset + 4),
      birth: view.getUint32(offset + 12),
      phys: view.getFloat64(offset + 16),
      valid: view.getUint32(offset + 24),
      zero: view.getUint32(offset + 28),
      killedAt: view.getUint32(offset + 32),
    })
    offset += versionBytes
  }
  return { sequence, tables: parsed.tables, dirtyRegions: parsed.dirtyRegions, versions }
}
