/**
 * Snapshot use cases through the registry (SURFACE.md, `basalt snapshot …`, `volume clone`,
 * `volume delete --recursive`, `pool …`), run twice: over the in-memory engine and over
 * storage/engine's Pool on its simulated disk (the implementation the daemon runs). Each refusal
 * is checked to change nothing.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import { silentLogger } from '../base/log.ts'
import type { LogicalUnit } from '../scsi/logical_unit.ts'
import { ScsiStatus } from '../scsi/port.ts'
import { senseOf, TestInitiator } from '../scsi/testing/initiator.ts'
import type { UnitGroup } from '../scsi/unit_group.ts'
import { SimPoolMedia } from '../storage/engine/media_sim.ts'
import { Pool } from '../storage/engine/pool.ts'
import type { VolumeEngine } from './engine.ts'
import { MemoryEngine } from './memory_engine.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory, type UnitFactory } from './targets.ts'
import { UnitDirectory } from './unit_directory.ts'
import { VolumeRegistry } from './volumes.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-snapshots-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const iqnBase = 'iqn.2026-11.org.basalt'
const hasCode = (code: string) => (error: unknown) =>
  error instanceof SanError && error.code === code

interface Fixture {
  readonly registry: VolumeRegistry
  readonly engine: VolumeEngine
  readonly path: string
  /** Names of the units that saw contentsReplaced() (a rollback's unit attention). */
  readonly replaced: string[]
  /** The EXTENDED COPY targets every unit joins (as in the daemon). */
  readonly directory: UnitDirectory
}

type EngineFactory = (path: string, clock: ManualClock) => Promise<VolumeEngine>

async function openFixture(
  makeEngine: EngineFactory,
  path = join(root, `d${counter++}`),
  engine?: VolumeEngine,
): Promise<Fixture> {
  const clock = new ManualClock()
  const replaced: string[] = []
  const directory = new UnitDirectory()
  const real = logicalUnitFactory(clock, null, { directory, sanitize: null })
  const unitFactory: UnitFactory = (device, spec) => {
    const exported = real(device, spec)
    return {
      ...exported,
      contentsReplaced: () => {
        replaced.push(spec.name)
        exported.contentsReplaced()
      },
    }
  }
  const dataDir = await DataDir.open(path)
  const pool = engine ?? (await makeEngine(path, clock))
  const registry = await VolumeRegistry.open({
    dataDir,
    iqnBase,
    clock,
    logger: silentLogger,
    unitFactory,
    engine: pool,
  })
  return { registry, engine: pool, path, replaced, directory }
}

/** LUN 0 of an exported target, as the SCSI layer has it. */
function unitOf(registry: VolumeRegistry, iqn: string): LogicalUnit {
  const unit = (registry.catalog.target(iqn)?.units as UnitGroup | undefined)?.unit(0)
  assert.ok(unit, `${iqn} is exported`)
  return unit
}

/** EXTENDED COPY (LID1) of one block from the first CSCD to the second (SPC-4 §6.3). */
function copyOneBlock(from: LogicalUnit, to: LogicalUnit): { cdb: Buffer; list: Buffer } {
  // Both units have the source's block size (a volume and its snapshot's view).
  const blockBytes = from.device.blockBytes
  const cscd = (unit: LogicalUnit) => {
    const bytes = Buffer.alloc(32)
    bytes[0] = 0xe4
    bytes[4] = 0x01
    bytes[5] = 0x03
    bytes[7] = unit.naaDesignator.length
    bytes.set(unit.naaDesignator, 8)
    bytes.writeUIntBE(blockBytes, 29, 3)
    return bytes
  }
  const segment = Buffer.alloc(28)
  segment[0] = 0x02
  segment.writeUInt16BE(0x18, 2)
  segment.writeUInt16BE(1, 6)
  segment.writeUInt16BE(1, 10)
  const header = Buffer.alloc(16)
  header[1] = 2 << 3
  header.writeUInt16BE(64, 2)
  header.writeUInt32BE(28, 8)
  const list = Buffer.concat([header, cscd(from), cscd(to), segment])
  const cdb = Buffer.alloc(16)
  cdb[0] = 0x83
  cdb.writeUInt32BE(list.length, 10)
  return { cdb, list }
}

