/**
 * Tools of `npm run bench:engine` (bench/engine.ts): a PoolMedia wrapper that counts the bytes
 * each pool file reads and writes (to prove the write path reads no data), a seeded random
 * generator, load drivers with a fixed queue depth that record per-request latency, and the
 * percentile helpers. Bench code may use timers and the wall clock (STYLE.md); nothing here
 * touches the engine's internals — only its public API (pool.ts, media.ts).
 */
import { setImmediate as turn } from 'node:timers/promises'
import type { PoolFile, PoolMedia } from '../src/storage/engine/media.ts'
import type { EngineDevice } from '../src/storage/engine/types.ts'

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

export interface FileCounters {
  readBytes: number
  readCalls: number
  writeBytes: number
  writeCalls: number
  syncCalls: number
}

/** Wraps a pool's media and counts, per file name, what the engine reads, writes and syncs. */
export class CountingMedia implements PoolMedia {
  readonly counters = new Map<string, FileCounters>()

  constructor(readonly inner: PoolMedia) {}

  /** A copy of the counters of `name` (zeros when the file was never opened). */
  of(name: string): FileCounters {
    return { ...(this.counters.get(name) ?? emptyCounters()) }
  }

  async open(name: string, create: boolean): Promise<PoolFile> {
    const file = await this.inner.open(name, create)
    let counters = this.counters.get(name)
    if (counters === undefined) {
      counters = emptyCounters()
      this.counters.set(name, counters)
    }
    return new CountingFile(file, counters)
  }

  readAll(name: string): Promise<Uint8Array | null> {
    return this.inner.readAll(name)
  }
  replace(name: string, bytes: Uint8Array): Promise<void> {
    return this.inner.replace(name, bytes)
  }
  remove(name: string): Promise<void> {
    return this.inner.remove(name)
  }
  list(): Promise<string[]> {
    return this.inner.list()
  }
  availableBytes(): Promise<number> {
    return this.inner.availableBytes()
  }
}

function emptyCounters(): FileCounters {
  return { readBytes: 0, readCalls: 0, writeBytes: 0, writeCalls: 0, syncCalls: 0 }
}

class CountingFile implements PoolFile {
  constructor(
    readonly inner: PoolFile,
    readonly counters: FileCounters,
  ) {}

  read(target: Uint8Array, position: number): Promise<void> {
    this.counters.readBytes += target.length
    this.counters.readCalls += 1
    return this.inner.read(target, position)
  }
  write(source: Uint8Array, position: number): Promise<void> {
    this.counters.writeBytes += source.length
    this.counters.writeCalls += 1
    return this.inner.write(source, position)
  }
  sync(): Promise<void> {
    this.counters.syncCalls += 1
    return this.inner.sync()
  }
  size(): number {
    return this.inner.size()
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length)
  }
  punchHole(position: number, length: number): Promise<void> {
    return this.inner.punchHole(position, length)
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

/** mulberry32: a small seeded generator, so that a run's LBAs can be replayed. */
export class Rng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }

  /** Uniform integer in [0, n), also for n beyond 2^32. */
  below(n: number): number {
    if (n <= 2 ** 32) return Math.floor(this.next() * n)
    return Math.floor((this.next() * 2 ** 21 + this.next()) * (n / 2 ** 21)) % n
  }

  /** A random permutation of 0 … n-1 (Fisher–Yates). */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i += 1) out[i] = i
    for (let i = n - 1; i > 0; i -= 1) {
      const j = Math.floor(this.next() * (i + 1))
      const swap = out[i]!
      out[i] = out[j]!
      out[j] = swap
    }
    return out
  }
}

export interface DriveResult {
  readonly ops: number
  readonly seconds: number
  readonly iops: number
  /** Per-request latency in µs, when asked for. */
  readonly latenciesUs: number[]
}

export interface DriveOptions {
  readonly depth: number
  /** The request `index` (0, 1, …); returns false when there is nothing left to do. */
  readonly op: (index: number) => Promise<void> | false
  /** Stop issuing after this many ms (the requests in flight still complete). */
  readonly ms?: number
  /** Stop when this returns true (checked before each request). */
  readonly stop?: () => boolean
  readonly latencies?: boolean
}

