/**
 * A volume held in one sparse file: the file-backed BlockDevice (satisfies scsi/block_device.ts
 * structurally; storage/ does not import scsi/), one of the data path's node:fs doors with
 * storage/engine/media_fs.ts; the whole-read/write helpers both use are in positional_io.ts.
 *
 * - Reads and non-FUA writes are synchronous positional calls (`fs.readSync`/`fs.writeSync`) on
 *   the event loop while they are fast, and `fs.read`/`fs.write` callbacks through libuv's
 *   threadpool while they are not (see `FileIoPolicy`): a 4 KiB page-cache hit takes 2-35 µs,
 *   far less than the threadpool's hand-off and wake-ups, which were the daemon's largest cost
 *   (docs/benchmarks.md). A synchronous call that was slow (a cold read from the disk, a write
 *   throttled by writeback) sends the device to the threadpool for a while, so that a cold
 *   volume does not stall every session; a synchronous probe later finds out whether the data is
 *   hot again. Only the data moves differently: a write still completes once the file holds it.
 * - FUA writes (SBC-3, the FUA bit of WRITE(10/16)) go through a second descriptor opened O_DSYNC,
 *   so they are durable in one syscall; SYNCHRONIZE CACHE maps to fdatasync.
 * - Growth is ftruncate (sparse). UNMAP punches holes with util-linux's
 *   `fallocate --punch-hole` when the filesystem supports it (probed once per directory, see
 *   `probeHolePunching`); without it the device is not thin and UNMAP is never called.
 *
 * The volume engine with snapshots replaces this class behind the same seam.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { assert } from '../base/assert.ts'
import { type Clock, RealClock } from '../base/clock.ts'
import {
  callIo,
  closeQuietly,
  ioError,
  punchHole,
  readFully,
  readFullySync,
  writeFully,
  writeFullySync,
} from './positional_io.ts'

export interface FileBlockDeviceOptions {
  readonly path: string
  readonly blockBytes: 512 | 4096
  readonly blockCount: number
  /** Punch holes for UNMAP (thin); only when `probeHolePunching` said the filesystem can. */
  readonly punchHoles: boolean
  /** Times synchronous I/O for the policy; a RealClock unless a test injects one. */
  readonly clock?: Clock
  /** How reads and writes reach the file; `fileIoPolicy()` unless given. */
  readonly io?: FileIoPolicy
}

/**
 * When I/O runs synchronously on the event loop. A call of `bytes` is slow when it takes longer
 * than `slowBaseMs + bytes / slowBytesPerMs`; after a slow call the device uses the threadpool
 * for `holdMinMs`, doubled after each slow probe up to `holdMaxMs`.
 */
export interface FileIoPolicy {
  /** false: every read and write goes through the threadpool (the off switch). */
  readonly sync: boolean
  /** Larger transfers always go through the threadpool. */
  readonly syncBytesMax: number
  readonly slowBaseMs: number
  readonly slowBytesPerMs: number
  readonly holdMinMs: number
  readonly holdMaxMs: number
}

/**
 * The daemon's policy: synchronous up to 128 KiB while a call takes under 1 ms plus 1 ms per MiB.
 * Larger transfers go to the threadpool even when page-cache hot: copying a megabyte in or out
 * of the page cache there overlaps the event loop's checksums and socket writes (1 MiB reads at
 * QD 8 against tgt: 0.67 with 1 MiB on the loop, 0.81-0.93 with 128 KiB, bench/run.ts).
 * A 4 KiB page-cache hit takes 2-35 µs, but on a busy machine about 1 call in 1000 is preempted
 * for 0.1-1 ms; a tighter bound (0.1 ms was tried) sent the device to the threadpool half of the
 * time for nothing. What the bound must catch is a stall of milliseconds (a disk seek, writeback
 * throttling); a read from an SSD (70-140 µs here) costs the loop no more than a few commands do.
 * `BASALT_FILE_IO=threadpool` in the daemon's environment turns it off (daemon/flags.ts).
 */
export function fileIoPolicy(sync = true): FileIoPolicy {
  return {
    sync,
    syncBytesMax: 128 << 10,
    slowBaseMs: 1,
    slowBytesPerMs: 1 << 20,
    holdMinMs: 20,
    holdMaxMs: 2_000,
  }
}

/**
 * The policy of devices opened without one. Set once by the composition root (daemon/main.ts,
 * from `BASALT_FILE_IO`), because control/ does not yet pass a policy per volume.
 */
