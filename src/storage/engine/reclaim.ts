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
 * What the queued jobs will free ("freeing") is the dead bytes of their lineages, kept up to date
 * by epoch_space.ts without a scan.
 */
import type { Clock } from '../../base/clock.ts'
import { reclaimBatch, reclaimBusyBudgetMs, reclaimIdleBudgetMs } from './constants.ts'
import type { Lineage } from './lineage.ts'
import type { MapEdits } from './map_edits.ts'

interface Job {
  readonly lineage: number
  readonly from: number
  readonly to: number
  /** Epochs of (from, to] that still have to be visited, ascending. */
  epochs: number[] | null
  /**
   * The epoch being visited and an iterator over its changed set. Freeing deletes from that set
   * as it goes, which a Set iterator tolerates, so nothing is copied however big the epoch.
   */
  epoch: number
  chunks: Iterator<number> | null
  readonly done: () => void
}

export class Reclaimer {
  readonly #jobs: Job[] = []
  /** The budget on busy ticks (`budgetMs`), and the backlog it last saw. */
  #busyBudgetMs = reclaimBusyBudgetMs
  #freeingSeen = 0

  constructor(
    private readonly lineages: ReadonlyMap<number, Lineage>,
    private readonly edits: MapEdits,
    private readonly clock: Clock,
  ) {}

  get busy(): boolean {
    return this.#jobs.length > 0
  }

  /** Bytes the queued jobs will free: the dead bytes of their lineages (epoch_space.ts). */
  freeingBytes(): number {
    let freeingBytes = 0
    for (const id of new Set(this.#jobs.map((job) => job.lineage))) {
      const lineage = this.lineages.get(id)
      if (lineage !== undefined) freeingBytes += lineage.figures.deadBytes
    }
    return freeingBytes
  }

  /**
   * How long this tick may reclaim. While hosts do I/O, a short slice (a command arriving during
   * it waits) — but the budget doubles at each busy tick where what waits to be freed grew, and
   * halves back when it did not, so garbage made faster than short slices free it (a write load
   * under frequent snapshots: measured 6k new versions/s against ~1k freed) cannot fill the
   * pool; past half of `freeBytes`, space comes first outright.
   */
  budgetMs(busy: boolean, freeBytes: number): number {
    const freeingBytes = this.freeingBytes()
    const grew = freeingBytes > this.#freeingSeen
    this.#freeingSeen = freeingBytes
    if (!busy) return reclaimIdleBudgetMs
    if (freeingBytes * 2 > freeBytes) return reclaimIdleBudgetMs
    const budget = grew ? this.#busyBudgetMs * 2 : this.#busyBudgetMs / 2
    this.#busyBudgetMs = Math.min(reclaimIdleBudgetMs, Math.max(reclaimBusyBudgetMs, budget))
    return this.#busyBudgetMs
  }

  /** Queues the versions of `lineage` born in (from, to]; `done` runs when they are checked. */
  schedule(lineage: number, from: number, to: number, done: () => void = () => {}): void {
    this.#jobs.push({ lineage, from, to, epochs: null, epoch: 0, chunks: null, done })
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
      const next = job.chunks?.next()
      if (next === undefined || next.done === true) {
        const epoch = job.epochs.shift()
        if (epoch === undefined) return { freed, finished: true }
        job.chunks = lineage.births.get(epoch)?.values() ?? null
        job.epoch = epoch
        continue
      }
      const chunk = next.value
      examined += 1
      const list = lineage.chunks.get(chunk)
      if (list === undefined) continue
      const version = list[lineage.newestAtOrBefore(list, job.epoch)]
      if (version === undefined || version.birth !== job.epoch || lineage.alive(version)) continue
      this.edits.free(lineage, chunk, version)
      freed += 1
    }
    return { freed, finished: false }
  }
}
