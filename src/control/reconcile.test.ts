/**
 * Crash order between the engine and catalog.json (volumes.ts header, reconcile.ts): whatever
 * a crash leaves in the engine without a catalog record is removed on the next open, and logged;
 * a record whose engine volume is gone refuses the open. Also: format-1 data directories with
 * file volumes keep working beside engine volumes, and refuse snapshots clearly.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import { SimPoolMedia, splitmix32 } from '../storage/engine/media_sim.ts'
import { Pool } from '../storage/engine/pool.ts'
import { FileBlockDevice } from '../storage/file_device.ts'
import { emptyCatalog } from './catalog_format.ts'
import type { VolumeEngine } from './engine.ts'
import { MemoryEngine } from './memory_engine.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory } from './targets.ts'
import { VolumeRegistry } from './volumes.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-reconcile-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const iqnBase = 'iqn.2026-11.org.basalt'
const clock = new ManualClock()
const hasCode = (code: string) => (error: unknown) =>
  error instanceof SanError && error.code === code

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (message) => lines.push(message),
    error: (message) => lines.push(message),
    child: () => logger,
  }
  return logger
}

async function open(path: string, engine: VolumeEngine, lines: string[] = []) {
  const dataDir = await DataDir.open(path)
  return VolumeRegistry.open({
    dataDir,
    iqnBase,
    clock,
    logger: recordingLogger(lines),
    unitFactory: logicalUnitFactory(clock),
    engine,
  }).catch(async (error) => {
    await dataDir.release()
    throw error
  })
}

test('reconcile: engine volumes and views without a record are removed and logged', async () => {
  const path = join(root, `d${counter++}`)
  const engine = new MemoryEngine(clock)
  const first = await open(path, engine)
  const kept = await first.create({ name: 'kept', size: '1MiB' })
  await first.snapshots.create([{ volume: 'kept', snapshot: 's' }])
  await first.close()
  // What a crash between the engine write and the catalog write leaves behind:
  await engine.createVolume('0'.repeat(32), 512, 2048) // volume create
  await engine.createSnapshots([{ volumeId: '0'.repeat(32), name: 'x' }])
  await engine.clone('0'.repeat(32), 'x', '1'.repeat(32)) // a clone of the orphan
  await engine.expose(kept.serial, 's', '2'.repeat(32)) // snapshot expose
  const lines: string[] = []
  const second = await open(path, engine, lines)
  assert.deepEqual(engine.volumeIds(), [kept.serial])
  assert.equal(engine.snapshots(kept.serial)[0]?.exposedAs, null)
  assert.equal(second.snapshots.list('kept')[0]?.exposed, null)
  assert.equal(lines.filter((l) => l.startsWith('repair: deleted')).length, 2)
  assert.equal(lines.filter((l) => l.startsWith('repair: unexposed')).length, 1)
  await second.close()
})

test('reconcile: an exposure whose view is gone is exposed again', async () => {
  const path = join(root, `d${counter++}`)
  const engine = new MemoryEngine(clock)
  const first = await open(path, engine)
  await first.create({ name: 'v', size: '1MiB' })
  await first.snapshots.create([{ volume: 'v', snapshot: 's' }])
  const exposed = await first.snapshots.expose({ volume: 'v', snapshot: 's' })
  await first.close()
  await engine.unexpose(engine.volumeIds()[0]!, 's') // an unexpose the catalog never saw
  const second = await open(path, engine)
  assert.equal(engine.snapshots()[0]?.exposedAs, exposed.serial)
  assert.ok(second.catalog.target(exposed.iqn))
  await second.close()
})

test('reconcile: a record whose engine volume is missing refuses the open', async () => {
  const path = join(root, `d${counter++}`)
  const first = await open(path, new MemoryEngine(clock))
  await first.create({ name: 'lost', size: '1MiB' })
  await first.close()
  await assert.rejects(open(path, new MemoryEngine(clock)), hasCode('DATA_DIR_INVALID'))
})

test('format-1 file volumes open as files beside engine volumes; no snapshots', async () => {
  const path = join(root, `d${counter++}`)
  const dataDir = await DataDir.open(path)
  const uuid = 'ab'.repeat(16)
  const record = {
    name: 'legacy',
    uuid,
    blockBytes: 512 as const,
    sizeBytes: 2 ** 20,
    createdAtMs: 1,
    initiators: [],
    chap: null,
  }
  await dataDir.writeCatalog({ ...emptyCatalog(), volumes: [record] })
  const file = await FileBlockDevice.create({
    path: dataDir.volumePath(uuid),
    blockBytes: 512,
    blockCount: 2048,
    punchHoles: false,
  })
  await file.write(0, new Uint8Array(512).fill(0x5a), true)
  await file.close()
  await dataDir.release()
  const engine = new MemoryEngine(clock)
  const registry = await open(path, engine)
  const legacy = await registry.show('legacy')
  assert.equal(legacy.backing, 'file')
  assert.equal(legacy.serial, uuid)
  assert.ok(registry.catalog.target(`${iqnBase}:legacy`))
  const refused = [
    () => registry.snapshots.create([{ volume: 'legacy', snapshot: 's' }]),
    async () => registry.snapshots.list('legacy'),
    () => registry.clone('legacy@s', 'c'),
  ]
  for (const call of refused)
    await assert.rejects(
      call(),
      (e) => hasCode('INVALID_ARGUMENT')(e) && /file volume/.test(String(e)),
    )
  const fresh = await registry.create({ name: 'fresh', size: '1MiB' })
  assert.equal(fresh.backing, 'engine')
  assert.deepEqual(engine.volumeIds(), [fresh.serial])
  await registry.resize('legacy', '2MiB')
  await registry.close()
  const again = await open(path, engine)
  assert.equal((await again.show('legacy')).sizeBytes, 2 * 2 ** 20)
  await again.delete('legacy')
  assert.equal(existsSync(join(path, 'volumes', `${uuid}.img`)), false)
  await again.close()
})

test('reconcile: after a real power loss in the create window, the pool orphan goes', async () => {
  const path = join(root, `d${counter++}`)
  const media = new SimPoolMedia()
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  const first = await open(path, pool)
  const kept = await first.create({ name: 'kept', size: '1MiB' })
  await first.snapshots.create([{ volume: 'kept', snapshot: 's' }])
  // `volume create` between its two writes: the pool's is durable, the catalog's never happened.
  await pool.createVolume('f'.repeat(32), 512, 2048)
  const crashed = media.crash(splitmix32(7))
  await first.close()
  const reopened = await Pool.open({ media: crashed, clock, capacityBytes: 1 << 30 })
  assert.equal(reopened.volumeIds().length, 2, 'the orphan survived the power loss')
  const lines: string[] = []
  const second = await open(path, reopened, lines)
  assert.deepEqual(reopened.volumeIds(), [kept.serial])
  assert.deepEqual(
    second.snapshots.list('kept').map((s) => s.name),
    ['s'],
  )
  assert.ok(lines.some((line) => line.startsWith('repair: deleted')))
  await second.close()
  await reopened.close()
})

test('pool scrub names damaged ranges by volume and snapshot [issue 4, checksums]', async () => {
  const path = join(root, `d${counter++}`)
  const media = new SimPoolMedia()
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  const registry = await open(path, pool)
  const volume = await registry.create({ name: 'vol', size: '1MiB' })
  await pool.device(volume.serial).write(0, new Uint8Array(4096).fill(0x11), true)
  await registry.snapshots.create([{ volume: 'vol', snapshot: 'snap' }])
  assert.deepEqual(await registry.snapshots.scrub(), { damage: [] })
  // The disk rots under the pool: the first allocated chunk of the data file is overwritten.
  const data = await media.open('data', false)
  await data.write(new Uint8Array(4096).fill(0xee), 0)
  const { damage } = await registry.snapshots.scrub()
  assert.equal(damage.length, 1, JSON.stringify(damage))
  assert.deepEqual(
    damage[0]!.image.split(', ').sort(),
    ['vol', 'vol@snap'],
    'the names people use, not engine ids',
  )
  assert.deepEqual([damage[0]!.offsetBytes, damage[0]!.lengthBytes], [0, 4096])
  await registry.close()
  await pool.close()
})

test('LIMIT_REACHED: a group snapshot over the per-volume limit takes nothing', async () => {
  const path = join(root, `d${counter++}`)
  const limits = { snapshotsPerVolume: 2 }
  const pool = await Pool.open({ media: new SimPoolMedia(), clock, capacityBytes: 1 << 30, limits })
  const registry = await open(path, pool)
  await registry.create({ name: 'a', size: '1MiB' })
  await registry.create({ name: 'b', size: '1MiB' })
  await registry.snapshots.create([{ volume: 'a', snapshot: 's1' }])
  await registry.snapshots.create([{ volume: 'a', snapshot: 's2' }])
  await assert.rejects(
    registry.snapshots.create([
      { volume: 'b', snapshot: 'g' },
      { volume: 'a', snapshot: 'g' },
    ]),
    hasCode('LIMIT_REACHED'),
  )
  assert.deepEqual(registry.snapshots.list('b'), [], 'all or nothing')
  assert.equal(registry.snapshots.list('a').length, 2)
  await registry.close()
  await pool.close()
})
