/**
 * Opening a pool (docs/engine.md §4 "Recovery"): load the checkpoint, replay the journal records
 * newer than it up to the first torn one, cut the journal there, rebuild what is not persisted
 * (the free chunks, what the filesystem holds of each — from the checksums —, the space counters,
 * the changed-chunk sets) from the versions, and recompute
 * the checksums of the regions that were being written when the pool stopped. Time is bounded by
 * the checkpoint's size plus at most `checkpointJournalBytes` of journal.
 */

import { decodeCheckpoint } from './checkpoint.ts'
import { chunkBytes, regionChunks, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import { decodeJournal, type JournalRecord, recordType } from './journal.ts'
import type { Lineage, Version } from './lineage.ts'
import type { PoolFile, PoolMedia } from './media.ts'
import { EngineState } from './state.ts'
import type { TagStore } from './tags.ts'

export interface Recovered {
  readonly state: EngineState
  readonly sequence: number
  readonly journalTail: number
  readonly dirtyRegions: Set<number>
  readonly replayedRecords: number
}

export async function recoverState(media: PoolMedia, journal: PoolFile): Promise<Recovered> {
  const state = new EngineState()
  const dirtyRegions = new Set<number>()
  let sequence = 0
  const checkpointBytes = await media.readAll('checkpoint')
  if (checkpointBytes !== null) {
    const checkpoint = decodeCheckpoint(checkpointBytes, 'pool')
    sequence = checkpoint.sequence
    for (const change of checkpoint.tables) state.apply(change)
    for (const row of checkpoint.versions) {
      const { lineage, chunk, ...fields } = row
      state.lineage(lineage).insert(chunk, { ...fields, held: 0, gone: false })
    }
    for (const region of checkpoint.dirtyRegions) dirtyRegions.add(region)
  }
  const bytes = new Uint8Array(journal.size())
  await journal.read(bytes, 0)
  const decoded = decodeJournal(bytes)
  let replayed = 0
  for (const { sequence: at, record } of decoded.records) {
    if (at <= sequence) continue
    replay(state, record, dirtyRegions)
    sequence = at
    replayed += 1
  }
  if (decoded.validBytes < bytes.length) {
    await journal.truncate(decoded.validBytes)
    await journal.sync()
  }
  return {
    state,
    sequence,
    journalTail: decoded.validBytes,
    dirtyRegions,
    replayedRecords: replayed,
  }
}

function find(lineage: Lineage, chunk: number, birth: number): Version | undefined {
  const list = lineage.chunks.get(chunk)
  if (list === undefined) return undefined
  const index = lineage.newestAtOrBefore(list, birth)
  return index >= 0 && list[index]!.birth === birth ? list[index] : undefined
}

function replay(state: EngineState, record: JournalRecord, dirtyRegions: Set<number>): void {
  switch (record.type) {
    case recordType.mapPut: {
      const lineage = state.lineage(record.lineage)
      const version = find(lineage, record.chunk, record.birth)
      if (version === undefined) {
        const { phys, valid, zero, killedAt, birth } = record
        const fields = { birth, phys, valid, zero, killedAt }
        lineage.insert(record.chunk, { ...fields, held: 0, gone: false })
        return
      }
      lineage.setPhys(version, record.phys, 0)
      lineage.setKilled(version, record.killedAt)
      version.valid = record.valid
      version.zero = record.zero
      lineage.changed(record.chunk)
      return
    }
    case recordType.mapDelete: {
      const lineage = state.lineage(record.lineage)
      const version = find(lineage, record.chunk, record.birth)
      if (version !== undefined) lineage.remove(record.chunk, version)
      return
    }
    case recordType.regionDirty:
      dirtyRegions.add(record.region)
      return
    case recordType.tables:
      for (const change of record.changes) state.apply(change)
      return
  }
}

/**
 * What the filesystem holds of `slot`, rebuilt at open (docs/engine.md §4 "Fault model"): the
 * sub-blocks with a checksum — written since the slot was fresh or last punched, since a punch
 * zeroes them (tags.ts) — plus the valid ones of the version that references it. A version's
 * `zero` sub-blocks count when they still hold data (they have a checksum: an unmap does not
 * punch); a free slot counts what it holds until the first punches after open give it back.
 */
export function backedMask(slot: number, used: ReadonlyMap<number, Version>, tags: TagStore) {
  return tags.writtenMask(slot) | (used.get(slot)?.valid ?? 0)
}

/** Counts every version in its lineage's cells for what its slot holds (`Version.held`). */
export function countHeld(state: EngineState, heldOf: (slot: number) => number): void {
  for (const lineage of state.lineages.values())
    for (const list of lineage.chunks.values())
      for (const version of list)
        if (version.phys >= 0) lineage.setHeld(version, heldOf(version.phys))
}

/** Every data chunk a version references. */
export function referencedChunks(state: EngineState): Map<number, Version> {
  const used = new Map<number, Version>()
  for (const lineage of state.lineages.values())
    for (const list of lineage.chunks.values())
      for (const version of list) if (version.phys >= 0) used.set(version.phys, version)
  return used
}

/**
 * Recomputes the checksums of the valid sub-blocks in `regions`: after a crash their data and
 * tags may come from different writes (engine.md §5.9 — detection is lost for that window).
 */
export async function retagRegions(
  regions: Iterable<number>,
  used: ReadonlyMap<number, Version>,
  data: PoolFile,
  tags: TagStore,
): Promise<number> {
  const buffer = new Uint8Array(chunkBytes)
  let chunks = 0
  for (const region of regions) {
    for (let phys = region * regionChunks; phys < (region + 1) * regionChunks; phys += 1) {
      const version = used.get(phys)
      if (version === undefined || version.valid === 0) continue
      await data.read(buffer, phys * chunkBytes)
      for (let bit = 0; bit < subBlocksPerChunk; bit += 1) {
        if (((version.valid >> bit) & 1) === 0) continue
        const piece = buffer.subarray(bit * subBlockBytes, (bit + 1) * subBlockBytes)
        tags.store(phys, bit, tags.compute(piece, phys, bit))
      }
      chunks += 1
    }
  }
  await tags.sync()
  return chunks
}
