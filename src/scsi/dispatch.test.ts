import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { ScsiStatus } from './port.ts'
import { AdditionalSense, SenseKey } from './spec/sense_codes.ts'
import {
  cdb6,
  cdb10,
  cdb16,
  lunBytes,
  makeNexus,
  makeUnit,
  senseOf,
  TestInitiator,
} from './testing/initiator.ts'
import { UnitGroup } from './unit_group.ts'

function setup() {
  const device = new MemoryBlockDevice(512, 1000)
  const unit = makeUnit(device)
  const group = new UnitGroup(new Map([[0, unit]]))
  return { device, unit, group, first: new TestInitiator(group, makeNexus(1)) }
}

test('UA: POWER ON is reported once per new nexus, not by INQUIRY [SAM-5 §5.14]', async () => {
  const { group, first } = setup()
  group.nexusAdded(first.nexus)
  assert.equal((await first.run([0x12, 0, 0, 0, 36, 0])).status, ScsiStatus.good)
  assert.equal((await first.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0])).status, 0)
  const attention = senseOf(await first.run(cdb6(0x00)))
  assert.equal(attention.key, SenseKey.unitAttention)
  assert.equal(attention.code, AdditionalSense.powerOnResetOrBusDeviceResetOccurred)
  assert.equal((await first.run(cdb6(0x00))).status, ScsiStatus.good)
})

test('UA: REQUEST SENSE reports and clears a pending UA with GOOD [SPC-4 §6.39]', async () => {
  const { first } = setup()
  const result = await first.run(cdb6(0x03, 0, 0, 0, 252))
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataIn![12], 0x29)
  const after = await first.run(cdb6(0x03, 0x01, 0, 0, 252))
  assert.equal(after.dataIn![0], 0x72) // DESC=1
  assert.equal(after.dataIn![1]! & 0x0f, SenseKey.noSense)
  assert.equal((await first.run(cdb6(0x00))).status, ScsiStatus.good)
})

test('UA: capacityChanged reaches every nexus; LUN reset outranks it [SAM-5 §5.14]', async () => {
  const { unit, group, first } = setup()
  const second = new TestInitiator(group, makeNexus(2))
  await first.clearAttentions()
  await second.clearAttentions()
  unit.capacityChanged()
  assert.equal(senseOf(await first.run(cdb6(0x00))).code, AdditionalSense.capacityDataHasChanged)
  assert.equal(group.taskManagement('lunReset', first.nexus, lunBytes(0)), 'complete')
  const reset = senseOf(await second.run(cdb6(0x00)))
  assert.equal(reset.code, AdditionalSense.busDeviceResetFunctionOccurred)
  assert.equal((await second.run(cdb6(0x00))).status, ScsiStatus.good)
  assert.equal(senseOf(await first.run(cdb6(0x00))).key, SenseKey.unitAttention)
})

test('UA: nexusRemoved forgets the nexus; it starts over with POWER ON [SAM-5 §5.14]', async () => {
  const { group, first } = setup()
  await first.clearAttentions()
  group.nexusRemoved(first.nexus)
  assert.equal(senseOf(await first.run(cdb6(0x00))).key, SenseKey.unitAttention)
})

test('TMF: unknown LUN, aborts, resets and unsupported functions [SAM-5 §7]', () => {
  const { group, first } = setup()
  assert.equal(group.taskManagement('abortTask', first.nexus, lunBytes(3)), 'lunDoesNotExist')
  assert.equal(group.taskManagement('abortTask', first.nexus, lunBytes(0)), 'complete')
  assert.equal(group.taskManagement('abortTaskSet', first.nexus, lunBytes(0)), 'complete')
  assert.equal(group.taskManagement('clearTaskSet', first.nexus, lunBytes(0)), 'complete')
  assert.equal(group.taskManagement('targetWarmReset', first.nexus, lunBytes(9)), 'complete')
  assert.equal(group.taskManagement('clearAca', first.nexus, lunBytes(0)), 'notSupported')
})

