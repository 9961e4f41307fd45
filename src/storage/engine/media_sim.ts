/**
 * The engine's simulated disk: `SimPoolMedia` is an in-memory pool directory with POSIX
 * durability and a fault model, for the model-based and crash tests (docs/engine.md §5.5,
 * "a fake disk that drops every write not covered by a completed fdatasync").
 *
 * Durability. Each file (an inode) has a durable image and the operations (writes, truncates,
 * hole punches) applied since, in order. A `sync` that resolves makes durable every operation
 * that had resolved when it was called. `crash(rng)` returns a new media holding what a power
 * loss could leave: the durable image, then each pending operation applied whole, lost, or torn
 * (each of its 512-byte sectors applied or not), so writes tear at sector boundaries and land
 * out of order; each pending size change is applied or not. Creating, removing and
 * `replace`-ing a name are durable at once (FsPoolMedia syncs the directory); `replace` is
 * atomic. Renames give new inodes, so handles opened before a replace or a remove keep the old,
 * orphaned file, as on POSIX.
 *
 * Time. Every operation resolves after a few microtask hops chosen by the PRNG, so concurrent
 * operations complete in varying, but reproducible, orders; a write reaches the file when it
 * resolves (a crash before that loses it), and a read copies the file when it resolves.
 *
 * Space. Files are sparse, allocated in 4 KiB blocks as they are written (`simBlockBytes`): a
 * hole or a grown tail takes nothing, a punch gives back the blocks it covers whole. With
 * `capacityBytes`, a write needing blocks beyond it fails with NO_SPACE and no effect (ENOSPC).
 *
 * Faults. `failNext` and `failureRate` make operations fail with a SanError (IO_ERROR unless
 * told) and no effect; a failed sync leaves its writes pending. `corrupt` flips bytes durably.
 */
import { assert } from '../../base/assert.ts'
import { SanError, type SanErrorCode } from '../../base/errors.ts'
import type { PoolFile, PoolMedia } from './media.ts'

export const simSectorBytes = 512
/** The simulated filesystem's allocation unit. */
export const simBlockBytes = 4096

export type SimFaultKind = 'read' | 'write' | 'sync'

export interface SimPoolMediaOptions {
  /** Uniform in [0, 1): completion order, failure rates. A fixed sequence unless given. */
  readonly rng?: () => number
  /** Bytes the simulated filesystem can allocate; writes needing more fail with NO_SPACE. */
  readonly capacityBytes?: number
  /** Microtask hops an operation may take before it resolves (0 = resolve at once). */
  readonly hopsMax?: number
}

export interface SimStats {
  /** Bytes written (write and replace) per file name. */
  readonly bytesWritten: Map<string, number>
  reads: number
  writes: number
  syncs: number
  replaces: number
  failures: number
}

type Operation =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly length: number }
  | { readonly kind: 'punch'; readonly position: number; readonly length: number }

interface Fault {
  readonly kind: SimFaultKind
  readonly pattern: RegExp | null
  readonly code: SanErrorCode
}

/**
 * A growable byte image with a logical size; bytes past `size` are always zero. Files are sparse
 * like ext4's: space is allocated in blocks of `simBlockBytes` when first written, given back
 * when a punch covers a whole block or a truncate cuts it off; a hole and a grown tail take none.
 */
class Image {
  bytes: Uint8Array
  size: number
  /** One byte per block: 1 when allocated. */
  blocks: Uint8Array
  allocated = 0

  constructor(bytes = new Uint8Array(0), size = 0) {
    this.bytes = bytes
    this.size = size
    this.blocks = new Uint8Array(Math.ceil(size / simBlockBytes))
    this.blocks.fill(1)
    this.allocated = this.blocks.length
  }

  clone(): Image {
    const image = new Image(this.bytes.slice(0, this.size), this.size)
    image.blocks = this.blocks.slice()
    image.allocated = this.allocated
    return image
  }

  /** Bytes a write of `length` at `position` would newly allocate. */
  unallocatedBytes(position: number, length: number): number {
    let count = 0
    const last = Math.ceil((position + length) / simBlockBytes)
    for (let block = Math.floor(position / simBlockBytes); block < last; block += 1)
      if (this.blocks[block] !== 1) count += 1
    return count * simBlockBytes
  }

