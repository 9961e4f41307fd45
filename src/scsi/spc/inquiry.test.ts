import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense } from '../spec/sense_codes.ts'
import { makeNexus, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

function setup(uuid?: string, blockBytes: 512 | 4096 = 512) {
  const unit = makeUnit(new MemoryBlockDevice(blockBytes, 4096), uuid)
  return new TestInitiator(new UnitGroup(new Map([[0, unit]])), makeNexus(1, 7))
}

const inquiryCdb = (evpd: number, page: number, length: number) => [
  0x12,
  evpd,
  page,
  length >> 8,
  length & 0xff,
  0,
]

test('Inquiry.Standard: SPC-4, SBC-3 claimed, printable ids [SPC-4 §6.6.2]', async () => {
  const result = await setup().run(inquiryCdb(0, 0, 260))
  const data = result.dataIn!
  assert.equal(data.length, 96)
  assert.equal(data[0], 0x00)
  assert.equal(data[1]! & 0x80, 0) // RMB
  assert.equal(data[2], 0x06)
  assert.equal(data[3]! & 0x0f, 2)
  assert.equal(data[4], data.length - 5)
  assert.equal(Buffer.from(data.subarray(8, 16)).toString('latin1'), 'BASALT  ')
  assert.equal(Buffer.from(data.subarray(16, 32)).toString('latin1').trim(), 'Volume')
  const descriptors = [58, 60, 62].map((at) => (data[at]! << 8) | data[at + 1]!)
  assert.ok(descriptors.includes(0x04c0), 'claims SBC-3 (libiscsi sbc3_support)')
  assert.ok(descriptors.includes(0x0460), 'claims SPC-4')
})

test('Inquiry.AllocLength 5..511 truncates and never fails [SPC-4 §4.2.5.6]', async () => {
  const initiator = setup()
  for (let length = 0; length < 512; length += 7) {
    const result = await initiator.run(inquiryCdb(0, 0, length))
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(result.dataIn!.length, Math.min(length, 96))
  }
})

test('Inquiry.EVPD: page code with EVPD=0 is INVALID FIELD IN CDB [SPC-4 §6.6.1]', async () => {
  const sense = senseOf(await setup().run(inquiryCdb(0, 1, 256)))
  assert.equal(sense.code, AdditionalSense.invalidFieldInCdb)
  assert.deepEqual(sense.field, { inCdb: true, byte: 2, bit: null })
})

test('Inquiry.SupportedVPD lists ascending pages that all read back [SPC-4 §7.8.15]', async () => {
  const initiator = setup()
  const list = (await initiator.run(inquiryCdb(1, 0x00, 255))).dataIn!
  const pages = [...list.subarray(4, 4 + list[3]!)]
  assert.deepEqual(pages, [0x00, 0x80, 0x83, 0x86, 0x8f, 0xb0, 0xb1, 0xb2])
  for (const page of pages) {
    const result = await initiator.run(inquiryCdb(1, page, 255))
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(result.dataIn![1], page)
    assert.equal(result.dataIn!.length, ((result.dataIn![2]! << 8) | result.dataIn![3]!) + 4)
  }
  const missing = senseOf(await initiator.run(inquiryCdb(1, 0x89, 255)))
  assert.equal(missing.code, AdditionalSense.invalidFieldInCdb)
})

test('Inquiry.UnitSerial is the identity serial [SPC-4 §7.8.16]', async () => {
  const data = (await setup().run(inquiryCdb(1, 0x80, 255))).dataIn!
  assert.equal(Buffer.from(data.subarray(4)).toString('latin1'), '0123456789abcdef')
})

function designators(page: Uint8Array): { type: number; association: number; value: Buffer }[] {
  const found = []
  for (let at = 4; at < page.length; at += 4 + page[at + 3]!) {
    found.push({
      type: page[at + 1]! & 0x0f,
      association: (page[at + 1]! >> 4) & 0x03,
      value: Buffer.from(page.subarray(at + 4, at + 4 + page[at + 3]!)),
    })
  }
  return found
}

test('Inquiry.DeviceId: NAA 6 from uuid, stable and unique per LU [SPC-4 §7.8.6.6.5]', async () => {
  const first = (await setup().run(inquiryCdb(1, 0x83, 255))).dataIn!
  const again = (await setup().run(inquiryCdb(1, 0x83, 255))).dataIn!
  const other = (await setup('fedcba9876543210fedcba9876543210').run(inquiryCdb(1, 0x83, 255)))
    .dataIn!
  const naa = designators(first).find((entry) => entry.type === 3)!
  assert.equal(naa.association, 0)
  assert.equal(naa.value.length, 16)
  assert.equal(naa.value.toString('hex'), '602ba5a0123456789abcdef012345678')
  assert.deepEqual(designators(again), designators(first))
  const otherNaa = designators(other).find((entry) => entry.type === 3)!
  assert.notDeepEqual(otherNaa.value, naa.value)
})

test('Inquiry.DeviceId: target port designators come from the nexus [SPC-4 §7.8.6]', async () => {
  const page = (await setup().run(inquiryCdb(1, 0x83, 255))).dataIn!
  const entries = designators(page)
  const relative = entries.find((entry) => entry.type === 4)!
  assert.equal(relative.association, 1)
  assert.equal(relative.value.readUInt16BE(2), 7)
  const name = entries.find((entry) => entry.type === 8)!
  assert.equal(name.association, 1)
  assert.equal(name.value.length % 4, 0)
  assert.equal(name.value.toString('utf8').replace(/\0+$/, ''), makeNexus(1).targetPort)
})

test('Inquiry.BlockLimits: SBC-3 length and the limits of a thin unit [SBC-3 §6.5.3]', async () => {
  const page = Buffer.from((await setup().run(inquiryCdb(1, 0xb0, 255))).dataIn!)
  assert.equal(page[3], 0x3c)
  assert.equal(page.readUInt32BE(8), (8 * 1024 * 1024) / 512) // MAXIMUM TRANSFER LENGTH
  assert.equal(page.readUInt32BE(20), 0xffff_ffff) // MAXIMUM UNMAP LBA COUNT: no limit
  assert.equal(page.readUInt32BE(24), 256) // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
  assert.equal(page.readUInt32BE(28), 8) // OPTIMAL UNMAP GRANULARITY: 4 KiB
  assert.equal(page[32], 0x80) // UGAVALID, alignment 0
  assert.equal(page[5], 255) // MAXIMUM COMPARE AND WRITE LENGTH
  assert.equal(page.readBigUInt64BE(36), 32768n) // MAXIMUM WRITE SAME LENGTH: 16 MiB
  assert.equal(page.readUInt32BE(44), 2048) // MAXIMUM ATOMIC TRANSFER LENGTH: 1 MiB
  assert.ok(page.readUInt32BE(44) <= page.readUInt32BE(8))
})

test('Inquiry.BlockLimits: a one-block unmap granularity is not reported [SBC-3 §6.5.3]', async () => {
  // 4 KiB blocks: the granularity is the logical block, and reporting it makes QEMU's iSCSI
  // driver assert on large reads (see vpd.ts).
  const page = Buffer.from((await setup(undefined, 4096).run(inquiryCdb(1, 0xb0, 255))).dataIn!)
  assert.equal(page.readUInt32BE(20), 0xffff_ffff) // a thin unit: UNMAP limits present
  assert.equal(page.readUInt32BE(28), 0) // OPTIMAL UNMAP GRANULARITY: not reported
  assert.equal(page[32], 0) // UGAVALID=0
})

test('Inquiry.LBP page agrees with READ CAPACITY(16) LBPME=1 LBPRZ=1 [SBC-3 §6.5.4]', async () => {
  const initiator = setup()
  const page = (await initiator.run(inquiryCdb(1, 0xb2, 255))).dataIn!
  assert.equal(page[5], 0xe4) // LBPU, LBPWS, LBPWS10, LBPRZ; ANC_SUP=0, DP=0
  assert.equal(page[6]! & 0x07, 0x02) // thin provisioned
  await initiator.clearAttentions()
  const capacityCdb = [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]
  const data = (await initiator.run(capacityCdb)).dataIn!
  assert.equal(data[14]! & 0xc0, 0xc0)
})

test('Inquiry.LBP: a fully provisioned unit clears every bit [SBC-3 §6.5.4]', async () => {
  const device = Object.assign(new MemoryBlockDevice(512, 4096), { thin: false })
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  const page = (await initiator.run(inquiryCdb(1, 0xb2, 255))).dataIn!
  assert.equal(page[5], 0)
  assert.equal(page[6], 0)
  const limits = Buffer.from((await initiator.run(inquiryCdb(1, 0xb0, 255))).dataIn!)
  assert.equal(limits.readUInt32BE(20), 0) // no UNMAP: no UNMAP limits
  assert.equal(limits.readUInt32BE(24), 0)
})

test('Inquiry at a LUN with no unit: qualifier 011b, type 1Fh [SPC-4 §6.6.2]', async () => {
  const initiator = setup()
  initiator.lun = 5
  const data = (await initiator.run(inquiryCdb(0, 0, 96))).dataIn!
  assert.equal(data[0], 0x7f)
  const read = senseOf(await initiator.run([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]))
  assert.equal(read.code, AdditionalSense.logicalUnitNotSupported)
  const unknownOpcode = senseOf(await initiator.run([0xff, 0, 0, 0, 0, 0]))
  assert.equal(unknownOpcode.code, AdditionalSense.logicalUnitNotSupported)
})
