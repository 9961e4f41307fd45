/**
 * A lineage's space figures, kept up to date as its counters change (docs/engine.md §3), so that
 * reading them costs a map lookup, not a pass over the counters.
 *
 * The counters are cells: `cells[birth][killedAt]` = bytes held by versions born at `birth` and
 * killed at `killedAt`. A cell is seen by the live epochs in `[birth, killedAt)` (active or held
 * snapshots, and the head's current epoch). Per live epoch E:
 * - exclusive(E): bytes of the cells E alone sees (what deleting E's snapshot would free);
 * - referenced(E): bytes of the cells E sees = Σ bytes born ≤ E − Σ bytes killed ≤ E, read from
 *   two Fenwick trees indexed by epoch;
 * and for the lineage: dead (cells no live epoch sees: what reclamation will free) and held.
 *
 * A cell change is O(log live) (two binary searches) plus two Fenwick updates. When an epoch
 * becomes live or stops being live, only the cells born after the live epoch two places before it
 * can change attribution (a cell born earlier that sees this epoch also sees the two before it,
 * so it was and stays shared); they are re-attributed, which costs what was written between
 * those epochs — the same interval a reclamation job visits.
 *
 * `scanFigures` computes the same figures from the cells in one pass; `recount` (inspect.ts) and
 * the tests compare the two.
 */
import { assert } from '../../base/assert.ts'
import { neverKilled } from './constants.ts'

/** birth → killedAt → bytes. */
export type Cells = Map<number, Map<number, number>>

/** Prefix sums over epochs (a Fenwick tree that doubles as epochs grow). */
class EpochSums {
  /** 1-based; `tree.length - 1` is a power of two. */
  #tree = new Float64Array(65)

  add(epoch: number, bytes: number): void {
    assert(Number.isSafeInteger(epoch) && epoch >= 0 && epoch < neverKilled, 'epoch in range')
    while (epoch + 1 >= this.#tree.length) this.#grow()
    const size = this.#tree.length - 1
    for (let index = epoch + 1; index <= size; index += index & -index) this.#tree[index]! += bytes
  }

  /** Σ of what was added at epochs ≤ `epoch`. */
  upTo(epoch: number): number {
    let total = 0
    let index = Math.min(epoch + 1, this.#tree.length - 1)
    for (; index > 0; index -= index & -index) total += this.#tree[index]!
    return total
  }

  /** Doubling keeps every existing node; the one new node covering it all is the old root. */
  #grow(): void {
    const size = this.#tree.length - 1
    const grown = new Float64Array(size * 2 + 1)
    grown.set(this.#tree)
    grown[size * 2] = this.#tree[size]!
    this.#tree = grown
  }
}

/** Index of the first element of ascending `sorted` that is ≥ `value`. */
export function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >> 1
    if (sorted[middle]! < value) low = middle + 1
    else high = middle
  }
  return low
}

export class EpochSpace {
  /** Live epochs, ascending, each once. */
  readonly live: number[] = []
  /** How many holders (snapshots, the head) keep each live epoch. */
  readonly #holders = new Map<number, number>()
  readonly #exclusive = new Map<number, number>()
  readonly #born = new EpochSums()
  readonly #killed = new EpochSums()
  #dead = 0
  #held = 0

  constructor(private readonly cells: Cells) {}

  /** Every byte the lineage holds. */
  get heldBytes(): number {
    return this.#held
  }

  /** Bytes no live epoch sees (what reclamation will free). */
  get deadBytes(): number {
    return this.#dead
  }

  /** Bytes only live epoch `epoch` sees; 0 for an epoch that is not live. */
  exclusiveBytes(epoch: number): number {
    return this.#exclusive.get(epoch) ?? 0
  }

  /** Bytes of the lineage's own versions visible at `epoch`. */
  referencedBytes(epoch: number): number {
    return this.#born.upTo(epoch) - this.#killed.upTo(epoch)
  }

  /** Cell (birth, killedAt) changed by `bytes` (the caller has updated `cells`). */
  cellChanged(birth: number, killedAt: number, bytes: number): void {
    this.#held += bytes
    this.#born.add(birth, bytes)
    if (killedAt !== neverKilled) this.#killed.add(killedAt, bytes)
    this.#attribute(birth, killedAt, bytes)
  }

