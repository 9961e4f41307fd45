/**
 * A seeded generator of pool operations for the model-based test (model_based.test.ts): writes of
 * random length and alignment (sub-4 KiB ones on 512-byte volumes, chunk-crossing ones, FUA or
 * not, concurrent batches), flushes, unmaps, single and group snapshots, snapshot deletes,
 * clones, rollbacks, expose/unexpose with writes to the views, resizes, volume deletes and reads.
 * Operations are plain data so that a failing seed prints what it ran; the generator looks at
 * the model so that most operations are valid and some hit the documented errors on purpose.
 */
import type { Prng } from '../harness/prng.ts'
import type { PoolModel } from './model.ts'

export type WriteOp = {
  readonly op: 'write'
  readonly device: string
  readonly lba: number
  readonly blocks: number
  readonly seed: number
  readonly fua: boolean
}

export type Op =
  | { readonly op: 'create'; readonly id: string; blockBytes: 512 | 4096; blockCount: number }
  | WriteOp
  | { readonly op: 'batch'; readonly writes: readonly WriteOp[] }
  | { readonly op: 'unmap'; readonly device: string; readonly lba: number; readonly blocks: number }
  | { readonly op: 'flush'; readonly device: string }
  | { readonly op: 'read'; readonly device: string; readonly lba: number; readonly blocks: number }
  | { readonly op: 'snapshot'; readonly items: readonly { volumeId: string; name: string }[] }
  | { readonly op: 'deleteSnapshot'; readonly volumeId: string; readonly name: string }
  | { readonly op: 'rollback'; readonly volumeId: string; readonly name: string }
  | { readonly op: 'expose'; readonly volumeId: string; readonly name: string; viewId: string }
  | { readonly op: 'unexpose'; readonly volumeId: string; readonly name: string }
  | { readonly op: 'clone'; readonly volumeId: string; readonly name: string; newId: string }
  | { readonly op: 'resize'; readonly id: string; readonly blockCount: number }
  | { readonly op: 'deleteVolume'; readonly id: string; readonly recursive: boolean }
  | { readonly op: 'tick'; readonly count: number }

export interface WorkloadOptions {
  /** Volume sizes are drawn between these (bytes). */
  readonly volumeBytesMin: number
  readonly volumeBytesMax: number
  readonly volumesMax: number
  readonly snapshotsPerVolumeMax: number
}

export const defaultWorkload: WorkloadOptions = {
  volumeBytesMin: 1 << 20,
  volumeBytesMax: 8 << 20,
  volumesMax: 4,
  snapshotsPerVolumeMax: 6,
}

/** The bytes a write of `seed` carries: deterministic, and different for every seed. */
export function writeData(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = (Math.imul(seed, 2654435761) ^ 0x5bd1e995) >>> 0 || 1
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
    bytes[i + 1] = (x >>> 8) & 0xff
    bytes[i + 2] = (x >>> 16) & 0xff
    bytes[i + 3] = (x >>> 24) & 0xff
  }
  return bytes.subarray(0, length)
}

/** Generates one operation at a time from the model's current state. */
export class Workload {
  #names = 0
  #writes = 0

  constructor(
    readonly prng: Prng,
    readonly model: PoolModel,
    readonly options: WorkloadOptions = defaultWorkload,
  ) {}

  next(): Op {
    const { prng, model } = this
    if (model.volumes.size === 0) return this.create()
    const roll = prng.below(1000)
    if (roll < 380) return this.write(this.anyDevice())
    if (roll < 430) return this.batch(this.anyDevice())
    if (roll < 490) return this.unmap(this.anyDevice())
    if (roll < 530) return { op: 'flush', device: this.anyDevice() }
    if (roll < 600) return this.read(this.anyDevice())
    if (roll < 680) return this.snapshot()
    if (roll < 730) return this.onSnapshot('deleteSnapshot')
    if (roll < 760) return this.onSnapshot('rollback')
    if (roll < 800) return this.expose()
    if (roll < 830) return this.onSnapshot('unexpose')
    if (roll < 850) return this.clone()
    if (roll < 870) return this.resize()
    if (roll < 890) return this.deleteVolume()
    if (roll < 920 && model.volumes.size < this.options.volumesMax) return this.create()
    return { op: 'tick', count: prng.between(1, 200) }
  }

  create(): Op {
    const { prng, options } = this
    const blockBytes = prng.chance(0.5) ? 512 : 4096
    const bytes = prng.between(options.volumeBytesMin, options.volumeBytesMax)
    const blockCount = Math.max(1, Math.floor(bytes / blockBytes))
    return { op: 'create', id: this.freshId('v'), blockBytes, blockCount }
  }

