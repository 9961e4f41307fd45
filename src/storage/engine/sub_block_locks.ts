/**
 * Sub-block write exclusion. Two writes that touch the same 4 KiB sub-block of a chunk run one
 * after the other, so that (1) a read-modify-write of a partial sub-block never loses a
 * neighbouring 512-byte write, and (2) a sub-block's checksum always describes the data that
 * landed last. Writes to different sub-blocks (the common case, including sequential 4 KiB
 * writes inside one chunk) run concurrently. Waiters are served in arrival order.
 */

interface Waiter {
  readonly mask: number
  readonly grant: () => void
}

interface Entry {
  busy: number
  waiters: Waiter[]
}

export class SubBlockLocks {
  readonly #entries = new Map<number, Entry>()

  /** Takes `mask` of `key`; returns null when granted at once, else a promise of the grant. */
  acquire(key: number, mask: number): Promise<void> | null {
    if (this.tryAcquire(key, mask)) return null
    const waiting = this.#entries.get(key)!
    return new Promise<void>((resolve) => waiting.waiters.push({ mask, grant: resolve }))
  }

  /** Takes `mask` of `key` only if that is possible at once; never queues. */
  tryAcquire(key: number, mask: number): boolean {
    const entry = this.#entries.get(key)
    if (entry === undefined) {
      this.#entries.set(key, { busy: mask, waiters: [] })
      return true
    }
    if (!grantable(entry, mask)) return false
    entry.busy |= mask
    return true
  }

  /** Whether `mask` of `key` could be taken at once (for work that finishes before any other). */
  isFree(key: number, mask: number): boolean {
    const entry = this.#entries.get(key)
    return entry === undefined || grantable(entry, mask)
  }

  release(key: number, mask: number): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    entry.busy &= ~mask
    let blocked = 0
    const still: Waiter[] = []
    for (const waiter of entry.waiters) {
      if (((entry.busy | blocked) & waiter.mask) === 0) {
        entry.busy |= waiter.mask
        waiter.grant()
      } else {
        blocked |= waiter.mask
        still.push(waiter)
      }
    }
    entry.waiters = still
    if (entry.busy === 0 && still.length === 0) this.#entries.delete(key)
  }
}

/** Neither held nor wanted by a waiter ahead (waiters are served in arrival order). */
function grantable(entry: Entry, mask: number): boolean {
  return (entry.busy & mask) === 0 && !entry.waiters.some((w) => (w.mask & mask) !== 0)
}
