/**
 * Crash harness on the simulated disk (docs/engine.md §5.5; issue 4, "a simulated-disk run with
 * torn writes and I/O errors injected"): a workload (crash_driver.ts) runs on a `Pool` over
 * `SimPoolMedia`; at a random moment, with writes, flushes and commits still in flight, the disk
 * "loses power" (`media.crash(rng)`: unsynced writes applied, lost or torn per sector); the pool
 * is reopened on what is left and checked against the crash model (crash_model.ts): every
 * acknowledged-durable write present unless overwritten, every sector holding a value the model
 * allows, every completed snapshot present with exactly its image, and no counter drift. Then
 * the reopened pool must work: write, snapshot, close, reopen.
 *
 * A second run injects I/O errors: they must surface as SanErrors (never an assert), and the
 * pool must reopen consistent afterwards.
 *
 * Replay one iteration: `BASALT_SEED=123`; `BASALT_CRASH_ITERATIONS` (default 200) per run.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../src/base/clock.ts'
import { SimPoolMedia } from '../../src/storage/engine/media_sim.ts'
import { Pool } from '../../src/storage/engine/pool.ts'
import { Prng } from '../harness/prng.ts'
import { CrashDriver } from './crash_driver.ts'
import { applyEvent, CrashModel, stampedData } from './crash_model.ts'
import { assertSameBytes, checkRecount, readDevice } from './pool_driver.ts'

const iterations = Number(process.env.BASALT_CRASH_ITERATIONS ?? 200)
const seeds = process.env.BASALT_SEED
  ? [Number(process.env.BASALT_SEED)]
  : Array.from({ length: iterations }, (_, i) => 5000 + i)

interface Outcome {
  readonly steps: number
  /** Operations still in flight when the power went. */
  readonly inFlight: number
  readonly errors: Map<string, number>
}

async function crashOnce(seed: number, failureRate: number): Promise<Outcome> {
  const prng = new Prng(seed)
  const media = new SimPoolMedia({ rng: () => prng.float() })
  const clock = new ManualClock()
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  const model = new CrashModel()
  let crashed = false
  const driver = new CrashDriver(pool, prng.fork(), (event) => {
    if (!crashed) applyEvent(model, event)
  })
  await driver.setup()
  if (failureRate > 0) media.failureRate(failureRate)
  const steps = prng.between(5, 100)
  for (let i = 0; i < steps; i++) {
    await driver.step()
    clock.advanceMs(prng.between(0, 40))
    pool.tick()
  }
  for (let hops = prng.chance(0.5) ? 0 : prng.below(40); hops > 0; hops--) await undefined
  const inFlight = driver.inFlight
  let after = media.crash(() => prng.float())
  crashed = true
  assert.deepEqual(driver.bugs, [], 'operations failed only with SanErrors')
  if (prng.chance(0.3)) after = await crashDuringRecovery(after, clock, prng)
  await recoverAndCheck(after, clock, model, prng)
  // The old pool's operations still settle (on the old disk); none may assert.
  await driver.drain()
  assert.deepEqual(driver.bugs, [], 'operations failed only with SanErrors')
  return { steps, inFlight, errors: driver.errors }
}

/** Power fails again while the pool recovers: recovery must be restartable. */
async function crashDuringRecovery(
  media: SimPoolMedia,
  clock: ManualClock,
  prng: Prng,
): Promise<SimPoolMedia> {
  const opening = Pool.open({ media, clock, capacityBytes: 1 << 30 })
  for (let hops = prng.below(200); hops > 0; hops--) await undefined
  const again = media.crash(() => prng.float())
  const pool = await opening
  await pool.close()
  return again
}

async function recoverAndCheck(
  media: SimPoolMedia,
  clock: ManualClock,
  model: CrashModel,
  prng: Prng,
): Promise<void> {
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  checkRecount(pool)
  await model.verify(pool)
  // The recovered pool works: a durable write, a snapshot, a clean close and reopen.
  const id = prng.pick(pool.volumeIds())
  const device = pool.device(id)
  const data = stampedData(0x7fff_0000, 0, device.blockBytes / 512)
  await device.write(0, data, true)
  await pool.createSnapshots([{ volumeId: id, name: 'after-crash' }])
  const image = await readDevice(device)
  await pool.close()
  const again = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  checkRecount(again)
  assertSameBytes(await readDevice(again.device(id)), image, `${id} after reopen`)
  await again.close()
}

async function run(seed: number, failureRate: number): Promise<Outcome> {
  try {
    return await crashOnce(seed, failureRate)
  } catch (error) {
    const message = (error as Error).stack ?? String(error)
    assert.fail(
      `seed ${seed} (replay: BASALT_SEED=${seed}, failure rate ${failureRate}):\n${message}`,
    )
  }
}

test(`crash on the simulated disk: ${seeds.length} power losses [engine.md §5.5]`, async () => {
  let steps = 0
  let midFlight = 0
  for (const seed of seeds) {
    const outcome = await run(seed, 0)
    steps += outcome.steps
    if (outcome.inFlight > 0) midFlight += 1
  }
  assert.ok(steps > seeds.length * 5)
  // Most power losses must hit operations in flight, not a quiet pool.
  if (seeds.length >= 20) assert.ok(midFlight > seeds.length / 3, `${midFlight} mid-flight`)
})

test(`crash on the simulated disk with I/O errors: ${Math.ceil(seeds.length / 4)} runs`, async () => {
  const errors = new Map<string, number>()
  for (const seed of seeds.slice(0, Math.ceil(seeds.length / 4))) {
    const outcome = await run(seed + 100_000, 0.02)
    for (const [key, count] of outcome.errors) errors.set(key, (errors.get(key) ?? 0) + count)
  }
  // The injected faults reached the engine and came back as SanErrors.
  if (seeds.length >= 20) assert.ok(errors.size > 0, 'some operations failed')
})
