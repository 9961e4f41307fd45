/**
 * Reused transfer buffers for large reads and writes. A fresh 1 MiB buffer per command costs more
 * than the command's own work: the kernel faults in and zeroes its pages, and V8 collects it
 * (bench/layers.ts: a 1 MiB READ from a page-cache-hot file took 570 µs of CPU with a fresh
 * buffer and 95 µs with a warm one). Buffers come in power-of-two classes; `release` takes back
 * only what `acquire` lent and has not yet been returned, so a stray or double release is a no-op
 * rather than two owners of one buffer. The pool keeps at most `idleBytesMax` idle.
 *
 * The owner releases a buffer only once nothing can touch it again: for Data-In, when the socket
 * has taken the bytes; for Data-Out, when the device has finished with them. A buffer never
 * released (an aborted command, a closed connection) is simply collected.
 */
import { assert } from './assert.ts'

export interface BufferPoolOptions {
  /** Requests of at most this many bytes are not pooled (smaller buffers are cheap). */
  readonly pooledAboveBytes: number
  /** Requests above this are allocated and collected as usual. */
  readonly pooledBytesMaxEach: number
  /** Idle bytes kept across all classes. */
  readonly idleBytesMax: number
}

export class BufferPool {
  readonly #idle = new Map<number, ArrayBuffer[]>()
  readonly #lent = new WeakSet<ArrayBufferLike>()
  #idleBytes = 0

  constructor(readonly options: BufferPoolOptions) {
    assert(options.pooledAboveBytes > 0, 'pooledAboveBytes must be positive')
  }

  /** Bytes held idle, for tests and metrics. */
  get idleBytes(): number {
    return this.#idleBytes
  }

  /** A buffer of exactly `bytes`; its contents are whatever the last user left. */
  acquire(bytes: number): Uint8Array {
    const { pooledAboveBytes, pooledBytesMaxEach } = this.options
    if (bytes <= pooledAboveBytes || bytes > pooledBytesMaxEach) return fresh(bytes)
    const size = classOf(bytes)
    let buffer = this.#idle.get(size)?.pop()
    if (buffer === undefined) buffer = fresh(size).buffer as ArrayBuffer
    else this.#idleBytes -= size
    this.#lent.add(buffer)
    return new Uint8Array(buffer, 0, bytes)
  }

  /** Takes back a buffer `acquire` lent (any view of it); anything else is ignored. */
  release(view: Uint8Array | null): void {
    if (view === null) return
    const buffer = view.buffer
    if (!this.#lent.delete(buffer)) return
    const size = buffer.byteLength
    if (this.#idleBytes + size > this.options.idleBytesMax) return
    let list = this.#idle.get(size)
    if (list === undefined) {
      list = []
      this.#idle.set(size, list)
    }
    list.push(buffer as ArrayBuffer)
    this.#idleBytes += size
  }
}

function classOf(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes))
}

function fresh(bytes: number): Uint8Array {
  const unset = Buffer.allocUnsafeSlow(bytes)
  return new Uint8Array(unset.buffer, unset.byteOffset, bytes)
}

/**
 * The process's pool for SCSI transfer buffers: anything above 2 KiB (smaller reads use the slab
 * of scsi/sbc/read_write.ts) up to 16 MiB, at most 32 MiB idle.
 */
export const transferBuffers = new BufferPool({
  pooledAboveBytes: 2 * 1024,
  pooledBytesMaxEach: 16 * 1024 * 1024,
  idleBytesMax: 32 * 1024 * 1024,
})
