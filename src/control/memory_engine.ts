/**
 * The in-memory VolumeEngine (engine.ts): a trivially correct stand-in for storage/engine's Pool
 * in the unit tests of control/, api/ and cli/. Every image (a volume's head, a snapshot, an
 * exposed view) is a map from block index to an immutable block buffer; a snapshot copies the
 * map, so images share buffers until one is overwritten. Sharing by reference gives exact space
 * figures (a buffer counts once) and diffs (a changed block is a different buffer). Nothing is
 * persisted; deletes free at once (freeingBytes is always 0).
 */
import { assert } from '../base/assert.ts'
import type { Clock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import type {
  Damage,
  DiffExtent,
  EngineDevice,
  PoolSpace,
  ProvisioningRun,
  SnapshotInfo,
  SnapshotRequest,
  VolumeEngine,
  VolumeSpace,
} from './engine.ts'

type Blocks = Map<number, Uint8Array>

class MemoryImage implements EngineDevice {
  readonly thin = true
  onContentsReplaced: (() => void) | null = null
  blocks: Blocks

  constructor(
    readonly id: string,
    readonly blockBytes: 512 | 4096,
    public blockCount: number,
    blocks: Blocks,
  ) {
    this.blocks = blocks
  }

  async read(lba: number, target: Uint8Array): Promise<void> {
    this.#check(lba, target.length)
    for (let index = 0; index < target.length / this.blockBytes; index++) {
      const block = this.blocks.get(lba + index)
      const at = index * this.blockBytes
      if (block) target.set(block, at)
      else target.fill(0, at, at + this.blockBytes)
    }
  }

  async write(lba: number, source: Uint8Array, _fua: boolean): Promise<void> {
    this.#check(lba, source.length)
    for (let index = 0; index < source.length / this.blockBytes; index++) {
      const at = index * this.blockBytes
      this.blocks.set(lba + index, source.slice(at, at + this.blockBytes))
    }
  }

  async flush(): Promise<void> {}

  /** Mapped or deallocated runs, per block (GET LBA STATUS). */
  provisioning(lba: number, blockCount: number, runsMax: number): ProvisioningRun[] {
    const runs: ProvisioningRun[] = []
    const end = Math.min(this.blockCount, lba + blockCount)
    for (let block = lba; block < end && runs.length <= runsMax; block++) {
      const mapped = this.blocks.has(block)
      const last = runs.at(-1)
      if (last !== undefined && last.mapped === mapped && last.lba + last.blocks === block)
        runs[runs.length - 1] = { ...last, blocks: last.blocks + 1 }
      else runs.push({ lba: block, blocks: 1, mapped })
    }
    return runs.slice(0, runsMax)
  }

  async unmap(lba: number, blockCount: number): Promise<void> {
    this.#check(lba, blockCount * this.blockBytes)
    for (let index = 0; index < blockCount; index++) this.blocks.delete(lba + index)
  }

  #check(lba: number, bytes: number): void {
    assert(bytes % this.blockBytes === 0, 'whole blocks only')
    assert(lba >= 0 && lba + bytes / this.blockBytes <= this.blockCount, 'range beyond the end')
  }
}

interface MemorySnapshot {
  /** Creation order across the pool: lists are oldest first. */
  readonly sequence: number
  readonly name: string
  readonly createdAtMs: number
  readonly groupId: string | null
  readonly blockCount: number
  readonly blocks: Blocks
  view: MemoryImage | null
}

interface MemoryVolume {
  readonly head: MemoryImage
  readonly snapshots: MemorySnapshot[]
  readonly origin: { volumeId: string; name: string } | null
}

export class MemoryEngine implements VolumeEngine {
  readonly #volumes = new Map<string, MemoryVolume>()
  #groups = 0
  #sequence = 0

  constructor(
    private readonly clock: Clock,
    private readonly capacityBytes = 1 << 30,
  ) {}

