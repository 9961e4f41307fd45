/**
 * Model-based randomized test of the volume engine (docs/engine.md §5.5 "Testing"; issue 4,
 * "How it must be tested"): for each seed, a workload of ~300 operations (workload.ts) runs
 * against a `Pool` over the simulated disk and against the reference model (model.ts); each
 * operation's outcome (success or error code) must match, the touched device is compared after
 * every step, and everything (devices, snapshot images, listings, diffs, space, recount) every
 * few steps, after a clean close and reopen, and at the end.
 *
 * Replay: `BASALT_SEED=123 node --import tsx --test test/engine/model_based.test.ts`.
 * More seeds: `BASALT_SEEDS=500` (default 12). `BASALT_STEPS` sets the operations per seed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../src/base/clock.ts'
import { SimPoolMedia } from '../../src/storage/engine/media_sim.ts'
import { Pool } from '../../src/storage/engine/pool.ts'
import { Prng } from '../harness/prng.ts'
import { PoolModel } from './model.ts'
import {
  assertSameBytes,
  checkDevices,
  checkDiff,
  checkListings,
  checkOutcome,
  checkRecount,
  checkSnapshotImages,
  checkSpace,
  readDevice,
  runOp,
} from './pool_driver.ts'
import { type Op, Workload } from './workload.ts'

const steps = Number(process.env.BASALT_STEPS ?? 300)
const fullCheckEvery = 50
const seeds = process.env.BASALT_SEED
  ? [Number(process.env.BASALT_SEED)]
  : Array.from({ length: Number(process.env.BASALT_SEEDS ?? 12) }, (_, i) => 1000 + i)
/** Outcomes per operation over all seeds (`write:ok`, `deleteSnapshot:SNAPSHOT_IN_USE`, …). */
const tally = new Map<string, number>()

interface Run {
  pool: Pool
  readonly media: SimPoolMedia
  readonly clock: ManualClock
  readonly model: PoolModel
  readonly prng: Prng
}

async function tick(run: Run, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    run.clock.advanceMs(10)
    run.pool.tick()
    if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve))
  }
}

/**
 * What the operation touched: around an I/O's range (one chunk either side) or, after a
 * structural operation, the whole device.
 */
async function checkTouched(run: Run, op: Op): Promise<void> {
  if (op.op === 'write' || op.op === 'unmap' || op.op === 'read') {
    return checkRange(run, op.device, op.lba, op.blocks)
  }
  if (op.op === 'batch') {
    for (const write of op.writes) await checkRange(run, write.device, write.lba, write.blocks)
    return
  }
  const ids: string[] = []
  if (op.op === 'rollback') ids.push(op.volumeId)
  else if (op.op === 'resize') ids.push(op.id)
  else if (op.op === 'clone') ids.push(op.newId)
  else if (op.op === 'expose') ids.push(op.viewId)
  for (const id of ids) {
    const expected = run.model.device(id)
    if (expected === undefined) continue
    assertSameBytes(await readDevice(run.pool.device(id)), expected.data, `device ${id}`)
  }
}

async function checkRange(run: Run, id: string, lba: number, blocks: number): Promise<void> {
  const expected = run.model.device(id)
  if (expected === undefined) return
  const marginBytes = 64 * 1024
  const start = Math.max(0, lba * expected.blockBytes - marginBytes)
  const end = Math.min(expected.data.length, (lba + blocks) * expected.blockBytes + marginBytes)
  const target = new Uint8Array(end - start)
  await run.pool.device(id).read(start / expected.blockBytes, target)
  assertSameBytes(target, expected.data.subarray(start, end), `device ${id} at ${start}`)
}

async function checkAll(run: Run): Promise<void> {
  await checkDevices(run.pool, run.model)
  checkListings(run.pool, run.model)
  await checkSnapshotImages(run.pool, run.model)
  checkSpace(run.pool, run.model)
  checkRecount(run.pool)
  for (const id of run.model.volumes.keys())
    checkDiff(run.pool, run.model, id, () => run.prng.float())
}

