/**
 * Slot allocation in the data file, and what the filesystem physically holds of it (docs/engine.md
 * §3 "Space accounting"). The data file is sparse and cut into slots of 64 KiB ("chunks", a
 * version's `phys`); each slot has a `backed` mask of the 4 KiB sub-blocks the filesystem holds:
 * those written since the slot was fresh (above the high-water mark) or last punched. A write
 * into a slot ORs its sub-blocks in; punching clears the mask. Space is counted in backed
 * sub-blocks, never in slots: a 4 KiB write into a fresh slot costs 4 KiB, as it does on disk.
 *
 * - `physical` = every backed sub-block below the high-water mark: what the filesystem holds for
 *   the data file. A write that would take it past the capacity fails with NO_SPACE before
 *   anything changes (`reserve`); the slot address space has a hard cap too (`slotsLimit`).
 * - `used` = physical minus the backed sub-blocks of free slots: the slots in use, pending
 *   (freed, not yet reusable) and being punched. Free slots are reusable at once, so what they
 *   hold is free space (and their old bytes make a reuse cheap); it goes back to the filesystem
 *   when they are punched.
 *
 * Two dm-thin rules keep freed space safe:
 * - A slot freed by a change is reusable only after the commit that made the change durable,
 *   so a crash can never find a durable mapping to a slot that was already reused; and only
 *   after every I/O that started before the free has finished (a read in flight must not see
 *   someone else's new data). The pool tags each free with a ticket and releases by ticket.
 * - Free slots are returned to the filesystem by punching holes, in runs, in the background;
 *   a slot being punched is not allocatable. A freed slot is punched only after it stayed free
 *   for a while, and allocation prefers slots still backed by the filesystem: a write into a
 *   hole costs the filesystem an allocation (measured 2-3x slower than an overwrite here), and
 *   each punch is a process, so space that is reused soon is not given back at all.
 * Neither the free state nor the masks are persisted: recovery rebuilds them from the versions
 * that reference slots and from the checksums (a sub-block with a checksum is backed, see
 * recovery.ts `backedMasks`).
 */
import { assert } from '../../base/assert.ts'
import { SanError } from '../../base/errors.ts'
import { punchRunChunksMax, slotsMax, subBlockBytes, subBlocksPerChunk } from './constants.ts'

/** Set bits of a 16-bit mask. */
export function popcount16(mask: number): number {
  let bits = mask - ((mask >>> 1) & 0x5555)
  bits = (bits & 0x3333) + ((bits >>> 2) & 0x3333)
  bits = (bits + (bits >>> 4)) & 0x0f0f
  return (bits + (bits >>> 8)) & 0x1f
}

/** A slot's free state (`#freeState`): in use, pending or being punched; or free. */
const notFree = 0
/** Free and queued to be punched (it may hold data): allocated first, oldest first. */
const queued = 1
/** Free and not queued: punched (holds nothing), or a punch failed on it. */
const unqueued = 2

export interface PunchRun {
  readonly start: number
  readonly count: number
}

export class ChunkAllocator {
  /** Bytes the data file may physically hold. */
  readonly capacityBytes: number
  /** Slots the data file may have (the address space; see constants.ts `slotsMax`). */
  readonly slotsLimit: number
  #highWater: number
  /** Per slot below the high-water mark: the sub-blocks the filesystem holds. */
  #backed: Uint16Array
  /** Σ backed sub-blocks below the high-water mark. */
  #physical = 0
  /** Σ backed sub-blocks of free slots. */
  #idle = 0
  /**
   * Per slot below the high-water mark: `notFree`, `queued` or `unqueued`. Free slots are found
   * through two lists whose entries may be stale (a slot taken by a punch run from the middle
   * of the queue, or freed again): an entry counts only while its slot's state matches. (Sets
   * and Maps taken from the front left deleted entries that every later take walked past: a
   * fifth of a first pass over freed slots went there.)
   */
  #freeState: Uint8Array
  /**
   * Freed slots and the ticket after which each may be reused, in freeing order — tickets never
   * decrease, so releasing takes from the front (`#pendingHead`) and costs what it releases.
   */
  #pendingChunks: number[] = []
  #pendingTickets: number[] = []
  #pendingHead = 0
  /**
   * Queued slots, in the order they were freed (`#queueHead` is the oldest), and when (per
   * entry, not per slot: a slot freed again has a second entry, and its first may get it
   * punched before `minAgeMs` — early, never unsafely, since it is free either way).
   */
  #queue: number[] = []
  #queueTimes: number[] = []
  #queueHead = 0
  /** Unqueued slots (a stack). */
  readonly #unqueuedSlots: number[] = []
  /** Runs being punched (neither free nor in use; what they hold counts as used until done). */
  readonly #punchRuns = new Set<PunchRun>()

