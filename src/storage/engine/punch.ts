/**
 * Returning free slots to the filesystem by punching holes in the data file (docs/engine.md §3.1
 * "Allocation, and what the file holds"), one batch at a time, in the background.
 *
 * - A slot is punched once it stayed free for `punchDelayMs` (space reused soon is not given
 *   back at all), or at once when the pool is nearly full (`punchEagerFraction`, decided by the
 *   pool's tick).
 * - While hosts do I/O, punching yields to them: each fallocate(PUNCH_HOLE) holds the data
 *   file's inode lock against their writes, so a busy pool punches one run of at most
 *   `punchBusyRunChunksMax` slots, then pauses so that punching takes `punchBusyDuty` of the
 *   time (`paced`).
 * - A punched slot's tags are zeroed, in memory at once and on disk with the next commit (after
 *   the data sync that makes the punch durable): "no tag" is how recovery knows a sub-block is
 *   not held. A failed batch may have punched some runs: they stay counted as held.
 */
import type { Clock } from '../../base/clock.ts'
import type { Logger } from '../../base/log.ts'
import type { ChunkAllocator, PunchRun } from './allocator.ts'
import type { Committer } from './commit.ts'
import {
  chunkBytes,
  punchBatchRunsMax,
  punchBusyDuty,
  punchBusyRunChunksMax,
  punchDelayMs,
  punchRunChunksMax,
} from './constants.ts'
import type { PoolFile } from './media.ts'
import type { TagStore } from './tags.ts'

/** What `punch` returns when there is nothing to punch (on most ticks). */
const noPunch = Promise.resolve(false)

export class HolePuncher {
  /** The batch in flight (one at a time: a threadpool job of the addon, or a process). */
  #punching: Promise<boolean> | null = null
  /** While busy, no punch starts before this (`paced`). */
  #pausedUntilMs = Number.NEGATIVE_INFINITY

  constructor(
    private readonly data: PoolFile,
    private readonly allocator: ChunkAllocator,
    private readonly tags: TagStore,
    private readonly committer: Pick<Committer, 'markDataDirty'>,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /**
   * Punches one batch of runs of slots free for `minAgeMs`; resolves true when a batch ran
   * (punched or not), false when there was nothing to punch. A call while a batch is in flight
   * returns that batch.
   */
  punch(
    minAgeMs = punchDelayMs,
    batchMax = punchBatchRunsMax,
    chunksMax = punchRunChunksMax,
  ): Promise<boolean> {
    if (this.#punching !== null) return this.#punching
    // Freed slots are scattered after random overwrites (runs of one): many runs per batch.
    const runsMax = this.data.punchHoleRuns === undefined ? 1 : batchMax
    const first = this.allocator.takePunchRun(minAgeMs, chunksMax)
    if (first === null) return noPunch
    const runs: PunchRun[] = [first]
    while (runs.length < runsMax) {
      const run = this.allocator.takePunchRun(minAgeMs, chunksMax)
      if (run === null) break
      runs.push(run)
    }
    this.#punching = this.#punchRuns(runs)
    return this.#punching
  }

  /**
   * While hosts do I/O (called on each busy tick): one small punch when the pause after the
   * previous one is over, then a pause that keeps punching under punchBusyDuty of the time.
   */
  paced(nowMs: number): void {
    if (this.#punching !== null || nowMs < this.#pausedUntilMs) return
    const punched = this.punch(punchDelayMs, 1, punchBusyRunChunksMax)
    if (this.#punching === null) return // nothing to punch: no promise to follow (every tick)
    void punched.then(() => {
      const endMs = this.clock.monotonicMs()
      this.#pausedUntilMs = endMs + (endMs - nowMs) * (1 / punchBusyDuty - 1)
    })
  }

  async #punchRuns(runs: readonly PunchRun[]): Promise<boolean> {
    const ranges = runs.map((run) => ({
      position: run.start * chunkBytes,
      length: run.count * chunkBytes,
    }))
    let punched: boolean
    try {
      if (runs.length === 1) await this.data.punchHole(ranges[0]!.position, ranges[0]!.length)
      else await this.data.punchHoleRuns!(ranges)
      punched = this.data.punchHoles !== false
    } catch (error) {
      this.logger.warn('hole punching failed', { error: String(error) })
      punched = false
    }
    for (const run of runs) {
      if (punched) this.tags.clear(run.start, run.count)
      this.allocator.returnPunchRun(run, punched)
    }
    if (punched) this.committer.markDataDirty()
    this.#punching = null
    return true
  }
}