async function step(run: Run, workload: Workload): Promise<Op> {
  const op = workload.next()
  const expected = run.model.expect(op)
  const outcome = await runOp(run.pool, op)
  checkOutcome(expected, outcome)
  const key = `${op.op}:${'ok' in outcome ? 'ok' : outcome.error}`
  tally.set(key, (tally.get(key) ?? 0) + 1)
  if (op.op === 'tick') await tick(run, op.count)
  else await tick(run, 1)
  await checkTouched(run, op)
  return op
}

async function runSeed(seed: number): Promise<void> {
  const prng = new Prng(seed)
  const media = new SimPoolMedia({ rng: () => prng.float() })
  const clock = new ManualClock()
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  const run: Run = { pool, media, clock, model: new PoolModel(), prng }
  const workload = new Workload(prng.fork(), run.model)
  const recent: Op[] = []
  let index = 0
  try {
    for (; index < steps; index++) {
      recent.push(await step(run, workload))
      if (recent.length > 8) recent.shift()
      if (index % fullCheckEvery === fullCheckEvery - 1) await checkAll(run)
      if (index === Math.floor(steps / 2)) await reopen(run)
    }
    await checkAll(run)
    await reopen(run)
    await checkAll(run)
    await deleteEverything(run)
    await run.pool.close()
  } catch (error) {
    const ops = recent.map((op) => `  ${JSON.stringify(op)}`).join('\n')
    const message = (error as Error).message
    assert.fail(
      `seed ${seed} failed at step ${index} (replay: BASALT_SEED=${seed}):\n` +
        `${message}\nlast operations:\n${ops}\n${(error as Error).stack}`,
    )
  }
}

/** A clean close and reopen on the same disk: everything (views too) must be as before. */
async function reopen(run: Run): Promise<void> {
  await run.pool.close()
  run.pool = await Pool.open({ media: run.media, clock: run.clock, capacityBytes: 1 << 30 })
}

/**
 * Unexposes and deletes everything (clones first), lets reclamation finish, and checks that the
 * pool is empty again: nothing leaked, no counter drifted.
 */
async function deleteEverything(run: Run): Promise<void> {
  const { pool, model } = run
  for (const volume of model.volumes.values()) {
    for (const snapshot of volume.snapshots) {
      if (snapshot.exposedAs !== null) await pool.unexpose(volume.id, snapshot.name)
    }
  }
  while (model.volumes.size > 0) {
    const free = [...model.volumes.values()].find((v) =>
      v.snapshots.every((s) => s.clones.size === 0),
    )
    assert.ok(free !== undefined, 'some volume has no clones')
    for (const snapshot of free.snapshots) snapshot.exposedAs = null
    checkOutcome(
      model.expect({ op: 'deleteVolume', id: free.id, recursive: true }),
      await runOp(pool, { op: 'deleteVolume', id: free.id, recursive: true }),
    )
  }
  model.views.clear()
  await pool.settle()
  checkRecount(pool)
  const space = pool.space()
  assert.equal(space.volumes, 0, 'no volumes left')
  assert.equal(space.freeingBytes, 0, 'nothing left to reclaim')
  assert.equal(space.usedBytes, 0, 'every chunk returned to the pool')
}

for (const seed of seeds) {
  test(`engine matches the model, seed ${seed} [engine.md §5.5]`, () => runSeed(seed))
}

test('the workloads reached every operation and the documented errors', {
  skip: seeds.length < 10,
}, () => {
  const summary = [...tally].sort().map(([key, count]) => `${key}=${count}`)
  console.log(`model_based outcomes: ${summary.join(' ')}`)
  for (const op of [
    'write',
    'batch',
    'unmap',
    'flush',
    'read',
    'snapshot',
    'deleteSnapshot',
    'rollback',
    'expose',
    'unexpose',
    'clone',
    'resize',
    'deleteVolume',
    'create',
  ]) {
    assert.ok((tally.get(`${op}:ok`) ?? 0) > 0, `${op} succeeded at least once`)
  }
  for (const error of [
    'snapshot:SNAPSHOT_EXISTS',
    'deleteSnapshot:SNAPSHOT_IN_USE',
    'resize:SIZE_SHRINK',
    'deleteVolume:VOLUME_HAS_DEPENDENTS',
    'rollback:SNAPSHOT_NOT_FOUND',
  ]) {
    assert.ok((tally.get(error) ?? 0) > 0, `${error} was exercised`)
  }
})
