/**
 * The fit of a command to the transport's expected Data-Out length (dispatch.ts
 * fitExpectedDataOut, SAM-5 §5.4.3, RFC 7143 §11.4.5.2) and the transport's own sense
 * (UnitGroup.transportFailure), the cases of libiscsi's Write/WriteVerify{10,12,16}Residuals.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { ScsiStatus } from './port.ts'
import { AdditionalSense, SenseKey } from './spec/sense_codes.ts'
import {
  cdb6,
  cdb10,
  cdb12,
  cdb16,
  decodeSense,
  lunBytes,
  makeUnit,
  senseOf,
  TestInitiator,
} from './testing/initiator.ts'
import { UnitGroup } from './unit_group.ts'

const blockBytes = 512

async function setup() {
  const device = new MemoryBlockDevice(blockBytes, 1000)
  const unit = makeUnit(device)
  const group = new UnitGroup(new Map([[0, unit]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  return { device, unit, group, initiator }
}

async function readBlocks(device: MemoryBlockDevice, lba: number, count: number) {
  const data = new Uint8Array(count * blockBytes)
  await device.read(lba, data)
  return data
}

const writes = [
  ['WRITE(10)', cdb10(0x2a, 0, 2)],
  ['WRITE(12)', cdb12(0xaa, 0, 2)],
  ['WRITE(16)', cdb16(0x8a, 0, 2)],
  ['WRITE AND VERIFY(10)', cdb10(0x2e, 0, 2, 0x02)],
  ['WRITE AND VERIFY(12)', cdb12(0xae, 0, 2, 0x02)],
  ['WRITE AND VERIFY(16)', cdb16(0x8e, 0, 2, 0x02)],
] as const

for (const [name, cdb] of writes) {
  test(`Residuals.${name}: EDTL of one block writes one block, GOOD [SAM-5 §5.4.3]`, async () => {
    const { device, initiator } = await setup()
    await device.write(0, new Uint8Array(2 * blockBytes).fill(0x61), true)
    const sent = new Uint8Array(blockBytes).fill(0x62)
    const outcome = await initiator.run(cdb, { dataOut: sent, expectedDataOutBytes: blockBytes })
    assert.equal(outcome.status, ScsiStatus.good)
    assert.equal(outcome.dataOutBytes, blockBytes)
    assert.equal(outcome.requestedDataOutBytes, 2 * blockBytes)
    const stored = await readBlocks(device, 0, 2)
    assert.ok(
      stored.subarray(0, blockBytes).every((byte) => byte === 0x62),
      'first block written',
    )
    assert.ok(
      stored.subarray(blockBytes).every((byte) => byte === 0x61),
      'second block kept',
    )
  })
}

test('Residuals.Write10: EDTL 0 moves nothing, GOOD [libiscsi Write10Residuals]', async () => {
  const { device, initiator } = await setup()
  await device.write(5, new Uint8Array(blockBytes).fill(0x61), true)
  const outcome = await initiator.run(cdb10(0x2a, 5, 1), { expectedDataOutBytes: 0 })
  assert.equal(outcome.status, ScsiStatus.good)
  assert.equal(outcome.dataOutBytes, 0)
  assert.equal(outcome.requestedDataOutBytes, blockBytes)
  assert.ok((await readBlocks(device, 5, 1)).every((byte) => byte === 0x61))
})

test('Residuals.Write10: a split block is INVALID FIELD IN IU [FCP-4 §9.4.2]', async () => {
  const { device, unit, initiator } = await setup()
  const outcome = await initiator.run(cdb10(0x2a, 0, 1), { expectedDataOutBytes: 200 })
  const sense = senseOf(outcome)
  assert.equal(sense.key, SenseKey.illegalRequest)
  assert.equal(sense.code, AdditionalSense.invalidFieldInInformationUnit)
  assert.equal(outcome.requestedDataOutBytes, blockBytes)
  assert.ok((await readBlocks(device, 0, 1)).every((byte) => byte === 0))
  // D_SENSE=1 (SPC-4 §7.5.8): the same condition in descriptor format.
  const control = await initiator.run([0x1a, 0x08, 0x0a, 0, 255, 0])
  const page = Uint8Array.from(control.dataIn!.subarray(4))
  page[2] = page[2]! | 0x04
  const list = Uint8Array.from([0, 0, 0, 0, ...page])
  assert.equal((await initiator.run(cdb6(0x15, 0x10, 0, 0, list.length), list)).status, 0)
  assert.ok(unit.modes.descriptorSense)
  const again = await initiator.run(cdb10(0x2a, 0, 1), { expectedDataOutBytes: 200 })
  assert.equal(senseOf(again).descriptorFormat, true)
})

test('Residuals: EDTL above the CDB takes the CDB length [RFC 7143 §11.4.5.2]', async () => {
  const { initiator } = await setup()
  const outcome = await initiator.run(cdb10(0x2a, 0, 1), { expectedDataOutBytes: 10_000 })
  assert.equal(outcome.status, ScsiStatus.good)
  assert.equal(outcome.dataOutBytes, blockBytes)
  assert.equal(outcome.requestedDataOutBytes, blockBytes)
})

test('Residuals: VERIFY and MODE SELECT are never cut, they refuse [FCP-4 §9.4.2]', async () => {
  const { initiator } = await setup()
  const verify = await initiator.run(cdb10(0x2f, 0, 2, 0x02), { expectedDataOutBytes: blockBytes })
  assert.equal(senseOf(verify).code, AdditionalSense.invalidFieldInInformationUnit)
  assert.equal(verify.requestedDataOutBytes, 2 * blockBytes)
  const select = await initiator.run(cdb6(0x15, 0x10, 0, 0, 16), { expectedDataOutBytes: 8 })
  assert.equal(senseOf(select).code, AdditionalSense.invalidFieldInInformationUnit)
})

test('Residuals: an LBA out of range is still reported first [SBC-3 §4.5]', async () => {
  const { initiator } = await setup()
  const outcome = await initiator.run(cdb10(0x2a, 999, 2), { expectedDataOutBytes: blockBytes })
  assert.equal(senseOf(outcome).code, AdditionalSense.logicalBlockAddressOutOfRange)
  assert.equal(outcome.requestedDataOutBytes, 0)
})

test('TransportFailure: the unit format, fixed with no unit [SPC-4 §4.5]', async () => {
  const { group, unit } = await setup()
  const crc = group.transportFailure(lunBytes(0), 'protocolServiceCrcError')
  assert.equal(crc.status, ScsiStatus.checkCondition)
  const decoded = decodeSense(crc.sense!)
  assert.equal(decoded.key, SenseKey.abortedCommand)
  assert.equal(decoded.code, AdditionalSense.protocolServiceCrcError)
  assert.equal(decoded.descriptorFormat, false)
  const noUnit = group.transportFailure(lunBytes(7), 'invalidFieldInInformationUnit')
  assert.equal(decodeSense(noUnit.sense!).code, AdditionalSense.invalidFieldInInformationUnit)
  unit.modes.select(Uint8Array.from([0x0a, 0x0a, 0x06, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0]), 0)
  const descriptor = group.transportFailure(lunBytes(0), 'invalidFieldInInformationUnit')
  assert.equal(decodeSense(descriptor.sense!).descriptorFormat, true)
  assert.equal(decodeSense(descriptor.sense!).key, SenseKey.illegalRequest)
})
