/**
 * The dirty-region log (docs/engine.md §4 "Checksums and crashes"): a write-intent bitmap in its
 * own file, `regions`, one byte per 64 MiB region of the data file (1 = dirty). A region is marked
 * durably before a write may rewrite data that a durable mapping points at; recovery recomputes
 * the checksums of marked regions, since a crash can leave such a sub-block's new data beside its
 * old checksum. A checkpoint, which syncs the checksums, lets the regions it cleaned be cleared;
 * a clear is written lazily (with the next mark, or at close): losing it only costs recovery a
 * retag.
 *
 * Marks used to be journal records committed with the pool's group commit, which syncs the data
 * file first whenever mappings are pending: under a heavy write load a mark then waited seconds
 * for the data file's writeback. The bitmap is written in place in its own file, so its sync
 * waits for nothing but its own page. Marks arriving while one is being synced ride on the next
 * sync (a group commit of its own), and writes to the file are serialized, so an older page
 * image can never land after a newer one.
 *
 * A failure to write or sync is reported to every waiter and remembered: the pool then stops
 * (POOL_FAILED), since it can no longer say what is on disk.
 */
import { assert } from '../../base/assert.ts'
import type { PoolFile } from './media.ts'

/** Bytes written per page of the bitmap (4 096 regions: 256 GiB of data file). */
const pageBytes = 4096

interface Waiter {
  resolve(): void
  reject(error: unknown): void
}

export class RegionLog {
  #bits: Uint8Array
  readonly #dirtyPages = new Set<number>()
  #waiters: Waiter[] = []
  #running = false
  #failure: unknown = null

  /** `bytes`: the file's contents as recovery read them (null for a pool without the file). */
  constructor(
    private readonly file: PoolFile,
    bytes: Uint8Array | null,
  ) {
    this.#bits = new Uint8Array(Math.max(pageBytes, bytes?.length ?? 0))
    if (bytes !== null) this.#bits.set(bytes)
  }

  /** The regions a file's contents mark dirty (recovery). */
  static marked(bytes: Uint8Array | null): number[] {
    const regions: number[] = []
    if (bytes === null) return regions
    for (let region = 0; region < bytes.length; region += 1)
      if (bytes[region] !== 0) regions.push(region)
    return regions
  }

  get failure(): unknown {
    return this.#failure
  }

  /** Marks `region` dirty; resolves once the mark is durable. */
  mark(region: number): Promise<void> {
    assert(Number.isSafeInteger(region) && region >= 0, 'region')
    if (region >= this.#bits.length) this.#grow(region + 1)
    if (this.#bits[region] !== 1) {
      this.#bits[region] = 1
      this.#dirtyPages.add(Math.floor(region / pageBytes))
    }
    return this.flush()
  }

  /** Makes exactly `dirty` marked, lazily: what is cleared reaches the disk with the next flush. */
  keepOnly(dirty: ReadonlySet<number>): void {
    for (let region = 0; region < this.#bits.length; region += 1) {
      const value = dirty.has(region) ? 1 : 0
      if (this.#bits[region] === value) continue
      // Only clears happen here: a region becomes dirty through `mark`, which waits for the disk.
      assert(value === 0, 'a region marked dirty without mark()')
      this.#bits[region] = 0
      this.#dirtyPages.add(Math.floor(region / pageBytes))
    }
  }

  /** Resolves once every change made before the call is durable. */
  flush(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    if (!this.#running && this.#dirtyPages.size === 0) return Promise.resolve()
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    if (!this.#running) void this.#round()
    return done
  }

  async #round(): Promise<void> {
    this.#running = true
    while (this.#waiters.length > 0 && this.#failure === null) {
      const waiters = this.#waiters
      this.#waiters = []
      try {
        const pages = [...this.#dirtyPages].sort((a, b) => a - b)
        this.#dirtyPages.clear()
        for (const page of pages) {
          const start = page * pageBytes
          // A copy: the bitmap may change while the write is in flight.
          await this.file.write(this.#bits.slice(start, start + pageBytes), start)
        }
        if (pages.length > 0) await this.file.sync()
        for (const waiter of waiters) waiter.resolve()
      } catch (error) {
        this.#failure = error
        for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(error)
        this.#waiters = []
      }
    }
    this.#running = false
  }

  #grow(regions: number): void {
    const grown = new Uint8Array(Math.ceil(regions / pageBytes) * pageBytes)
    grown.set(this.#bits)
    this.#bits = grown
  }
}