  /**
   * `used`: the slots versions reference; `backed`: the recovered mask of every slot below
   * `highWater` (a slot in use gets at least what the caller passes).
   */
  constructor(
    capacityBytes: number,
    used: Iterable<number>,
    highWater: number,
    backed: (slot: number) => number,
    private readonly nowMs: () => number = () => 0,
  ) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'capacity')
    this.capacityBytes = capacityBytes
    this.slotsLimit = Math.min(slotsMax, Math.floor(capacityBytes / subBlockBytes))
    const inUse = new Set(used)
    let top = highWater
    for (const slot of inUse) top = Math.max(top, slot + 1)
    this.#highWater = top
    const length = Math.max(1024, top)
    this.#backed = new Uint16Array(length)
    this.#freeState = new Uint8Array(length)
    for (let slot = 0; slot < top; slot += 1) {
      const mask = backed(slot)
      assert(mask >= 0 && mask < 1 << subBlocksPerChunk, 'backed mask')
      this.#backed[slot] = mask
      this.#physical += popcount16(mask)
      if (inUse.has(slot)) continue
      this.#enqueue(slot, Number.NEGATIVE_INFINITY)
    }
  }

  get highWater(): number {
    return this.#highWater
  }

  /** Bytes of the slots in use, pending or being punched (what is not free). */
  get usedBytes(): number {
    return (this.#physical - this.#idle) * subBlockBytes
  }

  /** Bytes the filesystem holds for the data file, as far as the masks know. */
  get physicalBytes(): number {
    return this.#physical * subBlockBytes
  }

  /** Bytes free slots hold (reusable at once, given back to the filesystem when punched). */
  get idleBytes(): number {
    return this.#idle * subBlockBytes
  }

  get pendingChunks(): number {
    return this.#pendingChunks.length - this.#pendingHead
  }

  /** The sub-blocks the filesystem holds for `slot`. */
  backed(slot: number): number {
    return slot < this.#highWater ? this.#backed[slot]! : 0
  }

  /** Bytes the filesystem holds for `slot`: a version's share of the space (its own slot). */
  backedBytes(slot: number): number {
    return popcount16(this.backed(slot)) * subBlockBytes
  }

  /** Takes a slot (in use, with whatever it holds), or fails with NO_SPACE changing nothing. */
  allocate(): number {
    const queue = this.#queue
    while (this.#queueHead < queue.length) {
      const slot = queue[this.#queueHead]!
      this.#queueHead += 1
      if (this.#freeState[slot] === queued) return this.#take(slot)
    }
    this.#compactQueue()
    while (this.#unqueuedSlots.length > 0) {
      const slot = this.#unqueuedSlots.pop()!
      if (this.#freeState[slot] === unqueued) return this.#take(slot)
    }
    if (this.#highWater >= this.slotsLimit)
      throw new SanError('NO_SPACE', 'the pool has no slot left in its data file')
    const slot = this.#highWater
    if (slot >= this.#backed.length) this.#grow()
    this.#highWater += 1
    return slot
  }

  /**
   * Marks the sub-blocks of `mask` of a slot in use as backed (a write is about to land there)
   * and returns those that were not: a few integer operations. Fails with NO_SPACE, changing
   * nothing, when what the file holds would pass the capacity.
   */
  reserve(slot: number, mask: number): number {
    const backed = this.#backed[slot]!
    const added = mask & ~backed
    if (added === 0) return 0
    assert(slot < this.#highWater && !this.isFree(slot), 'reserving in a slot not in use')
    const count = popcount16(added)
    if ((this.#physical + count) * subBlockBytes > this.capacityBytes)
      throw new SanError('NO_SPACE', 'the pool is full')
    this.#backed[slot] = backed | added
    this.#physical += count
    return added
  }

  /** Undoes `reserve` for a write that was never issued (its `added` sub-blocks). */
  unreserve(slot: number, added: number): void {
    assert((this.#backed[slot]! & added) === added, 'unreserving sub-blocks not backed')
    assert(!this.isFree(slot), 'unreserving in a free slot')
    this.#backed[slot] = this.#backed[slot]! & ~added
    this.#physical -= popcount16(added)
  }

  /** Gives back a slot that was allocated but never published (a failed write). */
  unallocate(slot: number): void {
    this.#enqueue(slot, this.nowMs())
  }

  free(slot: number, ticket: number): void {
    assert(slot >= 0 && slot < this.#highWater, 'freeing a slot that was never allocated')
    const tickets = this.#pendingTickets
    assert(tickets.length === 0 || tickets[tickets.length - 1]! <= ticket, 'tickets go back')
    this.#pendingChunks.push(slot)
    tickets.push(ticket)
  }

  /** Makes slots freed with a ticket <= `ticket` allocatable. */
  release(ticket: number): number {
    const slots = this.#pendingChunks
    const tickets = this.#pendingTickets
    const start = this.#pendingHead
    let head = start
    if (head === tickets.length || tickets[head]! > ticket) return 0
    const nowMs = this.nowMs()
    while (head < tickets.length && tickets[head]! <= ticket) {
      this.#enqueue(slots[head]!, nowMs)
      head += 1
    }
    this.#pendingHead = head
    // Drop the released front once it is most of the arrays (frees may never stop entirely).
    if (head * 2 >= tickets.length) {
      this.#pendingChunks = slots.slice(head)
      this.#pendingTickets = tickets.slice(head)
      this.#pendingHead = 0
    }
    return head - start
  }

  /**
   * A run of at most `chunksMax` contiguous free, unpunched slots, withheld from allocation until
   * returned; it starts at the slot free the longest, if that one has been free for `minAgeMs`.
   */
  takePunchRun(minAgeMs: number, chunksMax = punchRunChunksMax): PunchRun | null {
    let queue = this.#queue
    while (this.#queueHead < queue.length && this.#freeState[queue[this.#queueHead]!] !== queued)
      this.#queueHead += 1
    this.#compactQueue()
    queue = this.#queue
    if (this.#queueHead === queue.length) return null
    const start = queue[this.#queueHead]!
    if (this.nowMs() - this.#queueTimes[this.#queueHead]! < minAgeMs) return null
    this.#queueHead += 1
    let count = 0
    while (
      count < chunksMax &&
      start + count < this.#highWater &&
      this.#freeState[start + count] === queued
    ) {
      this.#take(start + count)
      count += 1
    }
    const run: PunchRun = { start, count }
    this.#punchRuns.add(run)
    return run
  }

  /** Ends a punch: the run's slots are free again, and hold nothing if `punched`. */
  returnPunchRun(run: PunchRun, punched: boolean): void {
    assert(this.#punchRuns.delete(run), 'returning a run that was not taken')
    for (let slot = run.start; slot < run.start + run.count; slot += 1) {
      if (punched) {
        this.#physical -= popcount16(this.#backed[slot]!)
        this.#backed[slot] = 0
      }
      this.#freeState[slot] = unqueued
      this.#unqueuedSlots.push(slot)
      this.#idle += popcount16(this.#backed[slot]!)
    }
  }

  isFree(slot: number): boolean {
    return slot < this.#highWater && this.#freeState[slot] !== notFree
  }

  /** The slots freed and not yet reusable (for the recount). */
  *pendingSlots(): Iterable<number> {
    for (let index = this.#pendingHead; index < this.#pendingChunks.length; index += 1)
      yield this.#pendingChunks[index]!
  }

  /**
   * The running totals recomputed from the masks, and what the slots being punched hold
   * (neither free nor referenced nor pending), for the recount.
   */
  audit(): { physical: number; idle: number; punchingBytes: number } {
    let physical = 0
    let idle = 0
    for (let slot = 0; slot < this.#highWater; slot += 1) {
      const count = popcount16(this.#backed[slot]!)
      physical += count
      if (this.#freeState[slot] !== notFree) idle += count
    }
    let punching = 0
    for (const run of this.#punchRuns)
      for (let slot = run.start; slot < run.start + run.count; slot += 1)
        punching += popcount16(this.#backed[slot]!)
    return {
      physical: physical * subBlockBytes,
      idle: idle * subBlockBytes,
      punchingBytes: punching * subBlockBytes,
    }
  }

  /** A free slot becomes in use (allocated, or taken by a punch run). */
  #take(slot: number): number {
    this.#freeState[slot] = notFree
    this.#idle -= popcount16(this.#backed[slot]!)
    return slot
  }

  /** A slot becomes free, queued to be punched after `sinceMs`. */
  #enqueue(slot: number, sinceMs: number): void {
    assert(this.#freeState[slot] === notFree, 'freeing a free slot')
    this.#freeState[slot] = queued
    this.#queue.push(slot)
    this.#queueTimes.push(sinceMs)
    this.#idle += popcount16(this.#backed[slot]!)
  }

  /** Drops the queue's consumed front once it is most of the array. */
  #compactQueue(): void {
    if (this.#queueHead * 2 < this.#queue.length || this.#queueHead === 0) return
    this.#queue = this.#queue.slice(this.#queueHead)
    this.#queueTimes = this.#queueTimes.slice(this.#queueHead)
    this.#queueHead = 0
  }

  #grow(): void {
    const length = this.#backed.length * 2
    const backed = new Uint16Array(length)
    backed.set(this.#backed)
    this.#backed = backed
    const state = new Uint8Array(length)
    state.set(this.#freeState)
    this.#freeState = state
  }
}
