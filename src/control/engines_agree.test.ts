/**
 * The registry over the real Pool (simulated disk) against the registry over the in-memory
 * engine, driven by one seeded random sequence of management operations and host I/O: after
 * every step both must give the same outcome (the same result or the same error code), list
 * the same volumes, snapshots, clones and exports, and every volume and exposed snapshot must
 * read the same bytes — also after a power loss every 50 steps (after a flush), from which the
 * pool recovers and the registry reopens. A failing seed is printed and
 * replays exactly (BASALT_AGREE_SEED=N).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { isSanError } from '../base/errors.ts'
import { silentLogger } from '../base/log.ts'
import { SimPoolMedia, splitmix32 } from '../storage/engine/media_sim.ts'
import { Pool } from '../storage/engine/pool.ts'
import type { VolumeEngine } from './engine.ts'
import { MemoryEngine } from './memory_engine.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory } from './targets.ts'
import { VolumeRegistry } from './volumes.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-agree-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const volumeBytes = 256 * 1024
const steps = Number(process.env.BASALT_AGREE_STEPS ?? 120)

interface Side {
  readonly registry: VolumeRegistry
  readonly engine: VolumeEngine
  readonly path: string
}

async function side(
  engine: VolumeEngine,
  clock: ManualClock,
  path = join(root, `d${counter++}`),
): Promise<Side> {
  const registry = await VolumeRegistry.open({
    dataDir: await DataDir.open(path),
    iqnBase: 'iqn.2026-11.org.basalt',
    clock,
    logger: silentLogger,
    unitFactory: logicalUnitFactory(clock),
    engine,
  })
  return { registry, engine, path }
}

/**
 * A power loss after a flush of every device: the pool restarts from what its disk kept, and
 * the registry reopens over it. Everything acknowledged must still be there.
 */
async function powerLoss(s: Side, media: SimPoolMedia, seed: number, clock: ManualClock) {
  for (const volume of await s.registry.list()) await s.engine.device(volume.serial).flush()
  for (const snapshot of s.registry.snapshots.list())
    if (snapshot.exposed) await s.engine.device(snapshot.exposed.serial).flush()
  const crashed = media.crash(splitmix32(seed))
  await s.registry.close()
  const pool = await Pool.open({ media: crashed, clock, capacityBytes: 1 << 30 })
  return { media: crashed, pool, side: await side(pool, clock, s.path) }
}

type Step = (s: Side) => Promise<unknown>

/** One random operation, the same for both sides. */
function randomStep(next: () => number): { label: string; run: Step } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
  const volume = pick(['v0', 'v1', 'c0', 'c1'])
  const snap = pick(['s0', 's1', 's2'])
  const ref = { volume, snapshot: snap }
  const lba = Math.floor(next() * (volumeBytes / 512 - 16))
  const blocks = 1 + Math.floor(next() * 16)
  const pattern = 1 + Math.floor(next() * 250)
  const recursive = next() < 0.5
  const kinds: [number, string, Step][] = [
    [3, `create ${volume}`, (s) => s.registry.create({ name: volume, size: volumeBytes })],
    [
      8,
      `write ${volume} ${lba}+${blocks}=${pattern}`,
      (s) => write(s, volume, lba, blocks, pattern),
    ],
    [2, `unmap ${volume} ${lba}+${blocks}`, (s) => unmap(s, volume, lba, blocks)],
    [4, `snapshot ${volume}@${snap}`, (s) => s.registry.snapshots.create([ref])],
    [1, `group ${snap}`, (s) => s.registry.snapshots.create(group(snap))],
    [2, `delete ${volume}@${snap}`, (s) => s.registry.snapshots.delete(ref)],
    [2, `rollback ${volume}@${snap}`, (s) => s.registry.snapshots.rollback(ref)],
    [2, `expose ${volume}@${snap}`, (s) => s.registry.snapshots.expose(ref)],
    [1, `unexpose ${volume}@${snap}`, (s) => s.registry.snapshots.unexpose(ref)],
    [3, `view write ${volume}@${snap}`, (s) => viewWrite(s, ref, lba, blocks, pattern)],
    [2, `clone v@${snap} -> ${volume}`, (s) => s.registry.clone(`v${lba % 2}@${snap}`, volume)],
    [1, `delete ${volume} ${recursive}`, (s) => s.registry.delete(volume, recursive)],
    [1, `resize ${volume}`, (s) => s.registry.resize(volume, volumeBytes * 2)],
  ]
  let roll = next() * kinds.reduce((sum, [weight]) => sum + weight, 0)
  for (const [weight, label, run] of kinds) {
    roll -= weight
    if (roll < 0) return { label, run }
  }
  return { label: kinds[0]![1], run: kinds[0]![2] }
}

