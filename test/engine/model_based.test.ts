/**
 * Model-based randomized test of the volume engine (docs/engine.md §5.5 "Testing"; issue 4,
 * "How it must be tested"): for each seed, a workload of ~300 operations (workload.ts) runs
 * against a `Pool` over the simulated disk and against the reference model (model.ts); each
 * operation's outcome (success or error code) must match, the touched device is compared after
 * every step, and everything (devices, snapshot images, listings, diffs, space, recount) every
 * few steps, after a clean close and reopen, and at the end.
 *
 * Replay: `BASALT_SEED=123 node --import tsx --test test/engine/model_based.test.ts`.
 * More seeds: `BASALT_SEEDS=500` (default 40). `BASALT_STEPS` sets the operations per seed.
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
  : Array.from({ length: Number(process.env.BASALT_SEEDS ?? 40) }, (_, i) => 1000 + i)

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

for (const seed of seeds) {
  test(`engine matches the model, seed ${seed} [engine.md §5.5]`, () => runSeed(seed))
}