test('Unknown opcode: INVALID OPERATION CODE; bad SA: field byte 1 [SPC-4 §4.5.6]', async () => {
  const { first } = setup()
  await first.clearAttentions()
  const opcode = senseOf(await first.run([0xc0, 0, 0, 0, 0, 0]))
  assert.equal(opcode.code, AdditionalSense.invalidCommandOperationCode)
  const action = senseOf(await first.run([0x9e, 0x1f, ...new Array(14).fill(0)]))
  assert.equal(action.code, AdditionalSense.invalidFieldInCdb)
  assert.deepEqual(action.field, { inCdb: true, byte: 1, bit: 4 })
})

test('Usage mask: reserved, control bits set a field pointer [SPC-4 §4.5.2.4.2]', async () => {
  const { first } = setup()
  await first.clearAttentions()
  const control = senseOf(await first.run([0x00, 0, 0, 0, 0, 0x04]))
  assert.deepEqual(control.field, { inCdb: true, byte: 5, bit: 2 })
  const reserved = cdb10(0x28, 0, 1)
  reserved[6] = 0x20
  assert.deepEqual(senseOf(await first.run(reserved)).field, { inCdb: true, byte: 6, bit: 5 })
})

test('StartStopUnit: START=0 stops media access, START=1 restarts [SBC-3 §5.25]', async () => {
  const { device, first } = setup()
  let flushes = 0
  device.flush = async () => {
    flushes += 1
  }
  await first.clearAttentions()
  assert.equal((await first.run(cdb6(0x1b, 0x01, 0, 0, 0x00))).status, ScsiStatus.good)
  assert.equal(flushes, 1)
  for (const cdb of [cdb6(0x00), cdb10(0x28, 0, 1), cdb10(0x25, 0, 0), cdb10(0x35, 0, 0)]) {
    const sense = senseOf(await first.run(cdb))
    assert.equal(sense.key, SenseKey.notReady)
    assert.equal(sense.code, AdditionalSense.logicalUnitNotReadyInitializingCommandRequired)
  }
  assert.equal((await first.run([0x12, 0, 0, 0, 36, 0])).status, ScsiStatus.good)
  const requestSense = await first.run(cdb6(0x03, 0, 0, 0, 18))
  assert.equal(requestSense.dataIn![2], SenseKey.notReady)
  assert.equal((await first.run(cdb6(0x1b, 0, 0, 0, 0x01))).status, ScsiStatus.good)
  assert.equal((await first.run(cdb6(0x00))).status, ScsiStatus.good)
})

test('StartStopUnit: power conditions are no-ops; reserved invalid [SBC-3 §5.25]', async () => {
  const { unit, first } = setup()
  await first.clearAttentions()
  for (const condition of [1, 2, 3, 7, 0xa, 0xb]) {
    const result = await first.run(cdb6(0x1b, 0, 0, 0, condition << 4))
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(unit.stopped, false)
  }
  const reserved = senseOf(await first.run(cdb6(0x1b, 0, 0, 0, 0x40)))
  assert.deepEqual(reserved.field, { inCdb: true, byte: 4, bit: 7 })
})

test('ReadCapacity10/16: last LBA, block size, allocation 0..32 [SBC-3 §5.15-16]', async () => {
  const { first } = setup()
  await first.clearAttentions()
  const ten = Buffer.from((await first.run(cdb10(0x25, 0, 0))).dataIn!)
  assert.equal(ten.readUInt32BE(0), 999)
  assert.equal(ten.readUInt32BE(4), 512)
  const pmi = senseOf(await first.run(cdb10(0x25, 5, 0)))
  assert.deepEqual(pmi.field, { inCdb: true, byte: 2, bit: null })
  for (let length = 0; length <= 32; length++) {
    const result = await first.run([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, length, 0, 0])
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(result.dataIn!.length, length)
  }
  const sixteen = Buffer.from((await first.run(cdb16(0x9e, 0, 32, 0x10))).dataIn!)
  assert.equal(sixteen.readBigUInt64BE(0), 999n)
})

