/**
 * The crash tests' workload: drives a `Pool` with writes (stamped per sector, FUA or not),
 * unmaps, flushes, single and group snapshots, snapshot deletes, rollbacks and clones, without
 * waiting for writes and flushes to finish, and tells the crash model (crash_model.ts) each
 * step as an event: before an operation is issued, and when it is acknowledged. Writes to one
 * volume never overlap while in flight, and structural operations wait until their volume has
 * no write in flight, so that the model knows each image exactly.
 */
import { isSanError } from '../../src/base/errors.ts'
import type { Pool } from '../../src/storage/engine/pool.ts'
import type { Prng } from '../harness/prng.ts'
import { type CrashEvent, sectorBytes, stampedData } from './crash_model.ts'

interface InFlight {
  readonly first: number
  readonly sectors: number
  readonly promise: Promise<void>
}

interface DriverVolume {
  readonly id: string
  readonly blockBytes: 512 | 4096
  readonly sectors: number
  readonly writes: Set<InFlight>
  /** A structural operation in flight on this volume (no writes meanwhile). */
  busy: Promise<void> | null
  readonly snapshots: string[]
}

export interface CrashDriverOptions {
  readonly volumes: number
  readonly volumeBytesMax: number
  readonly writesInFlightMax: number
}

export const defaultCrashDriver: CrashDriverOptions = {
  volumes: 3,
  volumeBytesMax: 2 << 20,
  writesInFlightMax: 12,
}

export class CrashDriver {
  readonly volumes: DriverVolume[] = []
  /** Operations that failed with something other than a SanError: the engine's bugs. */
  readonly bugs: unknown[] = []
  readonly errors = new Map<string, number>()
  #values = 0
  #flushes = 0
  #names = 0
  #pending = new Set<Promise<void>>()

  constructor(
    readonly pool: Pool,
    readonly prng: Prng,
    readonly emit: (event: CrashEvent) => void,
    readonly options: CrashDriverOptions = defaultCrashDriver,
  ) {}

  async setup(): Promise<void> {
    for (let i = 0; i < this.options.volumes; i++) {
      const blockBytes = this.prng.chance(0.5) ? 512 : 4096
      const bytes = this.prng.between(1, this.options.volumeBytesMax / 65536) * 65536
      const id = `c${i}`
      await this.pool.createVolume(id, blockBytes, bytes / blockBytes)
      this.#addVolume(id, blockBytes, bytes / sectorBytes)
    }
  }