  /** One more holder keeps `epoch` live. */
  hold(epoch: number): void {
    const holders = this.#holders.get(epoch) ?? 0
    this.#holders.set(epoch, holders + 1)
    if (holders === 0) this.#reshape(epoch, true)
  }

  /** One holder of `epoch` let go. */
  release(epoch: number): void {
    const holders = this.#holders.get(epoch)
    assert(holders !== undefined && holders > 0, 'releasing an epoch nobody holds')
    if (holders > 1) {
      this.#holders.set(epoch, holders - 1)
      return
    }
    this.#holders.delete(epoch)
    this.#reshape(epoch, false)
  }

  #attribute(birth: number, killedAt: number, bytes: number): void {
    const live = this.live
    const first = lowerBound(live, birth)
    if (first === live.length || live[first]! >= killedAt) {
      this.#dead += bytes
      return
    }
    if (first + 1 < live.length && live[first + 1]! < killedAt) return
    const epoch = live[first]!
    this.#exclusive.set(epoch, this.#exclusive.get(epoch)! + bytes)
  }

  /** `epoch` joins (`joining`) or leaves the live set: re-attribute the cells that can change. */
  #reshape(epoch: number, joining: boolean): void {
    const live = this.live
    const at = lowerBound(live, epoch)
    assert(joining === (live[at] !== epoch), 'live set out of step')
    const after = at >= 2 ? live[at - 2]! : -1
    this.#eachCellBorn(after, epoch, (birth, killedAt, bytes) =>
      this.#attribute(birth, killedAt, -bytes),
    )
    if (joining) {
      live.splice(at, 0, epoch)
      this.#exclusive.set(epoch, 0)
    } else {
      live.splice(at, 1)
      assert(this.#exclusive.get(epoch) === 0, 'a leaving epoch kept exclusive bytes')
      this.#exclusive.delete(epoch)
    }
    this.#eachCellBorn(after, epoch, (birth, killedAt, bytes) =>
      this.#attribute(birth, killedAt, bytes),
    )
  }

  /** Calls `visit` for each cell born in (after, upTo]: by epoch or by cell, whichever is less. */
  #eachCellBorn(
    after: number,
    upTo: number,
    visit: (birth: number, killedAt: number, bytes: number) => void,
  ): void {
    const cells = this.cells
    if (upTo - after <= cells.size) {
      for (let birth = after + 1; birth <= upTo; birth += 1) {
        const kills = cells.get(birth)
        if (kills !== undefined)
          for (const [killedAt, bytes] of kills) visit(birth, killedAt, bytes)
      }
      return
    }
    for (const [birth, kills] of cells) {
      if (birth <= after || birth > upTo) continue
      for (const [killedAt, bytes] of kills) visit(birth, killedAt, bytes)
    }
  }
}

export interface ScannedFigures {
  /** Live epoch → bytes only it sees. */
  readonly exclusive: Map<number, number>
  /** Live epoch → bytes it sees. */
  readonly referenced: Map<number, number>
  readonly dead: number
  readonly held: number
}

/**
 * The figures of `EpochSpace` recomputed from the cells in one pass (the recount's reference):
 * a cell is seen by the live epochs in [birth, killedAt), found by binary search; referenced
 * bytes are a prefix sum of +bytes at birth and −bytes at kill. O(cells × log live).
 */
export function scanFigures(cells: Cells, live: readonly number[]): ScannedFigures {
  const exclusive = new Map<number, number>(live.map((epoch) => [epoch, 0]))
  const referenced = new Map<number, number>()
  const deltas = new Map<number, number>()
  let dead = 0
  let held = 0
  for (const [birth, kills] of cells)
    for (const [killedAt, bytes] of kills) {
      held += bytes
      deltas.set(birth, (deltas.get(birth) ?? 0) + bytes)
      deltas.set(killedAt, (deltas.get(killedAt) ?? 0) - bytes)
      const first = lowerBound(live, birth)
      if (first === live.length || live[first]! >= killedAt) dead += bytes
      else if (!(live[first + 1]! < killedAt))
        exclusive.set(live[first]!, exclusive.get(live[first]!)! + bytes)
    }
  let running = 0
  let next = 0
  for (const at of [...deltas.keys()].sort((a, b) => a - b)) {
    while (next < live.length && live[next]! < at) referenced.set(live[next++]!, running)
    running += deltas.get(at)!
  }
  while (next < live.length) referenced.set(live[next++]!, running)
  return { exclusive, referenced, dead, held }
}