const fill = (bytes: number, value: number) => new Uint8Array(bytes).fill(value)

async function readByte(engine: VolumeEngine, id: string, lba: number): Promise<number> {
  const target = new Uint8Array(512)
  await engine.device(id).read(lba, target)
  assert.ok(
    target.every((b) => b === target[0]),
    'a block holds one pattern here',
  )
  return target[0]!
}

/** The registry's observable state, to show that a refused request changed nothing. */
async function observe(registry: VolumeRegistry): Promise<string> {
  const volumes = await registry.list()
  const snapshots = registry.snapshots.list()
  const targets = registry.catalog.targets().map((t) => t.name)
  return JSON.stringify({ volumes, snapshots, targets })
}

function snapshotTests(label: string, makeEngine: EngineFactory): void {
  const open = (path?: string, engine?: VolumeEngine) => openFixture(makeEngine, path, engine)

  test(`${label}: create one and a group; list with accounting; names fold case`, async () => {
    const { registry } = await open()
    await registry.create({ name: 'a', size: '1MiB' })
    await registry.create({ name: 'b', size: '1MiB' })
    const [one] = await registry.snapshots.create([{ volume: 'A', snapshot: 'Mon' }])
    assert.equal(one?.fullName, 'a@Mon')
    assert.equal(one?.groupId, null)
    assert.match(one?.createdAt ?? '', /^\d{4}-\d\d-\d\dT/)
    const group = await registry.snapshots.create([
      { volume: 'a', snapshot: 'g1' },
      { volume: 'b', snapshot: 'g1' },
    ])
    assert.equal(group.length, 2)
    assert.ok(group[0]!.groupId !== null && group[0]!.groupId === group[1]!.groupId)
    assert.deepEqual(
      registry.snapshots.list('a').map((s) => s.name),
      ['Mon', 'g1'],
    )
    assert.equal(registry.snapshots.list().length, 3)
    assert.equal(registry.snapshots.show({ volume: 'a', snapshot: 'mon' }).name, 'Mon')
    const before = await observe(registry)
    const refusals: [() => Promise<unknown>, string][] = [
      [() => registry.snapshots.create([{ volume: 'a', snapshot: 'MON' }]), 'SNAPSHOT_EXISTS'],
      [
        () =>
          registry.snapshots.create([
            { volume: 'b', snapshot: 'new' },
            { volume: 'a', snapshot: 'mon' },
          ]),
        'SNAPSHOT_EXISTS',
      ],
      [() => registry.snapshots.create([{ volume: 'a', snapshot: 'x.y' }]), 'INVALID_NAME'],
      [() => registry.snapshots.create([{ volume: 'zz', snapshot: 'x' }]), 'VOLUME_NOT_FOUND'],
      [
        () =>
          registry.snapshots.create([
            { volume: 'a', snapshot: 'p' },
            { volume: 'A', snapshot: 'q' },
          ]),
        'INVALID_ARGUMENT',
      ],
      [() => registry.snapshots.create([]), 'INVALID_ARGUMENT'],
      [() => registry.snapshots.delete({ volume: 'a', snapshot: 'nope' }), 'SNAPSHOT_NOT_FOUND'],
      [() => registry.snapshots.rollback({ volume: 'a', snapshot: 'nope' }), 'SNAPSHOT_NOT_FOUND'],
      [() => registry.snapshots.unexpose({ volume: 'a', snapshot: 'mon' }), 'INVALID_ARGUMENT'],
      [() => registry.clone('a@nope', 'c'), 'SNAPSHOT_NOT_FOUND'],
      [() => registry.clone('a@mon', 'b'), 'VOLUME_EXISTS'],
      [() => registry.clone('a', 'c'), 'INVALID_ARGUMENT'],
    ]
    for (const [call, code] of refusals) {
      await assert.rejects(async () => call(), hasCode(code), code)
      assert.equal(await observe(registry), before, `${code} changed nothing`)
    }
    await registry.close()
  })

  test(`${label}: rollback restores the image and raises a unit attention`, async () => {
    const { registry, engine, replaced } = await open()
    const volume = await registry.create({ name: 'r', size: '1MiB' })
    await engine.device(volume.serial).write(0, fill(512, 0xaa), false)
    await registry.snapshots.create([{ volume: 'r', snapshot: 's1' }])
    await engine.device(volume.serial).write(0, fill(512, 0xbb), false)
    await registry.snapshots.create([{ volume: 'r', snapshot: 's2' }])
    const rolled = await registry.snapshots.rollback({ volume: 'r', snapshot: 's1' })
    assert.equal(rolled.name, 'r')
    assert.equal(await readByte(engine, volume.serial, 0), 0xaa)
    assert.deepEqual(replaced, ['r'], 'MEDIUM MAY HAVE CHANGED [SPC-4 §4.5.6]')
    assert.deepEqual(
      registry.snapshots.list('r').map((s) => s.name),
      ['s1', 's2'],
      'later snapshots are kept',
    )
    await registry.snapshots.rollback({ volume: 'r', snapshot: 's2' })
    assert.equal(await readByte(engine, volume.serial, 0), 0xbb)
    await registry.close()
  })

  test(`${label}: expose is a target volume.snap with the volume's ACL and CHAP`, async () => {
    const fixture = await open()
    const { registry, engine } = fixture
    const volume = await registry.create({ name: 'Db', size: '1MiB' })
    await registry.access.allow('db', 'iqn.2026-01.com.example:h1')
    await registry.access.setChap('db', { user: 'u', secret: 'secret-123456' })
    await engine.device(volume.serial).write(0, fill(512, 1), false)
    await registry.snapshots.create([{ volume: 'db', snapshot: 'Nightly' }])
    const exposed = await registry.snapshots.expose({ volume: 'db', snapshot: 'nightly' })
    assert.equal(exposed.iqn, `${iqnBase}:db.nightly`)
    assert.equal(exposed.lun, 0)
    assert.match(exposed.serial, /^[0-9a-f]{32}$/)
    assert.notEqual(exposed.serial, volume.serial)
    const target = registry.catalog.target(exposed.iqn)
    assert.ok(target)
    assert.deepEqual(target.units.lunNumbers, [0])
    assert.equal(target.allows('iqn.2026-01.com.example:h1'), true)
    assert.equal(target.allows('iqn.2026-01.com.example:h2'), false)
    assert.equal(target.chap?.initiator.user, 'u')
    // Host writes to the export change neither the snapshot nor the live volume.
    await engine.device(exposed.serial).write(0, fill(512, 9), false)
    assert.equal(await readByte(engine, volume.serial, 0), 1)
    assert.deepEqual(registry.snapshots.diff({ volume: 'db', snapshot: 'nightly' }, null), [])
    await assert.rejects(
      registry.snapshots.expose({ volume: 'db', snapshot: 'nightly' }),
      hasCode('SNAPSHOT_IN_USE'),
    )
    await assert.rejects(
      registry.snapshots.delete({ volume: 'db', snapshot: 'nightly' }),
      hasCode('SNAPSHOT_IN_USE'),
    )
    assert.deepEqual(registry.snapshots.list('db')[0]?.exposed, exposed)
    assert.equal(registry.snapshots.pool().exposedSnapshots, 1)
    await registry.close()
    const reopened = await open(fixture.path, engine)
    const again = reopened.registry.snapshots.show({ volume: 'db', snapshot: 'nightly' })
    assert.deepEqual(again.exposed, exposed, 'the export and its identity survive a reopen')
    assert.ok(reopened.registry.catalog.target(exposed.iqn))
    await reopened.registry.close()
  })

  test(`${label}: unexpose refuses while logged in, then discards the view`, async () => {
    const { registry, engine } = await open()
    await registry.create({ name: 'u', size: '1MiB' })
    await registry.snapshots.create([{ volume: 'u', snapshot: 's' }])
    const ref = { volume: 'u', snapshot: 's' }
    const exposed = await registry.snapshots.expose(ref)
    await engine.device(exposed.serial).write(0, fill(512, 7), false)
    let sessions = [{ initiatorName: 'iqn.2026-01.com.example:h', targetName: exposed.iqn }]
    registry.attachSessions({ sessions: () => sessions })
    await assert.rejects(registry.snapshots.unexpose(ref), hasCode('VOLUME_BUSY'))
    await assert.rejects(registry.delete('u', true), hasCode('VOLUME_BUSY'))
    assert.ok(registry.catalog.target(exposed.iqn), 'still exported')
    sessions = []
    assert.deepEqual(await registry.snapshots.unexpose(ref), exposed)
    assert.equal(registry.catalog.target(exposed.iqn), null)
    const fresh = await registry.snapshots.expose(ref)
    assert.notEqual(fresh.serial, exposed.serial, 'a new exposure is a new unit')
    assert.equal(await readByte(engine, fresh.serial, 0), 0, 'the old view’s writes are gone')
    await registry.close()
  })

  test(`${label}: an unexposed snapshot leaves the EXTENDED COPY targets [SPC-4 §6.3.6.2]`, async () => {
    const { registry, engine, directory } = await open()
    const volume = await registry.create({ name: 'x', size: '1MiB' })
    await engine.device(volume.serial).write(0, fill(512, 4), false)
    await registry.snapshots.create([{ volume: 'x', snapshot: 's' }])
    await registry.snapshots.create([{ volume: 'x', snapshot: 't' }])
    const live = unitOf(registry, volume.iqn)
    const ref = { volume: 'x', snapshot: 's' }
    const exposed = await registry.snapshots.expose(ref)
    const view = unitOf(registry, exposed.iqn)
    assert.equal(directory.byNaa(view.naaDesignator), view, 'an exposed snapshot is a copy target')
    assert.equal(directory.size, 2)
    const host = new TestInitiator(registry.catalog.target(volume.iqn)!.units as UnitGroup)
    await host.clearAttentions()
    const good = copyOneBlock(live, view)
    assert.equal((await host.run(good.cdb, good.list)).status, ScsiStatus.good)
    assert.equal(await readByte(engine, exposed.serial, 0), 4, 'copied into the export')
    await registry.snapshots.unexpose(ref)
    assert.equal(directory.byNaa(view.naaDesignator), null, 'gone with its export')
    assert.equal(directory.byNaa(live.naaDesignator), live, 'the volume stays')
    // A copy naming the old export's NAA reaches nothing (SPC-4 §6.3.1).
    const stale = copyOneBlock(live, view)
    const refused = await host.run(stale.cdb, stale.list)
    assert.equal(senseOf(refused).key, 0x0a, 'COPY ABORTED')
    assert.equal(senseOf(refused).code, 0x0804, 'UNREACHABLE COPY TARGET')
    // delete --recursive takes the volume's exposed snapshots out of the directory too.
    const other = await registry.snapshots.expose({ volume: 'x', snapshot: 't' })
    const otherView = unitOf(registry, other.iqn)
    assert.equal(directory.size, 2)
    await registry.delete('x', true)
    assert.equal(directory.byNaa(otherView.naaDesignator), null)
    assert.equal(directory.size, 0)
    await registry.close()
  })

  test(`${label}: diff lists changed extents, zero where deallocated`, async () => {
    const { registry, engine } = await open()
    const volume = await registry.create({ name: 'd', size: '1MiB' })
    await registry.create({ name: 'other', size: '1MiB' })
    const device = engine.device(volume.serial)
    await device.write(0, fill(4096, 1), false)
    await registry.snapshots.create([{ volume: 'd', snapshot: 'a' }])
    await device.write(64, fill(512 * 8, 2), false)
    await device.unmap(0, 8)
    await registry.snapshots.create([{ volume: 'd', snapshot: 'b' }])
    const extents = registry.snapshots.diff(
      { volume: 'd', snapshot: 'a' },
      { volume: 'd', snapshot: 'b' },
    )
    const covers = (offset: number, zero: boolean) =>
      extents.some(
        (e) => e.offsetBytes <= offset && offset < e.offsetBytes + e.lengthBytes && e.zero === zero,
      )
    assert.ok(covers(0, true), JSON.stringify(extents))
    assert.ok(covers(64 * 512, false), JSON.stringify(extents))
    assert.ok(!extents.some((e) => e.offsetBytes >= 128 * 512), 'nothing beyond the writes')
    assert.deepEqual(registry.snapshots.diff({ volume: 'd', snapshot: 'b' }, 'd'), [])
    assert.throws(
      () => registry.snapshots.diff({ volume: 'd', snapshot: 'a' }, 'other'),
      hasCode('INVALID_ARGUMENT'),
    )
    await registry.close()
  })

  test(`${label}: clones, dependents, and delete --recursive`, async () => {
    const { registry, engine } = await open()
    const parent = await registry.create({ name: 'p', size: '1MiB', blockBytes: 4096 })
    await engine.device(parent.serial).write(0, fill(4096, 5), false)
    await registry.snapshots.create([{ volume: 'p', snapshot: 'base' }])
    const clone = await registry.clone('p@base', 'child')
    assert.equal(clone.origin, 'p@base')
    assert.equal(clone.blockBytes, 4096)
    assert.equal(clone.sizeBytes, 2 ** 20)
    assert.equal(clone.iqn, `${iqnBase}:child`)
    const target = new Uint8Array(4096)
    await engine.device(clone.serial).read(0, target)
    assert.equal(target[0], 5)
    assert.deepEqual(registry.snapshots.list('p')[0]?.clones, ['child'])
    const before = await observe(registry)
    await assert.rejects(
      registry.snapshots.delete({ volume: 'p', snapshot: 'base' }),
      hasCode('SNAPSHOT_IN_USE'),
    )
    await assert.rejects(registry.delete('p'), hasCode('VOLUME_HAS_DEPENDENTS'))
    await assert.rejects(registry.delete('p', true), hasCode('VOLUME_HAS_DEPENDENTS'))
    assert.equal(await observe(registry), before, 'refusals changed nothing')
    await registry.delete('child')
    await assert.rejects(registry.delete('p'), hasCode('VOLUME_HAS_DEPENDENTS'))
    await registry.snapshots.expose({ volume: 'p', snapshot: 'base' })
    assert.deepEqual(await registry.delete('p', true), { deleted: 'p' })
    assert.deepEqual(await registry.list(), [])
    assert.equal(registry.catalog.targets().length, 0, 'its export went too')
    assert.deepEqual(engine.volumeIds(), [])
    await registry.close()
  })

  test(`${label}: a volume and an exposed snapshot never share a target name`, async () => {
    const { registry } = await open()
    await registry.create({ name: 'a', size: '1MiB' })
    await registry.snapshots.create([{ volume: 'a', snapshot: 'b' }])
    await registry.create({ name: 'a.b', size: '1MiB' })
    await assert.rejects(
      registry.snapshots.expose({ volume: 'a', snapshot: 'b' }),
      hasCode('VOLUME_EXISTS'),
    )
    await registry.delete('a.b')
    await registry.snapshots.expose({ volume: 'a', snapshot: 'b' })
    await assert.rejects(registry.create({ name: 'A.B', size: '1MiB' }), hasCode('VOLUME_EXISTS'))
    await assert.rejects(registry.clone('a@b', 'a.b'), hasCode('VOLUME_EXISTS'))
    await registry.close()
  })

  test(`${label}: pool space, and delete returns at once`, async () => {
    const { registry, engine } = await open()
    const volume = await registry.create({ name: 's', size: '1MiB' })
    await engine.device(volume.serial).write(0, fill(64 * 1024, 3), false)
    await registry.snapshots.create([{ volume: 's', snapshot: 'old' }])
    await engine.device(volume.serial).write(0, fill(64 * 1024, 4), false)
    const pool = registry.snapshots.pool()
    assert.equal(pool.volumes, 1)
    assert.equal(pool.snapshots, 1)
    assert.equal(pool.capacityBytes, pool.usedBytes + pool.freeBytes)
    const [old] = registry.snapshots.list('s')
    assert.ok(old!.exclusiveBytes >= 64 * 1024, 'the overwritten data is the snapshot’s alone')
    assert.deepEqual(await registry.snapshots.delete({ volume: 's', snapshot: 'OLD' }), {
      deleted: 's@old',
    })
    assert.deepEqual(registry.snapshots.list('s'), [])
    const after = registry.snapshots.pool()
    assert.equal(after.snapshots, 0)
    assert.ok(after.freeBytes + after.freeingBytes >= pool.freeBytes + 64 * 1024)
    assert.deepEqual(await registry.snapshots.scrub(), { damage: [] })
    await registry.close()
  })
}

snapshotTests('memory engine', async (_path, clock) => new MemoryEngine(clock))
snapshotTests('pool on a simulated disk', async (_path, clock) =>
  Pool.open({ media: new SimPoolMedia(), clock, capacityBytes: 1 << 30 }),
)
