/**
 * Sub-block write exclusion. Two writes that touch the same 4 KiB sub-block of a chunk run one
 * after the other, so that (1) a read-modify-write of a partial sub-block never loses a
 * neighbouring 512-byte write, and (2) a sub-block's checksum always describes the data that
 * landed last. Writes to different sub-blocks (the common case, including sequential 4 KiB
 * writes inside one chunk) run concurrently. Waiters are served in arrival order.
 */

import { IntTable } from '../../base/int_table.ts'

interface Waiter {
  readonly mask: number
  readonly grant: () => void
}

/** IntTable columns: the sub-blocks held, and those wanted by waiters (the OR of their masks). */
const busy = 0
const wanted = 1

export class SubBlockLocks {
  /** Keys with sub-blocks held or wanted; a typed-array table, so locking allocates nothing. */
  readonly #masks = new IntTable(2)
  /** The waiters of contended keys only, in arrival order. */
  readonly #waiters = new Map<number, Waiter[]>()

  /** Takes `mask` of `key`; returns null when granted at once, else a promise of the grant. */
  acquire(key: number, mask: number): Promise<void> | null {
    if (this.tryAcquire(key, mask)) return null
    const slot = this.#masks.find(key)
    this.#masks.setValue(slot, wanted, this.#masks.value(slot, wanted) | mask)
    let waiting = this.#waiters.get(key)
    if (waiting === undefined) {
      waiting = []
      this.#waiters.set(key, waiting)
    }
    const queue = waiting
    return new Promise<void>((resolve) => queue.push({ mask, grant: resolve }))
  }

  /** Takes `mask` of `key` only if that is possible at once; never queues. */
  tryAcquire(key: number, mask: number): boolean {
    const slot = this.#masks.upsert(key)
    if (!grantable(this.#masks, slot, mask)) return false
    this.#masks.setValue(slot, busy, this.#masks.value(slot, busy) | mask)
    return true
  }

  /** Whether `mask` of `key` could be taken at once (for work that finishes before any other). */
  isFree(key: number, mask: number): boolean {
    const slot = this.#masks.find(key)
    return slot < 0 || grantable(this.#masks, slot, mask)
  }

  release(key: number, mask: number): void {
    const slot = this.#masks.find(key)
    if (slot < 0) return
    let held = this.#masks.value(slot, busy) & ~mask
    const waiting = this.#waiters.get(key)
    let blocked = 0
    if (waiting !== undefined) {
      const still: Waiter[] = []
      for (const waiter of waiting) {
        if (((held | blocked) & waiter.mask) === 0) {
          held |= waiter.mask
          waiter.grant()
        } else {
          blocked |= waiter.mask
          still.push(waiter)
        }
      }
      if (still.length === 0) this.#waiters.delete(key)
      else this.#waiters.set(key, still)
    }
    if (held === 0 && blocked === 0) {
      this.#masks.delete(key)
      return
    }
    this.#masks.setValue(slot, busy, held)
    this.#masks.setValue(slot, wanted, blocked)
  }
}

/** Neither held nor wanted by a waiter ahead (waiters are served in arrival order). */
function grantable(masks: IntTable, slot: number, mask: number): boolean {
  return ((masks.value(slot, busy) | masks.value(slot, wanted)) & mask) === 0
}
