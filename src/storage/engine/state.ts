/**
 * The engine's catalogue in memory: volumes, snapshots, views and lineages as rows (what the
 * journal's `tables` records and the checkpoint carry), plus the Lineage objects with their chunk
 * maps. Pure: no I/O, no clock. Every change goes through `apply`, so replaying the journal and
 * making a change take the same path.
 */
import { assert } from '../../base/assert.ts'
import { SanError } from '../../base/errors.ts'
import type { TableChange } from './journal.ts'
import { Lineage, type ParentLink } from './lineage.ts'

export interface LineageRow {
  readonly id: number
  readonly parent: ParentLink | null
  readonly cur: number
  readonly head: boolean
}

export interface VolumeRow {
  readonly id: string
  readonly blockBytes: 512 | 4096
  readonly blockCount: number
  readonly lineage: number
  /** The snapshot a clone was made from (kept while the clone exists). */
  readonly origin: number | null
}

/**
 * active: listed and readable. held: deleted by its owner but still the base of a lineage that
 * depends on it (a rollback); hidden. deleting: hidden, its space being reclaimed.
 */
export type SnapshotState = 'active' | 'held' | 'deleting'

export interface SnapshotRow {
  readonly id: number
  readonly volumeId: string
  readonly name: string
  readonly lineage: number
  readonly epoch: number
  /** The volume's size when the snapshot was taken: the size of its views and clones. */
  readonly blockCount: number
  readonly createdAtMs: number
  readonly groupId: string | null
  readonly state: SnapshotState
}

export interface ViewRow {
  readonly id: string
  readonly snapshot: number
  readonly lineage: number
}

export interface MetaRow {
  readonly nextLineage: number
  readonly nextSnapshot: number
}

export class EngineState {
  readonly volumes = new Map<string, VolumeRow>()
  readonly snapshots = new Map<number, SnapshotRow>()
  readonly views = new Map<string, ViewRow>()
  readonly lineages = new Map<number, Lineage>()
  /** volume id → its snapshots (any state), so per-volume lookups do not scan the pool. */
  readonly #byVolume = new Map<string, Map<number, SnapshotRow>>()
  meta: MetaRow = { nextLineage: 1, nextSnapshot: 1 }

  apply(change: TableChange): void {
    switch (change.table) {
      case 'volume':
        this.#put(this.volumes, change.key, change.value as VolumeRow | null)
        return
      case 'view':
        this.#put(this.views, change.key, change.value as ViewRow | null)
        return
      case 'snapshot':
        this.#applySnapshot(Number(change.key), change.value as SnapshotRow | null)
        return
      case 'lineage':
        this.#applyLineage(Number(change.key), change.value as LineageRow | null)
        return
      case 'meta':
        this.meta = change.value as MetaRow
        return
    }
  }

  /** Every row as a put, for a checkpoint (lineages before what refers to them). */
  rows(): TableChange[] {
    const changes: TableChange[] = [{ table: 'meta', key: 'meta', value: this.meta }]
    for (const lineage of this.lineages.values())
      changes.push({ table: 'lineage', key: String(lineage.id), value: lineageRow(lineage) })
    for (const row of this.volumes.values())
      changes.push({ table: 'volume', key: row.id, value: row })
    for (const row of this.snapshots.values())
      changes.push({ table: 'snapshot', key: String(row.id), value: row })
    for (const row of this.views.values()) changes.push({ table: 'view', key: row.id, value: row })
    return changes
  }

  lineage(id: number): Lineage {
    const lineage = this.lineages.get(id)
    assert(lineage !== undefined, `unknown lineage ${id}`)
    return lineage
  }

  volume(id: string): VolumeRow {
    const row = this.volumes.get(id)
    if (row === undefined) throw new SanError('VOLUME_NOT_FOUND', `no volume ${id}`)
    return row
  }

  /** The active snapshot of `volumeId` named `name` (held and deleting ones are hidden). */
  snapshotNamed(volumeId: string, name: string): SnapshotRow {
    this.volume(volumeId)
    for (const row of this.#byVolume.get(volumeId)?.values() ?? [])
      if (row.name === name && row.state === 'active') return row
    throw new SanError('SNAPSHOT_NOT_FOUND', `no snapshot ${name} of volume ${volumeId}`)
  }

  snapshotsOf(volumeId: string): SnapshotRow[] {
    return [...(this.#byVolume.get(volumeId)?.values() ?? [])]
  }

  /** Lineages forked from a snapshot (views, clones, rolled-back heads). */
  dependents(snapshot: SnapshotRow): Lineage[] {
    return [...this.lineages.values()].filter(
      (lineage) =>
        lineage.parent !== null &&
        lineage.parent.lineage === snapshot.lineage &&
        lineage.parent.epoch === snapshot.epoch,
    )
  }

  viewOf(snapshotId: number): ViewRow | null {
    for (const view of this.views.values()) if (view.snapshot === snapshotId) return view
    return null
  }

  clonesOf(snapshotId: number): VolumeRow[] {
    return [...this.volumes.values()].filter((volume) => volume.origin === snapshotId)
  }

  #put<T>(table: Map<string, T>, key: string, value: T | null): void {
    if (value === null) table.delete(key)
    else table.set(key, value)
  }

  #applySnapshot(id: number, row: SnapshotRow | null): void {
    const old = this.snapshots.get(id)
    if (old !== undefined && old.state !== 'deleting')
      this.lineages.get(old.lineage)?.removeLiveSnapshotEpoch(old.epoch)
    if (old !== undefined) this.#byVolume.get(old.volumeId)?.delete(id)
    if (old !== undefined && this.#byVolume.get(old.volumeId)?.size === 0)
      this.#byVolume.delete(old.volumeId)
    if (row === null) {
      this.snapshots.delete(id)
      return
    }
    this.snapshots.set(id, row)
    let mine = this.#byVolume.get(row.volumeId)
    if (mine === undefined) {
      mine = new Map()
      this.#byVolume.set(row.volumeId, mine)
    }
    mine.set(id, row)
    if (row.state !== 'deleting') this.lineage(row.lineage).addLiveSnapshotEpoch(row.epoch)
  }

  #applyLineage(id: number, row: LineageRow | null): void {
    if (row === null) {
      const lineage = this.lineages.get(id)
      assert(lineage === undefined || lineage.versionCount === 0, 'dropping a lineage with data')
      this.lineages.delete(id)
      return
    }
    const lineage = this.lineages.get(id)
    if (lineage === undefined) {
      this.lineages.set(id, new Lineage(id, row.parent, row.cur, row.head))
      return
    }
    lineage.cur = row.cur
    lineage.hasHead = row.head
  }
}

export function lineageRow(lineage: Lineage): LineageRow {
  return { id: lineage.id, parent: lineage.parent, cur: lineage.cur, head: lineage.hasHead }
}
