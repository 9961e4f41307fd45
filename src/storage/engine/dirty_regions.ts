/**
 * Which 64 MiB regions of the data file may hold data whose checksum is not on disk: the data
 * path's side of the write-intent bitmap (docs/engine.md §4 "Checksums and crashes";
 * region_log.ts keeps the bitmap's file). Recovery recomputes the checksums of every region
 * marked here, so a write into a region needs its mark on disk before a crash could find new
 * data beside an old checksum.
 *
 * - A write marks its region when it starts (`writeStart`), and only a write that rewrites what
 *   a durable mapping may point at waits for the mark to be durable (data_path.ts
 *   #markRegionsDirty says why the others do not).
 * - Marks are cleared lazily: a checkpoint, whose checksums are synced before it is written,
 *   cleans the regions that no write reached since the checkpoint before (`clean`), and the
 *   region log forgets them once that checkpoint is durable (`checkpointed`). A region written
 *   all the time is not marked again after every checkpoint.
 * - A mark that fails fails the pool: it can no longer say what is on disk.
 */
import { IntCounts } from '../../base/int_table.ts'
import type { Committer } from './commit.ts'
import type { RegionLog } from './region_log.ts'

export class DirtyRegions {
  /** Regions marked dirty, durably or with the mark on its way (`#marking`). */
  readonly #dirty = new Set<number>()
  /** Regions whose mark is not yet durable, with the promise that resolves when it is. */
  readonly #marking = new Map<number, Promise<void>>()
  /** Regions a write reached since the last checkpoint (`clean`). */
  readonly #written = new Set<number>()
  /** Writes in flight per region (`writeStart` to `writeEnd`). */
  readonly #writes = new IntCounts()

  constructor(
    private readonly log: RegionLog,
    private readonly committer: Pick<Committer, 'fail' | 'failure'>,
  ) {}

  /** How many regions are dirty: the pool checkpoints at least every two minutes while any is. */
  get size(): number {
    return this.#dirty.size
  }

  /** Whether `region`'s mark is on disk, so that a write there needs no wait. */
  durable(region: number): boolean {
    return this.#dirty.has(region) && !this.#marking.has(region)
  }

  /**
   * A write to `region` starts: it is counted until `writeEnd`, and the region is marked if it
   * is not yet. Returns the mark's promise while the mark is not durable, else undefined.
   */
  writeStart(region: number): Promise<void> | undefined {
    this.#writes.add(region, 1)
    this.#written.add(region)
    return this.#dirty.has(region) ? this.#marking.get(region) : this.#mark(region)
  }

  /** A write counted by `writeStart` has ended, landed or not. */
  writeEnd(region: number): void {
    this.#writes.add(region, -1)
  }

  /**
   * A write that was not counted (DataPath.writeNow: it starts and lands before anything else
   * runs) reached `region`, whose mark it did not need to wait for.
   */
  wrote(region: number): void {
    this.#written.add(region)
    if (!this.#dirty.has(region)) void this.#mark(region)
  }

  /**
   * At a checkpoint, whose tags are synced before it is written: the dirty regions that no write
   * reached since the previous checkpoint (any, at the `final` one of a close), with none in
   * flight and no mark pending, become clean. Returns the regions that stay dirty.
   */
  clean(final: boolean): number[] {
    for (const region of this.#dirty)
      if (
        (final || !this.#written.has(region)) &&
        this.#writes.get(region) === 0 &&
        !this.#marking.has(region)
      )
        this.#dirty.delete(region)
    this.#written.clear()
    return [...this.#dirty]
  }

  /**
   * After a checkpoint is durable (its checksums synced): the regions it cleaned and that no
   * write marked again since leave the region log, lazily.
   */
  checkpointed(): void {
    this.log.keepOnly(this.#dirty)
  }

  /** Makes the region log's lazy clears durable (a clean close). */
  flush(): Promise<void> {
    return this.log.flush()
  }

  /** Marks `region` in the region log; the promise resolves once the mark is durable. */
  #mark(region: number): Promise<void> {
    this.#dirty.add(region)
    const durable: Promise<void> = this.log
      .mark(region)
      .catch((error: unknown) => {
        this.committer.fail(error)
        throw this.committer.failure
      })
      .finally(() => {
        if (this.#marking.get(region) === durable) this.#marking.delete(region)
      })
    this.#marking.set(region, durable)
    // Writes of fresh sub-blocks start a mark without waiting for it; the pool's failure is
    // what reports a failed one to them.
    durable.catch(() => {})
    return durable
  }
}