  #allocate(position: number, length: number): void {
    const last = Math.ceil((position + length) / simBlockBytes)
    if (last > this.blocks.length) {
      const grown = new Uint8Array(Math.max(last, this.blocks.length * 2))
      grown.set(this.blocks)
      this.blocks = grown
    }
    for (let block = Math.floor(position / simBlockBytes); block < last; block += 1) {
      if (this.blocks[block] === 1) continue
      this.blocks[block] = 1
      this.allocated += 1
    }
  }

  /** Gives back the blocks wholly inside [from, to). */
  #deallocate(from: number, to: number): void {
    const last = Math.min(Math.floor(to / simBlockBytes), this.blocks.length)
    for (let block = Math.ceil(from / simBlockBytes); block < last; block += 1) {
      if (this.blocks[block] !== 1) continue
      this.blocks[block] = 0
      this.allocated -= 1
    }
  }

  read(target: Uint8Array, position: number): void {
    target.fill(0)
    if (position >= this.size) return
    const end = Math.min(this.size, position + target.length)
    target.set(this.bytes.subarray(position, end))
  }

  write(source: Uint8Array, position: number): void {
    this.#reserve(position + source.length)
    this.bytes.set(source, position)
    this.size = Math.max(this.size, position + source.length)
    if (source.length > 0) this.#allocate(position, source.length)
  }

  truncate(length: number): void {
    if (length < this.size) this.bytes.fill(0, length, this.size)
    else this.#reserve(length)
    if (length < this.size)
      this.#deallocate(Math.ceil(length / simBlockBytes) * simBlockBytes, Infinity)
    this.size = length
  }

  /** A punch: the range reads as zeros, and the blocks it covers whole are given back. */
  zero(position: number, length: number): void {
    const end = Math.min(this.size, position + length)
    if (position < end) this.bytes.fill(0, position, end)
    this.#deallocate(position, position + length)
  }

  apply(operation: Operation): void {
    if (operation.kind === 'write') this.write(operation.bytes, operation.position)
    else if (operation.kind === 'truncate') this.truncate(operation.length)
    else this.zero(operation.position, operation.length)
  }

  #reserve(length: number): void {
    if (length <= this.bytes.length) return
    const grown = new Uint8Array(Math.max(length, this.bytes.length * 2, 4096))
    grown.set(this.bytes.subarray(0, this.size))
    this.bytes = grown
  }
}

/** One file: its durable image, and what was applied since (in order, numbered). */
class Inode {
  readonly current: Image
  readonly pending: { readonly sequence: number; readonly operation: Operation }[] = []
  sequence = 0

  constructor(
    public name: string,
    public durable: Image,
  ) {
    this.current = durable.clone()
  }

  apply(operation: Operation): void {
    this.current.apply(operation)
    this.sequence += 1
    this.pending.push({ sequence: this.sequence, operation })
  }

  /** Makes durable every operation numbered up to `sequence`. */
  makeDurable(sequence: number): void {
    while (this.pending.length > 0 && this.pending[0]!.sequence <= sequence) {
      this.durable.apply(this.pending.shift()!.operation)
    }
  }

  /** What a power loss could leave of this file. */
  crashImage(rng: () => number): Image {
    const image = this.durable.clone()
    for (const { operation } of this.pending) {
      if (operation.kind === 'truncate') {
        if (rng() < 0.5) image.truncate(operation.length)
        continue
      }
      const position = operation.position
      const end =
        position + (operation.kind === 'write' ? operation.bytes.length : operation.length)
      // Whole, lost, or torn: each sector of the operation applied or not.
      const mode = rng()
      if (mode < 1 / 3) continue
      let sector = Math.floor(position / simSectorBytes) * simSectorBytes
      for (; sector < end; sector += simSectorBytes) {
        if (mode < 2 / 3 && rng() < 0.5) continue
        const from = Math.max(sector, position)
        const to = Math.min(sector + simSectorBytes, end)
        if (operation.kind === 'punch') image.zero(from, to - from)
        else image.write(operation.bytes.subarray(from - position, to - position), from)
      }
    }
    return image
  }
}

export class SimPoolMedia implements PoolMedia {
  readonly stats: SimStats = {
    bytesWritten: new Map(),
    reads: 0,
    writes: 0,
    syncs: 0,
    replaces: 0,
    failures: 0,
  }
  readonly #files = new Map<string, Inode>()
  readonly #rng: () => number
  readonly #capacityBytes: number
  readonly #hopsMax: number
  #faults: Fault[] = []
  #failureRate = 0
  #failureKinds: readonly SimFaultKind[] = []

  constructor(options: SimPoolMediaOptions = {}) {
    this.#rng = options.rng ?? splitmix32(1)
    this.#capacityBytes = options.capacityBytes ?? 2 ** 40
    this.#hopsMax = options.hopsMax ?? 3
  }

