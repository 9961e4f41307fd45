import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import { cdb6, cdb10, makeNexus, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

async function setup() {
  const unit = makeUnit(new MemoryBlockDevice(512, 4096))
  const group = new UnitGroup(new Map([[0, unit]]))
  const initiator = new TestInitiator(group, makeNexus(1))
  const other = new TestInitiator(group, makeNexus(2))
  await initiator.clearAttentions()
  await other.clearAttentions()
  return { unit, initiator, other }
}

const sense6 = (pcPage: number, subpage = 0, length = 255, dbd = 0) =>
  cdb6(0x1a, dbd, pcPage, subpage, length)

/** Splits MODE SENSE(6) data into {page code: bytes}. */
function pagesOf(data: Uint8Array): Map<string, Uint8Array> {
  const pages = new Map<string, Uint8Array>()
  let at = 4 + data[3]!
  while (at < data[0]! + 1) {
    const spf = (data[at]! & 0x40) !== 0
    const length = spf ? ((data[at + 2]! << 8) | data[at + 3]!) + 4 : data[at + 1]! + 2
    pages.set(`${data[at]! & 0x3f}/${spf ? data[at + 1] : 0}`, data.subarray(at, at + length))
    at += length
  }
  return pages
}

test('ModeSense6.AllPages: header, block descriptor [SPC-4 §6.11, SBC-3 §6.4.1]', async () => {
  const { initiator } = await setup()
  const data = (await initiator.run(sense6(0x3f))).dataIn!
  assert.equal(data[0], data.length - 1)
  assert.equal(data[2], 0x10) // DPOFUA, not write-protected
  assert.equal(data[3], 8)
  assert.equal(Buffer.from(data).readUInt32BE(4), 4096)
  assert.equal(Buffer.from(data).readUInt32BE(8) & 0xffffff, 512)
  assert.deepEqual([...pagesOf(data).keys()], ['1/0', '8/0', '10/0', '28/0'])
  const all = (await initiator.run(sense6(0x3f, 0xff))).dataIn!
  assert.ok(pagesOf(all).has('10/1'), 'control extension with subpages')
})

test('ModeSense6.Control: direct read equals the all-pages copy [SPC-4 §7.5.8]', async () => {
  const { initiator } = await setup()
  const direct = pagesOf((await initiator.run(sense6(0x0a))).dataIn!).get('10/0')!
  const fromAll = pagesOf((await initiator.run(sense6(0x3f))).dataIn!).get('10/0')!
  assert.deepEqual(direct, fromAll)
  assert.ok(direct[2]! >> 5 <= 1, 'TST 0 or 1')
  assert.notEqual((direct[3]! >> 1) & 3, 2, 'QERR is not 2')
  assert.notEqual((direct[8]! << 8) | direct[9]!, 0, 'BUSY TIMEOUT PERIOD given')
})

test('ModeSense6.Residuals: allocation length 4 returns 4 bytes [SPC-4 §4.2.5.6]', async () => {
  const { initiator } = await setup()
  assert.equal((await initiator.run(sense6(0x3f, 0, 4))).dataIn!.length, 4)
})

test('ModeSense: DBD drops descriptors; LLBAA gives a long one [SPC-4 §6.12]', async () => {
  const { initiator } = await setup()
  const noDescriptor = (await initiator.run(sense6(0x08, 0, 255, 0x08))).dataIn!
  assert.equal(noDescriptor[3], 0)
  assert.equal(noDescriptor[4], 0x08)
  const ten = [0x5a, 0x10, 0x08, 0, 0, 0, 0, 0x01, 0x00, 0]
  const long = Buffer.from((await initiator.run(ten)).dataIn!)
  assert.equal(long.readUInt16BE(0), long.length - 2)
  assert.equal(long[4]! & 1, 1)
  assert.equal(long.readUInt16BE(6), 16)
  assert.equal(long.readBigUInt64BE(8), 4096n)
  assert.equal(long.readUInt32BE(20), 512)
})

test('ModeSense: PC=saved unsupported, bad page/subpage invalid [SPC-4 §6.11]', async () => {
  const { initiator } = await setup()
  const saved = senseOf(await initiator.run(sense6(0xc0 | 0x08)))
  assert.equal(saved.code, AdditionalSense.savingParametersNotSupported)
  const page = senseOf(await initiator.run(sense6(0x15)))
  assert.deepEqual(page.field, { inCdb: true, byte: 2, bit: 5 })
  const subpage = senseOf(await initiator.run(sense6(0x08, 0x05)))
  assert.deepEqual(subpage.field, { inCdb: true, byte: 3, bit: null })
})

test('ModeSense: changeable values show WCE, D_SENSE and SWP [SPC-4 §6.11]', async () => {
  const { initiator } = await setup()
  const pages = pagesOf((await initiator.run(sense6(0x40 | 0x3f))).dataIn!)
  assert.equal(pages.get('8/0')![2], 0x04)
  assert.equal(pages.get('10/0')![2], 0x04)
  assert.equal(pages.get('10/0')![4], 0x08)
  assert.equal(pages.get('1/0')![2], 0)
})

async function selectControl(initiator: TestInitiator, byte2: number, byte4: number) {
  const control = pagesOf((await initiator.run(sense6(0x0a))).dataIn!).get('10/0')!
  const list = Uint8Array.from([0, 0, 0, 0, ...control])
  list[4 + 2] = byte2
  list[4 + 4] = byte4
  return initiator.run(cdb6(0x15, 0x10, 0, 0, list.length), list)
}

test('ModeSense6.Control-SWP: SWP=1 write-protects the unit [SPC-4 §7.5.8]', async () => {
  const { initiator } = await setup()
  assert.equal((await selectControl(initiator, 0x02, 0x08)).status, ScsiStatus.good)
  const header = (await initiator.run(sense6(0x0a))).dataIn!
  assert.equal(header[2]! & 0x80, 0x80, 'WP')
  assert.equal((await initiator.run(cdb10(0x28, 0, 1))).status, ScsiStatus.good)
  const write = senseOf(await initiator.run(cdb10(0x2a, 0, 1)))
  assert.equal(write.key, SenseKey.dataProtect)
  assert.equal(write.code, AdditionalSense.writeProtected)
  assert.equal((await selectControl(initiator, 0x02, 0x00)).status, ScsiStatus.good)
  assert.equal((await initiator.run(cdb10(0x2a, 0, 1))).status, ScsiStatus.good)
})

test('ModeSense6.Control-D_SENSE switches sense to descriptor format [SPC-4 §4.5.1]', async () => {
  const { initiator } = await setup()
  const before = senseOf(await initiator.run(cdb10(0x28, 0xffff_fff0, 1)))
  assert.equal(before.descriptorFormat, false)
  assert.equal((await selectControl(initiator, 0x06, 0x00)).status, ScsiStatus.good)
  const after = senseOf(await initiator.run(cdb10(0x28, 0xffff_fff0, 1)))
  assert.equal(after.descriptorFormat, true)
  assert.equal(after.code, AdditionalSense.logicalBlockAddressOutOfRange)
})

test('ModeSelect of a fixed bit: INVALID FIELD IN PARAM LIST + pointer [SPC-4 §6.9]', async () => {
  const { unit, initiator } = await setup()
  const result = await selectControl(initiator, 0x02 | 0x20, 0x00) // TST changed
  const sense = senseOf(result)
  assert.equal(sense.code, AdditionalSense.invalidFieldInParameterList)
  assert.deepEqual(sense.field, { inCdb: false, byte: 6, bit: 5 })
  assert.equal(unit.modes.softwareWriteProtect, false)
})

test('ModeSelect rejects bad lengths, unknown pages and SP=1 [SPC-4 §6.9]', async () => {
  const { initiator } = await setup()
  const short = await initiator.run(cdb6(0x15, 0x10, 0, 0, 2), Uint8Array.of(0, 0))
  assert.equal(senseOf(short).code, AdditionalSense.parameterListLengthError)
  const unknown = Uint8Array.of(0, 0, 0, 0, 0x19, 0x02, 0, 0)
  const page = senseOf(await initiator.run(cdb6(0x15, 0x10, 0, 0, unknown.length), unknown))
  assert.deepEqual(page.field, { inCdb: false, byte: 4, bit: 5 })
  const wrongLength = Uint8Array.of(0, 0, 0, 0, 0x0a, 0x02, 0, 0)
  const length = senseOf(await initiator.run(cdb6(0x15, 0x10, 0, 0, 8), wrongLength))
  assert.deepEqual(length.field, { inCdb: false, byte: 5, bit: null })
  const save = senseOf(await initiator.run(cdb6(0x15, 0x11, 0, 0, 0)))
  assert.deepEqual(save.field, { inCdb: true, byte: 1, bit: 0 })
})

test('ModeSelect raises MODE PARAMETERS CHANGED for other nexuses [SPC-4 §7.5.1]', async () => {
  const { initiator, other } = await setup()
  assert.equal((await selectControl(initiator, 0x02, 0x08)).status, ScsiStatus.good)
  assert.equal((await initiator.run(cdb6(0x00))).status, ScsiStatus.good)
  const attention = senseOf(await other.run(cdb6(0x00)))
  assert.equal(attention.key, SenseKey.unitAttention)
  assert.equal(attention.code, AdditionalSense.modeParametersChanged)
  assert.equal((await other.run(cdb6(0x00))).status, ScsiStatus.good)
})

test('ModeSelect10 long block descriptor: block length must match [SBC-3 §6.4.2]', async () => {
  const { initiator } = await setup()
  const list = new Uint8Array(8 + 16)
  list[4] = 0x01
  list[7] = 16
  Buffer.from(list.buffer).writeUInt32BE(512, 8 + 12)
  const ok = await initiator.run([0x55, 0x10, 0, 0, 0, 0, 0, 0, list.length, 0], list)
  assert.equal(ok.status, ScsiStatus.good)
  Buffer.from(list.buffer).writeUInt32BE(4096, 8 + 12)
  const bad = await initiator.run([0x55, 0x10, 0, 0, 0, 0, 0, 0, list.length, 0], list)
  assert.deepEqual(senseOf(bad).field, { inCdb: false, byte: 20, bit: null })
})

test('ModeSelect6 of a Control page built field by field (libiscsi set_swp) [SPC-4 §7.5.8]', async () => {
  const { unit, initiator } = await setup()
  // Header, then TST/GLTSD, QAM, SWP, flags, obsolete 6-7, BUSY TIMEOUT, self-test time.
  const list = Uint8Array.of(0, 0, 0, 0, 0x0a, 0x0a, 0x02, 0x10, 0x08, 0, 0, 0, 0xff, 0xff, 0, 0)
  const result = await initiator.run(cdb6(0x15, 0x10, 0, 0, list.length), list)
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(unit.modes.softwareWriteProtect, true)
})
