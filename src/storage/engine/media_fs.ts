/**
 * The engine's real disk: `FsPoolMedia` keeps a pool's files in one directory with node:fs (this
 * file is the engine's node:fs door). It implements media.ts's POSIX durability contract:
 *
 * - Reads and writes are positional. Like file_device.ts (same `FileIoPolicy`), they run
 *   synchronously on the event loop while that is fast (a page-cache hit costs microseconds, the
 *   threadpool's hand-off far more) and through libuv's threadpool for a while after a slow call.
 * - `sync` is fdatasync, always on the threadpool. A file created by `open(name, true)` has its
 *   directory entry synced at once, so a later `sync` of the file is enough to keep its data.
 * - `replace` writes `.NAME.replacing`, fsyncs it, renames it over NAME and fsyncs the directory:
 *   after a crash NAME holds the old or the new bytes, whole. Names starting with '.' are ours
 *   (temporary files and probes) and never listed.
 * - `punchHole` and `punchHoleRuns` punch in one threadpool job of the addon; without it, in a
 *   child process running util-linux's `fallocate` (a shell looping over the ranges of a batch),
 *   so callers batch. Where the filesystem cannot punch (probed once by `open`), both are
 *   no-ops and the bytes stay.
 * - Failures are SanErrors: NO_SPACE for ENOSPC/EDQUOT, IO_ERROR otherwise, with the cause.
 */
import fs from 'node:fs'
import { join } from 'node:path'
import { assert } from '../../base/assert.ts'
import { type Clock, RealClock } from '../../base/clock.ts'
import { SanError } from '../../base/errors.ts'
import { type FileIoPolicy, fileIoPolicy, probeHolePunching } from '../file_device.ts'
import {
  callIo,
  closeQuietly,
  ioError,
  punchHole,
  punchHoles,
  punchRanges,
  readFully,
  readFullySync,
  writeFully,
  writeFullySync,
} from '../positional_io.ts'
import type { PoolFile, PoolMedia } from './media.ts'

export interface FsPoolMediaOptions {
  /** How reads and writes reach the files; `fileIoPolicy()` unless given. */
  readonly io?: FileIoPolicy
  /** Times synchronous calls for the policy; a RealClock unless a test injects one. */
  readonly clock?: Clock
  /** Whether `punchHole` deallocates; `FsPoolMedia.open` probes the filesystem. */
  readonly punchHoles?: boolean
}

/** Counters, for tests and metrics. */
export interface FsMediaStats {
  syncCalls: number
  threadpoolCalls: number
  slowCalls: number
}

const replacingSuffix = '.replacing'

/**
 * Pool files are written in system calls that stay inside one 64 KiB chunk. A buffered write
 * sizes the page-cache folios it creates (ext4 with large folios, kernel 6.18 here), and every
 * later 4 KiB write into a folio walks all of the folio's blocks in ext4_block_write_begin: a
 * 4 KiB pwrite at a random offset took 14-20 µs in a file written 1 MiB at a time, and 4 µs in
 * one written 64 KiB at a time (25 % of the daemon's CPU at QD 1 writes went there). 64 KiB is
 * also the engine's allocation unit, so a folio never spans two chunks.
 */
const writePieceBytes = 64 * 1024
const resolved = Promise.resolve()

export class FsPoolMedia implements PoolMedia {
  readonly directory: string
  readonly punchHoles: boolean
  readonly #policy: FileIoPolicy
  readonly #clock: Clock
  readonly #stats: FsMediaStats = { syncCalls: 0, threadpoolCalls: 0, slowCalls: 0 }

  constructor(directory: string, options: FsPoolMediaOptions = {}) {
    this.directory = directory
    this.punchHoles = options.punchHoles ?? false
    this.#policy = options.io ?? fileIoPolicy()
    this.#clock = options.clock ?? new RealClock()
  }

  get stats(): Readonly<FsMediaStats> {
    return this.#stats
  }

  /**
   * Each file has a gate for reads and one for writes: a write slowed by writeback (or a journal
   * append behind an fdatasync) must not send page-cache-hot reads to the threadpool.
   */
  #gate(): IoGate {
    return new IoGate(this.#policy, this.#clock, this.#stats)
  }

