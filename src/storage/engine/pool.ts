/**
 * The pool: the volume engine's public face (docs/engine.md). It owns the data, checksum and
 * journal files, the catalogue of volumes, snapshots and views, and the background work.
 *
 * Every management change is validated and applied in one synchronous block, journaled as one
 * `tables` record, and acknowledged after its commit — so it is all-or-nothing across a crash,
 * and a group snapshot is one instant in the order of every write on every member (the whole
 * engine runs on one event loop: no lock, no fence). Snapshots, clones, views and rollback are
 * O(1): a new epoch or a new lineage, never a copy.
 */
import { assert } from '../../base/assert.ts'
import type { Clock } from '../../base/clock.ts'
import { crc32cImplementation } from '../../base/crc32c.ts'
import { SanError } from '../../base/errors.ts'
import { type Logger, silentLogger } from '../../base/log.ts'
import { ChunkAllocator } from './allocator.ts'
import type { CheckpointState, CheckpointVersion } from './checkpoint.ts'
import { Committer } from './commit.ts'
import {
  busyQuietMs,
  checkpointIntervalMs,
  checkpointJournalBytes,
  chunkBytes,
  commitIntervalMs,
  defaultLimits,
  type EngineLimits,
  punchDelayMs,
  punchEagerFraction,
} from './constants.ts'
import { DataPath } from './data_path.ts'
import { PoolDevice } from './device.ts'
import { DirtyRegions } from './dirty_regions.ts'
import { diffImages, type Image, recount, scrubPool } from './inspect.ts'
import { recordType, type TableChange } from './journal.ts'
import { MapEdits } from './map_edits.ts'
import type { PoolFile, PoolMedia } from './media.ts'
import { HolePuncher } from './punch.ts'
import { Reclaimer } from './reclaim.ts'
import { backedMask, countHeld, recoverState, referencedChunks, retagRegions } from './recovery.ts'
import { RegionLog } from './region_log.ts'
import { type EngineState, lineageRow, type SnapshotRow, type VolumeRow } from './state.ts'
import { TagStore } from './tags.ts'
import type {
  Damage,
  DiffExtent,
  EngineDevice,
  PoolSpace,
  RecountReport,
  SnapshotInfo,
  VolumeSpace,
} from './types.ts'

export type { EngineLimits } from './constants.ts'

const noClones: readonly string[] = Object.freeze([])
const byId = (a: SnapshotRow, b: SnapshotRow) => a.id - b.id

export interface PoolOptions {
  readonly media: PoolMedia
  readonly clock: Clock
  readonly logger?: Logger
  /** Upper bound on the data the pool may allocate; default: used + what the filesystem has. */
  readonly capacityBytes?: number
  readonly limits?: Partial<EngineLimits>
}

interface PoolParts {
  readonly options: PoolOptions
  readonly state: EngineState
  readonly allocator: ChunkAllocator
  readonly committer: Committer
  readonly dataPath: DataPath
  readonly regions: DirtyRegions
  readonly edits: MapEdits
  readonly puncher: HolePuncher
  readonly files: readonly PoolFile[]
}

export class Pool {
  readonly #options: PoolOptions
  readonly #state: EngineState
  readonly #allocator: ChunkAllocator
  readonly #committer: Committer
  readonly #dataPath: DataPath
  readonly #regions: DirtyRegions
  readonly #puncher: HolePuncher
  readonly #reclaimer: Reclaimer
  readonly #files: readonly PoolFile[]
  readonly #devices = new Map<string, PoolDevice>()
  readonly #limits: EngineLimits
  readonly #logger: Logger
  readonly #collecting = new Set<number>()
  #lastCommitMs: number
  #checkpointing = false
  #closed = false
  #checkpointBytes = 0
  #lastCheckpointMs: number
  /** Snapshot infos by row (rows are replaced, never changed, so a stale row just drops out). */
  readonly #infos = new WeakMap<SnapshotRow, SnapshotInfo>()
  /** `DataPath.ioStarted` at the previous tick, and when a tick last saw it move. */
  #ioSeen = 0
  #lastIoMs = Number.NEGATIVE_INFINITY

