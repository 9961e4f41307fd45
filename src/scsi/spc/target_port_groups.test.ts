import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readU16, readU32 } from '../../base/bytes.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { makeNexus, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

function initiator(relativeTargetPort = 1): TestInitiator {
  const unit = makeUnit(new MemoryBlockDevice(512, 1024))
  return new TestInitiator(new UnitGroup(new Map([[0, unit]])), makeNexus(7, relativeTargetPort))
}

function rtpg(format: number, allocation: number): number[] {
  const cdb = [0xa3, (format << 5) | 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  cdb[6] = allocation >>> 24
  cdb[7] = (allocation >>> 16) & 0xff
  cdb[8] = (allocation >>> 8) & 0xff
  cdb[9] = allocation & 0xff
  return cdb
}

test('Inquiry.TpgsImplicit: standard INQUIRY claims implicit ALUA only [SPC-4 §6.6.2]', async () => {
  const host = initiator()
  await host.clearAttentions()
  const result = await host.run([0x12, 0, 0, 0, 96, 0])
  assert.equal((result.dataIn![5]! >> 4) & 0x3, 0b01)
})

test('Rtpg.ExtendedHeader: one active/optimized group listing the nexus port [SPC-4 §6.36]', async () => {
  const host = initiator(3)
  await host.clearAttentions()
  const result = await host.run(rtpg(1, 4096))
  assert.equal(result.status, ScsiStatus.good)
  const data = result.dataIn!
  assert.equal(data.length, 8 + 8 + 4)
  assert.equal(readU32(data, 0), data.length - 4, 'RETURN DATA LENGTH')
  assert.equal(data[4], 0x10, 'FORMAT TYPE 001b')
  const group = data.subarray(8)
  assert.equal(group[0]! & 0x0f, 0x0, 'active/optimized')
  assert.equal(group[0]! & 0x80, 0x80, 'PREF')
  assert.equal(group[1], 0x01, 'AO_SUP only: no other state is ever entered')
  assert.equal(readU16(group, 2), 1, 'target port group 1')
  assert.equal(group[7], 1, 'TARGET PORT COUNT')
  assert.equal(readU16(group, 10), 3, 'the relative target port of the nexus')
})

test('Rtpg.LengthOnlyHeaderAndAllocationLength [SPC-4 §6.36, §4.2.5.6]', async () => {
  const host = initiator()
  await host.clearAttentions()
  const full = await host.run(rtpg(0, 4096))
  assert.equal(full.dataIn!.length, 4 + 8 + 4)
  assert.equal(readU32(full.dataIn!, 0), 12)
  const cut = await host.run(rtpg(0, 4))
  assert.deepEqual(cut.dataIn, full.dataIn!.subarray(0, 4), 'the length survives truncation')
})

test('Rtpg.ReservedParameterDataFormat is INVALID FIELD IN CDB byte 1 [SPC-4 §6.36]', async () => {
  const host = initiator()
  await host.clearAttentions()
  for (const format of [2, 3, 7]) {
    const result = await host.run(rtpg(format, 64))
    assert.equal(result.status, ScsiStatus.checkCondition)
    const sense = senseOf(result)
    assert.equal(sense.code, 0x2400)
    assert.equal(sense.field?.byte, 1)
  }
})

test('Vpd83.TargetPortDesignators: relative port and target port group [SPC-4 §7.8.6]', async () => {
  const host = initiator(2)
  await host.clearAttentions()
  const page = (await host.run([0x12, 1, 0x83, 0x01, 0, 0])).dataIn!
  const found = new Map<number, Uint8Array>()
  for (let at = 4; at + 4 <= page.length; at += 4 + page[at + 3]!) {
    const association = (page[at + 1]! >> 4) & 0x3
    const type = page[at + 1]! & 0x0f
    if (association === 1) found.set(type, page.subarray(at + 4, at + 4 + page[at + 3]!))
  }
  assert.equal(readU16(found.get(0x4)!, 2), 2, 'RELATIVE TARGET PORT IDENTIFIER')
  assert.equal(readU16(found.get(0x5)!, 2), 1, 'TARGET PORT GROUP')
  assert.ok(found.has(0x8), 'SCSI name string of the target port')
})
