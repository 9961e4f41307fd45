/**
 * One lineage: a line of history (a volume's head and its snapshots, or a view's), with its
 * versioned chunk map (docs/engine.md §3). A version of a chunk is born at an epoch and killed at
 * the epoch where newer versions of the same lineage cover all of it; it is visible at epoch E
 * exactly when `birth <= E < killedAt` and its sub-blocks are not covered by newer versions with
 * birth <= E. It must stay allocated while some live epoch (an active snapshot's, or the head's)
 * lies in `[birth, killedAt)` — ZFS's birth-time rule, with no reference counts.
 *
 * The lineage also keeps, exactly and in memory, the space counters of engine.md §5.7:
 * `space[birth][killedAt]` = bytes of chunks held by versions with that birth and kill epoch.
 * Sums over rectangles of it answer "what would deleting this snapshot free" without a scan.
 */
import { assert } from '../../base/assert.ts'
import { chunkBytes, neverKilled } from './constants.ts'

export interface Version {
  readonly birth: number
  /** Chunk of the data file holding this version's sub-blocks, or -1 (a pure tombstone). */
  phys: number
  /** Sub-blocks whose data is in `phys`. */
  valid: number
  /** Sub-blocks that read as zeros (deallocated), hiding older versions. */
  zero: number
  killedAt: number
  /** Set when the version left the map (freed), so a write in flight on it is discarded. */
  gone: boolean
}

export interface ParentLink {
  readonly lineage: number
  readonly epoch: number
}

export function versionBytes(version: Version): number {
  return version.phys >= 0 ? chunkBytes : 0
}

export class Lineage {
  /** chunk index → versions, oldest first (ascending birth). */
  readonly chunks = new Map<number, Version[]>()
  /** birth epoch → chunks that have a version born then (the changed-chunk sets of §5.8). */
  readonly births = new Map<number, Set<number>>()
  /** birth → killedAt → bytes held. */
  readonly space = new Map<number, Map<number, number>>()
  /** Epochs of snapshots that still need their image (active or held), ascending. */
  readonly liveSnapshotEpochs: number[] = []
  versionCount = 0
  /**
   * The head's resolved sources per chunk (what `DataPath.resolve` finds at `cur`), so a head
   * read costs one lookup however many versions a chunk has. Dropped for a chunk whenever its
   * versions change; what a parent shows at the fork epoch never changes.
   */
  readonly headSources = new Map<number, Float64Array>()

  constructor(
    readonly id: number,
    readonly parent: ParentLink | null,
    /** The epoch new writes are stamped with. */
    public cur: number,
    /** True while a volume or a view writes here. */
    public hasHead: boolean,
  ) {}

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

  setPhys(version: Version, phys: number): void {
    this.#count(version, -versionBytes(version))
    version.phys = phys
    this.#count(version, versionBytes(version))
  }

  /** Live epochs, ascending: live snapshots, then the head's current epoch. */
  liveEpochs(): number[] {
    return this.hasHead ? [...this.liveSnapshotEpochs, this.cur] : this.liveSnapshotEpochs
  }

  /** True when some live epoch still sees (part of) `version`. */
  alive(version: Version): boolean {
    if (this.hasHead && this.cur >= version.birth && this.cur < version.killedAt) return true
    const epochs = this.liveSnapshotEpochs
    let low = 0
    let high = epochs.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (epochs[middle]! < version.birth) low = middle + 1
      else high = middle
    }
    return low < epochs.length && epochs[low]! < version.killedAt
  }

  addLiveSnapshotEpoch(epoch: number): void {
    const epochs = this.liveSnapshotEpochs
    let at = epochs.length
    while (at > 0 && epochs[at - 1]! > epoch) at -= 1
    if (epochs[at - 1] !== epoch) epochs.splice(at, 0, epoch)
  }

  removeLiveSnapshotEpoch(epoch: number): void {
    const at = this.liveSnapshotEpochs.indexOf(epoch)
    if (at >= 0) this.liveSnapshotEpochs.splice(at, 1)
  }

  /** Σ space[b][k] for b in (bornAfter, bornBy] and k in (killedAfter, killedBy]. */
  spaceIn(bornAfter: number, bornBy: number, killedAfter: number, killedBy: number): number {
    let total = 0
    for (const [birth, kills] of this.space) {
      if (birth <= bornAfter || birth > bornBy) continue
      for (const [kill, bytes] of kills) if (kill > killedAfter && kill <= killedBy) total += bytes
    }
    return total
  }

  /** Every byte this lineage holds. */
  heldBytes(): number {
    return this.spaceIn(-1, neverKilled, -1, neverKilled)
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
  }
}