  /**
   * Opens (creating it if absent) a pool directory, removes what an interrupted `replace` left,
   * and probes whether the filesystem punches holes.
   */
  static async open(directory: string, options: FsPoolMediaOptions = {}): Promise<FsPoolMedia> {
    await callIo<string | undefined>((done) => fs.mkdir(directory, { recursive: true }, done))
    const names = await callIo<string[]>((done) => fs.readdir(directory, done))
    for (const name of names.filter((n) => n.startsWith('.') && n.endsWith(replacingSuffix))) {
      await callIo<void>((done) => fs.unlink(join(directory, name), done))
    }
    const punchHoles = options.punchHoles ?? (await probeHolePunching(directory))
    return new FsPoolMedia(directory, { ...options, punchHoles })
  }

  async open(name: string, create: boolean): Promise<PoolFile> {
    const path = this.#path(name)
    let created = false
    let fd: number
    try {
      fd = await callIo<number>((done) => fs.open(path, fs.constants.O_RDWR, done))
    } catch (error) {
      if (!create || !isNotFound(error)) throw error
      const flags = fs.constants.O_RDWR | fs.constants.O_CREAT
      fd = await callIo<number>((done) => fs.open(path, flags, 0o600, done))
      created = true
    }
    try {
      const stat = await callIo<fs.Stats>((done) => fs.fstat(fd, done))
      if (created) await this.#syncDirectory()
      return new FsPoolFile(path, fd, stat.size, this.#gate(), this.#gate(), this.punchHoles)
    } catch (error) {
      await closeQuietly(fd)
      throw error
    }
  }

  async readAll(name: string): Promise<Uint8Array | null> {
    try {
      const buffer = await callIo<Buffer>((done) => fs.readFile(this.#path(name), done))
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length)
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    const path = this.#path(name)
    const temporary = join(this.directory, `.${name}${replacingSuffix}`)
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC
    const fd = await callIo<number>((done) => fs.open(temporary, flags, 0o600, done))
    try {
      await writeFully(fd, bytes, 0)
      await callIo<void>((done) => fs.fsync(fd, done))
    } finally {
      await closeQuietly(fd)
    }
    await callIo<void>((done) => fs.rename(temporary, path, done))
    await this.#syncDirectory()
  }

  async remove(name: string): Promise<void> {
    try {
      await callIo<void>((done) => fs.unlink(this.#path(name), done))
    } catch (error) {
      if (isNotFound(error)) return
      throw error
    }
    await this.#syncDirectory()
  }

  async list(): Promise<string[]> {
    const names = await callIo<string[]>((done) => fs.readdir(this.directory, done))
    return names.filter((name) => !name.startsWith('.')).sort()
  }

  async availableBytes(): Promise<number> {
    const stats = await callIo<fs.StatsFs>((done) => fs.statfs(this.directory, done))
    return stats.bavail * stats.bsize
  }

  #path(name: string): string {
    assert(name.length > 0 && !name.includes('/') && !name.startsWith('.'), `file name ${name}`)
    return join(this.directory, name)
  }

  async #syncDirectory(): Promise<void> {
    const fd = await callIo<number>((done) => fs.open(this.directory, fs.constants.O_RDONLY, done))
    try {
      await callIo<void>((done) => fs.fsync(fd, done))
    } finally {
      await closeQuietly(fd)
    }
  }
}

/**
 * Decides, for the files of one media, whether a read or write may run on the event loop (see
 * `FileIoPolicy`): after a slow synchronous call the files use the threadpool for a while.
 */
class IoGate {
  #threadpoolUntilMs = Number.NEGATIVE_INFINITY
  #holdMs: number

  constructor(
    readonly policy: FileIoPolicy,
    readonly clock: Clock,
    readonly stats: FsMediaStats,
  ) {
    this.#holdMs = policy.holdMinMs
  }

  syncAllowed(lengthBytes: number): boolean {
    if (!this.policy.sync || lengthBytes > this.policy.syncBytesMax) return false
    return this.clock.monotonicMs() >= this.#threadpoolUntilMs
  }

  timed(startMs: number, lengthBytes: number): void {
    const stats = this.stats
    stats.syncCalls += 1
    const nowMs = this.clock.monotonicMs()
    const io = this.policy
    if (nowMs - startMs <= io.slowBaseMs + lengthBytes / io.slowBytesPerMs) {
      this.#holdMs = io.holdMinMs
      return
    }
    stats.slowCalls += 1
    this.#threadpoolUntilMs = nowMs + this.#holdMs
    this.#holdMs = Math.min(this.#holdMs * 2, io.holdMaxMs)
  }
}

class FsPoolFile implements PoolFile {
  #closed = false
  #sizeBytes: number

  constructor(
    readonly path: string,
    readonly fd: number,
    sizeBytes: number,
    readonly readGate: IoGate,
    readonly writeGate: IoGate,
    readonly punchHoles: boolean,
  ) {
    this.#sizeBytes = sizeBytes
  }

  read(target: Uint8Array, position: number): Promise<void> {
    this.#check(position)
    try {
      if (this.#readAtOnce(target, position)) return resolved
    } catch (error) {
      return Promise.reject(ioError(error as NodeJS.ErrnoException))
    }
    this.readGate.stats.threadpoolCalls += 1
    return readFully(this.fd, target, position)
  }

  readNow(target: Uint8Array, position: number): boolean {
    this.#check(position)
    try {
      return this.#readAtOnce(target, position)
    } catch {
      return false // the promise path reads again and reports the error
    }
  }

  write(source: Uint8Array, position: number): Promise<void> {
    this.#check(position)
    try {
      if (this.#writeAtOnce(source, position)) return resolved
    } catch (error) {
      return Promise.reject(ioError(error as NodeJS.ErrnoException))
    }
    this.writeGate.stats.threadpoolCalls += 1
    const end = position + source.length
    return writeFully(this.fd, source, position, writePieceBytes).then(() => this.#grown(end))
  }

  writeNow(source: Uint8Array, position: number): boolean {
    this.#check(position)
    try {
      return this.#writeAtOnce(source, position)
    } catch {
      return false // the promise path writes again and reports the error
    }
  }

  /** A synchronous `pread` when the gate allows one now: true when done; a failure throws. */
  #readAtOnce(target: Uint8Array, position: number): boolean {
    if (!this.readGate.syncAllowed(target.length)) return false
    const startMs = this.readGate.clock.monotonicMs()
    readFullySync(this.fd, target, position)
    this.readGate.timed(startMs, target.length)
    return true
  }

  /** A synchronous `pwrite` when the gate allows one now: true when done; a failure throws. */
  #writeAtOnce(source: Uint8Array, position: number): boolean {
    if (!this.writeGate.syncAllowed(source.length)) return false
    const startMs = this.writeGate.clock.monotonicMs()
    writeFullySync(this.fd, source, position, writePieceBytes)
    this.writeGate.timed(startMs, source.length)
    this.#grown(position + source.length)
    return true
  }

  sync(): Promise<void> {
    assert(!this.#closed, 'sync after close')
    return callIo<void>((done) => fs.fdatasync(this.fd, done))
  }

  size(): number {
    return this.#sizeBytes
  }

  /** st_blocks × 512: what the filesystem allocated, holes excluded. */
  allocatedBytes(): number {
    assert(!this.#closed, 'stat after close')
    return fs.fstatSync(this.fd).blocks * 512
  }

  async truncate(length: number): Promise<void> {
    this.#check(length)
    await callIo<void>((done) => fs.ftruncate(this.fd, length, done))
    this.#sizeBytes = length
  }

  async punchHole(position: number, length: number): Promise<void> {
    this.#check(position)
    assert(Number.isSafeInteger(length) && length >= 0, 'hole length')
    if (!this.punchHoles || length === 0) return
    await (punchRanges(this.fd, [{ position, length }]) ?? punchHole(this.path, position, length))
  }

  async punchHoleRuns(ranges: readonly { readonly position: number; readonly length: number }[]) {
    for (const range of ranges) {
      this.#check(range.position)
      assert(Number.isSafeInteger(range.length) && range.length > 0, 'hole length')
    }
    if (!this.punchHoles || ranges.length === 0) return
    await (punchRanges(this.fd, ranges) ?? punchHoles(this.path, ranges))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await callIo<void>((done) => fs.close(this.fd, done))
  }

  #grown(end: number): void {
    if (end > this.#sizeBytes) this.#sizeBytes = end
  }

  #check(position: number): void {
    assert(!this.#closed, 'I/O after close')
    assert(Number.isSafeInteger(position) && position >= 0, 'position must be a safe integer')
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof SanError && (error.cause as NodeJS.ErrnoException)?.code === 'ENOENT'
}