  async createVolume(id: string, blockBytes: 512 | 4096, blockCount: number) {
    if (this.#volumes.has(id)) throw new SanError('VOLUME_EXISTS', `engine volume ${id} exists`)
    const head = new MemoryImage(id, blockBytes, blockCount, new Map())
    this.#volumes.set(id, { head, snapshots: [], origin: null })
    return head
  }

  device(id: string): EngineDevice {
    const volume = this.#volumes.get(id)
    if (volume) return volume.head
    for (const { snapshots } of this.#volumes.values())
      for (const snapshot of snapshots) if (snapshot.view?.id === id) return snapshot.view
    throw new SanError('VOLUME_NOT_FOUND', `no engine volume or view ${id}`)
  }

  volumeIds(): string[] {
    return [...this.#volumes.keys()]
  }

  async resizeVolume(id: string, blockCount: number): Promise<void> {
    const { head } = this.#volume(id)
    if (blockCount < head.blockCount) throw new SanError('SIZE_SHRINK', 'volumes only grow')
    head.blockCount = blockCount
  }

  async deleteVolume(id: string, recursive: boolean): Promise<void> {
    const volume = this.#volume(id)
    if (volume.snapshots.length > 0 && !recursive)
      throw new SanError('VOLUME_HAS_DEPENDENTS', `engine volume ${id} has snapshots`)
    if (volume.snapshots.some((s) => this.#clonesOf(id, s.name).length > 0))
      throw new SanError('VOLUME_HAS_DEPENDENTS', `engine volume ${id} has clones`)
    if (volume.snapshots.some((s) => s.view !== null))
      throw new SanError('SNAPSHOT_IN_USE', `a snapshot of engine volume ${id} is exposed`)
    this.#volumes.delete(id)
  }

  async createSnapshots(items: readonly SnapshotRequest[]): Promise<SnapshotInfo[]> {
    for (const [index, item] of items.entries()) {
      const volume = this.#volume(item.volumeId)
      if (volume.snapshots.some((s) => s.name === item.name))
        throw new SanError('SNAPSHOT_EXISTS', `${item.volumeId}@${item.name} exists`)
      if (items.findIndex((other) => other.volumeId === item.volumeId) !== index)
        throw new SanError('INVALID_ARGUMENT', 'a group snapshot names each volume once')
    }
    const groupId = items.length > 1 ? `g${++this.#groups}` : null
    const createdAtMs = Math.floor(this.clock.wallMs())
    for (const item of items) {
      const volume = this.#volume(item.volumeId)
      const blocks = new Map(volume.head.blocks)
      const { blockCount } = volume.head
      volume.snapshots.push({
        sequence: ++this.#sequence,
        name: item.name,
        createdAtMs,
        groupId,
        blockCount,
        blocks,
        view: null,
      })
    }
    return items.map((item) => this.#info(item.volumeId, this.#snapshot(item)))
  }

  snapshots(volumeId?: string): SnapshotInfo[] {
    const ids = volumeId === undefined ? [...this.#volumes.keys()] : [volumeId]
    return ids
      .flatMap((id) => this.#volume(id).snapshots.map((s) => ({ id, s })))
      .sort((a, b) => a.s.sequence - b.s.sequence)
      .map(({ id, s }) => this.#info(id, s))
  }

  async deleteSnapshot(volumeId: string, name: string): Promise<void> {
    const snapshot = this.#snapshot({ volumeId, name })
    if (snapshot.view !== null || this.#clonesOf(volumeId, name).length > 0)
      throw new SanError('SNAPSHOT_IN_USE', `${volumeId}@${name} is exposed or cloned`)
    const { snapshots } = this.#volume(volumeId)
    snapshots.splice(snapshots.indexOf(snapshot), 1)
  }

  async rollback(volumeId: string, name: string): Promise<void> {
    const snapshot = this.#snapshot({ volumeId, name })
    const { head } = this.#volume(volumeId)
    head.blocks = new Map(snapshot.blocks)
    head.onContentsReplaced?.()
  }

  async expose(volumeId: string, name: string, viewId: string): Promise<EngineDevice> {
    const snapshot = this.#snapshot({ volumeId, name })
    if (snapshot.view !== null) throw new SanError('SNAPSHOT_IN_USE', `${name} is exposed`)
    const { head } = this.#volume(volumeId)
    snapshot.view = new MemoryImage(viewId, head.blockBytes, snapshot.blockCount, new Map())
    snapshot.view.blocks = new Map(snapshot.blocks)
    return snapshot.view
  }

  async unexpose(volumeId: string, name: string): Promise<void> {
    const snapshot = this.#snapshot({ volumeId, name })
    if (snapshot.view === null) throw new SanError('INVALID_ARGUMENT', `${name} is not exposed`)
    snapshot.view = null
  }

  async clone(volumeId: string, name: string, newVolumeId: string): Promise<EngineDevice> {
    const snapshot = this.#snapshot({ volumeId, name })
    const { head } = this.#volume(volumeId)
    const device = await this.createVolume(newVolumeId, head.blockBytes, snapshot.blockCount)
    ;(device as MemoryImage).blocks = new Map(snapshot.blocks)
    const created = this.#volume(newVolumeId)
    this.#volumes.set(newVolumeId, { ...created, origin: { volumeId, name } })
    return device
  }

  origin(volumeId: string): { volumeId: string; name: string } | null {
    return this.#volume(volumeId).origin
  }

  diff(volumeId: string, from: string, to: string | null): DiffExtent[] {
    const older = this.#snapshot({ volumeId, name: from }).blocks
    const { head } = this.#volume(volumeId)
    const newer = to === null ? head.blocks : this.#snapshot({ volumeId, name: to }).blocks
    const changed = [...new Set([...older.keys(), ...newer.keys()])]
      .filter((index) => older.get(index) !== newer.get(index))
      .sort((a, b) => a - b)
    const extents: { offsetBytes: number; lengthBytes: number; zero: boolean }[] = []
    for (const index of changed) {
      const zero = !newer.has(index)
      const offsetBytes = index * head.blockBytes
      const last = extents.at(-1)
      if (last && last.zero === zero && last.offsetBytes + last.lengthBytes === offsetBytes)
        last.lengthBytes += head.blockBytes
      else extents.push({ offsetBytes, lengthBytes: head.blockBytes, zero })
    }
    return extents
  }

  volumeSpace(id: string): VolumeSpace {
    const volume = this.#volume(id)
    const own = new Set(volume.head.blocks.values())
    const history = new Set(volume.snapshots.flatMap((s) => [...s.blocks.values()]))
    const bytes = (set: Set<Uint8Array>) => set.size * volume.head.blockBytes
    const onlyHead = new Set([...own].filter((block) => !history.has(block)))
    const onlyHistory = new Set([...history].filter((block) => !own.has(block)))
    return {
      id,
      sizeBytes: volume.head.blockCount * volume.head.blockBytes,
      usedBytes: bytes(new Set([...own, ...history])),
      writtenSinceSnapshotBytes: bytes(onlyHead),
      snapshotBytes: bytes(onlyHistory),
    }
  }

  space(): PoolSpace {
    const usedBytes = this.#references().size
    return {
      capacityBytes: this.capacityBytes,
      usedBytes,
      freeBytes: this.capacityBytes - usedBytes,
      freeingBytes: 0,
      metadataBytes: 0,
      chunkBytes: 512,
      volumes: this.#volumes.size,
      snapshots: this.snapshots().length,
    }
  }

  async scrub(): Promise<Damage[]> {
    return []
  }

  /** Every live block buffer with how many images reference it; bytes = sum of lengths. */
  #references(): { size: number; counts: Map<Uint8Array, number> } {
    const counts = new Map<Uint8Array, number>()
    for (const volume of this.#volumes.values()) {
      const images = [volume.head.blocks, ...volume.snapshots.map((s) => s.blocks)]
      for (const snapshot of volume.snapshots) if (snapshot.view) images.push(snapshot.view.blocks)
      for (const image of images)
        for (const block of new Set(image.values())) counts.set(block, (counts.get(block) ?? 0) + 1)
    }
    let size = 0
    for (const block of counts.keys()) size += block.length
    return { size, counts }
  }

  #info(volumeId: string, snapshot: MemorySnapshot): SnapshotInfo {
    const { counts } = this.#references()
    let exclusiveBytes = 0
    let sharedBytes = 0
    for (const block of new Set(snapshot.blocks.values())) {
      if (counts.get(block) === 1) exclusiveBytes += block.length
      else sharedBytes += block.length
    }
    return {
      volumeId,
      name: snapshot.name,
      createdAtMs: snapshot.createdAtMs,
      groupId: snapshot.groupId,
      sizeBytes: snapshot.blockCount * this.#volume(volumeId).head.blockBytes,
      exclusiveBytes,
      sharedBytes,
      exposedAs: snapshot.view?.id ?? null,
      clones: this.#clonesOf(volumeId, snapshot.name),
    }
  }

  #clonesOf(volumeId: string, name: string): string[] {
    return [...this.#volumes.entries()]
      .filter(([, v]) => v.origin?.volumeId === volumeId && v.origin.name === name)
      .map(([id]) => id)
  }

  #volume(id: string): MemoryVolume {
    const volume = this.#volumes.get(id)
    if (volume === undefined) throw new SanError('VOLUME_NOT_FOUND', `no engine volume ${id}`)
    return volume
  }

  #snapshot(request: SnapshotRequest): MemorySnapshot {
    const found = this.#volume(request.volumeId).snapshots.find((s) => s.name === request.name)
    if (found === undefined)
      throw new SanError('SNAPSHOT_NOT_FOUND', `no snapshot ${request.volumeId}@${request.name}`)
    return found
  }
}