  /**
   * A new media holding only what a power loss now could leave (see the header). This media is
   * untouched and may go on running; the new one shares nothing with it.
   */
  crash(rng: () => number, options: SimPoolMediaOptions = {}): SimPoolMedia {
    const media = new SimPoolMedia({
      rng: options.rng ?? splitmix32(Math.floor(rng() * 0x1_0000_0000)),
      capacityBytes: options.capacityBytes ?? this.#capacityBytes,
      hopsMax: options.hopsMax ?? this.#hopsMax,
    })
    for (const [name, inode] of [...this.#files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      media.#files.set(name, new Inode(name, inode.crashImage(rng)))
    }
    return media
  }

  /** The next operation of `kind` on a file whose name matches `pattern` fails with `code`. */
  failNext(kind: SimFaultKind, pattern?: RegExp, code: SanErrorCode = 'IO_ERROR'): void {
    this.#faults.push({ kind, pattern: pattern ?? null, code })
  }

  /** Each operation of the given kinds fails (IO_ERROR) with this probability. */
  failureRate(rate: number, kinds: readonly SimFaultKind[] = ['read', 'write', 'sync']): void {
    assert(rate >= 0 && rate <= 1, 'failure rate')
    this.#failureRate = rate
    this.#failureKinds = kinds
  }

  /** Stops every injected failure. */
  heal(): void {
    this.#faults = []
    this.#failureRate = 0
  }

  /** Flips (xor 0xff) bytes of a file, durably: a medium that returns damaged data. */
  corrupt(name: string, position: number, length: number): void {
    const inode = this.#files.get(name)
    assert(inode !== undefined, `corrupt: no file ${name}`)
    for (const image of [inode.durable, inode.current]) {
      for (let at = position; at < Math.min(position + length, image.size); at++) {
        image.bytes[at] = image.bytes[at]! ^ 0xff
      }
    }
  }

  /** Bytes allocated to the file (holes excluded), or null when absent (for tests). */
  allocatedBytes(name: string): number | null {
    const image = this.#files.get(name)?.current
    return image === undefined ? null : image.allocated * simBlockBytes
  }

  /** The file's current size, or null when absent (for tests). */
  fileSize(name: string): number | null {
    return this.#files.get(name)?.current.size ?? null
  }

  /** Bytes allocated to all files' current images (holes take none). */
  usedBytes(): number {
    let total = 0
    for (const inode of this.#files.values()) total += inode.current.allocated * simBlockBytes
    return total
  }

  async open(name: string, create: boolean): Promise<PoolFile> {
    checkName(name)
    await this.hop()
    let inode = this.#files.get(name)
    if (inode === undefined) {
      if (!create) throw new SanError('IO_ERROR', `${name}: no such file`)
      inode = new Inode(name, new Image())
      this.#files.set(name, inode)
    }
    return new SimPoolFile(this, inode)
  }

  async readAll(name: string): Promise<Uint8Array | null> {
    checkName(name)
    await this.hop()
    this.fault('read', name)
    const inode = this.#files.get(name)
    if (inode === undefined) return null
    this.stats.reads += 1
    return inode.current.bytes.slice(0, inode.current.size)
  }

  async replace(name: string, bytes: Uint8Array): Promise<void> {
    checkName(name)
    const copy = bytes.slice()
    await this.hop()
    this.fault('write', name)
    const old = this.#files.get(name)?.current.allocated ?? 0
    this.reserve(Math.ceil(copy.length / simBlockBytes) * simBlockBytes - old * simBlockBytes)
    this.#files.set(name, new Inode(name, new Image(copy, copy.length)))
    this.stats.replaces += 1
    this.countWrite(name, copy.length)
  }

  async remove(name: string): Promise<void> {
    checkName(name)
    await this.hop()
    this.#files.delete(name)
  }

  async list(): Promise<string[]> {
    await this.hop()
    return [...this.#files.keys()].sort()
  }

  async availableBytes(): Promise<number> {
    await this.hop()
    return Math.max(0, this.#capacityBytes - this.usedBytes())
  }

  /** Waits a random number of microtask hops: operations complete in varying orders. */
  async hop(): Promise<void> {
    const hops = Math.floor(this.#rng() * (this.#hopsMax + 1))
    for (let i = 0; i < hops; i++) await undefined
  }

  /** Throws the injected failure for this operation, if any (and counts it). */
  fault(kind: SimFaultKind, name: string): void {
    const index = this.#faults.findIndex(
      (fault) => fault.kind === kind && (fault.pattern === null || fault.pattern.test(name)),
    )
    let code: SanErrorCode | null = null
    if (index >= 0) {
      code = this.#faults[index]!.code
      this.#faults.splice(index, 1)
    } else if (this.#failureRate > 0 && this.#failureKinds.includes(kind)) {
      if (this.#rng() < this.#failureRate) code = 'IO_ERROR'
    }
    if (code === null) return
    this.stats.failures += 1
    throw new SanError(code, `simulated ${kind} failure on ${name}`)
  }

  /** Fails with NO_SPACE when allocating `bytes` more would pass the capacity. */
  /**
   * Whether a synchronous write may go ahead now: never while a failure could be injected (the
   * promise path meets it instead, as it would on a real disk that the page cache cannot hide),
   * else on a coin of the seeded generator, so that runs mix both paths reproducibly.
   */
  syncWriteAllowed(name: string, bytes: number): boolean {
    if (this.#failureRate > 0 && this.#failureKinds.includes('write')) return false
    if (this.#faults.some((f) => f.kind === 'write' && (f.pattern?.test(name) ?? true)))
      return false
    if (bytes > 0 && this.usedBytes() + bytes > this.#capacityBytes) return false
    return this.#rng() < 0.5
  }

  reserve(bytes: number): void {
    if (bytes <= 0 || this.usedBytes() + bytes <= this.#capacityBytes) return
    this.stats.failures += 1
    throw new SanError('NO_SPACE', 'simulated filesystem is full')
  }

  countWrite(name: string, bytes: number): void {
    this.stats.bytesWritten.set(name, (this.stats.bytesWritten.get(name) ?? 0) + bytes)
  }
}

class SimPoolFile implements PoolFile {
  #closed = false

  constructor(
    readonly media: SimPoolMedia,
    readonly inode: Inode,
  ) {}

  async read(target: Uint8Array, position: number): Promise<void> {
    this.#check(position)
    await this.media.hop()
    this.media.fault('read', this.inode.name)
    this.media.stats.reads += 1
    this.inode.current.read(target, position)
  }

  async write(source: Uint8Array, position: number): Promise<void> {
    this.#check(position)
    const bytes = source.slice()
    await this.media.hop()
    this.media.fault('write', this.inode.name)
    this.media.reserve(this.inode.current.unallocatedBytes(position, bytes.length))
    this.inode.apply({ kind: 'write', position, bytes })
    this.media.stats.writes += 1
    this.media.countWrite(this.inode.name, bytes.length)
  }

  writeNow(source: Uint8Array, position: number): boolean {
    this.#check(position)
    const growth = this.inode.current.unallocatedBytes(position, source.length)
    if (!this.media.syncWriteAllowed(this.inode.name, growth)) return false
    this.inode.apply({ kind: 'write', position, bytes: source.slice() })
    this.media.stats.writes += 1
    this.media.countWrite(this.inode.name, source.length)
    return true
  }

  async sync(): Promise<void> {
    assert(!this.#closed, 'sync after close')
    const sequence = this.inode.sequence
    await this.media.hop()
    this.media.fault('sync', this.inode.name)
    this.media.stats.syncs += 1
    this.inode.makeDurable(sequence)
  }

  size(): number {
    return this.inode.current.size
  }

  allocatedBytes(): number {
    return this.inode.current.allocated * simBlockBytes
  }

  async truncate(length: number): Promise<void> {
    this.#check(length)
    await this.media.hop()
    this.media.fault('write', this.inode.name)
    this.inode.apply({ kind: 'truncate', length }) // growing makes a hole: nothing to allocate
  }

  async punchHole(position: number, length: number): Promise<void> {
    this.#check(position)
    assert(Number.isSafeInteger(length) && length >= 0, 'hole length')
    await this.media.hop()
    this.media.fault('write', this.inode.name)
    if (length > 0) this.inode.apply({ kind: 'punch', position, length })
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #check(position: number): void {
    assert(!this.#closed, 'I/O after close')
    assert(Number.isSafeInteger(position) && position >= 0, 'position must be a safe integer')
  }
}

function checkName(name: string): void {
  assert(name.length > 0 && !name.includes('/') && !name.startsWith('.'), `file name ${name}`)
}

/** A tiny seeded PRNG (splitmix32) for the default completion order. */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 0x1_0000_0000
  }
}

/**
 * `media` with some operations of its files replaced, for tests that count, time or delay them:
 * `hooks` sees each file as it is opened and returns the operations to use instead; every other
 * property is the file's own.
 */
export function hookFiles(
  media: PoolMedia,
  hooks: (name: string, file: PoolFile) => Partial<PoolFile>,
): PoolMedia {
  return {
    open: async (name, create) => {
      const file = await media.open(name, create)
      const replaced: Partial<PoolFile> = hooks(name, file)
      return new Proxy(file, {
        get(target, key) {
          if (Object.hasOwn(replaced, key)) return replaced[key as keyof PoolFile]
          const value = Reflect.get(target, key, target)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    },
    readAll: (name) => media.readAll(name),
    replace: (name, bytes) => media.replace(name, bytes),
    remove: (name) => media.remove(name),
    list: () => media.list(),
    availableBytes: () => media.availableBytes(),
  }
}
