/**
 * The LBA range lock of one logical unit: what makes COMPARE AND WRITE (SBC-3 §5.2), ORWRITE
 * (SBC-3 §5.9) and WRITE ATOMIC (SBC-4 §5.48) atomic with respect to every other command that
 * touches the same blocks (FreeBSD CTL's extent check in ctl_ser_table.c, LIO's caw_sem narrowed
 * to a range).
 *
 * Two kinds of hold:
 * - exclusive: the compound and atomic writes. One excludes every other hold on overlapping
 *   blocks, shared or exclusive.
 * - shared: ordinary writes, WRITE SAME, UNMAP and the reads that wait on a device. Shared holds
 *   never exclude one another.
 *
 * Ordinary I/O must pay ~nothing while no exclusive hold exists, so it is not tracked by range
 * then: it only bumps a counter (`#untracked`). The first exclusive request waits until those
 * untracked holds have drained; from then on, while any exclusive hold is granted or queued,
 * every new shared hold is tracked by range and checked. Waiting requests are granted in arrival
 * order, and a request never overtakes an earlier conflicting one, so a stream of writes cannot
 * starve a COMPARE AND WRITE and two initiators hammering one lock block (the ESXi ATS pattern)
 * alternate fairly.
 */
import { assert } from '../../base/assert.ts'

export interface RangeHold {
  readonly lba: number
  /** One past the last block. */
  readonly end: number
  readonly exclusive: boolean
}

interface Waiter extends RangeHold {
  readonly grant: (hold: RangeHold) => void
}

/** The hold given to untracked shared I/O (no range: nothing exclusive existed when it began). */
const untrackedHold: RangeHold = Object.freeze({ lba: 0, end: 0, exclusive: false })

export class RangeLock {
  /** Shared holds begun while no exclusive hold existed (see the file header). */
  #untracked = 0
  /** Exclusive holds granted or waiting; while 0, shared holds are untracked. */
  #exclusives = 0
  readonly #granted = new Set<RangeHold>()
  readonly #waiting: Waiter[] = []
  /** Exclusive requests waiting for the untracked holds to drain. */
  #draining: (() => void)[] = []

  /** True while no exclusive hold is granted or waiting: ordinary I/O is not tracked. */
  get idle(): boolean {
    return this.#exclusives === 0
  }

  /** Holds in force (untracked and tracked), for tests and metrics. */
  get holds(): number {
    return this.#untracked + this.#granted.size
  }

  /** Requests not yet granted, for tests and metrics. */
  get waiting(): number {
    return this.#waiting.length + this.#draining.length
  }

  /**
   * A shared hold on [lba, lba + blocks): at once (no promise) when nothing conflicts, which is
   * always the case while no exclusive hold exists.
   */
  shared(lba: number, blocks: number): RangeHold | Promise<RangeHold> {
    if (this.#exclusives === 0) {
      this.#untracked += 1
      return untrackedHold
    }
    return this.#request(lba, blocks, false)
  }

  /** An exclusive hold on [lba, lba + blocks), granted in arrival order. */
  exclusive(lba: number, blocks: number): Promise<RangeHold> {
    assert(blocks > 0, 'an exclusive hold covers at least one block')
    this.#exclusives += 1
    if (this.#untracked === 0) return Promise.resolve(this.#request(lba, blocks, true))
    // Untracked I/O may overlap: wait for all of it (it only shrinks from now on).
    return new Promise<void>((resolve) => this.#draining.push(resolve)).then(() =>
      this.#request(lba, blocks, true),
    )
  }

  release(hold: RangeHold): void {
    if (hold === untrackedHold) {
      assert(this.#untracked > 0, 'untracked hold released twice')
      this.#untracked -= 1
      if (this.#untracked === 0 && this.#draining.length > 0) {
        const draining = this.#draining
        this.#draining = []
        for (const resolve of draining) resolve()
      }
      return
    }
    assert(this.#granted.delete(hold), 'releasing a hold that is not granted')
    if (hold.exclusive) this.#exclusives -= 1
    assert(this.#exclusives >= 0)
    this.#grantWaiting()
  }

  /** Runs `work` under a shared hold; the hold ends when its promise settles. */
  withShared<T>(lba: number, blocks: number, work: () => Promise<T>): Promise<T> {
    const hold = this.shared(lba, blocks)
    if (!(hold instanceof Promise)) return settleThenRelease(this, hold, work)
    return hold.then((granted) => settleThenRelease(this, granted, work))
  }

  /** Runs `work` under an exclusive hold; the hold ends when its promise settles. */
  async withExclusive<T>(lba: number, blocks: number, work: () => Promise<T>): Promise<T> {
    const hold = await this.exclusive(lba, blocks)
    return settleThenRelease(this, hold, work)
  }

  #request(lba: number, blocks: number, exclusive: boolean): RangeHold | Promise<RangeHold> {
    const request = { lba, end: lba + blocks, exclusive }
    const queued = this.#waiting.some((waiter) => conflicts(waiter, request))
    if (!queued && !this.#conflictsGranted(request)) {
      this.#granted.add(request)
      return request
    }
    return new Promise((grant) => this.#waiting.push({ ...request, grant }))
  }

  /** Grants, in order, every waiter that conflicts with no hold and no earlier waiter. */
  #grantWaiting(): void {
    for (let index = 0; index < this.#waiting.length; ) {
      const waiter = this.#waiting[index]!
      const blocked =
        this.#conflictsGranted(waiter) ||
        this.#waiting.slice(0, index).some((earlier) => conflicts(earlier, waiter))
      if (blocked) {
        index += 1
        continue
      }
      this.#waiting.splice(index, 1)
      const hold: RangeHold = { lba: waiter.lba, end: waiter.end, exclusive: waiter.exclusive }
      this.#granted.add(hold)
      waiter.grant(hold)
    }
  }

  #conflictsGranted(request: RangeHold): boolean {
    for (const hold of this.#granted) if (conflicts(hold, request)) return true
    return false
  }
}

function conflicts(left: RangeHold, right: RangeHold): boolean {
  if (!left.exclusive && !right.exclusive) return false
  return left.lba < right.end && right.lba < left.end
}

function settleThenRelease<T>(
  lock: RangeLock,
  hold: RangeHold,
  work: () => Promise<T>,
): Promise<T> {
  let running: Promise<T>
  try {
    running = work()
  } catch (error) {
    lock.release(hold)
    throw error
  }
  return running.then(
    (value) => {
      lock.release(hold)
      return value
    },
    (error: unknown) => {
      lock.release(hold)
      throw error
    },
  )
}
