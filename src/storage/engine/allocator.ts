/**
 * Chunk allocation in the data file (docs/engine.md §3). Chunks below the high-water mark are
 * in use, free, or pending; the high-water mark grows only when nothing is free. Two dm-thin
 * rules keep freed space safe:
 * - A chunk freed by a change is reusable only after the commit that made the change durable,
 *   so a crash can never find a durable mapping to a chunk that was already reused; and only
 *   after every I/O that started before the free has finished (a read in flight must not see
 *   someone else's new data). The pool tags each free with a ticket and releases by ticket.
 * - Free chunks are returned to the filesystem by punching holes, in runs, in the background;
 *   a chunk being punched is not allocatable. A freed chunk is punched only after it stayed free
 *   for a while, and allocation prefers chunks still backed by the filesystem: a write into a
 *   hole costs the filesystem an allocation (measured 2-3x slower than an overwrite here), and
 *   each punch is a process, so space that is reused soon is not given back at all.
 * The free state is not persisted: recovery rebuilds it from the versions that reference chunks.
 */
import { assert } from '../../base/assert.ts'
import { SanError } from '../../base/errors.ts'
import { punchRunChunksMax } from './constants.ts'

export class ChunkAllocator {
  #highWater: number
  readonly #free = new Set<number>()
  /**
   * Freed chunks and the ticket after which each may be reused, in freeing order — tickets never
   * decrease, so releasing takes from the front (`#pendingHead`) and costs what it releases.
   */
  #pendingChunks: number[] = []
  #pendingTickets: number[] = []
  #pendingHead = 0
  /** Free chunks whose space the filesystem still holds, with when they became free. */
  readonly #unpunched = new Map<number, number>()
  #punching = 0

  constructor(
    public capacityChunks: number,
    used: Iterable<number>,
    highWater: number,
    private readonly nowMs: () => number = () => 0,
  ) {
    const inUse = new Set(used)
    let top = highWater
    for (const chunk of inUse) top = Math.max(top, chunk + 1)
    this.#highWater = top
    for (let chunk = 0; chunk < top; chunk += 1) {
      if (inUse.has(chunk)) continue
      this.#free.add(chunk)
      this.#unpunched.set(chunk, Number.NEGATIVE_INFINITY)
    }
  }

  get highWater(): number {
    return this.#highWater
  }

  /** Chunks holding data or waiting to be reusable. */
  get usedChunks(): number {
    return this.#highWater - this.#free.size - this.#punching
  }

  get pendingChunks(): number {
    return this.#pendingChunks.length - this.#pendingHead
  }

  /** Takes a chunk, or fails with NO_SPACE without changing anything. */
  allocate(): number {
    const warm = this.#unpunched.keys().next()
    const first = warm.done ? this.#free.values().next() : warm
    if (!first.done) {
      this.#free.delete(first.value)
      this.#unpunched.delete(first.value)
      return first.value
    }
    if (this.#highWater + this.pendingChunks + this.#punching >= this.capacityChunks)
      throw new SanError('NO_SPACE', 'the pool is full')
    const chunk = this.#highWater
    this.#highWater += 1
    return chunk
  }

  /** Gives back a chunk that was allocated but never published (a failed write). */
  unallocate(chunk: number): void {
    this.#free.add(chunk)
    this.#unpunched.set(chunk, this.nowMs())
  }

  free(chunk: number, ticket: number): void {
    assert(chunk >= 0 && chunk < this.#highWater, 'freeing a chunk that was never allocated')
    const tickets = this.#pendingTickets
    assert(tickets.length === 0 || tickets[tickets.length - 1]! <= ticket, 'tickets go back')
    this.#pendingChunks.push(chunk)
    tickets.push(ticket)
  }

  /** Makes chunks freed with a ticket <= `ticket` allocatable. */
  release(ticket: number): number {
    const chunks = this.#pendingChunks
    const tickets = this.#pendingTickets
    const start = this.#pendingHead
    let head = start
    if (head === tickets.length || tickets[head]! > ticket) return 0
    const nowMs = this.nowMs()
    while (head < tickets.length && tickets[head]! <= ticket) {
      this.#free.add(chunks[head]!)
      this.#unpunched.set(chunks[head]!, nowMs)
      head += 1
    }
    this.#pendingHead = head
    // Drop the released front once it is most of the arrays (frees may never stop entirely).
    if (head * 2 >= tickets.length) {
      this.#pendingChunks = chunks.slice(head)
      this.#pendingTickets = tickets.slice(head)
      this.#pendingHead = 0
    }
    return head - start
  }

  /**
   * A run of contiguous free, unpunched chunks, withheld from allocation until returned; it
   * starts at the chunk free the longest, if that one has been free for `minAgeMs`.
   */
  takePunchRun(minAgeMs: number): { start: number; count: number } | null {
    const first = this.#unpunched.entries().next()
    if (first.done || this.nowMs() - first.value[1] < minAgeMs) return null
    const start = first.value[0]
    let count = 0
    while (count < punchRunChunksMax && this.#unpunched.has(start + count)) {
      this.#unpunched.delete(start + count)
      this.#free.delete(start + count)
      count += 1
    }
    this.#punching += count
    return { start, count }
  }

  returnPunchRun(run: { start: number; count: number }): void {
    for (let chunk = run.start; chunk < run.start + run.count; chunk += 1) this.#free.add(chunk)
    this.#punching -= run.count
  }

  isFree(chunk: number): boolean {
    return this.#free.has(chunk)
  }
}
