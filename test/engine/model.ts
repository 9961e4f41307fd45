/**
 * The trivially correct reference model of a pool (docs/engine.md §5.5 "Testing"): every volume,
 * view and snapshot is a full byte array; a snapshot is a copy, a view a copy of its snapshot, a
 * clone a copy, a rollback a copy back, an unmap a fill with zeros. `apply` returns what the
 * engine must answer for an operation: success, or the SanError codes it may fail with
 * (several when the API leaves the order of checks open). The engine is compared against it by
 * model_based.test.ts; the operations come from workload.ts.
 */
import type { SanErrorCode } from '../../src/base/errors.ts'
import type { Op } from './workload.ts'
import { writeData } from './workload.ts'

export interface ModelSnapshot {
  readonly name: string
  readonly blockCount: number
  readonly data: Uint8Array
  readonly groupId: number | null
  exposedAs: string | null
  readonly clones: Set<string>
}

export interface ModelVolume {
  readonly id: string
  readonly blockBytes: 512 | 4096
  blockCount: number
  data: Uint8Array
  /** Oldest first. */
  readonly snapshots: ModelSnapshot[]
  readonly origin: { readonly volumeId: string; readonly name: string } | null
}

export interface ModelView {
  readonly id: string
  readonly volumeId: string
  readonly name: string
  readonly blockBytes: 512 | 4096
  readonly data: Uint8Array
}

/** What the engine must answer: success, or one of these error codes (nothing changed). */
export type Expectation = { readonly ok: true } | { readonly errors: readonly SanErrorCode[] }

const ok: Expectation = { ok: true }
const fail = (...errors: SanErrorCode[]): Expectation => ({ errors })

export class PoolModel {
  readonly volumes = new Map<string, ModelVolume>()
  readonly views = new Map<string, ModelView>()
  #groups = 0

  /** A volume or a view, as `pool.device(id)` would find it. */
  device(id: string): { blockBytes: 512 | 4096; data: Uint8Array } | undefined {
    return this.volumes.get(id) ?? this.views.get(id)
  }

  snapshot(volumeId: string, name: string): ModelSnapshot | undefined {
    return this.volumes.get(volumeId)?.snapshots.find((s) => s.name === name)
  }

  snapshotCount(): number {
    let total = 0
    for (const volume of this.volumes.values()) total += volume.snapshots.length
    return total
  }

  /** What the engine must answer; on success, the model changes as the engine must. */
  expect(op: Op): Expectation {
    switch (op.op) {
      case 'create':
        return this.#create(op.id, op.blockBytes, op.blockCount)
      case 'write':
      case 'unmap':
      case 'flush':
      case 'read':
        return this.#io(op)
      case 'batch':
        for (const write of op.writes) this.#io(write)
        return ok
      case 'snapshot':
        return this.#snapshots(op.items)
      case 'deleteSnapshot':
        return this.#deleteSnapshot(op.volumeId, op.name)
      case 'rollback':
        return this.#rollback(op.volumeId, op.name)
      case 'expose':
        return this.#expose(op.volumeId, op.name, op.viewId)
      case 'unexpose':
        return this.#unexpose(op.volumeId, op.name)
      case 'clone':
        return this.#clone(op.volumeId, op.name, op.newId)
      case 'resize':
        return this.#resize(op.id, op.blockCount)
      case 'deleteVolume':
        return this.#deleteVolume(op.id, op.recursive)
      case 'tick':
        return ok
    }
  }

