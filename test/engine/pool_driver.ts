/**
 * Runs workload operations (workload.ts) against a real `Pool` and compares the pool with the
 * reference model (model.ts): devices byte for byte, snapshots (through a temporary view),
 * snapshot listings, diffs, space figures and the recount. Shared by the model-based and the
 * crash tests.
 */
import assert from 'node:assert/strict'
import { isSanError, type SanErrorCode } from '../../src/base/errors.ts'
import type { Pool } from '../../src/storage/engine/pool.ts'
import type { EngineDevice } from '../../src/storage/engine/types.ts'
import type { Expectation, ModelSnapshot, PoolModel } from './model.ts'
import { type Op, type WriteOp, writeData } from './workload.ts'

export type Outcome = { readonly ok: true } | { readonly error: SanErrorCode }

const readPieceBytes = 1 << 20

/** Runs one operation; SanErrors become outcomes, anything else (an assert) propagates. */
export async function runOp(pool: Pool, op: Op): Promise<Outcome> {
  try {
    await execute(pool, op)
    return { ok: true }
  } catch (error) {
    if (isSanError(error)) return { error: error.code }
    throw error
  }
}

async function execute(pool: Pool, op: Op): Promise<void> {
  switch (op.op) {
    case 'create':
      await pool.createVolume(op.id, op.blockBytes, op.blockCount)
      return
    case 'write':
      return runWrite(pool, op)
    case 'batch':
      await Promise.all(op.writes.map((write) => runWrite(pool, write)))
      return
    case 'unmap':
      return pool.device(op.device).unmap(op.lba, op.blocks)
    case 'flush':
      return pool.device(op.device).flush()
    case 'read': {
      const device = pool.device(op.device)
      await device.read(op.lba, new Uint8Array(op.blocks * device.blockBytes))
      return
    }
    case 'snapshot':
      await pool.createSnapshots(op.items)
      return
    case 'deleteSnapshot':
      return pool.deleteSnapshot(op.volumeId, op.name)
    case 'rollback':
      return pool.rollback(op.volumeId, op.name)
    case 'expose':
      await pool.expose(op.volumeId, op.name, op.viewId)
      return
    case 'unexpose':
      return pool.unexpose(op.volumeId, op.name)
    case 'clone':
      await pool.clone(op.volumeId, op.name, op.newId)
      return
    case 'resize':
      return pool.resizeVolume(op.id, op.blockCount)
    case 'deleteVolume':
      return pool.deleteVolume(op.id, op.recursive)
    case 'tick':
      return
  }
}

/** Without FUA, first the synchronous path, as scsi/sbc/read_write.ts takes it. */
function runWrite(pool: Pool, op: WriteOp): Promise<void> {
  const device = pool.device(op.device)
  const data = writeData(op.seed, op.blocks * device.blockBytes)
  if (!op.fua && device.writeNow?.(op.lba, data) === true) return Promise.resolve()
  return device.write(op.lba, data, op.fua)
}

/** Fails unless the outcome is what the model expected. */
export function checkOutcome(expected: Expectation, outcome: Outcome): void {
  if ('ok' in expected) {
    assert.ok('ok' in outcome, `expected success, got ${'error' in outcome && outcome.error}`)
  } else {
    assert.ok('error' in outcome, `expected ${expected.errors.join(' or ')}, got success`)
    assert.ok(
      expected.errors.includes(outcome.error),
      `expected ${expected.errors}, got ${outcome.error}`,
    )
  }
}

/** A whole device's contents. */
export async function readDevice(device: EngineDevice): Promise<Uint8Array> {
  const out = new Uint8Array(device.blockCount * device.blockBytes)
  for (let at = 0; at < out.length; at += readPieceBytes) {
    const length = Math.min(readPieceBytes, out.length - at)
    await device.read(at / device.blockBytes, out.subarray(at, at + length))
  }
  return out
}

