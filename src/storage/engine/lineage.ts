/**
 * One lineage: a line of history (a volume's head and its snapshots, or a view's), with its
 * versioned chunk map (docs/engine.md §3). A version of a chunk is born at an epoch and killed at
 * the epoch where newer versions of the same lineage cover all of it; it is visible at epoch E
 * exactly when `birth <= E < killedAt` and its sub-blocks are not covered by newer versions with
 * birth <= E. It must stay allocated while some live epoch (an active snapshot's, or the head's)
 * lies in `[birth, killedAt)` — ZFS's birth-time rule, with no reference counts.
 *
 * The lineage also keeps, exactly and in memory, the space counters of engine.md §3:
 * `space[birth][killedAt]` = bytes the filesystem holds for the slots of versions with that
 * birth and kill epoch (`Version.held`, physical: a 4 KiB write into a fresh slot is 4 KiB),
 * and from them, kept up to date with every change, the figures of each live epoch ("what would
 * deleting this snapshot free") in `figures` (epoch_space.ts), so reading one is a lookup.
 */
import { assert } from '../../base/assert.ts'
import { type Cells, EpochSpace, lowerBound } from './epoch_space.ts'

export interface Version {
  readonly birth: number
  /** Chunk of the data file holding this version's sub-blocks, or -1 (a pure tombstone). */
  phys: number
  /** Sub-blocks whose data is in `phys`. */
  valid: number
  /** Sub-blocks that read as zeros (deallocated), hiding older versions. */
  zero: number
  /**
   * Bytes counted for this version in the space cells: what the filesystem holds of its slot
   * (sub-block bytes × the slot's backed sub-blocks, allocator.ts), 0 without a slot. A version
   * owns its slot, so this is what freeing it gives back. Not persisted (recovery sets it).
   */
  held: number
  killedAt: number
  /** Set when the version left the map (freed), so a write in flight on it is discarded. */
  gone: boolean
}

export interface ParentLink {
  readonly lineage: number
  readonly epoch: number
}

export function versionBytes(version: Version): number {
  return version.held
}

export class Lineage {
  /** chunk index → versions, oldest first (ascending birth). */
  readonly chunks = new Map<number, Version[]>()
  /** birth epoch → chunks that have a version born then (the changed-chunk sets of §5.8). */
  readonly births = new Map<number, Set<number>>()
  /** birth → killedAt → bytes held. */
  readonly space: Cells = new Map()
  /** The live epochs and their space figures, kept up to date with `space`. */
  readonly figures = new EpochSpace(this.space)
  /** Epochs of snapshots that still need their image (active or held), ascending. */
  readonly liveSnapshotEpochs: number[] = []
  versionCount = 0
  /**
   * The head's resolved sources per chunk (what chain.ts `resolveSources` finds at `cur`), so
   * a head read costs one lookup however many versions a chunk has. Dropped for a chunk whenever
   * its versions change; what a parent shows at the fork epoch never changes.
   */
  readonly headSources = new Map<number, Float64Array>()

  #cur: number
  #hasHead: boolean

  constructor(
    readonly id: number,
    readonly parent: ParentLink | null,
    cur: number,
    hasHead: boolean,
  ) {
    this.#cur = cur
    this.#hasHead = hasHead
    if (hasHead) this.figures.hold(cur)
  }

  /** The epoch new writes are stamped with. */
  get cur(): number {
    return this.#cur
  }

  /** True while a volume or a view writes here. */
  get hasHead(): boolean {
    return this.#hasHead
  }