  #create(id: string, blockBytes: 512 | 4096, blockCount: number): Expectation {
    if (this.device(id) !== undefined) return fail('VOLUME_EXISTS')
    const data = new Uint8Array(blockBytes * blockCount)
    this.volumes.set(id, { id, blockBytes, blockCount, data, snapshots: [], origin: null })
    return ok
  }

  #io(op: Extract<Op, { op: 'write' | 'unmap' | 'flush' | 'read' }>): Expectation {
    const device = this.device(op.device)
    if (device === undefined) return fail('VOLUME_NOT_FOUND')
    if (op.op === 'write') {
      const at = op.lba * device.blockBytes
      device.data.set(writeData(op.seed, op.blocks * device.blockBytes), at)
    } else if (op.op === 'unmap') {
      const at = op.lba * device.blockBytes
      device.data.fill(0, at, at + op.blocks * device.blockBytes)
    }
    return ok
  }

  #snapshots(items: readonly { volumeId: string; name: string }[]): Expectation {
    const missing = items.some((item) => !this.volumes.has(item.volumeId))
    const taken = items.some((item) => this.snapshot(item.volumeId, item.name) !== undefined)
    if (missing && taken) return fail('VOLUME_NOT_FOUND', 'SNAPSHOT_EXISTS')
    if (missing) return fail('VOLUME_NOT_FOUND')
    if (taken) return fail('SNAPSHOT_EXISTS')
    const groupId = items.length > 1 ? ++this.#groups : null
    for (const item of items) {
      const volume = this.volumes.get(item.volumeId)!
      volume.snapshots.push({
        name: item.name,
        blockCount: volume.blockCount,
        data: volume.data.slice(),
        groupId,
        exposedAs: null,
        clones: new Set(),
      })
    }
    return ok
  }

  #deleteSnapshot(volumeId: string, name: string): Expectation {
    const volume = this.volumes.get(volumeId)
    if (volume === undefined) return fail('VOLUME_NOT_FOUND', 'SNAPSHOT_NOT_FOUND')
    const snapshot = this.snapshot(volumeId, name)
    if (snapshot === undefined) return fail('SNAPSHOT_NOT_FOUND')
    if (snapshot.exposedAs !== null || snapshot.clones.size > 0) return fail('SNAPSHOT_IN_USE')
    volume.snapshots.splice(volume.snapshots.indexOf(snapshot), 1)
    return ok
  }

  #rollback(volumeId: string, name: string): Expectation {
    const volume = this.volumes.get(volumeId)
    if (volume === undefined) return fail('VOLUME_NOT_FOUND', 'SNAPSHOT_NOT_FOUND')
    const snapshot = this.snapshot(volumeId, name)
    if (snapshot === undefined) return fail('SNAPSHOT_NOT_FOUND')
    // The live volume becomes the snapshot's image; a volume grown since keeps its size (volumes
    // only grow online) and reads zeros past the snapshot's end.
    const data = new Uint8Array(Math.max(volume.data.length, snapshot.data.length))
    data.set(snapshot.data)
    volume.data = data
    volume.blockCount = data.length / volume.blockBytes
    return ok
  }

  #expose(volumeId: string, name: string, viewId: string): Expectation {
    const snapshot = this.snapshot(volumeId, name)
    if (snapshot === undefined) return fail('SNAPSHOT_NOT_FOUND', 'VOLUME_NOT_FOUND')
    if (snapshot.exposedAs !== null) return fail('SNAPSHOT_IN_USE')
    if (this.device(viewId) !== undefined) return fail('VOLUME_EXISTS')
    const blockBytes = this.volumes.get(volumeId)!.blockBytes
    this.views.set(viewId, { id: viewId, volumeId, name, blockBytes, data: snapshot.data.slice() })
    snapshot.exposedAs = viewId
    return ok
  }

  #unexpose(volumeId: string, name: string): Expectation {
    const snapshot = this.snapshot(volumeId, name)
    if (snapshot === undefined) return fail('SNAPSHOT_NOT_FOUND', 'VOLUME_NOT_FOUND')
    if (snapshot.exposedAs === null) return fail('SNAPSHOT_NOT_FOUND') // no such exposure
    this.views.delete(snapshot.exposedAs)
    snapshot.exposedAs = null
    return ok
  }

  #clone(volumeId: string, name: string, newId: string): Expectation {
    const snapshot = this.snapshot(volumeId, name)
    if (snapshot === undefined) return fail('SNAPSHOT_NOT_FOUND', 'VOLUME_NOT_FOUND')
    if (this.device(newId) !== undefined) return fail('VOLUME_EXISTS')
    const blockBytes = this.volumes.get(volumeId)!.blockBytes
    this.volumes.set(newId, {
      id: newId,
      blockBytes,
      blockCount: snapshot.blockCount,
      data: snapshot.data.slice(),
      snapshots: [],
      origin: { volumeId, name },
    })
    snapshot.clones.add(newId)
    return ok
  }

  #resize(id: string, blockCount: number): Expectation {
    const volume = this.volumes.get(id)
    if (volume === undefined) return fail('VOLUME_NOT_FOUND')
    if (blockCount < volume.blockCount) return fail('SIZE_SHRINK')
    const data = new Uint8Array(blockCount * volume.blockBytes)
    data.set(volume.data)
    volume.data = data
    volume.blockCount = blockCount
    return ok
  }

  #deleteVolume(id: string, recursive: boolean): Expectation {
    const volume = this.volumes.get(id)
    if (volume === undefined) return fail('VOLUME_NOT_FOUND')
    const cloned = volume.snapshots.some((s) => s.clones.size > 0)
    const exposed = volume.snapshots.some((s) => s.exposedAs !== null)
    const dependents = cloned || (volume.snapshots.length > 0 && !recursive)
    if (dependents && exposed) return fail('VOLUME_HAS_DEPENDENTS', 'SNAPSHOT_IN_USE')
    if (dependents) return fail('VOLUME_HAS_DEPENDENTS')
    if (exposed) return fail('SNAPSHOT_IN_USE')
    this.volumes.delete(id)
    if (volume.origin !== null) {
      this.snapshot(volume.origin.volumeId, volume.origin.name)?.clones.delete(id)
    }
    return ok
  }
}
