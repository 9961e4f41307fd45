/**
 * Positional file I/O shared by the file-backed stores (storage/file_device.ts and the engine's
 * storage/engine/media_fs.ts): whole reads and writes (a short read past the end of the file is
 * zeros), in threadpool and synchronous forms, hole punching through util-linux `fallocate`, and
 * the world's failures typed as SanErrors. A node:fs door.
 */
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import { getSystemErrorName } from 'node:util'
import { SanError } from '../base/errors.ts'
import { nativeAddon } from '../base/native.ts'

/** One read or write never moves more than this per syscall (Node caps a single call at 2 GiB). */
const ioChunkBytesMax = 1 << 30

export function punchHole(path: string, offsetBytes: number, lengthBytes: number): Promise<void> {
  const args = ['--punch-hole', '--offset', String(offsetBytes), '--length', String(lengthBytes)]
  return deallocating(path, 'fallocate', [...args, path])
}

/**
 * Punches several ranges with one child process of ours (a shell running `fallocate` per range):
 * spawning from the daemon forks a large process, which costs the event loop milliseconds, while
 * the shell's own forks are cheap. All or an error; on an error, some ranges may be punched.
 */
export function punchHoles(
  path: string,
  ranges: readonly { readonly position: number; readonly length: number }[],
): Promise<void> {
  const script =
    'f=$1; shift; while [ $# -ge 2 ]; do ' +
    'fallocate --punch-hole --offset "$1" --length "$2" "$f" || exit 1; shift 2; done'
  const args = ranges.flatMap((range) => [String(range.position), String(range.length)])
  return deallocating(path, 'sh', ['-c', script, 'sh', path, ...args])
}

/**
 * Punches `ranges` in one threadpool job of the addon: no child process, and no fork of the
 * daemon to start one. Null when the addon is missing (the caller falls back to `punchHoles`).
 */
export function punchRanges(
  fd: number,
  ranges: readonly { readonly position: number; readonly length: number }[],
): Promise<void> | null {
  if (nativeAddon === undefined) return null
  const pairs = new Float64Array(ranges.length * 2)
  ranges.forEach((range, index) => {
    pairs[index * 2] = range.position
    pairs[index * 2 + 1] = range.length
  })
  return new Promise((resolve, reject) => {
    nativeAddon!.punchRanges(fd, pairs, (errno) => {
      if (errno === 0) resolve()
      else reject(ioError(systemError(errno, 'fallocate')))
    })
  })
}

function deallocating(path: string, command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (!error) return resolve()
      const detail = String(stderr).trim() || error.message
      const cause = { cause: error }
      reject(new SanError('IO_ERROR', `cannot deallocate bytes of ${path}: ${detail}`, cause))
    })
  })
}

export function readFully(fd: number, target: Uint8Array, positionBytes: number): Promise<void> {
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

/**
 * Writes all of `source` at `positionBytes`, in system calls that do not cross a multiple of
 * `pieceBytesMax` in the file (see FsPoolFile: the size of a buffered write sets the size of
 * the page-cache folios it makes). The addon makes them one after the other in one threadpool
 * job; without it the pieces go to the threadpool together, so a split write costs one round
 * trip, not one per piece.
 */
export function writeFully(
  fd: number,
  source: Uint8Array,
  positionBytes: number,
  pieceBytesMax = ioChunkBytesMax,
): Promise<void> {
  if (nativeAddon !== undefined && source.length > 0) {
    return new Promise((resolve, reject) => {
      nativeAddon!.writePieces(fd, source, positionBytes, pieceBytesMax, (errno) => {
        if (errno === 0) resolve()
        else reject(ioError(systemError(errno, 'pwrite')))
      })
    })
  }
  return writeFullyThreadpool(fd, source, positionBytes, pieceBytesMax)
}

/** writeFully without the addon: each piece an fs.write of its own (exported for the tests). */
export function writeFullyThreadpool(
  fd: number,
  source: Uint8Array,
  positionBytes: number,
  pieceBytesMax = ioChunkBytesMax,
): Promise<void> {
  const pieces: Promise<void>[] = []
  for (let offset = 0; offset < source.length; ) {
    const length = pieceLength(source.length - offset, positionBytes + offset, pieceBytesMax)
    pieces.push(writePiece(fd, source.subarray(offset, offset + length), positionBytes + offset))
    offset += length
  }
  if (pieces.length === 0) return Promise.resolve()
  return pieces.length === 1 ? pieces[0]! : Promise.all(pieces).then(() => {})
}

/** An errno from the addon as Node reports a failed system call (`code` 'ENOSPC', …). */
function systemError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno)
  const error: NodeJS.ErrnoException = new Error(`${code}: ${syscall} failed (errno ${errno})`)
  error.code = code
  error.errno = -errno
  error.syscall = syscall
  return error
}

function writePiece(fd: number, source: Uint8Array, positionBytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0
    const step = (): void => {
      const length = source.length - offset
      fs.write(fd, source, offset, length, positionBytes + offset, (error, bytesWritten) => {
        if (error) return reject(ioError(error))
        offset += bytesWritten
        if (offset < source.length) step()
        else resolve()
      })
    }
    step() // writeFully makes no empty piece
  })
}

export function readFullySync(fd: number, target: Uint8Array, positionBytes: number): void {
  let offset = 0
  while (offset < target.length) {
    const length = Math.min(target.length - offset, ioChunkBytesMax)
    const bytesRead = fs.readSync(fd, target, offset, length, positionBytes + offset)
    if (bytesRead === 0) {
      target.fill(0, offset) // beyond the file's end reads as zeros
      return
    }
    offset += bytesRead
  }
}

export function writeFullySync(
  fd: number,
  source: Uint8Array,
  positionBytes: number,
  pieceBytesMax = ioChunkBytesMax,
): void {
  let offset = 0
  while (offset < source.length) {
    const length = pieceLength(source.length - offset, positionBytes + offset, pieceBytesMax)
    offset += fs.writeSync(fd, source, offset, length, positionBytes + offset)
  }
}

/** What one write at `position` may take of `left` bytes without crossing a piece boundary. */
export function pieceLength(left: number, position: number, pieceBytesMax: number): number {
  return Math.min(left, pieceBytesMax - (position % pieceBytesMax))
}

export type IoCallback<T> = (error: NodeJS.ErrnoException | null, value?: T) => void

export function callIo<T>(start: (done: IoCallback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => (error ? reject(ioError(error)) : resolve(value as T)))
  })
}

export function closeQuietly(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()))
}

/** The world's failure, typed: a full filesystem is NO_SPACE, everything else IO_ERROR. */
export function ioError(error: NodeJS.ErrnoException): SanError {
  const code = error.code === 'ENOSPC' || error.code === 'EDQUOT' ? 'NO_SPACE' : 'IO_ERROR'
  return new SanError(code, error.message, { cause: error })
}
