/**
 * The volume registry's use cases against a real data directory: lifecycle, persistence across
 * reopen, errors with their stable codes, ACL and CHAP, and the TargetCatalog it serves.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import { silentLogger } from '../base/log.ts'
import { MemoryEngine } from './memory_engine.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory, type UnitFactory } from './targets.ts'
import { VolumeRegistry } from './volumes.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-registry-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const iqnBase = 'iqn.2026-11.org.basalt'
const hasCode = (code: string) => (error: unknown) =>
  error instanceof SanError && error.code === code

/** The engine outlives a registry, as the pool outlives it in the daemon (one per path). */
const engines = new Map<string, MemoryEngine>()

async function openRegistry(path = join(root, `d${counter++}`)) {
  const clock = new ManualClock()
  const capacityChanges: string[] = []
  const real = logicalUnitFactory(clock)
  const unitFactory: UnitFactory = (device, spec) => {
    const exported = real(device, spec)
    return {
      ...exported,
      capacityChanged: () => {
        capacityChanges.push(spec.name)
        exported.capacityChanged()
      },
    }
  }
  const engine = engines.get(path) ?? new MemoryEngine(clock)
  engines.set(path, engine)
  const dataDir = await DataDir.open(path)
  const registry = await VolumeRegistry.open({
    dataDir,
    iqnBase,
    clock,
    logger: silentLogger,
    unitFactory,
    engine,
  })
  return { registry, path, capacityChanges, engine }
}

test('VolumeRegistry: create, show, list, delete', async () => {
  const { registry, path, engine } = await openRegistry()
  const created = await registry.create({ name: 'Data01', size: '1GiB' })
  assert.equal(created.name, 'Data01')
  assert.equal(created.sizeBytes, 2 ** 30)
  assert.equal(created.blockBytes, 512)
  assert.equal(created.iqn, `${iqnBase}:data01`)
  assert.equal(created.lun, 0)
  assert.ok(created.usedBytes < 2 ** 20)
  assert.match(created.serial, /^[0-9a-f]{32}$/)
  assert.deepEqual(await registry.show('data01'), created, 'names match case-insensitively')
  await registry.create({ name: 'b', size: 8192, blockBytes: 4096 })
  assert.deepEqual(
    (await registry.list()).map((v) => v.name),
    ['b', 'Data01'],
  )
  assert.deepEqual(await registry.delete('Data01'), { deleted: 'Data01' })
  assert.deepEqual(
    (await registry.list()).map((v) => v.name),
    ['b'],
  )
  assert.equal(engine.volumeIds().length, 1, 'the engine volume went with the record')
  assert.equal(readdirSync(join(path, 'volumes')).length, 0, 'engine volumes have no files')
  await registry.close()
})

test('VolumeRegistry: everything survives a reopen, identity included', async () => {
  const first = await openRegistry()
  const made = await first.registry.create({ name: 'keep', size: '64MiB', blockBytes: 4096 })
  await first.registry.access.allow('keep', 'iqn.2026-01.com.example:host1')
  await first.registry.access.setChap('keep', { user: 'u', secret: 'secret-123456' })
  await first.registry.access.setChap(null, { user: 'd', secret: 'discovery-secret' })
  await first.registry.resize('keep', '128MiB')
  await first.registry.close()
  const second = await openRegistry(first.path)
  const shown = await second.registry.show('keep')
  assert.equal(shown.serial, made.serial)
  assert.equal(shown.sizeBytes, 128 * 2 ** 20)
  assert.deepEqual(second.registry.access.show('keep').initiators, [
    'iqn.2026-01.com.example:host1',
  ])
  assert.deepEqual(second.registry.access.chap('keep'), {
    enabled: true,
    user: 'u',
    mutual: false,
    mutualUser: null,
  })
  assert.equal(second.registry.access.chap(null).user, 'd')
  assert.equal(statSync(join(first.path, 'catalog.json')).mode & 0o777, 0o600)
  await second.registry.close()
})

