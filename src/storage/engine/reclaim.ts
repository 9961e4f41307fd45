/**
 * Background reclamation (docs/engine.md §6): after a snapshot is deleted, a view unexposed, a
 * volume deleted or rolled back, the versions that no live epoch sees any more are freed by a job
 * that runs in small time slices from the pool's tick, so foreground I/O barely notices.
 *
 * A job covers the versions of one lineage born in (from, to]: when a live epoch X disappears,
 * only versions born after the previous live epoch P and at or before X can have lost their
 * last reader (visibility is an interval [birth, killedAt)), so the work is proportional to
 * what was written in that interval, never to the volume (ZFS's dead-list rule). Freeing is
 * idempotent, so a job interrupted by a crash is simply rerun at open (resumable).
 *
 * Space counters: `deadBytes` is what the queued jobs will free ("freeing"), `exclusiveBytes` what
 * deleting one snapshot would free, both from the lineage's birth×kill counters without a scan.
 */
import type { Clock } from '../../base/clock.ts'
import { neverKilled, reclaimBatch } from './constants.ts'
import type { DataPath } from './data_path.ts'
import type { Lineage } from './lineage.ts'

interface Job {
  readonly lineage: number
  readonly from: number
  readonly to: number
  /** Epochs of (from, to] that still have to be visited, ascending. */
  epochs: number[] | null
  /** The epoch being visited and its chunks (a copy: freeing edits the live set). */
  epoch: number
  chunks: number[]
  next: number
  readonly done: () => void
}

/** True when some epoch of `live` (ascending) lies in [birth, killedAt). */
function seen(live: readonly number[], birth: number, killedAt: number): boolean {
  for (const epoch of live) {
    if (epoch >= killedAt) return false
    if (epoch >= birth) return true
  }
  return false
}

/** Bytes held by versions of `lineage` that no live epoch sees (what reclamation will free). */
export function deadBytes(lineage: Lineage): number {
  const live = lineage.liveEpochs()
  let total = 0
  for (const [birth, kills] of lineage.space)
    for (const [kill, bytes] of kills) if (!seen(live, birth, kill)) total += bytes
  return total
}

/** Bytes seen by epoch `epoch` and by no other live epoch of `lineage`. */
export function exclusiveBytes(lineage: Lineage, epoch: number): number {
  const others = lineage.liveEpochs().filter((live) => live !== epoch)
  let total = 0
  for (const [birth, kills] of lineage.space) {
    if (birth > epoch) continue
    for (const [kill, bytes] of kills)
      if (kill > epoch && !seen(others, birth, kill)) total += bytes
  }
  return total
}

export interface EpochSpace {
  /** Bytes only this live epoch sees (what deleting its snapshot would free). */
  exclusive: number
  /** Bytes of the lineage's own versions this epoch sees. */
  referenced: number
}

/**
 * Exclusive and referenced bytes of every live epoch of `lineage` in one pass over its counters:
 * a cell (birth, kill) is seen by the live epochs in [birth, kill) — found by binary search — and
 * is exclusive when exactly one is there. Referenced bytes are a prefix sum of +bytes at birth,
 * −bytes at kill. O(cells × log epochs), whatever the number of snapshots listed.
 */
export function epochSpace(lineage: Lineage): Map<number, EpochSpace> {
  const live = lineage.liveEpochs()
  const result = new Map<number, EpochSpace>()
  for (const epoch of live) result.set(epoch, { exclusive: 0, referenced: 0 })
  const deltas = new Map<number, number>()
  const firstAtOrAfter = (value: number) => {
    let low = 0
    let high = live.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (live[middle]! < value) low = middle + 1
      else high = middle
    }
    return low
  }
  for (const [birth, kills] of lineage.space)
    for (const [kill, bytes] of kills) {
      deltas.set(birth, (deltas.get(birth) ?? 0) + bytes)
      deltas.set(kill, (deltas.get(kill) ?? 0) - bytes)
      const first = firstAtOrAfter(birth)
      if (first < live.length && live[first]! < kill && !(live[first + 1]! < kill))
        result.get(live[first]!)!.exclusive += bytes
    }
  let running = 0
  let next = 0
  for (const at of [...deltas.keys()].sort((a, b) => a - b)) {
    while (next < live.length && live[next]! < at) result.get(live[next++]!)!.referenced = running
    running += deltas.get(at)!
  }
  while (next < live.length) result.get(live[next++]!)!.referenced = running
  return result
}

/** Bytes of the lineage's own versions visible at `epoch`. */
export function referencedBytes(lineage: Lineage, epoch: number): number {
  return lineage.spaceIn(-1, epoch, epoch, neverKilled)
}

export class Reclaimer {
  readonly #jobs: Job[] = []

  constructor(
    private readonly lineages: ReadonlyMap<number, Lineage>,
    private readonly dataPath: DataPath,
    private readonly clock: Clock,
  ) {}

  get busy(): boolean {
    return this.#jobs.length > 0
  }

  /** Lineages with queued work. */
  lineageIds(): Set<number> {
    return new Set(this.#jobs.map((job) => job.lineage))
  }

  /** Queues the versions of `lineage` born in (from, to]; `done` runs when they are checked. */
  schedule(lineage: number, from: number, to: number, done: () => void = () => {}): void {
    this.#jobs.push({ lineage, from, to, epochs: null, epoch: 0, chunks: [], next: 0, done })
  }

  /** Works for at most `budgetMs`; returns the number of versions freed. */
  run(budgetMs: number): number {
    const start = this.clock.monotonicMs()
    let freed = 0
    while (this.#jobs.length > 0 && this.clock.monotonicMs() - start < budgetMs) {
      const job = this.#jobs[0]!
      const step = this.#step(job)
      freed += step.freed
      if (step.finished) {
        this.#jobs.shift()
        job.done()
      }
    }
    return freed
  }

  #step(job: Job): { freed: number; finished: boolean } {
    const lineage = this.lineages.get(job.lineage)
    if (lineage === undefined) return { freed: 0, finished: true }
    if (job.epochs === null)
      job.epochs = [...lineage.births.keys()]
        .filter((epoch) => epoch > job.from && epoch <= job.to)
        .sort((a, b) => a - b)
    let freed = 0
    let examined = 0
    while (examined < reclaimBatch) {
      if (job.next >= job.chunks.length) {
        const epoch = job.epochs.shift()
        if (epoch === undefined) return { freed, finished: true }
        job.chunks = [...(lineage.births.get(epoch) ?? [])]
        job.next = 0
        job.epoch = epoch
        continue
      }
      const chunk = job.chunks[job.next++]!
      const version = lineage.chunks.get(chunk)?.find((candidate) => candidate.birth === job.epoch)
      examined += 1
      if (version === undefined || lineage.alive(version)) continue
      this.dataPath.freeVersion(lineage, chunk, version)
      freed += 1
    }
    return { freed, finished: false }
  }
}