test('ReadCapacity10 clamps a last LBA beyond 32 bits to FFFFFFFFh [SBC-3 §5.15]', async () => {
  const group = new UnitGroup(new Map([[0, makeUnit(new MemoryBlockDevice(512, 2 ** 33))]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  const data = Buffer.from((await initiator.run(cdb10(0x25, 0, 0))).dataIn!)
  assert.equal(data.readUInt32BE(0), 0xffff_ffff)
  const beyond32 = await initiator.run(cdb16(0x88, 2 ** 32 + 5, 1))
  assert.equal(beyond32.status, ScsiStatus.good)
})

test('PreFetch: CONDITION MET when it fits, GOOD otherwise; 0 = to end [SBC-3 §5.8]', async () => {
  const group = new UnitGroup(new Map([[0, makeUnit(new MemoryBlockDevice(4096, 1 << 16))]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  assert.equal((await initiator.run(cdb10(0x34, 0, 256, 0x02))).status, ScsiStatus.conditionMet)
  assert.equal((await initiator.run(cdb16(0x90, 0, 0))).status, ScsiStatus.good)
  const grouped = cdb10(0x34, 0, 1)
  grouped[6] = 3
  assert.equal((await initiator.run(grouped)).status, ScsiStatus.conditionMet)
  const past = senseOf(await initiator.run(cdb10(0x34, (1 << 16) + 1, 0)))
  assert.equal(past.code, AdditionalSense.logicalBlockAddressOutOfRange)
})

test('SynchronizeCache10/16 flush the device [SBC-3 §5.22]', async () => {
  const { device, first } = setup()
  let flushes = 0
  device.flush = async () => {
    flushes += 1
  }
  await first.clearAttentions()
  assert.equal((await first.run(cdb10(0x35, 0, 1, 0x06))).status, ScsiStatus.good)
  assert.equal((await first.run(cdb16(0x91, 0, 0))).status, ScsiStatus.good)
  assert.equal(flushes, 2)
})

test('ReportLuns: select 0/1/2, well-known LUN, invalid select [SPC-4 §6.33]', async () => {
  const units = new Map([
    [0, makeUnit(new MemoryBlockDevice(512, 8))],
    [300, makeUnit(new MemoryBlockDevice(512, 8), 'ffffffffffffffffffffffffffffffff')],
  ])
  const initiator = new TestInitiator(new UnitGroup(units))
  const report = async (select: number) =>
    Buffer.from((await initiator.run([0xa0, 0, select, 0, 0, 0, 0, 0, 1, 0, 0, 0])).dataIn!)
  const all = await report(0)
  assert.equal(all.readUInt32BE(0), 16)
  assert.equal(all.subarray(8, 16).toString('hex'), '0000000000000000')
  assert.equal(all.subarray(16, 24).toString('hex'), '412c000000000000')
  assert.equal((await report(1)).subarray(8, 16).toString('hex'), 'c101000000000000')
  assert.equal((await report(2)).readUInt32BE(0), 24)
  const bad = senseOf(await initiator.run([0xa0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0]))
  assert.deepEqual(bad.field, { inCdb: true, byte: 2, bit: null })
  initiator.lun = 0x1_c101
  assert.equal((await initiator.run([0x12, 0, 0, 0, 36, 0])).dataIn![0], 0x1e)
  assert.equal((await initiator.run(cdb6(0x00))).status, ScsiStatus.good)
  const read = senseOf(await initiator.run(cdb10(0x28, 0, 1)))
  assert.equal(read.code, AdditionalSense.logicalUnitNotSupported)
})

test('WriteProtect: refused before the Data-Out fit (WRITE SAME UNMAP, no data) [libiscsi ReadOnly.ReadOnlySBC]', async () => {
  const { unit, first } = setup()
  await first.clearAttentions()
  const current = (await first.run(cdb6(0x1a, 0x08, 0x0a, 0, 255))).dataIn!
  const page = current.subarray(4 + current[3]!)
  const parameters = new Uint8Array(4 + page.length)
  parameters.set(page, 4)
  parameters[8] = parameters[8]! | 0x08 // Control page byte 4: SWP
  const select = await first.run(cdb6(0x15, 0x10, 0, 0, parameters.length), parameters)
  assert.equal(select.status, ScsiStatus.good)
  assert.ok(unit.modes.softwareWriteProtect)
  const writeSame = [0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0] // UNMAP, one block, no data sent
  const result = await first.run(writeSame, { expectedDataOutBytes: 0 })
  const sense = senseOf(result)
  assert.equal(sense.key, SenseKey.dataProtect)
  assert.equal(sense.code, 0x2700, 'WRITE PROTECTED, not INVALID FIELD IN COMMAND IU')
})