  /** Moves the head to epoch `cur` (a snapshot) or removes it (rollback, unexpose, delete). */
  setHead(cur: number, hasHead: boolean): void {
    if (cur === this.#cur && hasHead === this.#hasHead) return
    // Hold the new epoch before letting go of the old one: the cells both see stay shared.
    if (hasHead) this.figures.hold(cur)
    if (this.#hasHead) this.figures.release(this.#cur)
    this.#cur = cur
    this.#hasHead = hasHead
  }

  versions(chunk: number): Version[] | undefined {
    return this.chunks.get(chunk)
  }

  /** The newest version of `chunk` born at or before `epoch`, by index, or -1. */
  newestAtOrBefore(list: readonly Version[], epoch: number): number {
    let low = 0
    let high = list.length - 1
    let found = -1
    while (low <= high) {
      const middle = (low + high) >> 1
      if (list[middle]!.birth <= epoch) {
        found = middle
        low = middle + 1
      } else {
        high = middle - 1
      }
    }
    return found
  }

  insert(chunk: number, version: Version): void {
    assert(version.phys >= 0 || version.held === 0, 'bytes held without a slot')
    let list = this.chunks.get(chunk)
    if (list === undefined) {
      list = []
      this.chunks.set(chunk, list)
    }
    const at = this.newestAtOrBefore(list, version.birth) + 1
    assert(at === 0 || list[at - 1]!.birth < version.birth, 'two versions born in one epoch')
    list.splice(at, 0, version)
    let born = this.births.get(version.birth)
    if (born === undefined) {
      born = new Set()
      this.births.set(version.birth, born)
    }
    born.add(chunk)
    this.headSources.delete(chunk)
    this.versionCount += 1
    this.#count(version, versionBytes(version))
  }

  remove(chunk: number, version: Version): void {
    const list = this.chunks.get(chunk)
    assert(list !== undefined, 'removing a version of an unmapped chunk')
    const at = list.indexOf(version)
    assert(at >= 0, 'removing an unknown version')
    list.splice(at, 1)
    version.gone = true
    this.headSources.delete(chunk)
    if (list.length === 0) this.chunks.delete(chunk)
    const born = this.births.get(version.birth)
    born?.delete(chunk)
    if (born?.size === 0) this.births.delete(version.birth)
    this.versionCount -= 1
    this.#count(version, -versionBytes(version))
  }

  setKilled(version: Version, killedAt: number): void {
    this.#count(version, -versionBytes(version))
    version.killedAt = killedAt
    this.#count(version, versionBytes(version))
  }

  /** A version of `chunk` changed its masks: the head's view of it must be resolved again. */
  changed(chunk: number): void {
    this.headSources.delete(chunk)
  }

  /** Gives `version` a slot (or takes it away: -1) that holds `held` bytes. */
  setPhys(version: Version, phys: number, held: number): void {
    assert(phys >= 0 || held === 0, 'bytes held without a slot')
    this.#count(version, -versionBytes(version))
    version.phys = phys
    version.held = held
    this.#count(version, versionBytes(version))
  }

  /** The filesystem now holds `held` bytes of `version`'s slot (a write backed more of it). */
  setHeld(version: Version, held: number): void {
    assert(version.phys >= 0 || held === 0, 'bytes held without a slot')
    const change = held - version.held
    if (change === 0) return
    version.held = held
    this.#count(version, change)
  }

  /** Live epochs, ascending, each once: live snapshots and the head's current epoch. */
  liveEpochs(): readonly number[] {
    return this.figures.live
  }

  /** True when some live epoch still sees (part of) `version`. */
  alive(version: Version): boolean {
    const live = this.figures.live
    const first = lowerBound(live, version.birth)
    return first < live.length && live[first]! < version.killedAt
  }

  addLiveSnapshotEpoch(epoch: number): void {
    const epochs = this.liveSnapshotEpochs
    const at = lowerBound(epochs, epoch)
    if (epochs[at] === epoch) return
    epochs.splice(at, 0, epoch)
    this.figures.hold(epoch)
  }

  removeLiveSnapshotEpoch(epoch: number): void {
    const at = lowerBound(this.liveSnapshotEpochs, epoch)
    if (this.liveSnapshotEpochs[at] !== epoch) return
    this.liveSnapshotEpochs.splice(at, 1)
    this.figures.release(epoch)
  }

  /** Every byte this lineage holds. */
  heldBytes(): number {
    return this.figures.heldBytes
  }

  #count(version: Version, bytes: number): void {
    if (bytes === 0) return
    let kills = this.space.get(version.birth)
    if (kills === undefined) {
      kills = new Map()
      this.space.set(version.birth, kills)
    }
    const total = (kills.get(version.killedAt) ?? 0) + bytes
    assert(total >= 0, 'space counter below zero')
    if (total === 0) kills.delete(version.killedAt)
    else kills.set(version.killedAt, total)
    if (kills.size === 0) this.space.delete(version.birth)
    this.figures.cellChanged(version.birth, version.killedAt, bytes)
  }
}
