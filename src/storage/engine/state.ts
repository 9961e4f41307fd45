/**
 * The engine's catalogue in memory: volumes, snapshots, views and lineages as rows (what the
 * journal's `tables` records and the checkpoint carry), plus the Lineage objects with their chunk
 * maps. Pure: no I/O, no clock. Every change goes through `apply`, so replaying the journal and
 * making a change take the same path.
 */
import { assert, fail } from '../../base/assert.ts'
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
  /** volume id → name → its active snapshot of that name. */
  readonly #activeByName = new Map<string, Map<string, SnapshotRow>>()
  /** volume id → lineage → how many of its snapshots (any state) live in that lineage. */
  readonly #lineagesByVolume = new Map<string, Map<number, number>>()
  /** snapshot id → the view exposing it. */
  readonly #viewBySnapshot = new Map<number, ViewRow>()
  /** snapshot id → ids of the volumes cloned from it. */
  readonly #clonesBySnapshot = new Map<number, Set<string>>()
  /** Active snapshots in the pool. */
  activeSnapshots = 0
  meta: MetaRow = { nextLineage: 1, nextSnapshot: 1 }

  apply(change: TableChange): void {
    switch (change.table) {
      case 'volume':
        this.#applyVolume(change.key, change.value as VolumeRow | null)
        return
      case 'view':
        this.#applyView(change.key, change.value as ViewRow | null)
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
    if (lineage === undefined) fail(`unknown lineage ${id}`)
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
    const row = this.#activeByName.get(volumeId)?.get(name)
    if (row === undefined)
      throw new SanError('SNAPSHOT_NOT_FOUND', `no snapshot ${name} of volume ${volumeId}`)
    return row
  }

  snapshotsOf(volumeId: string): SnapshotRow[] {
    return [...(this.#byVolume.get(volumeId)?.values() ?? [])]
  }

  /** The active snapshots of `volumeId`, by name (a live view: do not change it). */
  activeSnapshotsOf(volumeId: string): ReadonlyMap<string, SnapshotRow> {
    return this.#activeByName.get(volumeId) ?? noSnapshots
  }

  /** The lineages holding snapshots of `volumeId` (a live view: do not change it). */
  snapshotLineagesOf(volumeId: string): ReadonlyMap<number, number> {
    return this.#lineagesByVolume.get(volumeId) ?? noLineages
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
    return this.#viewBySnapshot.get(snapshotId) ?? null
  }

  /** Ids of the volumes cloned from a snapshot. */
  cloneIdsOf(snapshotId: number): ReadonlySet<string> {
    return this.#clonesBySnapshot.get(snapshotId) ?? noClones
  }

  clonesOf(snapshotId: number): VolumeRow[] {
    return [...this.cloneIdsOf(snapshotId)].map((id) => this.volume(id))
  }

  #applyVolume(id: string, row: VolumeRow | null): void {
    const old = this.volumes.get(id)
    if (old !== undefined && old.origin !== null) removeFrom(this.#clonesBySnapshot, old.origin, id)
    if (row === null) {
      this.volumes.delete(id)
      return
    }
    this.volumes.set(id, row)
    if (row.origin !== null) addTo(this.#clonesBySnapshot, row.origin, id)
  }

  #applyView(id: string, row: ViewRow | null): void {
    const old = this.views.get(id)
    if (old !== undefined && this.#viewBySnapshot.get(old.snapshot) === old)
      this.#viewBySnapshot.delete(old.snapshot)
    if (row === null) {
      this.views.delete(id)
      return
    }
    this.views.set(id, row)
    this.#viewBySnapshot.set(row.snapshot, row)
  }

  #applySnapshot(id: number, row: SnapshotRow | null): void {
    const old = this.snapshots.get(id)
    const wasLive = old !== undefined && old.state !== 'deleting'
    const isLive = row !== null && row.state !== 'deleting'
    // A snapshot that stays live at the same place (active → held) keeps its epoch held.
    const same = wasLive && isLive && old.lineage === row.lineage && old.epoch === row.epoch
    if (wasLive && !same) this.lineages.get(old.lineage)?.removeLiveSnapshotEpoch(old.epoch)
    if (old !== undefined) this.#forget(id, old)
    if (row === null) {
      this.snapshots.delete(id)
      return
    }
    this.snapshots.set(id, row)
    putIn(this.#byVolume, row.volumeId, id, row)
    const count = this.#lineagesByVolume.get(row.volumeId)?.get(row.lineage) ?? 0
    putIn(this.#lineagesByVolume, row.volumeId, row.lineage, count + 1)
    if (row.state === 'active') {
      putIn(this.#activeByName, row.volumeId, row.name, row)
      this.activeSnapshots += 1
    }
    if (isLive && !same) this.lineage(row.lineage).addLiveSnapshotEpoch(row.epoch)
  }

  /** Takes an old snapshot row out of the per-volume indexes. */
  #forget(id: number, old: SnapshotRow): void {
    const mine = this.#byVolume.get(old.volumeId)
    mine?.delete(id)
    if (mine?.size === 0) this.#byVolume.delete(old.volumeId)
    const lineages = this.#lineagesByVolume.get(old.volumeId)
    const count = (lineages?.get(old.lineage) ?? 1) - 1
    if (count > 0) lineages!.set(old.lineage, count)
    else lineages?.delete(old.lineage)
    if (lineages?.size === 0) this.#lineagesByVolume.delete(old.volumeId)
    if (old.state === 'active') {
      removeFrom(this.#activeByName, old.volumeId, old.name)
      this.activeSnapshots -= 1
    }
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
    lineage.setHead(row.cur, row.head)
  }
}

const noSnapshots: ReadonlyMap<string, SnapshotRow> = new Map()
const noLineages: ReadonlyMap<number, number> = new Map()
const noClones: ReadonlySet<string> = new Set()

/** Adds `member` to the set under `key`. */
function addTo<K, M>(index: Map<K, Set<M>>, key: K, member: M): void {
  let inner = index.get(key)
  if (inner === undefined) {
    inner = new Set()
    index.set(key, inner)
  }
  inner.add(member)
}

/** Sets `member` → `value` in the map under `key`. */
function putIn<K, M, V>(index: Map<K, Map<M, V>>, key: K, member: M, value: V): void {
  let inner = index.get(key)
  if (inner === undefined) {
    inner = new Map()
    index.set(key, inner)
  }
  inner.set(member, value)
}

function removeFrom<K, M>(index: Map<K, Set<M> | Map<M, unknown>>, key: K, member: M): void {
  const inner = index.get(key)
  inner?.delete(member)
  if (inner?.size === 0) index.delete(key)
}

export function lineageRow(lineage: Lineage): LineageRow {
  return { id: lineage.id, parent: lineage.parent, cur: lineage.cur, head: lineage.hasHead }
}
