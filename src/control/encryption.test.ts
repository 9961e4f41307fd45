/**
 * Encrypted volumes through the registry (control/keys.ts, storage/encrypted_device.ts): the
 * key lifecycle of heads, snapshots, exposures, clones and rollbacks; SANITIZE CRYPTOGRAPHIC
 * ERASE through the SCSI unit; keys destroyed when the last image goes; the keyring's file
 * mode; persistence across a reopen; the repair of an interrupted rollback; and EXTENDED COPY
 * between an encrypted and a plain volume moving plaintext.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import type { LogicalUnit } from '../scsi/logical_unit.ts'
import { ScsiStatus } from '../scsi/port.ts'
import { cdb16, TestInitiator } from '../scsi/testing/initiator.ts'
import type { UnitGroup } from '../scsi/unit_group.ts'
import { Keyring } from './keys.ts'
import { MemoryEngine } from './memory_engine.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory } from './targets.ts'
import { UnitDirectory } from './unit_directory.ts'
import { VolumeRegistry } from './volumes.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-encryption-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const iqnBase = 'iqn.2026-11.org.basalt'
const blockBytes = 4096

async function open(path = join(root, `d${counter++}`), engine?: MemoryEngine) {
  const clock = new ManualClock()
  const directory = new UnitDirectory()
  const pool = engine ?? new MemoryEngine(clock)
  const registry = await VolumeRegistry.open({
    dataDir: await DataDir.open(path),
    iqnBase,
    clock,
    logger: silentLogger,
    unitFactory: logicalUnitFactory(clock, null, { directory, sanitize: null }),
    engine: pool,
  })
  return { registry, engine: pool, path }
}

function unitOf(registry: VolumeRegistry, iqn: string): LogicalUnit {
  const unit = (registry.catalog.target(iqn)?.units as UnitGroup | undefined)?.unit(0)
  assert.ok(unit, `${iqn} is exported`)
  return unit
}

async function initiatorOf(registry: VolumeRegistry, iqn: string): Promise<TestInitiator> {
  const initiator = new TestInitiator(registry.catalog.target(iqn)!.units as UnitGroup)
  await initiator.clearAttentions()
  return initiator
}

const fill = (blocks: number, value: number) => new Uint8Array(blocks * blockBytes).fill(value)

async function write(initiator: TestInitiator, lba: number, data: Uint8Array): Promise<void> {
  const result = await initiator.run(cdb16(0x8a, lba, data.length / blockBytes), { dataOut: data })
  assert.equal(result.status, ScsiStatus.good)
}

async function read(initiator: TestInitiator, lba: number, blocks: number): Promise<Uint8Array> {
  const result = await initiator.run(cdb16(0x88, lba, blocks))
  assert.equal(result.status, ScsiStatus.good, 'READ (16)')
  return result.dataIn!
}

async function cryptoErase(initiator: TestInitiator): Promise<void> {
  const result = await initiator.run([0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0])
  assert.equal(result.status, ScsiStatus.good, 'SANITIZE CRYPTOGRAPHIC ERASE')
}

async function keyCount(path: string): Promise<number> {
  const document = JSON.parse(readFileSync(join(path, 'keys', 'keyring.json'), 'utf8'))
  return Object.keys(document.keys).length
}

async function create(registry: VolumeRegistry, name: string, encrypted = true) {
  return registry.create({ name, size: 64 * blockBytes, blockBytes, encrypted })
}

test('Encryption: an encrypted volume stores ciphertext; keys are 0600 and not in the catalog', async () => {
  const { registry, engine, path } = await open()
  const view = await create(registry, 'secret')
  assert.equal(view.encrypted, true)
  assert.equal((await create(registry, 'plain', false)).encrypted, false)
  const initiator = await initiatorOf(registry, view.iqn)
  await write(initiator, 3, fill(2, 0x61))
  assert.deepEqual(await read(initiator, 3, 2), fill(2, 0x61))
  const stored = new Uint8Array(2 * blockBytes)
  await engine.device(view.serial).read(3, stored)
  assert.ok(!stored.every((byte) => byte === 0x61), 'the engine holds ciphertext')
  assert.ok(stored.some((byte) => byte !== 0))
  assert.equal(statSync(join(path, 'keys', 'keyring.json')).mode & 0o777, 0o600)
  assert.equal(await keyCount(path), 1, 'one key: the plain volume has none')
  const catalog = readFileSync(join(path, 'catalog.json'), 'utf8')
  const keyring = JSON.parse(readFileSync(join(path, 'keys', 'keyring.json'), 'utf8'))
  for (const key of Object.values(keyring.keys) as string[]) assert.ok(!catalog.includes(key))
  assert.ok(
    !JSON.stringify(await registry.list()).includes(Object.values(keyring.keys)[0] as string),
  )
  await registry.close()
})

test('Encryption: a crypto erase frees the space of every block [SBC-4 §4.11.4.4]', async () => {
  const { registry } = await open()
  const view = await create(registry, 'vol')
  const head = await initiatorOf(registry, view.iqn)
  await write(head, 0, fill(8, 0x11))
  assert.equal((await registry.show('vol')).usedBytes, 8 * blockBytes)
  await cryptoErase(head)
  assert.equal((await registry.show('vol')).usedBytes, 0)
  await registry.close()
})

test('Encryption: a snapshot keeps its key through a crypto erase; exposure and clone read it', async () => {
  const { registry, path } = await open()
  const view = await create(registry, 'vol')
  const head = await initiatorOf(registry, view.iqn)
  await write(head, 0, fill(4, 0x41))
  await registry.snapshots.create([{ volume: 'vol', snapshot: 's1' }])
  assert.equal(await keyCount(path), 1, 'the snapshot shares the head key')
  await cryptoErase(head)
  assert.deepEqual(await read(head, 0, 4), fill(4, 0), 'the head reads zeros')
  assert.equal(await keyCount(path), 2, 'the head has a new key; the snapshot keeps the old')
  const exposed = await registry.snapshots.expose({ volume: 'vol', snapshot: 's1' })
  assert.deepEqual(await read(await initiatorOf(registry, exposed.iqn), 0, 4), fill(4, 0x41))
  const clone = await registry.clone('vol@s1', 'copy')
  assert.equal(clone.encrypted, true, 'a clone of an encrypted snapshot is encrypted')
  const cloned = await initiatorOf(registry, clone.iqn)
  assert.deepEqual(await read(cloned, 0, 4), fill(4, 0x41))
  await write(cloned, 1, fill(1, 0x43))
  assert.deepEqual(await read(cloned, 0, 2), new Uint8Array([...fill(1, 0x41), ...fill(1, 0x43)]))
  // The clone's crypto erase leaves the snapshot readable.
  await cryptoErase(cloned)
  assert.deepEqual(await read(cloned, 0, 4), fill(4, 0))
  assert.deepEqual(await read(await initiatorOf(registry, exposed.iqn), 0, 4), fill(4, 0x41))
  assert.equal(await keyCount(path), 3)
  await registry.close()
})

test('Encryption: rollback gives the head the snapshot key; the unused key is destroyed', async () => {
  const { registry, path } = await open()
  const view = await create(registry, 'vol')
  const head = await initiatorOf(registry, view.iqn)
  await write(head, 0, fill(2, 0x51))
  await registry.snapshots.create([{ volume: 'vol', snapshot: 's1' }])
  await cryptoErase(head)
  await write(head, 0, fill(2, 0x52))
  assert.equal(await keyCount(path), 2)
  await registry.snapshots.rollback({ volume: 'vol', snapshot: 's1' })
  const again = await initiatorOf(registry, view.iqn)
  assert.deepEqual(await read(again, 0, 2), fill(2, 0x51), 'the snapshot data, decrypted')
  assert.equal(await keyCount(path), 1, "the erased head's key went with its last image")
  await write(again, 1, fill(1, 0x53))
  assert.deepEqual(await read(again, 1, 1), fill(1, 0x53))
  await registry.close()
})

test('Encryption: keys are destroyed when the last image referring to them goes', async () => {
  const { registry, path } = await open()
  const view = await create(registry, 'vol')
  await write(await initiatorOf(registry, view.iqn), 0, fill(1, 1))
  await registry.snapshots.create([{ volume: 'vol', snapshot: 'a' }])
  await cryptoErase(await initiatorOf(registry, view.iqn))
  await registry.snapshots.create([{ volume: 'vol', snapshot: 'b' }])
  await registry.clone('vol@a', 'c')
  assert.equal(await keyCount(path), 2)
  await registry.delete('c')
  assert.equal(await keyCount(path), 2, 'snapshot a still uses the first key')
  await registry.snapshots.delete({ volume: 'vol', snapshot: 'a' })
  assert.equal(await keyCount(path), 1, 'the first key is destroyed')
  await registry.delete('vol', true)
  assert.equal(await keyCount(path), 0, 'the last key is destroyed with the volume')
  await registry.close()
})

test('Encryption: data survive a reopen; a plain volume does not offer crypto erase', async () => {
  const first = await open()
  const view = await create(first.registry, 'vol')
  await write(await initiatorOf(first.registry, view.iqn), 7, fill(1, 0x77))
  const plain = await create(first.registry, 'plain', false)
  await first.registry.close()
  const { registry } = await open(first.path, first.engine)
  assert.equal((await registry.show('vol')).encrypted, true)
  assert.deepEqual(await read(await initiatorOf(registry, view.iqn), 7, 1), fill(1, 0x77))
  const refused = await (await initiatorOf(registry, plain.iqn)).run([
    0x48, 3, 0, 0, 0, 0, 0, 0, 0, 0,
  ])
  assert.equal(refused.status, ScsiStatus.checkCondition, 'INVALID FIELD IN CDB on a plain volume')
  await registry.close()
})

test('Encryption: an interrupted rollback is finished or abandoned on open (keys.ts)', async () => {
  for (const engineRolledBack of [true, false]) {
    const first = await open()
    const view = await create(first.registry, 'vol')
    const head = await initiatorOf(first.registry, view.iqn)
    await write(head, 0, fill(1, 0x31))
    await first.registry.snapshots.create([{ volume: 'vol', snapshot: 's' }])
    await cryptoErase(head)
    await write(head, 0, fill(1, 0x32))
    await first.registry.close()
    // The crash: the intent is recorded, and the engine did (or did not) roll back.
    const dataDir = await DataDir.open(first.path)
    const keys = await Keyring.open(dataDir)
    await keys.beginRollback(view.serial, 's')
    if (engineRolledBack) await first.engine.rollback(view.serial, 's')
    await dataDir.release()
    const { registry, path } = await open(first.path, first.engine)
    const expected = engineRolledBack ? 0x31 : 0x32
    assert.deepEqual(await read(await initiatorOf(registry, view.iqn), 0, 1), fill(1, expected))
    assert.equal(await keyCount(path), engineRolledBack ? 1 : 2)
    await registry.close()
  }
})

test('Encryption: orphan keys (a crash before the engine created the image) are destroyed on open', async () => {
  const first = await open()
  await create(first.registry, 'vol')
  await first.registry.close()
  const dataDir = await DataDir.open(first.path)
  const keys = await Keyring.open(dataDir)
  await keys.create('0123456789abcdef0123456789abcdef')
  await dataDir.release()
  assert.equal(await keyCount(first.path), 2)
  const { registry, path } = await open(first.path, first.engine)
  assert.equal(await keyCount(path), 1)
  await registry.close()
})

test('Encryption: EXTENDED COPY between an encrypted and a plain volume moves plaintext [SPC-4 §6.3]', async () => {
  const { registry } = await open()
  const secret = await create(registry, 'secret')
  const plain = await create(registry, 'plain', false)
  await write(await initiatorOf(registry, secret.iqn), 0, fill(1, 0x5a))
  const from = unitOf(registry, secret.iqn)
  const to = unitOf(registry, plain.iqn)
  const { cdb, list } = copyOneBlock(from, to)
  const initiator = await initiatorOf(registry, secret.iqn)
  assert.equal((await initiator.run(cdb, { dataOut: list })).status, ScsiStatus.good)
  assert.deepEqual(await read(await initiatorOf(registry, plain.iqn), 0, 1), fill(1, 0x5a))
  // And back: plain to encrypted, at LBA 0 of a fresh encrypted volume.
  const other = await create(registry, 'other')
  const back = copyOneBlock(to, unitOf(registry, other.iqn))
  assert.equal((await initiator.run(back.cdb, { dataOut: back.list })).status, ScsiStatus.good)
  assert.deepEqual(await read(await initiatorOf(registry, other.iqn), 0, 1), fill(1, 0x5a))
  await registry.close()
})

/** EXTENDED COPY (LID1) of block 0 from the first CSCD to the second (SPC-4 §6.3.6, §6.3.7). */
function copyOneBlock(from: LogicalUnit, to: LogicalUnit): { cdb: Buffer; list: Buffer } {
  const cscd = (unit: LogicalUnit) => {
    const bytes = Buffer.alloc(32)
    bytes[0] = 0xe4 // identification descriptor CSCD
    bytes[4] = 0x01 // CODE SET binary
    bytes[5] = 0x03 // NAA
    bytes[7] = unit.naaDesignator.length
    bytes.set(unit.naaDesignator, 8)
    bytes.writeUIntBE(unit.device.blockBytes, 29, 3)
    return bytes
  }
  const segment = Buffer.alloc(28)
  segment[0] = 0x02 // block to block
  segment.writeUInt16BE(0x18, 2)
  segment.writeUInt16BE(1, 6) // destination CSCD index
  segment.writeUInt16BE(1, 10) // one block
  const header = Buffer.alloc(16)
  header[1] = 2 << 3 // LIST ID USAGE 10b
  header.writeUInt16BE(64, 2)
  header.writeUInt32BE(28, 8)
  const list = Buffer.concat([header, cscd(from), cscd(to), segment])
  const cdb = Buffer.alloc(16)
  cdb[0] = 0x83
  cdb.writeUInt32BE(list.length, 10)
  return { cdb, list }
}