let defaultPolicy = fileIoPolicy()

export function setDefaultFileIoPolicy(policy: FileIoPolicy): void {
  defaultPolicy = policy
}

/** Counters, for tests and metrics. */
export interface FileIoStats {
  syncCalls: number
  threadpoolCalls: number
  /** Synchronous calls that were slow and sent the device to the threadpool. */
  slowCalls: number
}

export class FileBlockDevice {
  readonly blockBytes: 512 | 4096
  readonly thin: boolean
  readonly path: string
  #blockCount: number
  #fd: number
  #dsyncFd: number
  #closed = false
  readonly #clock: Clock
  readonly #io: FileIoPolicy
  /** The threadpool is used until this time (clock ms) after a slow synchronous call. */
  #threadpoolUntilMs = Number.NEGATIVE_INFINITY
  #holdMs: number
  readonly stats: FileIoStats = { syncCalls: 0, threadpoolCalls: 0, slowCalls: 0 }

  private constructor(options: FileBlockDeviceOptions, fd: number, dsyncFd: number) {
    this.path = options.path
    this.blockBytes = options.blockBytes
    this.thin = options.punchHoles
    this.#blockCount = options.blockCount
    this.#fd = fd
    this.#dsyncFd = dsyncFd
    this.#clock = options.clock ?? new RealClock()
    this.#io = options.io ?? defaultPolicy
    this.#holdMs = this.#io.holdMinMs
  }

  /** Creates a new, empty (all-zero, fully sparse) volume file; fails if the file exists. */
  static async create(options: FileBlockDeviceOptions): Promise<FileBlockDevice> {
    checkGeometry(options)
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL
    const fd = await callIo<number>((done) => fs.open(options.path, flags, 0o600, done))
    try {
      await callIo<void>((done) => fs.ftruncate(fd, options.blockCount * options.blockBytes, done))
      await callIo<void>((done) => fs.fsync(fd, done))
    } catch (error) {
      await closeQuietly(fd)
      throw error
    }
    return FileBlockDevice.#finishOpen(options, fd)
  }

  /**
   * Opens an existing volume file. A file shorter than the recorded size (a crash between the
   * catalog update and the file growth cannot cause this, since files grow first) is grown.
   */
  static async open(options: FileBlockDeviceOptions): Promise<FileBlockDevice> {
    checkGeometry(options)
    const fd = await callIo<number>((done) => fs.open(options.path, fs.constants.O_RDWR, done))
    try {
      const stat = await callIo<fs.Stats>((done) => fs.fstat(fd, done))
      const sizeBytes = options.blockCount * options.blockBytes
      if (stat.size < sizeBytes) await callIo<void>((done) => fs.ftruncate(fd, sizeBytes, done))
    } catch (error) {
      await closeQuietly(fd)
      throw error
    }
    return FileBlockDevice.#finishOpen(options, fd)
  }

