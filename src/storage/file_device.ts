/**
 * A volume held in one sparse file: the file-backed BlockDevice (satisfies scsi/block_device.ts
 * structurally; storage/ does not import scsi/). This is the only data-path user of node:fs.
 *
 * - Reads and writes are positional `fs.read`/`fs.write` with callbacks: measurably faster than
 *   FileHandle promises on buffered I/O (docs: ecosystem.md §2).
 * - FUA writes (SBC-3, the FUA bit of WRITE(10/16)) go through a second descriptor opened O_DSYNC,
 *   so they are durable in one syscall; SYNCHRONIZE CACHE maps to fdatasync.
 * - Growth is ftruncate (sparse). UNMAP punches holes with util-linux's
 *   `fallocate --punch-hole` when the filesystem supports it (probed once per directory, see
 *   `probeHolePunching`); without it the device is not thin and UNMAP is never called.
 *
 * The volume engine with snapshots replaces this class behind the same seam.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { join } from 'node:path'
import { assert } from '../base/assert.ts'
import { SanError } from '../base/errors.ts'

export interface FileBlockDeviceOptions {
  readonly path: string
  readonly blockBytes: 512 | 4096
  readonly blockCount: number
  /** Punch holes for UNMAP (thin); only when `probeHolePunching` said the filesystem can. */
  readonly punchHoles: boolean
}

/** One read or write never moves more than this per syscall (Node caps a single call at 2 GiB). */
const ioChunkBytesMax = 1 << 30

export class FileBlockDevice {
  readonly blockBytes: 512 | 4096
  readonly thin: boolean
  readonly path: string
  #blockCount: number
  #fd: number
  #dsyncFd: number
  #closed = false

  private constructor(options: FileBlockDeviceOptions, fd: number, dsyncFd: number) {
    this.path = options.path
    this.blockBytes = options.blockBytes
    this.thin = options.punchHoles
    this.#blockCount = options.blockCount
    this.#fd = fd
    this.#dsyncFd = dsyncFd
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
    return readFully(this.#fd, target, lba * this.blockBytes)
  }

  write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    this.#check(lba, source.length)
    return writeFully(fua ? this.#dsyncFd : this.#fd, source, lba * this.blockBytes)
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

function punchHole(path: string, offsetBytes: number, lengthBytes: number): Promise<void> {
  const args = ['--punch-hole', '--offset', String(offsetBytes), '--length', String(lengthBytes)]
  return new Promise((resolve, reject) => {
    execFile('fallocate', [...args, path], (error, _stdout, stderr) => {
      if (!error) return resolve()
      const detail = String(stderr).trim() || error.message
      reject(new SanError('IO_ERROR', `cannot deallocate blocks of ${path}: ${detail}`))
    })
  })
}

function readFully(fd: number, target: Uint8Array, positionBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0
    const step = (): void => {
      const length = Math.min(target.length - offset, ioChunkBytesMax)
      fs.read(fd, target, offset, length, positionBytes + offset, (error, bytesRead) => {
        if (error) return reject(ioError(error))
        if (bytesRead === 0) target.fill(0, offset) // beyond the file's end reads as zeros
        offset = bytesRead === 0 ? target.length : offset + bytesRead
        if (offset < target.length) step()
        else resolve()
      })
    }
    if (target.length === 0) resolve()
    else step()
  })
}

function writeFully(fd: number, source: Uint8Array, positionBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0
    const step = (): void => {
      const length = Math.min(source.length - offset, ioChunkBytesMax)
      fs.write(fd, source, offset, length, positionBytes + offset, (error, bytesWritten) => {
        if (error) return reject(ioError(error))
        offset += bytesWritten
        if (offset < source.length) step()
        else resolve()
      })
    }
    if (source.length === 0) resolve()
    else step()
  })
}

type IoCallback<T> = (error: NodeJS.ErrnoException | null, value?: T) => void

function callIo<T>(start: (done: IoCallback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(ioError(error)) : resolve(value as T)))
  })
}

function closeQuietly(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()))
}

/** The world's failure, typed: a full filesystem is NO_SPACE, everything else IO_ERROR. */
function ioError(error: NodeJS.ErrnoException): SanError {
  const code = error.code === 'ENOSPC' || error.code === 'EDQUOT' ? 'NO_SPACE' : 'IO_ERROR'
  return new SanError(code, error.message, { cause: error })
}
