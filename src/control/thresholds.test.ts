/**
 * The thin-provisioning soft threshold and the full pool, end to end through the SCSI layer on a
 * small engine pool (SBC-3 §4.7.3.6-7): crossing the configured fill level raises THIN
 * PROVISIONING SOFT THRESHOLD REACHED once per crossing on every LUN; a write the pool cannot
 * allocate fails with SPACE ALLOCATION FAILED WRITE PROTECT, never silently. Also EXTENDED COPY
 * between two volumes resolved through the UnitDirectory.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { ScsiStatus } from '../scsi/port.ts'
import { cdb6, cdb16, senseOf, TestInitiator } from '../scsi/testing/initiator.ts'
import { SimPoolMedia } from '../storage/engine/media_sim.ts'
import { Pool } from '../storage/engine/pool.ts'
import { logicalUnitFactory } from './targets.ts'
import { UnitDirectory } from './unit_directory.ts'

const MiB = 1024 * 1024

async function setup(capacityBytes: number) {
  const clock = new ManualClock()
  const pool = await Pool.open({ media: new SimPoolMedia(), clock, capacityBytes })
  const directory = new UnitDirectory()
  const factory = logicalUnitFactory(clock, null, { directory, sanitize: null })
  const exportVolume = async (uuid: string) => {
    const device = await pool.createVolume(uuid, 512, (16 * MiB) / 512)
    const exported = factory(device, { uuid, name: uuid, kind: 'volume', removable: false })
    const initiator = new TestInitiator(exported.units as never)
    await initiator.clearAttentions()
    return { device, initiator }
  }
  return { clock, pool, directory, exportVolume }
}

function write16(lba: number, blocks: number): number[] {
  return cdb16(0x8a, lba, blocks)
}

test('SoftThreshold: one unit attention per crossing on every LUN [SBC-3 §4.7.3.6]', async () => {
  const { clock, pool, directory, exportVolume } = await setup(8 * MiB)
  const first = await exportVolume('11111111111111111111111111111111')
  const second = await exportVolume('22222222222222222222222222222222')
  directory.setSoftThreshold(50)
  directory.tick(pool)
  assert.equal((await first.initiator.run(cdb6(0x00))).status, ScsiStatus.good, 'below: no UA')
  const data = new Uint8Array(MiB).fill(7)
  for (let at = 0; at < 5; at++) {
    const result = await first.initiator.run(write16(at * 2048, 2048), data)
    assert.equal(result.status, ScsiStatus.good)
  }
  assert.ok(pool.space().usedBytes * 2 >= pool.space().capacityBytes, 'past 50 %')
  directory.tick(pool)
  directory.tick(pool)
  for (const { initiator } of [first, second]) {
    const attention = senseOf(await initiator.run(cdb6(0x00)))
    assert.equal(attention.key, 0x06)
    assert.equal(attention.code, 0x3807)
    assert.equal((await initiator.run(cdb6(0x00))).status, ScsiStatus.good, 'once per crossing')
  }
  // Below again (UNMAP everything), then above again: a second crossing, a second UA.
  await first.device.unmap(0, first.device.blockCount)
  for (
    let step = 0;
    step < 200 && pool.space().usedBytes * 2 >= pool.space().capacityBytes;
    step++
  ) {
    clock.advanceMs(100)
    pool.tick()
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.ok(pool.space().usedBytes * 2 < pool.space().capacityBytes, 'freed below 50 %')
  directory.tick(pool)
  for (let at = 0; at < 5; at++) await first.initiator.run(write16(at * 2048, 2048), data)
  directory.tick(pool)
  assert.equal(senseOf(await second.initiator.run(cdb6(0x00))).code, 0x3807)
})

test('a write the full pool cannot allocate: SPACE ALLOCATION FAILED WRITE PROTECT [SBC-3 §4.7.3.7]', async () => {
  const { exportVolume } = await setup(4 * MiB)
  const { initiator } = await exportVolume('33333333333333333333333333333333')
  const data = new Uint8Array(MiB).fill(9)
  let failed = null
  for (let at = 0; at < 8 && failed === null; at++) {
    const result = await initiator.run(write16(at * 2048, 2048), data)
    if (result.status !== ScsiStatus.good) failed = senseOf(result)
  }
  assert.ok(failed !== null, 'a 16 MiB volume in a 4 MiB pool must run out')
  assert.equal(failed.key, 0x07, 'DATA PROTECT')
  assert.equal(failed.code, 0x2707)
})

test('ExtendedCopy between two volumes through the UnitDirectory [SPC-4 §6.3]', async () => {
  const { directory, exportVolume } = await setup(64 * MiB)
  const source = await exportVolume('44444444444444444444444444444444')
  const target = await exportVolume('55555555555555555555555555555555')
  assert.equal(directory.size, 2)
  await source.device.write(0, new Uint8Array(64 * 512).fill(0x33), false)
  const cscd = (device: { naa: Uint8Array }) => {
    const bytes = Buffer.alloc(32)
    bytes[0] = 0xe4
    bytes[4] = 0x01
    bytes[5] = 0x03
    bytes[7] = 16
    bytes.set(device.naa, 8)
    bytes.writeUIntBE(512, 29, 3)
    return bytes
  }
  const naaOf = (initiator: TestInitiator) => ({ naa: initiator.group.unit(0)!.naaDesignator })
  const segment = Buffer.alloc(28)
  segment[0] = 0x02
  segment.writeUInt16BE(0x18, 2)
  segment.writeUInt16BE(1, 6)
  segment.writeUInt16BE(64, 10)
  segment.writeBigUInt64BE(1000n, 20)
  const header = Buffer.alloc(16)
  header[1] = 2 << 3
  header.writeUInt16BE(64, 2)
  header.writeUInt32BE(28, 8)
  const list = Buffer.concat([
    header,
    cscd(naaOf(source.initiator)),
    cscd(naaOf(target.initiator)),
    segment,
  ])
  const cdb = Buffer.alloc(16)
  cdb[0] = 0x83
  cdb.writeUInt32BE(list.length, 10)
  const result = await source.initiator.run(cdb, list)
  assert.equal(result.status, ScsiStatus.good)
  const copied = await target.initiator.run(cdb16(0x88, 1000, 64))
  assert.deepEqual(Buffer.from(copied.dataIn!), Buffer.alloc(64 * 512, 0x33))
})