  static async #finishOpen(options: FileBlockDeviceOptions, fd: number): Promise<FileBlockDevice> {
    const flags = fs.constants.O_RDWR | fs.constants.O_DSYNC
    try {
      const dsyncFd = await callIo<number>((done) => fs.open(options.path, flags, done))
      return new FileBlockDevice(options, fd, dsyncFd)
    } catch (error) {
      await closeQuietly(fd)
      throw error
    }
  }

  get blockCount(): number {
    return this.#blockCount
  }

  read(lba: number, target: Uint8Array): Promise<void> {
    this.#check(lba, target.length)
    const positionBytes = lba * this.blockBytes
    if (!this.#syncAllowed(target.length)) {
      this.stats.threadpoolCalls += 1
      return readFully(this.#fd, target, positionBytes)
    }
    const startMs = this.#clock.monotonicMs()
    try {
      readFullySync(this.#fd, target, positionBytes)
    } catch (error) {
      return Promise.reject(ioError(error as NodeJS.ErrnoException))
    }
    this.#timed(startMs, target.length)
    return resolved
  }

  /** Non-FUA writes land in the page cache; FUA ones go through the O_DSYNC descriptor. */
  write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    this.#check(lba, source.length)
    const positionBytes = lba * this.blockBytes
    // A FUA write waits for the disk: never on the event loop.
    if (fua || !this.#syncAllowed(source.length)) {
      this.stats.threadpoolCalls += 1
      return writeFully(fua ? this.#dsyncFd : this.#fd, source, positionBytes)
    }
    const startMs = this.#clock.monotonicMs()
    try {
      writeFullySync(this.#fd, source, positionBytes)
    } catch (error) {
      return Promise.reject(ioError(error as NodeJS.ErrnoException))
    }
    this.#timed(startMs, source.length)
    return resolved
  }

  #syncAllowed(lengthBytes: number): boolean {
    const io = this.#io
    if (!io.sync || lengthBytes > io.syncBytesMax) return false
    return this.#clock.monotonicMs() >= this.#threadpoolUntilMs
  }

  /** Holds the device on the threadpool after a slow synchronous call (see FileIoPolicy). */
  #timed(startMs: number, lengthBytes: number): void {
    this.stats.syncCalls += 1
    const nowMs = this.#clock.monotonicMs()
    const io = this.#io
    if (nowMs - startMs <= io.slowBaseMs + lengthBytes / io.slowBytesPerMs) {
      this.#holdMs = io.holdMinMs
      return
    }
    this.stats.slowCalls += 1
    this.#threadpoolUntilMs = nowMs + this.#holdMs
    this.#holdMs = Math.min(this.#holdMs * 2, io.holdMaxMs)
  }

  flush(): Promise<void> {
    assert(!this.#closed, 'flush after close')
    return callIo<void>((done) => fs.fdatasync(this.#fd, done))
  }

  async unmap(lba: number, blockCount: number): Promise<void> {
    assert(this.thin, 'unmap on a device that is not thin')
    this.#check(lba, blockCount * this.blockBytes)
    await punchHole(this.path, lba * this.blockBytes, blockCount * this.blockBytes)
  }

  /** Grows the volume online; durable (file size and metadata) when it resolves. */
  async resize(blockCount: number): Promise<void> {
    assert(Number.isSafeInteger(blockCount), 'block count must be an integer')
    assert(blockCount >= this.#blockCount, 'volumes only grow')
    const sizeBytes = blockCount * this.blockBytes
    await callIo<void>((done) => fs.ftruncate(this.#fd, sizeBytes, done))
    await callIo<void>((done) => fs.fsync(this.#fd, done))
    this.#blockCount = blockCount
  }

  /** Bytes the filesystem has allocated for the file (st_blocks × 512). */
  async usedBytes(): Promise<number> {
    const stat = await callIo<fs.Stats>((done) => fs.fstat(this.#fd, done))
    return Math.min(stat.blocks * 512, this.#blockCount * this.blockBytes)
  }

  /** Flushes and closes. Calls made after close are our bug. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    await callIo<void>((done) => fs.close(this.#dsyncFd, done))
    await callIo<void>((done) => fs.close(this.#fd, done))
  }

  #check(lba: number, lengthBytes: number): void {
    assert(!this.#closed, 'I/O after close')
    assert(Number.isSafeInteger(lba) && lba >= 0, 'lba must be a non-negative integer')
    assert(lengthBytes % this.blockBytes === 0, 'transfer is not a whole number of blocks')
    assert(lba + lengthBytes / this.blockBytes <= this.#blockCount, 'beyond end of device')
  }
}

function checkGeometry(options: FileBlockDeviceOptions): void {
  assert(options.blockBytes === 512 || options.blockBytes === 4096, 'block size 512 or 4096')
  assert(Number.isSafeInteger(options.blockCount) && options.blockCount > 0, 'block count')
  assert(Number.isSafeInteger(options.blockCount * options.blockBytes), 'size fits in 2^53')
}

/** Deletes a volume file (the volume was removed from the catalog first). */
export function removeVolumeFile(path: string): Promise<void> {
  return callIo<void>((done) => fs.unlink(path, done))
}

/**
 * Whether `fallocate --punch-hole` works on files in `directory` (tmpfs, ext4, xfs and btrfs
 * support it; some network filesystems do not). Uses a scratch file, never a volume.
 */
export async function probeHolePunching(directory: string): Promise<boolean> {
  const path = join(directory, `.punch-probe-${process.pid}`)
  try {
    await callIo<void>((done) => fs.writeFile(path, new Uint8Array(8192).fill(1), done))
    await punchHole(path, 0, 4096)
    const probe = new Uint8Array(4096)
    const fd = await callIo<number>((done) => fs.open(path, 'r', done))
    await readFully(fd, probe, 0).finally(() => closeQuietly(fd))
    return probe.every((byte) => byte === 0)
  } catch {
    return false
  } finally {
    await callIo<void>((done) => fs.unlink(path, done)).catch(() => {})
  }
}

const resolved = Promise.resolve()
