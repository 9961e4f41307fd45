import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readU16, readU32 } from '../../base/bytes.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

async function host(): Promise<TestInitiator> {
  const unit = makeUnit(new MemoryBlockDevice(512, 1024))
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  return initiator
}

test('ReadDefectData10.Simple: an empty, valid list in the format asked for [SBC-3 §5.19]', async () => {
  const initiator = await host()
  const result = await initiator.run([0x37, 0, 0x18 | 0x05, 0, 0, 0, 0, 0, 32, 0])
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataIn!.length, 4)
  assert.equal(result.dataIn![1], 0x1d, 'PLISTV, GLISTV, format 101b')
  assert.equal(readU16(result.dataIn!, 2), 0, 'DEFECT LIST LENGTH')
  const none = await initiator.run([0x37, 0, 0, 0, 0, 0, 0, 0, 2, 0])
  assert.equal(none.dataIn!.length, 2, 'cut to the allocation length')
})

test('ReadDefectData12.Simple: 8-byte header, list length 0 [SBC-3 §5.20]', async () => {
  const initiator = await host()
  const result = await initiator.run([0xb7, 0x08 | 0x04, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0])
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataIn!.length, 8)
  assert.equal(result.dataIn![1], 0x0c)
  assert.equal(readU32(result.dataIn!, 4), 0)
})

test('ReadDefectData10.ReservedBits are INVALID FIELD IN CDB [SPC-4 §4.5.6]', async () => {
  const initiator = await host()
  const result = await initiator.run([0x37, 0x01, 0, 0, 0, 0, 0, 0, 32, 0])
  assert.equal(senseOf(result).code, 0x2400)
  assert.equal(senseOf(result).field?.byte, 1)
})