  /** A write range: mostly small, some chunk-sized, some straddling a 64 KiB boundary. */
  range(device: string): { lba: number; blocks: number } {
    const { prng } = this
    const found = this.model.device(device)!
    const blockBytes = found.blockBytes
    const blockCount = found.data.length / blockBytes
    const shape = prng.below(10)
    let bytes: number
    if (shape < 5) bytes = prng.between(1, 8) * (prng.chance(0.5) ? 512 : 4096)
    else if (shape < 8) bytes = prng.between(1, 32) * 4096
    else bytes = prng.between(16, 64) * 4096
    const blocks = Math.min(blockCount, Math.max(1, Math.floor(bytes / blockBytes)))
    let lba = prng.below(blockCount - blocks + 1)
    if (shape === 9) {
      // Straddle a chunk boundary.
      const perChunk = (64 * 1024) / blockBytes
      const boundary = perChunk * prng.below(Math.max(1, Math.floor(blockCount / perChunk)))
      lba = Math.max(0, Math.min(blockCount - blocks, boundary - Math.floor(blocks / 2)))
    }
    return { lba, blocks }
  }

  write(device: string): WriteOp {
    const { lba, blocks } = this.range(device)
    return { op: 'write', device, lba, blocks, seed: ++this.#writes, fua: this.prng.chance(0.2) }
  }

  /** Concurrent writes to one device, to disjoint ranges (the order of overlapping ones is open). */
  batch(device: string): Op {
    const writes: WriteOp[] = []
    for (let i = this.prng.between(2, 8); i > 0; i--) {
      const write = this.write(device)
      const end = write.lba + write.blocks
      if (writes.every((w) => end <= w.lba || write.lba >= w.lba + w.blocks)) writes.push(write)
    }
    return { op: 'batch', writes }
  }

  unmap(device: string): Op {
    const { lba, blocks } = this.range(device)
    return { op: 'unmap', device, lba, blocks }
  }

  read(device: string): Op {
    const { lba, blocks } = this.range(device)
    return { op: 'read', device, lba, blocks }
  }

  snapshot(): Op {
    const { prng } = this
    const volumes = this.volumeIds()
    const count = prng.chance(0.3) ? prng.between(2, volumes.length) : 1
    const chosen = shuffle(prng, volumes).slice(0, count)
    const full = chosen.some(
      (id) => this.model.volumes.get(id)!.snapshots.length >= this.options.snapshotsPerVolumeMax,
    )
    if (full) return this.onSnapshot('deleteSnapshot')
    // Names repeat across volumes and, now and then, within one (SNAPSHOT_EXISTS).
    const name = prng.chance(0.05) ? this.anySnapshotName(chosen[0]!) : `s${++this.#names}`
    return { op: 'snapshot', items: chosen.map((volumeId) => ({ volumeId, name })) }
  }

  onSnapshot(op: 'deleteSnapshot' | 'rollback' | 'unexpose'): Op {
    const volumeId = this.prng.pick(this.volumeIds())
    return { op, volumeId, name: this.anySnapshotName(volumeId) }
  }

  expose(): Op {
    const volumeId = this.prng.pick(this.volumeIds())
    return {
      op: 'expose',
      volumeId,
      name: this.anySnapshotName(volumeId),
      viewId: this.freshId('x'),
    }
  }

  clone(): Op {
    if (this.model.volumes.size >= this.options.volumesMax) return this.onSnapshot('unexpose')
    const volumeId = this.prng.pick(this.volumeIds())
    const name = this.anySnapshotName(volumeId)
    return { op: 'clone', volumeId, name, newId: this.freshId('v') }
  }

  resize(): Op {
    const id = this.prng.pick(this.volumeIds())
    const volume = this.model.volumes.get(id)!
    const grow = this.prng.chance(0.9)
    const delta = this.prng.between(1, (1 << 20) / volume.blockBytes)
    return { op: 'resize', id, blockCount: volume.blockCount + (grow ? delta : -delta) }
  }

  deleteVolume(): Op {
    return {
      op: 'deleteVolume',
      id: this.prng.pick(this.volumeIds()),
      recursive: this.prng.chance(0.7),
    }
  }

  volumeIds(): string[] {
    return [...this.model.volumes.keys()]
  }

  anyDevice(): string {
    const views = [...this.model.views.keys()]
    if (views.length > 0 && this.prng.chance(0.25)) return this.prng.pick(views)
    return this.prng.pick(this.volumeIds())
  }

  /** A snapshot of the volume, or (now and then, or when it has none) a name it lacks. */
  anySnapshotName(volumeId: string): string {
    const snapshots = this.model.volumes.get(volumeId)?.snapshots ?? []
    if (snapshots.length === 0 || this.prng.chance(0.05)) return `missing${this.prng.below(3)}`
    return this.prng.pick(snapshots).name
  }

  freshId(prefix: string): string {
    return `${prefix}${++this.#names}`
  }
}

function shuffle<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.below(i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