const group = (snap: string) => [
  { volume: 'v0', snapshot: snap },
  { volume: 'v1', snapshot: snap },
]

async function write(s: Side, volume: string, lba: number, blocks: number, pattern: number) {
  const { serial } = await s.registry.show(volume)
  await s.engine.device(serial).write(lba, new Uint8Array(blocks * 512).fill(pattern), false)
}

async function unmap(s: Side, volume: string, lba: number, blocks: number) {
  const { serial } = await s.registry.show(volume)
  await s.engine.device(serial).unmap(lba, blocks)
}

async function viewWrite(
  s: Side,
  ref: { volume: string; snapshot: string },
  lba: number,
  blocks: number,
  pattern: number,
) {
  const exposed = s.registry.snapshots.show(ref).exposed
  if (exposed === null) return 'not exposed'
  const device = s.engine.device(exposed.serial)
  await device.write(lba, new Uint8Array(blocks * 512).fill(pattern), false)
  return 'written'
}

/** The outcome people see: the error code, or the shape of the result without ids or times. */
async function outcome(s: Side, run: Step): Promise<string> {
  try {
    const result = await run(s)
    return JSON.stringify(result, (key, value) =>
      ['serial', 'createdAt', 'groupId', 'usedBytes'].includes(key) ||
      (key.endsWith('Bytes') && key !== 'sizeBytes')
        ? undefined
        : value,
    )
  } catch (error) {
    if (!isSanError(error)) throw error
    return `error ${error.code}`
  }
}

/** Every image hosts can read: volumes and exposed snapshots, by name, with their bytes. */
async function images(s: Side): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>()
  const read = async (name: string, id: string) => {
    const device = s.engine.device(id)
    const bytes = new Uint8Array(device.blockCount * device.blockBytes)
    await device.read(0, bytes)
    found.set(name, bytes)
  }
  for (const volume of await s.registry.list()) await read(volume.name, volume.serial)
  for (const snapshot of s.registry.snapshots.list())
    if (snapshot.exposed) await read(snapshot.fullName, snapshot.exposed.serial)
  return found
}

/** What the catalog says, without ids, times and space figures (which differ by design). */
async function catalogOf(s: Side): Promise<string> {
  const volumes = (await s.registry.list()).map((v) => [v.name, v.sizeBytes, v.origin])
  const snapshots = s.registry.snapshots
    .list()
    .map((x) => [x.fullName, x.sizeBytes, x.groupId !== null, x.exposed?.iqn ?? null, x.clones])
  const targets = s.registry.catalog.targets().map((t) => t.name)
  return JSON.stringify({ volumes, snapshots, targets: targets.sort() })
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -1
  return a.findIndex((byte, index) => byte !== b[index])
}

test('the Pool and the in-memory engine agree under one random workload', async () => {
  const seed = Number(process.env.BASALT_AGREE_SEED ?? 20261125)
  const next = splitmix32(seed)
  const clock = new ManualClock()
  const model = await side(new MemoryEngine(clock), clock)
  let media = new SimPoolMedia()
  let pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  let real = await side(pool, clock)
  const history: string[] = []
  for (let step = 0; step < steps; step++) {
    const { label, run } = randomStep(next)
    history.push(label)
    const where = `seed ${seed}, step ${step}: ${history.slice(-8).join(' · ')}`
    assert.equal(await outcome(real, run), await outcome(model, run), where)
    pool.tick()
    if (step % 50 === 49) ({ media, pool, side: real } = await powerLoss(real, media, step, clock))
    assert.equal(await catalogOf(real), await catalogOf(model), where)
    const [expected, actual] = [await images(model), await images(real)]
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), where)
    for (const [name, bytes] of expected) {
      const at = firstDifference(actual.get(name)!, bytes)
      assert.equal(at, -1, `${where}: ${name} differs at byte ${at}`)
    }
  }
  await model.registry.close()
  await real.registry.close()
  await pool.close()
})