  private constructor(parts: PoolParts) {
    this.#options = parts.options
    this.#state = parts.state
    this.#allocator = parts.allocator
    this.#committer = parts.committer
    this.#dataPath = parts.dataPath
    this.#regions = parts.regions
    this.#puncher = parts.puncher
    this.#files = parts.files
    this.#limits = { ...defaultLimits, ...parts.options.limits }
    this.#logger = parts.options.logger ?? silentLogger
    this.#reclaimer = new Reclaimer(this.#state.lineages, parts.edits, parts.options.clock)
    this.#lastCommitMs = parts.options.clock.monotonicMs()
    this.#lastCheckpointMs = this.#lastCommitMs
    this.#committer.onCommitted = () => this.#release()
    for (const row of this.#state.volumes.values()) this.#addDevice(row.id, 'volume')
    for (const row of this.#state.views.values()) this.#addDevice(row.id, 'view')
  }

  /** Opens (or creates, in an empty medium) a pool, recovering after a crash. */
  static async open(options: PoolOptions): Promise<Pool> {
    const { media } = options
    const data = await media.open('data', true)
    const tagsFile = await media.open('tags', true)
    const journal = await media.open('journal', true)
    const regionsFile = await media.open('regions', true)
    const recovered = await recoverState(media, journal)
    const regionBytes = new Uint8Array(regionsFile.size())
    await regionsFile.read(regionBytes, 0)
    for (const region of RegionLog.marked(regionBytes)) recovered.dirtyRegions.add(region)
    const tagBytes = new Uint8Array(tagsFile.size())
    await tagsFile.read(tagBytes, 0)
    const tags = new TagStore(tagsFile, tagBytes)
    const used = referencedChunks(recovered.state)
    const retagged = await retagRegions(recovered.dirtyRegions, used, data, tags)
    const highWater = Math.ceil(data.size() / chunkBytes)
    // What the data file physically holds (holes excluded) is the pool's, plus what is free.
    const held = data.allocatedBytes?.() ?? data.size()
    const capacity = options.capacityBytes ?? held + (await media.availableBytes())
    const allocator = new ChunkAllocator(
      Math.floor(capacity),
      used.keys(),
      highWater,
      (slot) => backedMask(slot, used, tags),
      () => options.clock.monotonicMs(),
    )
    countHeld(recovered.state, (slot) => allocator.backedBytes(slot))
    const files = { media, data, tags, journal }
    const logger = options.logger ?? silentLogger
    const committer = new Committer(files, recovered.sequence, recovered.journalTail)
    const regions = new DirtyRegions(new RegionLog(regionsFile, regionBytes), committer)
    const edits = new MapEdits(committer, allocator)
    const dataPath = new DataPath(recovered.state, allocator, committer, data, tags, regions, edits)
    const pool = new Pool({
      options,
      state: recovered.state,
      allocator,
      committer,
      dataPath,
      edits,
      regions,
      puncher: new HolePuncher(data, allocator, tags, committer, options.clock, logger),
      files: [data, tagsFile, journal, regionsFile],
    })
    pool.#resumeReclaim()
    await pool.#checkpoint()
    logger.info('pool opened', {
      volumes: recovered.state.volumes.size,
      snapshots: recovered.state.snapshots.size,
      replayedRecords: recovered.replayedRecords,
      retaggedChunks: retagged,
      checksums: crc32cImplementation,
    })
    return pool
  }

  // ---- volumes -------------------------------------------------------------------------------

  async createVolume(
    id: string,
    blockBytes: 512 | 4096,
    blockCount: number,
  ): Promise<EngineDevice> {
    this.#checkOpen()
    this.#checkNewId(id)
    assert(Number.isSafeInteger(blockCount) && blockCount > 0, 'volume size must be positive')
    const lineage = this.#state.meta.nextLineage
    this.#change([
      this.#metaChange({ nextLineage: lineage + 1 }),
      {
        table: 'lineage',
        key: String(lineage),
        value: { id: lineage, parent: null, cur: 1, head: true },
      },
      { table: 'volume', key: id, value: { id, blockBytes, blockCount, lineage, origin: null } },
    ])
    const device = this.#addDevice(id, 'volume')
    await this.#committer.commitRecords()
    return device
  }