test('VolumeRegistry: refusals carry their stable codes', async () => {
  const { registry } = await openRegistry()
  await registry.create({ name: 'v', size: '1M' })
  const cases: [() => Promise<unknown>, string][] = [
    [() => registry.create({ name: 'V', size: '1M' }), 'VOLUME_EXISTS'],
    [() => registry.create({ name: 'bad_name', size: '1M' }), 'INVALID_NAME'],
    [() => registry.create({ name: 'x', size: '1.5' }), 'INVALID_SIZE'],
    [() => registry.create({ name: 'x', size: '65TiB' }), 'INVALID_SIZE'],
    [() => registry.create({ name: 'x', size: 1000, blockBytes: 512 }), 'INVALID_SIZE'],
    [() => registry.create({ name: 'x', size: '1M', blockBytes: 1024 }), 'INVALID_ARGUMENT'],
    [() => registry.show('nope'), 'VOLUME_NOT_FOUND'],
    [() => registry.delete('nope'), 'VOLUME_NOT_FOUND'],
    [() => registry.resize('v', '512K'), 'SIZE_SHRINK'],
    [() => registry.resize('v', '1000'), 'INVALID_SIZE'],
    [() => registry.access.allow('v', 'not-an-iqn'), 'INVALID_ARGUMENT'],
    [() => registry.access.setChap('v', { user: 'u', secret: 'short' }), 'INVALID_ARGUMENT'],
    [
      () => registry.access.setChap('v', { user: 'u', secret: 'same-secret-12', mutualUser: 't' }),
      'INVALID_ARGUMENT',
    ],
    [
      () =>
        registry.access.setChap('v', {
          user: 'u',
          secret: 'same-secret-12',
          mutualUser: 't',
          mutualSecret: 'same-secret-12',
        }),
      'INVALID_ARGUMENT',
    ],
  ]
  for (const [call, code] of cases) await assert.rejects(async () => call(), hasCode(code), code)
  await registry.close()
})

test('VolumeRegistry: resize grows the device and raises CAPACITY CHANGED', async () => {
  const { registry, capacityChanges } = await openRegistry()
  await registry.create({ name: 'g', size: '1M' })
  const same = await registry.resize('g', '1M')
  assert.equal(same.sizeBytes, 2 ** 20)
  assert.deepEqual(capacityChanges, [], 'the same size changes nothing')
  const grown = await registry.resize('g', '3M')
  assert.equal(grown.sizeBytes, 3 * 2 ** 20)
  assert.deepEqual(capacityChanges, ['g'])
  const target = registry.catalog.target(`${iqnBase}:g`)
  assert.ok(target)
  await registry.close()
})

test('VolumeRegistry: delete refuses while a session is logged in (VOLUME_BUSY)', async () => {
  const { registry } = await openRegistry()
  await registry.create({ name: 'busy', size: '1M' })
  let sessions = [{ initiatorName: 'iqn.2026-01.com.example:h', targetName: `${iqnBase}:busy` }]
  registry.attachSessions({ sessions: () => sessions })
  await assert.rejects(registry.delete('busy'), hasCode('VOLUME_BUSY'))
  sessions = []
  assert.deepEqual(await registry.delete('busy'), { deleted: 'busy' })
  await registry.close()
})

