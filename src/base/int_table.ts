/**
 * Hash tables of integer keys (0 ≤ key < 2^53) kept in typed arrays: open addressing with linear
 * probing and backward-shift deletion, so that inserting and deleting allocate nothing once the
 * table has grown to its busiest population. They never shrink.
 *
 * Why not a Map: V8 rehashes a Map's table whenever its population crosses a power of two (up
 * on insert, down on delete), and a Map whose table lives in old space allocates the new one
 * there too. The engine's per-write tables (sub-block locks, writes in flight per slot) swing
 * from empty to a hundred entries and back with every burst of 1 MiB writes; as Maps they
 * promoted three quarters of the heap such a write left behind, which kept V8's concurrent
 * marker busy on both cores (docs/benchmarks.md, session 8).
 */
import { assert, fail } from './assert.ts'

const emptyKey = -1
const initialSlots = 16

/** Each key holds `width` int32 values, zero when the key is inserted. */
export class IntTable {
  readonly width: number
  #keys = new Float64Array(initialSlots).fill(emptyKey)
  #values: Int32Array
  #mask = initialSlots - 1
  #shift = 32 - Math.log2(initialSlots)
  #size = 0

  constructor(width: number) {
    assert(Number.isInteger(width) && width >= 1, 'IntTable width')
    this.width = width
    this.#values = new Int32Array(initialSlots * width)
  }

  get size(): number {
    return this.#size
  }

  /** The slot holding `key`, or -1. A slot is valid until the next insert or delete. */
  find(key: number): number {
    const keys = this.#keys
    for (let slot = this.#home(key); ; slot = (slot + 1) & this.#mask) {
      const held = keys[slot]!
      if (held === key) return slot
      if (held === emptyKey) return -1
    }
  }

  /** The slot holding `key`, inserted with zero values if it was absent. */
  upsert(key: number): number {
    if (!Number.isSafeInteger(key) || key < 0) fail(`IntTable key: ${key}`)
    const found = this.find(key)
    if (found >= 0) return found
    if ((this.#size + 1) * 2 > this.#keys.length) this.#grow()
    let slot = this.#home(key)
    while (this.#keys[slot] !== emptyKey) slot = (slot + 1) & this.#mask
    this.#keys[slot] = key
    this.#values.fill(0, slot * this.width, (slot + 1) * this.width)
    this.#size += 1
    return slot
  }

  value(slot: number, column: number): number {
    return this.#values[slot * this.width + column]!
  }

  setValue(slot: number, column: number, value: number): void {
    this.#values[slot * this.width + column] = value
  }

  /** Removes `key` if present, moving later keys of its probe run back (no tombstones). */
  delete(key: number): boolean {
    let hole = this.find(key)
    if (hole < 0) return false
    const { width } = this
    const keys = this.#keys
    const values = this.#values
    for (
      let slot = (hole + 1) & this.#mask;
      keys[slot] !== emptyKey;
      slot = (slot + 1) & this.#mask
    ) {
      // A key may fill the hole when its home is not in the cyclic range (hole, slot].
      const home = this.#home(keys[slot]!)
      const between = hole < slot ? home > hole && home <= slot : home > hole || home <= slot
      if (between) continue
      keys[hole] = keys[slot]!
      values.copyWithin(hole * width, slot * width, (slot + 1) * width)
      hole = slot
    }
    keys[hole] = emptyKey
    this.#size -= 1
    return true
  }

  /** Calls `visit` with every key, in no particular order; the table must not change meanwhile. */
  forEachKey(visit: (key: number) => void): void {
    const keys = this.#keys
    for (let slot = 0; slot < keys.length; slot += 1)
      if (keys[slot] !== emptyKey) visit(keys[slot]!)
  }

  /** Fibonacci hashing of the key's two 32-bit halves: the top bits of the product. */
  #home(key: number): number {
    const low = key >>> 0
    const high = (key / 0x1_0000_0000) >>> 0
    return Math.imul(low ^ Math.imul(high, 0x85eb_ca6b), 0x9e37_79b1) >>> this.#shift
  }

  #grow(): void {
    const keys = this.#keys
    const values = this.#values
    const slots = keys.length * 2
    this.#keys = new Float64Array(slots).fill(emptyKey)
    this.#values = new Int32Array(slots * this.width)
    this.#mask = slots - 1
    this.#shift -= 1
    this.#size = 0
    for (let slot = 0; slot < keys.length; slot += 1) {
      if (keys[slot] === emptyKey) continue
      const into = this.upsert(keys[slot]!)
      this.#values.set(
        values.subarray(slot * this.width, (slot + 1) * this.width),
        into * this.width,
      )
    }
  }
}

/** Counts per integer key; a key whose count returns to zero is removed. */
export class IntCounts {
  readonly #table = new IntTable(1)

  get size(): number {
    return this.#table.size
  }

  get(key: number): number {
    const slot = this.#table.find(key)
    return slot < 0 ? 0 : this.#table.value(slot, 0)
  }

  /** Adds `delta` to `key`'s count and returns the new count, which must not go below zero. */
  add(key: number, delta: number): number {
    const found = this.#table.find(key)
    const count = (found < 0 ? 0 : this.#table.value(found, 0)) + delta
    if (count < 0) fail(`IntCounts: count of ${key} below zero`)
    if (count === 0) {
      if (found >= 0) this.#table.delete(key)
    } else {
      this.#table.setValue(found >= 0 ? found : this.#table.upsert(key), 0, count)
    }
    return count
  }

  forEachKey(visit: (key: number) => void): void {
    this.#table.forEachKey(visit)
  }
}
