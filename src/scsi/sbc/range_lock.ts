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
 *
 * A request is made on behalf of a command (`Requester`: explicit, or `requester`, the command
 * whose handler dispatch is running now). If that command is aborted while its request still
 * waits (SAM-5 §5.6: ABORT TASK, ABORT TASK SET, CLEAR TASK SET, a reset, PREEMPT AND ABORT), the
 * request leaves the queue as if never made and its promise rejects with `RequestAbandoned` (so
 * does any request of a command already aborted): the work it guarded never runs, so an aborted
 * task never changes the medium after the function's response (RFC 7143 §4.2.3), and the
 * requests behind it move up. A request already granted is not taken back: its work runs whole.
 */
import { assert } from '../../base/assert.ts'

/** What a request is made on behalf of: a command task management may abort (command.ts). */
export interface Requester {
  readonly aborted: boolean
  /** Calls `listener` once, when the command is aborted (at once, if it already was). */
  onAbort(listener: () => void): void
}

/** The rejection of a request whose command was aborted while it waited. */
export class RequestAbandoned extends Error {
  override name = 'RequestAbandoned'
}

export interface RangeHold {
  readonly lba: number
  /** One past the last block. */
  readonly end: number
  readonly exclusive: boolean
}

interface Waiter extends RangeHold {
  readonly grant: (hold: RangeHold) => void
  readonly abandon: (reason: RequestAbandoned) => void
}

/** An exclusive request waiting for the untracked holds to drain. */
interface Drainer {
  readonly proceed: () => void
  readonly abandon: (reason: RequestAbandoned) => void
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
  #draining: Drainer[] = []
  /**
   * The command on whose behalf requests are made when none is named: dispatch sets it while a
   * handler runs synchronously, so the requests a handler makes before it first waits are its own.
   */
  requester: Requester | null = null

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
  shared(lba: number, blocks: number, requester = this.requester): RangeHold | Promise<RangeHold> {
    if (requester?.aborted === true) return abandoned()
    if (this.#exclusives === 0) {
      this.#untracked += 1
      return untrackedHold
    }
    return this.#request(lba, blocks, false, requester)
  }

  /** An exclusive hold on [lba, lba + blocks), granted in arrival order. */
  exclusive(lba: number, blocks: number, requester = this.requester): Promise<RangeHold> {
    assert(blocks > 0, 'an exclusive hold covers at least one block')
    if (requester?.aborted === true) return abandoned()
    this.#exclusives += 1
    if (this.#untracked === 0) return Promise.resolve(this.#request(lba, blocks, true, requester))
    // Untracked I/O may overlap: wait for all of it (it only shrinks from now on).
    return new Promise<void>((proceed, abandon) => {
      const drainer: Drainer = { proceed, abandon }
      this.#draining.push(drainer)
      requester?.onAbort(() => {
        const index = this.#draining.indexOf(drainer)
        if (index < 0) return
        this.#draining.splice(index, 1)
        this.#exclusives -= 1
        abandon(abandonment())
      })
    }).then(() => this.#request(lba, blocks, true, requester))
  }

  release(hold: RangeHold): void {
    if (hold === untrackedHold) {
      assert(this.#untracked > 0, 'untracked hold released twice')
      this.#untracked -= 1
      if (this.#untracked === 0 && this.#draining.length > 0) {
        const draining = this.#draining
        this.#draining = []
        for (const drainer of draining) drainer.proceed()
      }
      return
    }
    assert(this.#granted.delete(hold), 'releasing a hold that is not granted')
    if (hold.exclusive) this.#exclusives -= 1
    assert(this.#exclusives >= 0)
    this.#grantWaiting()
  }

  /** Runs `work` under a shared hold; the hold ends when its promise settles. */
  withShared<T>(
    lba: number,
    blocks: number,
    work: () => Promise<T>,
    requester = this.requester,
  ): Promise<T> {
    const hold = this.shared(lba, blocks, requester)
    if (!(hold instanceof Promise)) return settleThenRelease(this, hold, work)
    return hold.then((granted) => settleThenRelease(this, granted, work))
  }

  /** Runs `work` under an exclusive hold; the hold ends when its promise settles. */
  async withExclusive<T>(
    lba: number,
    blocks: number,
    work: () => Promise<T>,
    requester = this.requester,
  ): Promise<T> {
    const hold = await this.exclusive(lba, blocks, requester)
    return settleThenRelease(this, hold, work)
  }

  #request(
    lba: number,
    blocks: number,
    exclusive: boolean,
    requester: Requester | null,
  ): RangeHold | Promise<RangeHold> {
    const request = { lba, end: lba + blocks, exclusive }
    const queued = this.#waiting.some((waiter) => conflicts(waiter, request))
    if (!queued && !this.#conflictsGranted(request)) {
      this.#granted.add(request)
      return request
    }
    return new Promise((grant, abandon) => {
      const waiter: Waiter = { ...request, grant, abandon }
      this.#waiting.push(waiter)
      requester?.onAbort(() => this.#abandon(waiter))
    })
  }

  /** A waiter's command was aborted: it leaves the queue, and those it held back may go. */
  #abandon(waiter: Waiter): void {
    const index = this.#waiting.indexOf(waiter)
    if (index < 0) return // granted already: the command runs on and releases as usual
    this.#waiting.splice(index, 1)
    if (waiter.exclusive) this.#exclusives -= 1
    assert(this.#exclusives >= 0)
    waiter.abandon(abandonment())
    this.#grantWaiting()
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

function abandonment(): RequestAbandoned {
  return new RequestAbandoned('the command was aborted while it waited for the range lock')
}

function abandoned(): Promise<never> {
  return Promise.reject(abandonment())
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