test('VolumeRegistry: the catalog serves exports, ACLs and CHAP [RFC 7143 §13.9]', async () => {
  const { registry } = await openRegistry()
  await registry.create({ name: 'Open', size: '1M' })
  await registry.create({ name: 'closed', size: '1M' })
  const host = 'iqn.2026-01.com.example:host1'
  await registry.access.allow('closed', host.toUpperCase())
  const mutual = { mutualUser: 'tgt', mutualSecret: 'target-secret-1' }
  await registry.access.setChap('closed', { user: 'ini', secret: 'initiator-sec', ...mutual })
  const { catalog } = registry
  assert.deepEqual(
    catalog
      .targets()
      .map((t) => t.name)
      .sort(),
    [`${iqnBase}:closed`, `${iqnBase}:open`],
  )
  const open = catalog.target(`${iqnBase}:open`)
  const closed = catalog.target(`${iqnBase.toUpperCase()}:CLOSED`)
  assert.ok(open && closed)
  assert.equal(open.allows('iqn.1999-01.any:thing'), true, 'no ACL entries: open to all')
  assert.equal(closed.allows(host), true)
  assert.equal(closed.allows('iqn.2026-01.com.example:host2'), false)
  assert.deepEqual(closed.chap, {
    initiator: { user: 'ini', secret: 'initiator-sec' },
    target: { user: 'tgt', secret: 'target-secret-1' },
  })
  assert.deepEqual(closed.units.lunNumbers, [0])
  assert.equal(open.chap, null)
  assert.equal(catalog.discoveryChap(), null)
  await registry.access.deny('closed', host)
  assert.equal(catalog.target(`${iqnBase}:closed`)?.allows('iqn.2026-01.com.example:x'), true)
  await registry.access.clearChap('closed')
  assert.equal(catalog.target(`${iqnBase}:closed`)?.chap, null)
  assert.equal(catalog.target(`${iqnBase}:nothing`), null)
  await registry.close()
})

test('VolumeRegistry: a catalog that does not decode refuses to open', async () => {
  const path = join(root, `d${counter++}`)
  const dataDir = await DataDir.open(path)
  await dataDir.writeCatalog({ format: 'basalt-catalog', version: 1, volumes: [{ name: 1 }] })
  await dataDir.release()
  await assert.rejects(openRegistry(path), hasCode('DATA_DIR_INVALID'))
})

/** Byte 1 of the standard INQUIRY data of LUN 0 of `target` (bit 7 is RMB). */
async function inquiryByte1(registry: VolumeRegistry, target: string): Promise<number> {
  const units = registry.catalog.target(target)!.units
  const nexus = {
    initiatorPort: 'iqn.2026-01.com.example:h,i,0x000000000001',
    targetPort: `${target},t,0x0001`,
    initiatorName: 'iqn.2026-01.com.example:h',
    isidHex: '000000000001',
    relativeTargetPort: 1,
  }
  const lun = new Uint8Array(8)
  const cdb = Uint8Array.of(0x12, 0, 0, 0, 36, 0)
  const parsed = units.parse({ nexus, lun, cdb, taskAttribute: 'simple', taskTag: 1 })
  assert.equal(parsed.kind, 'ready')
  const result = await units.execute(parsed.command, null)
  return result.dataIn![1]!
}

test('VolumeRegistry: removable is opt-in, persisted, INQUIRY RMB [SPC-4 §6.6.2]', async () => {
  const first = await openRegistry()
  const removable = await first.registry.create({ name: 'cd', size: '1M', removable: true })
  const fixed = await first.registry.create({ name: 'disk', size: '1M' })
  assert.equal(removable.removable, true)
  assert.equal(fixed.removable, false)
  assert.equal(await inquiryByte1(first.registry, `${iqnBase}:cd`), 0x80)
  assert.equal(await inquiryByte1(first.registry, `${iqnBase}:disk`), 0x00)
  await first.registry.close()
  // A fixed volume's record carries no field, as before the option existed.
  const dataDir = await DataDir.open(first.path)
  const document = (await dataDir.readCatalog()) as { volumes: Record<string, unknown>[] }
  assert.deepEqual(
    document.volumes.map((record) => [record.name, record.removable]),
    [
      ['cd', true],
      ['disk', undefined],
    ],
  )
  await dataDir.release()
  const second = await openRegistry(first.path)
  assert.equal((await second.registry.show('cd')).removable, true)
  assert.equal((await second.registry.show('disk')).removable, false)
  assert.equal(await inquiryByte1(second.registry, `${iqnBase}:cd`), 0x80)
  await second.registry.close()
})