  #addVolume(id: string, blockBytes: 512 | 4096, sectors: number): void {
    this.volumes.push({ id, blockBytes, sectors, writes: new Set(), busy: null, snapshots: [] })
    this.emit({ e: 'volume', id, sectors })
  }

  /** Starts one operation; writes and flushes are not awaited. */
  async step(): Promise<void> {
    const volume = this.prng.pick(this.volumes)
    if (volume.busy !== null) await volume.busy
    const roll = this.prng.below(100)
    if (roll < 60) return this.#write(volume)
    if (roll < 68) return this.#unmap(volume)
    if (roll < 78) return this.#flush(volume)
    if (roll < 88) return this.#snapshot(volume)
    if (roll < 92) return this.#deleteSnapshot(volume)
    if (roll < 96) return this.#rollback(volume)
    return this.#clone(volume)
  }

  /** Operations started and not yet settled. */
  get inFlight(): number {
    return this.#pending.size
  }

  /** Waits for everything started (acknowledged operations keep reporting). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  #track(what: string, promise: Promise<void>, failed?: () => void): Promise<void> {
    const tracked = promise.catch((error: unknown) => {
      failed?.()
      if (!isSanError(error)) this.bugs.push(error)
      else
        this.errors.set(
          `${what}:${error.code}`,
          (this.errors.get(`${what}:${error.code}`) ?? 0) + 1,
        )
    })
    this.#pending.add(tracked)
    void tracked.finally(() => this.#pending.delete(tracked))
    return tracked
  }

  async #range(volume: DriverVolume): Promise<{ first: number; sectors: number }> {
    const perBlock = volume.blockBytes / sectorBytes
    const blocks = volume.sectors / perBlock
    const count = Math.min(
      blocks,
      this.prng.chance(0.8) ? this.prng.between(1, 8) : this.prng.between(9, 64),
    )
    const first = this.prng.below(blocks - count + 1) * perBlock
    const sectors = count * perBlock
    const overlaps = [...volume.writes].filter(
      (w) => first < w.first + w.sectors && w.first < first + sectors,
    )
    if (overlaps.length > 0) await Promise.all(overlaps.map((w) => w.promise))
    if (volume.writes.size >= this.options.writesInFlightMax) {
      await Promise.all([...volume.writes].map((w) => w.promise))
    }
    return { first, sectors }
  }

  async #write(volume: DriverVolume): Promise<void> {
    const { first, sectors } = await this.#range(volume)
    if (volume.busy !== null) return
    const value = ++this.#values
    const fua = this.prng.chance(0.25)
    this.emit({ e: 'issue', value, volumeId: volume.id, first, sectors })
    const device = this.pool.device(volume.id)
    const lba = (first * sectorBytes) / volume.blockBytes
    const data = stampedData(value, first, sectors)
    // Without FUA, first the synchronous path, as scsi/sbc/read_write.ts takes it.
    const written =
      !fua && device.writeNow?.(lba, data) === true
        ? Promise.resolve()
        : device.write(lba, data, fua)
    const promise = written.then(() => {
      this.emit({ e: 'done', value, durable: fua })
    })
    this.#inFlight(
      volume,
      first,
      sectors,
      this.#track('write', promise, () => this.emit({ e: 'failed', value })),
    )
  }

  async #unmap(volume: DriverVolume): Promise<void> {
    const { first, sectors } = await this.#range(volume)
    if (volume.busy !== null) return
    const value = -++this.#values
    this.emit({ e: 'issue', value, volumeId: volume.id, first, sectors })
    const device = this.pool.device(volume.id)
    const perBlock = volume.blockBytes / sectorBytes
    const promise = device.unmap(first / perBlock, sectors / perBlock).then(() => {
      this.emit({ e: 'done', value, durable: false })
    })
    this.#inFlight(
      volume,
      first,
      sectors,
      this.#track('unmap', promise, () => this.emit({ e: 'failed', value })),
    )
  }

  #inFlight(volume: DriverVolume, first: number, sectors: number, promise: Promise<void>): void {
    const entry: InFlight = { first, sectors, promise }
    volume.writes.add(entry)
    void promise.finally(() => volume.writes.delete(entry))
  }

  #flush(volume: DriverVolume): Promise<void> {
    const id = ++this.#flushes
    this.emit({ e: 'flush', id, volumeId: volume.id })
    const promise = this.pool
      .device(volume.id)
      .flush()
      .then(() => this.emit({ e: 'flushed', id }))
    void this.#track('flush', promise)
    return Promise.resolve()
  }

  /** Quiesces the volume, then starts a structural operation that holds it busy. */
  async #structural(volumes: DriverVolume[], what: string, start: () => Promise<void>) {
    for (const volume of volumes) {
      while (volume.busy !== null) await volume.busy
      await Promise.all([...volume.writes].map((w) => w.promise))
    }
    if (volumes.some((volume) => volume.busy !== null)) return
    const promise = this.#track(what, start())
    for (const volume of volumes) volume.busy = promise
    void promise.finally(() => {
      for (const volume of volumes) if (volume.busy === promise) volume.busy = null
    })
  }

  #snapshot(volume: DriverVolume): Promise<void> {
    const group = this.prng.chance(0.3)
    const volumes = group ? this.volumes.filter(() => this.prng.chance(0.6)) : [volume]
    if (volumes.length === 0) volumes.push(volume)
    const name = `n${++this.#names}`
    return this.#structural(volumes, 'snapshot', async () => {
      for (const v of volumes) this.emit({ e: 'snap', volumeId: v.id, name })
      for (const v of volumes) v.snapshots.push(name)
      await this.pool.createSnapshots(volumes.map((v) => ({ volumeId: v.id, name })))
      for (const v of volumes) this.emit({ e: 'snapped', volumeId: v.id, name })
    })
  }

  #deleteSnapshot(volume: DriverVolume): Promise<void> {
    if (volume.snapshots.length === 0) return this.#snapshot(volume)
    const name = this.prng.pick(volume.snapshots)
    return this.#structural([volume], 'delete', async () => {
      this.emit({ e: 'delete', volumeId: volume.id, name })
      volume.snapshots.splice(volume.snapshots.indexOf(name), 1)
      await this.pool.deleteSnapshot(volume.id, name)
      this.emit({ e: 'deleted', volumeId: volume.id, name })
    })
  }

  #rollback(volume: DriverVolume): Promise<void> {
    if (volume.snapshots.length === 0) return this.#snapshot(volume)
    const name = this.prng.pick(volume.snapshots)
    return this.#structural([volume], 'rollback', async () => {
      this.emit({ e: 'rollback', volumeId: volume.id, name })
      await this.pool.rollback(volume.id, name)
      this.emit({ e: 'rolledBack', volumeId: volume.id })
    })
  }

  #clone(volume: DriverVolume): Promise<void> {
    if (volume.snapshots.length === 0 || this.volumes.length >= 6) return this.#flush(volume)
    const name = this.prng.pick(volume.snapshots)
    const newId = `k${++this.#names}`
    return this.#structural([volume], 'clone', async () => {
      this.emit({ e: 'clone', volumeId: volume.id, name, newId })
      // A cloned snapshot cannot be deleted: the driver forgets it.
      volume.snapshots.splice(volume.snapshots.indexOf(name), 1)
      await this.pool.clone(volume.id, name, newId)
      this.emit({ e: 'cloned', newId })
      const sectors = this.pool.device(newId).blockCount * (volume.blockBytes / sectorBytes)
      this.volumes.push({
        id: newId,
        blockBytes: volume.blockBytes,
        sectors,
        writes: new Set(),
        busy: null,
        snapshots: [],
      })
    })
  }
}
