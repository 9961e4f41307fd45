/**
 * Group commit and checkpoints (docs/engine.md §4). A commit makes durable, in this order, the
 * data and checksum files (data before any mapping that points at it: the dm-thin FUA fix), then
 * the journal records made since the previous commit. Everything that arrives while a commit runs
 * rides on the next one, so the commit rate follows the load. A checkpoint is a commit that
 * writes the whole state instead of records and empties the journal.
 *
 * `commit()` (a flush, a FUA write, a snapshot) syncs whatever data was written.
 * `commitRecords()` (the pool's periodic commit, every other management change) syncs the data
 * only when a record of its batch publishes data (`append(record, true)`): frees, kills,
 * tombstones and catalog rows point at nothing new, and syncing a data file that in-place
 * overwrites keep dirty made the next writes to its pages wait for their writeback — while a
 * deleted snapshot's frees were committed every 250 ms, foreground p99 rose by half.
 *
 * A failure to sync or append is not retried: the pool is marked failed (POOL_FAILED) and
 * refuses changes, since it can no longer say what is durable (fsyncgate: a failed fsync may
 * have dropped the dirty pages it reported).
 */
import { SanError } from '../../base/errors.ts'
import { type CheckpointState, encodeCheckpoint } from './checkpoint.ts'
import { type JournalRecord, RecordBuffer } from './journal.ts'
import type { PoolFile, PoolMedia } from './media.ts'

interface Waiter {
  resolve(): void
  reject(error: unknown): void
}

export interface CommitFiles {
  readonly media: PoolMedia
  readonly data: PoolFile
  /** The checksums: `sync` writes what changed and syncs (tags.ts). */
  readonly tags: { sync(): Promise<void> }
  readonly journal: PoolFile
}

export class Committer {
  #sequence: number
  #journalTail: number
  readonly #records = new RecordBuffer()
  #dataDirty = false
  /** A record taken by the next round publishes data: that round syncs the data first. */
  #recordsNeedData = false
  /** A waiter of the next round asked for the data to be durable (`commit`). */
  #dataWanted = false
  #running = false
  #waiters: Waiter[] = []
  #checkpointWanted: (() => CheckpointState) | null = null
  #commitsStarted = 0
  #commitsDone = 0
  #failure: SanError | null = null
  /** Called after each commit or checkpoint completes (the pool releases freed chunks). */
  onCommitted: () => void = () => {}

  constructor(
    private readonly files: CommitFiles,
    sequence: number,
    journalTail: number,
  ) {
    this.#sequence = sequence
    this.#journalTail = journalTail
  }

  get sequence(): number {
    return this.#sequence
  }
  /** Commits started so far: frees and I/Os are tagged with it. */
  get ticket(): number {
    return this.#commitsStarted
  }
  get committedTicket(): number {
    return this.#commitsDone
  }
  get journalBytes(): number {
    return this.#journalTail + this.#records.length
  }
  get failure(): SanError | null {
    return this.#failure
  }
  get pending(): boolean {
    return this.#records.count > 0 || this.#dataDirty
  }
  /** Records wait: a mapping (or a free) that only a commit makes durable. */
  get recordsPending(): boolean {
    return this.#records.count > 0
  }

  /** Refuses when the pool has failed. */
  checkHealthy(): void {
    if (this.#failure !== null) throw this.#failure
  }

  /**
   * Queues a record for the next commit. `publishesData`: the record maps data written since the
   * last sync (a landed write), which must be durable before it is.
   */
  append(record: JournalRecord, publishesData = false): void {
    this.#sequence += 1
    this.#records.add(record, this.#sequence)
    if (publishesData) this.#recordsNeedData = true
  }

  /** Data or checksums were written; the next commit syncs them. */
  markDataDirty(): void {
    this.#dataDirty = true
  }

  /** Resolves once everything appended or written before the call is durable. */
  commit(): Promise<void> {
    return this.#wait(true)
  }

  /**
   * Resolves once the records appended before the call are durable, with the data they publish;
   * data they do not point at (in-place overwrites, punched holes) waits for a `commit`.
   */
  commitRecords(): Promise<void> {
    return this.#wait(false)
  }

  /**
   * Stops the pool after a failure outside the commit (the region log's, region_log.ts): like a
   * failed commit, it leaves the pool unable to say what is durable.
   */
  fail(cause: unknown): void {
    this.#failure ??= new SanError('POOL_FAILED', `pool failed: ${String(cause)}`, { cause })
  }

  /** Joins the next round; `wantsData`: it must sync the data written so far (`commit`). */
  #wait(wantsData: boolean): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    const owed = wantsData ? this.pending : this.recordsPending
    if (!this.#running && !owed && this.#checkpointWanted === null) return Promise.resolve()
    if (wantsData) this.#dataWanted = true
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    if (!this.#running) void this.#round()
    return done
  }

  /** Runs a checkpoint as the next round; `state` is taken synchronously when it starts. */
  checkpoint(state: () => CheckpointState): Promise<void> {
    this.#checkpointWanted = state
    return this.commit()
  }

  async #round(): Promise<void> {
    this.#running = true
    while (this.#waiters.length > 0 && this.#failure === null) {
      const waiters = this.#waiters
      this.#waiters = []
      const dataWanted = this.#dataWanted
      this.#dataWanted = false
      this.#commitsStarted += 1
      const ticket = this.#commitsStarted
      try {
        if (this.#checkpointWanted !== null) await this.#writeCheckpoint()
        else await this.#writeRecords(dataWanted)
        this.#commitsDone = ticket
        for (const waiter of waiters) waiter.resolve()
        this.onCommitted()
      } catch (error) {
        this.#failure = new SanError('POOL_FAILED', `pool commit failed: ${String(error)}`, {
          cause: error,
        })
        for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(this.#failure)
        this.#waiters = []
      }
    }
    this.#running = false
  }

  async #writeRecords(dataWanted: boolean): Promise<void> {
    const batch = this.#records.take()
    const needData = this.#recordsNeedData
    this.#recordsNeedData = false
    // The data is synced when it is dirty and a waiter wants it (a flush, a snapshot) or a record
    // of this batch points at it; otherwise the round syncs only the journal.
    if (this.#dataDirty && (dataWanted || needData)) {
      this.#dataDirty = false
      await this.files.data.sync()
      await this.files.tags.sync()
    }
    if (batch.length === 0) return
    await this.files.journal.write(batch, this.#journalTail)
    this.#journalTail += batch.length
    await this.files.journal.sync()
  }

  async #writeCheckpoint(): Promise<void> {
    const take = this.#checkpointWanted!
    this.#checkpointWanted = null
    // The state is taken first and the data synced after, so every mapping in it points at
    // data that is durable by the time the checkpoint is.
    const state = take()
    this.#records.clear()
    this.#recordsNeedData = false
    this.#dataDirty = false
    await this.files.data.sync()
    await this.files.tags.sync()
    await this.files.media.replace('checkpoint', encodeCheckpoint(state))
    await this.files.journal.truncate(0)
    await this.files.journal.sync()
    this.#journalTail = 0
  }
}