/** The first differing byte, for a readable message (deepEqual on MiBs is unreadable). */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`)
  if (Buffer.compare(actual, expected) === 0) return
  let at = 0
  while (actual[at] === expected[at]) at++
  let end = at
  while (end < actual.length && actual[end] !== expected[end]) end++
  assert.fail(
    `${what}: bytes differ from ${at} (first run ${end - at} bytes; ` +
      `got ${actual[at]}, want ${expected[at]})`,
  )
}

/** Every volume and view: the same ids, geometry and bytes as the model. */
export async function checkDevices(pool: Pool, model: PoolModel): Promise<void> {
  assert.deepEqual([...pool.volumeIds()].sort(), [...model.volumes.keys()].sort(), 'volume ids')
  for (const [id, expected] of [...model.volumes, ...model.views]) {
    const device = pool.device(id)
    assert.equal(device.blockBytes, expected.blockBytes, `${id}: block size`)
    assert.equal(device.blockCount * device.blockBytes, expected.data.length, `${id}: size`)
    assertSameBytes(await readDevice(device), expected.data, `device ${id}`)
  }
}

/** Listings of every volume's snapshots: names in order, views, clones, groups, origins. */
export function checkListings(pool: Pool, model: PoolModel): void {
  for (const volume of model.volumes.values()) {
    const infos = pool.snapshots(volume.id)
    assert.deepEqual(
      infos.map((info) => info.name),
      volume.snapshots.map((snapshot) => snapshot.name),
      `${volume.id}: snapshot names`,
    )
    for (const [index, info] of infos.entries()) {
      const snapshot = volume.snapshots[index]!
      assert.equal(info.volumeId, volume.id)
      assert.equal(info.exposedAs, snapshot.exposedAs, `${volume.id}@${info.name}: exposedAs`)
      assert.deepEqual([...info.clones].sort(), [...snapshot.clones].sort(), `${info.name}: clones`)
      assert.equal(info.groupId === null, snapshot.groupId === null, `${info.name}: group`)
    }
    assert.deepEqual(pool.origin(volume.id), volume.origin, `${volume.id}: origin`)
  }
  checkGroups(pool, model)
  assert.equal(pool.snapshots().length, model.snapshotCount(), 'all snapshots')
}

/** Snapshots taken by one group snapshot share a group id, and no other snapshot has it. */
function checkGroups(pool: Pool, model: PoolModel): void {
  const engineGroups = new Map<string, string[]>()
  const modelGroups = new Map<number, string[]>()
  for (const volume of model.volumes.values()) {
    for (const [index, info] of pool.snapshots(volume.id).entries()) {
      const snapshot = volume.snapshots[index]!
      const key = `${volume.id}@${info.name}`
      if (info.groupId !== null) push(engineGroups, info.groupId, key)
      if (snapshot.groupId !== null) push(modelGroups, snapshot.groupId, key)
    }
  }
  const normalize = (groups: Iterable<string[]>) => [...groups].map((g) => g.sort().join()).sort()
  assert.deepEqual(normalize(engineGroups.values()), normalize(modelGroups.values()), 'groups')
}

function push<K>(map: Map<K, string[]>, key: K, value: string): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/** Each snapshot's image, read through a temporary view (exposed ones are checked as views). */
export async function checkSnapshotImages(pool: Pool, model: PoolModel): Promise<void> {
  let views = 0
  for (const volume of model.volumes.values()) {
    for (const snapshot of volume.snapshots) {
      if (snapshot.exposedAs !== null) continue
      const viewId = `check-view-${views++}`
      const view = await pool.expose(volume.id, snapshot.name, viewId)
      try {
        assertSameBytes(await readDevice(view), snapshot.data, `${volume.id}@${snapshot.name}`)
      } finally {
        await pool.unexpose(volume.id, snapshot.name)
      }
    }
  }
}

/** The maintained counters agree with a full recount. */
export function checkRecount(pool: Pool): void {
  const report = pool.recount()
  assert.deepEqual(report.drift, [], 'recount drift')
}

/** Space figures that the API defines exactly. */
export function checkSpace(pool: Pool, model: PoolModel): void {
  const space = pool.space()
  assert.equal(space.volumes, model.volumes.size, 'space: volumes')
  assert.equal(space.snapshots, model.snapshotCount(), 'space: snapshots')
  assert.ok(space.usedBytes >= 0 && space.freeBytes >= 0, 'space: non-negative')
  assert.ok(space.usedBytes <= space.capacityBytes, 'space: used ≤ capacity')
  let volumesUsed = 0
  for (const volume of model.volumes.values()) {
    const figures = pool.volumeSpace(volume.id)
    assert.equal(figures.sizeBytes, volume.data.length, `${volume.id}: sizeBytes`)
    assert.ok(figures.usedBytes >= 0 && figures.snapshotBytes >= 0, `${volume.id}: ≥ 0`)
    assert.ok(
      figures.writtenSinceSnapshotBytes <= figures.usedBytes,
      `${volume.id}: written ≤ used`,
    )
    volumesUsed += figures.usedBytes
  }
  assert.ok(volumesUsed <= space.usedBytes, `space: Σ volume used ${volumesUsed} ≤ pool used`)
}

/**
 * Every byte that differs between `from` and `to` lies inside a reported extent; an extent
 * marked zero reads as zeros in `to`; extents lie inside `to`.
 */
export function checkDiff(
  pool: Pool,
  model: PoolModel,
  volumeId: string,
  pick: () => number,
): void {
  const volume = model.volumes.get(volumeId)
  if (volume === undefined || volume.snapshots.length === 0) return
  const fromIndex = Math.floor(pick() * volume.snapshots.length)
  const toIndex = fromIndex + 1 + Math.floor(pick() * (volume.snapshots.length - fromIndex))
  const from = volume.snapshots[fromIndex]!
  const to: ModelSnapshot | null = volume.snapshots[toIndex] ?? null
  const toData = to === null ? volume.data : to.data
  const extents = pool.diff(volumeId, from.name, to === null ? null : to.name)
  const covered = new Uint8Array(toData.length)
  const what = `diff ${volumeId} ${from.name}..${to?.name ?? 'live'}`
  for (const extent of extents) {
    const end = extent.offsetBytes + extent.lengthBytes
    assert.ok(extent.offsetBytes >= 0 && extent.lengthBytes > 0, `${what}: extent shape`)
    assert.ok(end <= toData.length, `${what}: extent ${extent.offsetBytes}+${extent.lengthBytes}`)
    covered.fill(1, extent.offsetBytes, end)
    if (extent.zero) {
      const zero = toData.subarray(extent.offsetBytes, end).every((byte) => byte === 0)
      assert.ok(zero, `${what}: zero extent at ${extent.offsetBytes} holds data`)
    }
  }
  const fromData = new Uint8Array(toData.length)
  fromData.set(from.data.subarray(0, toData.length))
  for (let sector = 0; sector < toData.length; sector += 512) {
    const end = Math.min(sector + 512, toData.length)
    if (Buffer.compare(fromData.subarray(sector, end), toData.subarray(sector, end)) === 0) continue
    for (let at = sector; at < end; at++) {
      if (covered[at] === 1 || fromData[at] === toData[at]) continue
      assert.fail(`${what}: byte ${at} differs but no extent covers it`)
    }
  }
}