/**
 * Keeps `depth` requests in flight until `op` says done, `ms` elapses or `stop()`.
 *
 * Each worker lets the event loop turn (`setImmediate`) before its next request, as commands
 * reach the daemon through its sockets: a write the page cache takes at once resolves without
 * I/O, and a loop of such writes in promise reactions alone would never let timers or I/O
 * completions run — the pool's tick, its commits' fdatasync callbacks. A snapshot "under load"
 * then waited for the load to pause (up to 30 s), not for the disk.
 */
export async function drive(options: DriveOptions): Promise<DriveResult> {
  const latenciesUs: number[] = []
  const start = performance.now()
  const deadline = options.ms === undefined ? Number.POSITIVE_INFINITY : start + options.ms
  let next = 0
  let ops = 0
  const worker = async (): Promise<void> => {
    for (;;) {
      if (performance.now() >= deadline || options.stop?.() === true) return
      const began = performance.now()
      const pending = options.op(next++)
      if (pending === false) return
      await pending
      ops += 1
      if (options.latencies === true) latenciesUs.push((performance.now() - began) * 1000)
      await turn()
    }
  }
  await Promise.all(Array.from({ length: options.depth }, worker))
  const seconds = (performance.now() - start) / 1000
  return { ops, seconds, iops: ops / seconds, latenciesUs }
}

/** A 4 KiB random-write load running in the background until `stop()`. */
export interface BackgroundLoad {
  stop(): Promise<DriveResult>
}

/**
 * Random 4 KiB writes over the first `spanBytes` of each device (all of it by default). A span
 * keeps the load on a 64 TiB volume from allocating a fresh 64 KiB chunk per 4 KiB write, which
 * at tens of thousands of writes per second fills the disk within a series.
 */
export function startWriteLoad(
  devices: readonly EngineDevice[],
  depth: number,
  rng: Rng,
  latencies = false,
  spanBytes = Number.POSITIVE_INFINITY,
): BackgroundLoad {
  let stopped = false
  const buffer = new Uint8Array(4 * KiB).fill(0x5a)
  const running = drive({
    depth,
    latencies,
    stop: () => stopped,
    op: () => {
      const device = devices[rng.below(devices.length)]!
      const bytes = Math.min(device.blockCount * device.blockBytes, spanBytes)
      const blocks = Math.floor(bytes / (4 * KiB))
      return device.write(rng.below(blocks) * ((4 * KiB) / device.blockBytes), buffer, false)
    },
  })
  return {
    stop: () => {
      stopped = true
      return running
    },
  }
}

/** Writes `bytes` with 4 KiB writes at uniformly random 4 KiB-aligned places, QD 32. */
export async function randomWrites(device: EngineDevice, bytes: number, rng: Rng) {
  const buffer = new Uint8Array(4 * KiB).fill(0xa5)
  const perBlock = (4 * KiB) / device.blockBytes
  const blocks = Math.floor(device.blockCount / perBlock)
  const count = bytes / (4 * KiB)
  return drive({
    depth: 32,
    op: (index) => index < count && device.write(rng.below(blocks) * perBlock, buffer, false),
  })
}

/** Writes the whole device once with 1 MiB sequential writes (QD 4), then flushes. */
export async function fill(device: EngineDevice): Promise<DriveResult> {
  const buffer = new Uint8Array(MiB)
  for (let i = 0; i < buffer.length; i += 4096) buffer[i] = (i / 4096) & 0xff
  const step = MiB / device.blockBytes
  const count = Math.ceil(device.blockCount / step)
  const result = await drive({
    depth: 4,
    op: (index) => {
      if (index >= count) return false
      const lba = index * step
      const length = Math.min(step, device.blockCount - lba) * device.blockBytes
      return device.write(lba, buffer.subarray(0, length), false)
    },
  })
  await device.flush()
  return result
}

/** Times an async call, in ms. */
export async function timeMs(call: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now()
  await call()
  return performance.now() - start
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The q-quantile (0…1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.max(1, Math.ceil(q * sorted.length))
  return sorted[rank - 1]!
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

export function log(line: string): void {
  process.stderr.write(`bench:engine: ${line}\n`)
}