  device(id: string): EngineDevice {
    const device = this.#devices.get(id)
    if (device === undefined) throw new SanError('VOLUME_NOT_FOUND', `no volume or view ${id}`)
    return device
  }

  volumeIds(): string[] {
    return [...this.#state.volumes.keys()]
  }

  async resizeVolume(id: string, blockCount: number): Promise<void> {
    this.#checkOpen()
    const row = this.#state.volume(id)
    if (blockCount < row.blockCount)
      throw new SanError('SIZE_SHRINK', `volume ${id} only grows (${row.blockCount} blocks)`)
    if (blockCount === row.blockCount) return
    this.#change([{ table: 'volume', key: id, value: { ...row, blockCount } }])
    await this.#committer.commitRecords()
  }

  async deleteVolume(id: string, recursive: boolean): Promise<void> {
    this.#checkOpen()
    const row = this.#state.volume(id)
    const snapshots = this.#state.snapshotsOf(id)
    for (const snapshot of snapshots) {
      if (this.#state.clonesOf(snapshot.id).length > 0)
        throw new SanError('VOLUME_HAS_DEPENDENTS', `volume ${id} has clones; delete them first`)
      if (this.#state.viewOf(snapshot.id) !== null)
        throw new SanError('SNAPSHOT_IN_USE', `snapshot ${snapshot.name} of ${id} is exposed`)
    }
    const active = snapshots.filter((snapshot) => snapshot.state === 'active')
    if (active.length > 0 && !recursive)
      throw new SanError('VOLUME_HAS_DEPENDENTS', `volume ${id} has ${active.length} snapshot(s)`)
    const lineage = this.#state.lineage(row.lineage)
    const changes: TableChange[] = [
      { table: 'volume', key: id, value: null },
      { table: 'lineage', key: String(lineage.id), value: { ...lineageRow(lineage), head: false } },
    ]
    for (const snapshot of snapshots)
      if (snapshot.state !== 'deleting') changes.push(this.#snapshotChange(snapshot, 'deleting'))
    this.#change(changes)
    this.#devices.delete(id)
    for (const snapshot of snapshots) this.#reclaimSnapshot(snapshot.id)
    this.#headRemoved(lineage.id)
    await this.#committer.commitRecords()
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /** Snapshots several volumes at one instant (one item: a plain snapshot). All or nothing. */
  async createSnapshots(
    items: readonly { volumeId: string; name: string }[],
  ): Promise<SnapshotInfo[]> {
    this.#checkOpen()
    this.#checkSnapshotItems(items)
    const first = this.#state.meta.nextSnapshot
    const groupId = items.length > 1 ? `group-${first}` : null
    const createdAtMs = Math.floor(this.#options.clock.wallMs())
    const changes: TableChange[] = [this.#metaChange({ nextSnapshot: first + items.length })]
    const drains: Promise<void>[] = []
    items.forEach((item, index) => {
      const volume = this.#state.volume(item.volumeId)
      const lineage = this.#state.lineage(volume.lineage)
      const row: SnapshotRow = {
        id: first + index,
        volumeId: item.volumeId,
        name: item.name,
        lineage: lineage.id,
        epoch: lineage.cur,
        blockCount: volume.blockCount,
        createdAtMs,
        groupId,
        state: 'active',
      }
      changes.push({ table: 'snapshot', key: String(row.id), value: row })
      changes.push({
        table: 'lineage',
        key: String(lineage.id),
        value: { ...lineageRow(lineage), cur: lineage.cur + 1 },
      })
      drains.push(this.#dataPath.drain(lineage.id, row.epoch))
    })
    this.#change(changes)
    // Writes that started before the cut must land before the snapshot is declared durable,
    // and their data with it: a snapshot is the one management call whose image is data (the
    // others commit their records alone: a view, a clone or a rollback reads a snapshot's
    // data, which its creation made durable).
    await Promise.all(drains)
    await this.#committer.commit()
    return items.map((item) =>
      this.#snapshotInfo(this.#state.snapshotNamed(item.volumeId, item.name)),
    )
  }

  /** Active snapshots (of one volume, or of the pool) in creation order, with their figures. */
  snapshots(volumeId?: string): SnapshotInfo[] {
    const rows: SnapshotRow[] = []
    if (volumeId !== undefined) {
      for (const row of this.#state.activeSnapshotsOf(volumeId).values()) rows.push(row)
    } else {
      for (const row of this.#state.snapshots.values()) if (row.state === 'active') rows.push(row)
    }
    // Ids grow and maps keep insertion order, so this sort only confirms the order.
    return rows.sort(byId).map((row) => this.#snapshotInfo(row))
  }

  /** Marks a snapshot deleted and returns; its space is reclaimed in the background. */
  async deleteSnapshot(volumeId: string, name: string): Promise<void> {
    this.#checkOpen()
    const row = this.#state.snapshotNamed(volumeId, name)
    if (this.#state.viewOf(row.id) !== null)
      throw new SanError('SNAPSHOT_IN_USE', `snapshot ${name} is exposed; unexpose it first`)
    const clones = this.#state.clonesOf(row.id)
    if (clones.length > 0)
      throw new SanError(
        'SNAPSHOT_IN_USE',
        `snapshot ${name} has clones: ${clones.map((c) => c.id)}`,
      )
    // A volume rolled back to this snapshot still reads through it: hide it, keep its image.
    const held = this.#state.dependents(row).length > 0
    this.#change([this.#snapshotChange(row, held ? 'held' : 'deleting')])
    if (!held) this.#reclaimSnapshot(row.id)
    await this.#committer.commitRecords()
  }

  /** The live volume becomes the snapshot's image; later snapshots stay. O(1). */
  async rollback(volumeId: string, name: string): Promise<void> {
    this.#checkOpen()
    const snapshot = this.#state.snapshotNamed(volumeId, name)
    const volume = this.#state.volume(volumeId)
    const old = this.#state.lineage(volume.lineage)
    const lineage = this.#state.meta.nextLineage
    const parent = { lineage: snapshot.lineage, epoch: snapshot.epoch }
    this.#change([
      this.#metaChange({ nextLineage: lineage + 1 }),
      {
        table: 'lineage',
        key: String(lineage),
        value: { id: lineage, parent, cur: 1, head: true },
      },
      { table: 'lineage', key: String(old.id), value: { ...lineageRow(old), head: false } },
      {
        table: 'volume',
        key: volumeId,
        value: { ...volume, lineage, blockCount: Math.max(volume.blockCount, snapshot.blockCount) },
      },
    ])
    this.#headRemoved(old.id)
    await this.#committer.commitRecords()
    this.#devices.get(volumeId)?.onContentsReplaced?.()
  }

  /** Presents a snapshot as a read/write device whose writes change neither it nor the volume. */
  async expose(volumeId: string, name: string, viewId: string): Promise<EngineDevice> {
    this.#checkOpen()
    const snapshot = this.#state.snapshotNamed(volumeId, name)
    if (this.#state.viewOf(snapshot.id) !== null)
      throw new SanError('SNAPSHOT_IN_USE', `snapshot ${name} of ${volumeId} is already exposed`)
    this.#checkNewId(viewId)
    const lineage = this.#state.meta.nextLineage
    const parent = { lineage: snapshot.lineage, epoch: snapshot.epoch }
    this.#change([
      this.#metaChange({ nextLineage: lineage + 1 }),
      {
        table: 'lineage',
        key: String(lineage),
        value: { id: lineage, parent, cur: 1, head: true },
      },
      { table: 'view', key: viewId, value: { id: viewId, snapshot: snapshot.id, lineage } },
    ])
    const device = this.#addDevice(viewId, 'view')
    await this.#committer.commitRecords()
    return device
  }

  /** Removes a snapshot's view; what hosts wrote to it is discarded. */
  async unexpose(volumeId: string, name: string): Promise<void> {
    this.#checkOpen()
    const snapshot = this.#state.snapshotNamed(volumeId, name)
    const view = this.#state.viewOf(snapshot.id)
    if (view === null) throw new SanError('SNAPSHOT_NOT_FOUND', `snapshot ${name} is not exposed`)
    const lineage = this.#state.lineage(view.lineage)
    this.#change([
      { table: 'view', key: view.id, value: null },
      { table: 'lineage', key: String(lineage.id), value: { ...lineageRow(lineage), head: false } },
    ])
    this.#devices.delete(view.id)
    this.#headRemoved(lineage.id)
    await this.#committer.commitRecords()
  }

  /** A new volume born from a snapshot, sharing its blocks until they diverge. */
  async clone(volumeId: string, name: string, newVolumeId: string): Promise<EngineDevice> {
    this.#checkOpen()
    const snapshot = this.#state.snapshotNamed(volumeId, name)
    this.#checkNewId(newVolumeId)
    const source = this.#state.volume(volumeId)
    const lineage = this.#state.meta.nextLineage
    const parent = { lineage: snapshot.lineage, epoch: snapshot.epoch }
    const row: VolumeRow = {
      id: newVolumeId,
      blockBytes: source.blockBytes,
      blockCount: snapshot.blockCount,
      lineage,
      origin: snapshot.id,
    }
    this.#change([
      this.#metaChange({ nextLineage: lineage + 1 }),
      {
        table: 'lineage',
        key: String(lineage),
        value: { id: lineage, parent, cur: 1, head: true },
      },
      { table: 'volume', key: newVolumeId, value: row },
    ])
    const device = this.#addDevice(newVolumeId, 'volume')
    await this.#committer.commitRecords()
    return device
  }

  origin(volumeId: string): { volumeId: string; name: string } | null {
    const row = this.#state.volume(volumeId)
    if (row.origin === null) return null
    const snapshot = this.#state.snapshots.get(row.origin)
    assert(snapshot !== undefined, 'a clone outlived its origin snapshot')
    return { volumeId: snapshot.volumeId, name: snapshot.name }
  }

  /** Reads a snapshot's image directly (for verification and backup tools). */
  readSnapshot(volumeId: string, name: string, offsetBytes: number, target: Uint8Array) {
    const row = this.#state.snapshotNamed(volumeId, name)
    assert(offsetBytes + target.length <= row.blockCount * this.#state.volume(volumeId).blockBytes)
    return this.#dataPath.read(this.#state.lineage(row.lineage), row.epoch, offsetBytes, target)
  }

  /** Changed extents from snapshot `from` to snapshot `to` (null: the live volume). */
  diff(volumeId: string, from: string, to: string | null): DiffExtent[] {
    const older = this.#state.snapshotNamed(volumeId, from)
    const newer: Image =
      to === null
        ? this.#headImage(volumeId)
        : (() => {
            const row = this.#state.snapshotNamed(volumeId, to)
            return { lineage: row.lineage, epoch: row.epoch, blockCount: row.blockCount }
          })()
    const base = { lineage: older.lineage, epoch: older.epoch, blockCount: older.blockCount }
    const blockBytes = this.#state.volume(volumeId).blockBytes
    return diffImages(this.#state, this.#dataPath, base, newer, blockBytes)
  }

  // ---- space and health ----------------------------------------------------------------------

  /** The volume's figures, read from counters kept up to date (epoch_space.ts): no scan. */
  volumeSpace(id: string): VolumeSpace {
    const row = this.#state.volume(id)
    const head = this.#state.lineage(row.lineage)
    let usedBytes = head.figures.heldBytes
    for (const lineage of this.#state.snapshotLineagesOf(id).keys())
      if (lineage !== head.id) usedBytes += this.#state.lineage(lineage).figures.heldBytes
    return {
      id,
      sizeBytes: row.blockCount * row.blockBytes,
      usedBytes,
      // What the head alone sees: born after its last snapshot and not overwritten since.
      writtenSinceSnapshotBytes: head.figures.exclusiveBytes(head.cur),
      snapshotBytes: usedBytes - head.figures.referencedBytes(head.cur),
    }
  }

  /**
   * The pool's figures, physical (docs/engine.md §3): used is what the filesystem holds for the
   * slots in use, pending or being punched; free slots (reusable at once) count as free.
   */
  space(): PoolSpace {
    const capacityBytes = this.#allocator.capacityBytes
    const usedBytes = this.#allocator.usedBytes
    const freeingBytes = this.#reclaimer.freeingBytes()
    return {
      capacityBytes,
      usedBytes,
      freeBytes: Math.max(0, capacityBytes - usedBytes),
      freeingBytes,
      metadataBytes: this.#committer.journalBytes + this.#checkpointBytes,
      chunkBytes,
      volumes: this.#state.volumes.size,
      snapshots: this.#state.activeSnapshots,
    }
  }

  /** Reads every allocated sub-block and lists those that fail their checksum. */
  scrub(): Promise<Damage[]> {
    return scrubPool(this.#state, this.#dataPath)
  }

  /** Recomputes every counter from the map and reports any difference. */
  recount(): RecountReport {
    return recount(this.#state, this.#allocator, this.#reclaimer.busy)
  }

  /** True while background reclamation has work queued. */
  get reclaiming(): boolean {
    return this.#reclaimer.busy
  }

  /** Periodic work; the owner calls it every ~10 ms. */
  tick(): void {
    if (this.#closed) return
    const now = this.#options.clock.monotonicMs()
    // Busy until no I/O started for busyQuietMs: one quiet tick is not idleness (a write that
    // stalled the loop for 20 ms left the tick after it with nothing new started).
    if (this.#dataPath.ioStarted !== this.#ioSeen) this.#lastIoMs = now
    this.#ioSeen = this.#dataPath.ioStarted
    const busy = now - this.#lastIoMs < busyQuietMs
    const freeBytes = this.#allocator.capacityBytes - this.#allocator.usedBytes
    if (this.#reclaimer.busy) this.#reclaimer.run(this.#reclaimer.budgetMs(busy, freeBytes))
    if (this.#committer.failure !== null) return
    const dirtyTooLong =
      this.#regions.size > 0 && now - this.#lastCheckpointMs >= checkpointIntervalMs
    const journalFull = this.#committer.journalBytes > checkpointJournalBytes
    if ((journalFull || dirtyTooLong) && !this.#checkpointing) {
      this.#lastCheckpointMs = now
      void this.#checkpoint().catch((error) => this.#logger.error('checkpoint failed', { error }))
    } else if (this.#committer.recordsPending && now - this.#lastCommitMs >= commitIntervalMs) {
      // Only records call for a periodic commit. Data alone (overwrites in place) waits for a
      // flush (FUA, SYNCHRONIZE CACHE) or the next records: syncing it every 250 ms cost an
      // fdatasync, and made the next writes to those pages wait for their writeback.
      this.#lastCommitMs = now
      void this.#committer.commitRecords().catch(() => {})
    }
    this.#release()
    // Near full, what free slots hold goes back to the filesystem at once rather than waiting
    // to be reused: a write needing new sub-blocks is refused on what the file holds.
    const allocator = this.#allocator
    const tight = allocator.physicalBytes > allocator.capacityBytes * punchEagerFraction
    if (tight || !busy) void this.#puncher.punch(tight ? 0 : punchDelayMs)
    else this.#puncher.paced(now)
  }

  /** Runs background work to completion (tests and clean shutdown). */
  async settle(): Promise<void> {
    while (this.#reclaimer.busy) this.#reclaimer.run(50)
    await this.#committer.commit()
    this.#release()
    while (await this.#puncher.punch(0));
  }

  async close(): Promise<void> {
    if (this.#closed) return
    await this.#committer.commit().catch(() => {})
    // Nothing writes after a close: every region is clean in its checkpoint, so damage done to the
    // files while the pool is closed is found, not covered by recomputed checksums.
    if (this.#committer.failure === null) {
      await this.#checkpoint(true)
      await this.#regions.flush()
    }
    this.#closed = true
    for (const file of this.#files) await file.close()
  }

  // ---- internals -----------------------------------------------------------------------------

  #change(changes: TableChange[]): void {
    this.#committer.checkHealthy()
    for (const change of changes) this.#state.apply(change)
    this.#committer.append({ type: recordType.tables, changes })
  }

  #metaChange(patch: Partial<EngineState['meta']>): TableChange {
    return { table: 'meta', key: 'meta', value: { ...this.#state.meta, ...patch } }
  }

  #snapshotChange(row: SnapshotRow, state: SnapshotRow['state']): TableChange {
    return { table: 'snapshot', key: String(row.id), value: { ...row, state } }
  }

  #checkOpen(): void {
    assert(!this.#closed, 'pool used after close')
    this.#committer.checkHealthy()
  }

  #checkNewId(id: string): void {
    if (this.#state.volumes.has(id) || this.#state.views.has(id))
      throw new SanError('VOLUME_EXISTS', `a volume or view ${id} already exists`)
  }

  #checkSnapshotItems(items: readonly { volumeId: string; name: string }[]): void {
    if (items.length === 0) throw new SanError('INVALID_ARGUMENT', 'no snapshot to create')
    const volumes = new Set<string>()
    for (const { volumeId, name } of items) {
      this.#state.volume(volumeId)
      if (volumes.has(volumeId))
        throw new SanError('INVALID_ARGUMENT', `volume ${volumeId} appears twice in one group`)
      volumes.add(volumeId)
      const active = this.#state.activeSnapshotsOf(volumeId)
      if (active.has(name))
        throw new SanError('SNAPSHOT_EXISTS', `volume ${volumeId} already has a snapshot ${name}`)
      // The limits count what people see (active snapshots); one being reclaimed, or held only
      // because a rolled-back volume reads through it, does not keep a new one from being taken.
      if (active.size + 1 > this.#limits.snapshotsPerVolume)
        throw new SanError('LIMIT_REACHED', `volume ${volumeId} has ${active.size} snapshots`)
    }
    const pooled = this.#state.activeSnapshots
    if (pooled + items.length > this.#limits.snapshotsPerPool)
      throw new SanError('LIMIT_REACHED', `the pool holds ${pooled} snapshots`)
  }

  #addDevice(id: string, kind: 'volume' | 'view'): PoolDevice {
    const device = new PoolDevice(id, kind, this.#state, this.#dataPath, this.#committer)
    this.#devices.set(id, device)
    return device
  }

  #headImage(volumeId: string): Image {
    const row = this.#state.volume(volumeId)
    const lineage = this.#state.lineage(row.lineage)
    return { lineage: lineage.id, epoch: lineage.cur, blockCount: row.blockCount }
  }

  /**
   * A snapshot's info, reused while nothing in it changed: a listing of S snapshots then makes
   * one array, not S objects — at 1 000-2 000 snapshots the objects made a young-generation
   * collection (2.6 ms here) every ~40 listings, which was the listing's p99.
   */
  #snapshotInfo(row: SnapshotRow): SnapshotInfo {
    const { figures } = this.#state.lineage(row.lineage)
    const exclusive = figures.exclusiveBytes(row.epoch)
    const shared = figures.referencedBytes(row.epoch) - exclusive
    const exposedAs = this.#state.viewOf(row.id)?.id ?? null
    const clones = this.#state.cloneIdsOf(row.id)
    const cached = this.#infos.get(row)
    if (
      cached !== undefined &&
      cached.exclusiveBytes === exclusive &&
      cached.sharedBytes === shared &&
      cached.exposedAs === exposedAs &&
      clones.size === 0 &&
      cached.clones.length === 0
    )
      return cached
    const info: SnapshotInfo = Object.freeze({
      volumeId: row.volumeId,
      name: row.name,
      createdAtMs: row.createdAtMs,
      groupId: row.groupId,
      sizeBytes: row.blockCount * this.#state.volume(row.volumeId).blockBytes,
      exclusiveBytes: exclusive,
      sharedBytes: shared,
      exposedAs,
      clones: clones.size === 0 ? noClones : [...clones],
    })
    this.#infos.set(row, info)
    return info
  }

  /** Queues the reclamation of a snapshot marked deleting; its row goes when that is done. */
  #reclaimSnapshot(id: number): void {
    const row = this.#state.snapshots.get(id)
    if (row === undefined || row.state !== 'deleting') return
    const lineage = this.#state.lineage(row.lineage)
    const before = lineage.liveEpochs().filter((epoch) => epoch < row.epoch)
    this.#reclaimer.schedule(lineage.id, before.at(-1) ?? 0, row.epoch, () => {
      if (this.#closed || this.#committer.failure !== null) return
      if (this.#state.snapshots.get(id)?.state !== 'deleting') return
      this.#change([{ table: 'snapshot', key: String(id), value: null }])
      this.#collect(lineage.id)
    })
  }

  /** A lineage lost its head (rollback, unexpose, volume delete): free what only it saw. */
  #headRemoved(id: number): void {
    const lineage = this.#state.lineage(id)
    const last = lineage.liveSnapshotEpochs.at(-1) ?? 0
    this.#reclaimer.schedule(id, last, lineage.cur, () => this.#collect(id))
  }

  /** Drops a lineage nothing needs any more, then looks at what it was forked from. */
  #collect(id: number): void {
    if (this.#closed || this.#committer.failure !== null) return
    const lineage = this.#state.lineages.get(id)
    if (lineage === undefined || lineage.hasHead || lineage.liveSnapshotEpochs.length > 0) return
    if ([...this.#state.snapshots.values()].some((row) => row.lineage === id)) return
    const dependents = [...this.#state.lineages.values()].some((l) => l.parent?.lineage === id)
    if (dependents) return
    if (lineage.versionCount > 0) {
      if (this.#collecting.has(id)) return
      this.#collecting.add(id)
      this.#reclaimer.schedule(id, 0, lineage.cur, () => {
        this.#collecting.delete(id)
        this.#collect(id)
      })
      return
    }
    this.#change([{ table: 'lineage', key: String(id), value: null }])
    const parent = lineage.parent
    if (parent === null) return
    for (const row of this.#state.snapshots.values()) {
      if (row.lineage !== parent.lineage || row.epoch !== parent.epoch) continue
      if (row.state === 'held' && this.#state.dependents(row).length === 0) {
        this.#change([this.#snapshotChange(row, 'deleting')])
        this.#reclaimSnapshot(row.id)
      }
    }
    this.#collect(parent.lineage)
  }

  /** After a crash: rerun what was being reclaimed (freeing is idempotent). */
  #resumeReclaim(): void {
    for (const row of [...this.#state.snapshots.values()]) {
      if (row.state === 'deleting') this.#reclaimSnapshot(row.id)
      if (row.state === 'held' && this.#state.dependents(row).length === 0) {
        this.#change([this.#snapshotChange(row, 'deleting')])
        this.#reclaimSnapshot(row.id)
      }
    }
    for (const lineage of [...this.#state.lineages.values()])
      if (!lineage.hasHead) this.#headRemoved(lineage.id)
  }

  /** Chunks freed by durable changes, with no I/O left that started before, become reusable. */
  #release(): void {
    const durable = this.#committer.committedTicket - 1
    const quiet = this.#dataPath.oldestTicketInFlight() - 1
    this.#allocator.release(Math.min(durable, quiet))
  }

  async #checkpoint(final = false): Promise<void> {
    this.#checkpointing = true
    try {
      await this.#committer.checkpoint(() => this.#checkpointState(final))
      this.#regions.checkpointed()
    } finally {
      this.#checkpointing = false
    }
  }

  #checkpointState(final: boolean): CheckpointState {
    const versions: CheckpointVersion[] = []
    for (const lineage of this.#state.lineages.values())
      for (const [chunk, list] of lineage.chunks)
        for (const version of list) {
          // An empty version is a write still in flight: it is published by its own record.
          if (version.valid === 0 && version.zero === 0) continue
          const { birth, phys, valid, zero, killedAt } = version
          versions.push({ lineage: lineage.id, chunk, birth, phys, valid, zero, killedAt })
        }
    const dirtyRegions = this.#regions.clean(final)
    this.#checkpointBytes = 28 + versions.length * 36
    return {
      sequence: this.#committer.sequence,
      tables: this.#state.rows(),
      dirtyRegions,
      versions,
    }
  }
}
