/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS through parse and execute (SPC-4 §6.3, §6.18):
 * copies within one unit and across two, the refusals libiscsi's ExtendedCopy tests expect, and
 * properties of the parameter-list parser (never a throw; a refused list copies nothing).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { FaultyBlockDevice } from '../../storage/faulty_device.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import type { CopyTargets, LogicalUnit } from '../logical_unit.ts'
import { ScsiStatus } from '../port.ts'
import { makeNexus, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'
import { copyLimits, parseCopyList } from './extended_copy_params.ts'

const blockBytes = 512
const blocks = 4096

function cscd(unit: LogicalUnit, blockLength = blockBytes): Buffer {
  const bytes = Buffer.alloc(32)
  bytes[0] = 0xe4
  bytes[4] = 0x01 // binary
  bytes[5] = 0x03 // association LU, type NAA
  bytes[7] = unit.naaDesignator.length
  bytes.set(unit.naaDesignator, 8)
  bytes.writeUIntBE(blockLength, 29, 3)
  return bytes
}

function segment(source: number, destination: number, count: number, from: number, to: number) {
  const bytes = Buffer.alloc(28)
  bytes[0] = 0x02
  bytes.writeUInt16BE(0x18, 2)
  bytes.writeUInt16BE(source, 4)
  bytes.writeUInt16BE(destination, 6)
  bytes.writeUInt16BE(count, 10)
  bytes.writeBigUInt64BE(BigInt(from), 12)
  bytes.writeBigUInt64BE(BigInt(to), 20)
  return bytes
}

function copyList(listId: number, usage: number, cscds: Buffer[], segments: Buffer[]): Buffer {
  const header = Buffer.alloc(16)
  header[0] = listId
  header[1] = usage << 3
  const cscdBytes = Buffer.concat(cscds)
  const segmentBytes = Buffer.concat(segments)
  header.writeUInt16BE(cscdBytes.length, 2)
  header.writeUInt32BE(segmentBytes.length, 8)
  return Buffer.concat([header, cscdBytes, segmentBytes])
}

function xcopyCdb(length: number): number[] {
  const cdb = Buffer.alloc(16)
  cdb[0] = 0x83
  cdb.writeUInt32BE(length, 10)
  return [...cdb]
}

function rcrCdb(serviceAction: number, listId: number, allocation = 1024): number[] {
  const cdb = new Array<number>(16).fill(0)
  cdb[0] = 0x84
  cdb[1] = serviceAction
  cdb[2] = listId
  cdb[12] = allocation >>> 8
  cdb[13] = allocation & 0xff
  return cdb
}

async function setup() {
  const units = new Map<string, LogicalUnit>()
  const targets: CopyTargets = {
    byNaa: (designator) => units.get(Buffer.from(designator).toString('hex')) ?? null,
  }
  const make = (uuid: string) => {
    const device = new MemoryBlockDevice(blockBytes, blocks)
    const unit = makeUnit(device, uuid)
    Object.assign(unit, { copyTargets: targets })
    units.set(Buffer.from(unit.naaDesignator).toString('hex'), unit)
    return { unit, device }
  }
  const first = make('11111111111111111111111111111111')
  const second = make('22222222222222222222222222222222')
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, first.unit]])))
  await initiator.clearAttentions()
  return { first, second, initiator }
}

async function readBlocks(device: MemoryBlockDevice, lba: number, count: number) {
  const data = new Uint8Array(count * blockBytes)
  await device.read(lba, data)
  return Buffer.from(data)
}

test('ExtendedCopy.Simple: blocks copied within one unit, COPY STATUS held [SPC-4 §6.3]', async () => {
  const { first, initiator } = await setup()
  await first.device.write(0, new Uint8Array(64 * blockBytes).fill(0x41), false)
  const list = copyList(7, 0, [cscd(first.unit)], [segment(0, 0, 64, 0, blocks - 64)])
  const result = await initiator.run(xcopyCdb(list.length), list)
  assert.equal(result.status, ScsiStatus.good)
  assert.deepEqual(
    await readBlocks(first.device, blocks - 64, 64),
    Buffer.alloc(64 * blockBytes, 0x41),
  )
  const status = await initiator.run(rcrCdb(0x00, 7))
  assert.equal(status.status, ScsiStatus.good)
  const data = Buffer.from(status.dataIn!)
  assert.equal(data[4], 0x01, 'COPY MANAGER STATUS: completed, good')
  assert.equal(data.readUInt16BE(5), 1, 'SEGMENTS PROCESSED')
  assert.equal(data.readUInt32BE(8), 64 * blockBytes, 'TRANSFER COUNT in bytes')
  // Returned once, then discarded (SPC-4 §6.18.2).
  const again = await initiator.run(rcrCdb(0x00, 7))
  assert.equal(senseOf(again).code, 0x2400)
})

test('ExtendedCopy across two units named by NAA; the source is unchanged [SPC-4 §6.3.6.2]', async () => {
  const { first, second, initiator } = await setup()
  await first.device.write(10, new Uint8Array(8 * blockBytes).fill(0x5a), false)
  const list = copyList(0, 2, [cscd(first.unit), cscd(second.unit)], [segment(0, 1, 8, 10, 100)])
  assert.equal((await initiator.run(xcopyCdb(list.length), list)).status, ScsiStatus.good)
  assert.deepEqual(await readBlocks(second.device, 100, 8), Buffer.alloc(8 * blockBytes, 0x5a))
  assert.deepEqual(await readBlocks(first.device, 10, 8), Buffer.alloc(8 * blockBytes, 0x5a))
  assert.deepEqual(await readBlocks(second.device, 99, 1), Buffer.alloc(blockBytes))
})

test('ExtendedCopy overlapping forwards on one unit copies like memmove [SPC-4 §6.3.7.5]', async () => {
  const { first, initiator } = await setup()
  const pattern = Buffer.alloc((4096 * blockBytes) / 2)
  for (let index = 0; index < pattern.length; index++) pattern[index] = (index * 7) & 0xff
  await first.device.write(0, pattern, false)
  const count = 4096 / 2
  const list = copyList(0, 2, [cscd(first.unit)], [segment(0, 0, count, 0, 1)])
  assert.equal((await initiator.run(xcopyCdb(list.length), list)).status, ScsiStatus.good)
  assert.deepEqual(await readBlocks(first.device, 1, count), pattern)
})

test('ExtendedCopy refusals: unknown NAA, bad index, beyond the end → COPY ABORTED [SPC-4 §6.3.1]', async () => {
  const { first, second, initiator } = await setup()
  await second.device.write(0, new Uint8Array(blockBytes).fill(1), false)
  const stranger = Object.assign(Object.create(first.unit), {
    naaDesignator: Buffer.from('6000000000000000000000000000dead', 'hex'),
  }) as LogicalUnit
  const cases = [
    { list: copyList(0, 2, [cscd(stranger)], [segment(0, 0, 1, 0, 1)]), code: 0x0804 },
    { list: copyList(0, 2, [cscd(first.unit)], [segment(0, 1, 1, 0, 1)]), code: 0x0804 },
    { list: copyList(0, 2, [cscd(first.unit)], [segment(0, 0, 2048, 0, blocks - 1)]), code: 0 },
  ]
  for (const { list, code } of cases) {
    const result = await initiator.run(xcopyCdb(list.length), list)
    const sense = senseOf(result)
    assert.equal(sense.key, 0x0a, 'COPY ABORTED')
    assert.equal(sense.code, code)
  }
  assert.deepEqual(await readBlocks(first.device, 1, 1), Buffer.alloc(blockBytes), 'nothing copied')
})

test('ExtendedCopy parameter list: lengths, counts, types [SPC-4 §6.3.1, libiscsi ExtendedCopy]', async () => {
  const { first, initiator } = await setup()
  const good = copyList(1, 0, [cscd(first.unit)], [segment(0, 0, 1, 0, 1)])
  const expect = async (list: Buffer, key: number, code: number) => {
    const result = await initiator.run(xcopyCdb(list.length), list)
    assert.equal(senseOf(result).key, key)
    assert.equal(senseOf(result).code, code)
  }
  await expect(good.subarray(0, 47), 0x05, 0x1a00)
  await expect(good.subarray(0, good.length - 1), 0x05, 0x1a00)
  const nine = Array.from({ length: copyLimits.cscdDescriptorsMax + 1 }, () => cscd(first.unit))
  await expect(copyList(1, 0, nine, [segment(0, 0, 1, 0, 1)]), 0x05, 0x2606)
  const seventeen = Array.from({ length: copyLimits.segmentDescriptorsMax + 1 }, () =>
    segment(0, 0, 1, 0, 1),
  )
  await expect(copyList(1, 0, [cscd(first.unit)], seventeen), 0x05, 0x2608)
  const fibre = cscd(first.unit)
  fibre[0] = 0xe0
  await expect(copyList(1, 0, [fibre], [segment(0, 0, 1, 0, 1)]), 0x05, 0x2607)
  const stream = Buffer.alloc(20)
  stream[0] = 0x03
  stream.writeUInt16BE(0x10, 2)
  await expect(copyList(1, 0, [cscd(first.unit)], [stream]), 0x05, 0x2609)
  assert.equal((await initiator.run(xcopyCdb(0))).status, ScsiStatus.good, 'length 0: no-op')
  // Refused lists keep no COPY STATUS.
  assert.equal(senseOf(await initiator.run(rcrCdb(0x00, 1))).code, 0x2400)
})

test('ReceiveCopyResults.OpParams matches the limits [SPC-4 §6.18.4]', async () => {
  const { initiator } = await setup()
  const result = await initiator.run(rcrCdb(0x03, 0))
  const data = Buffer.from(result.dataIn!)
  assert.equal(data.readUInt32BE(0), data.length - 4)
  assert.equal(data.readUInt16BE(8), copyLimits.cscdDescriptorsMax)
  assert.equal(data.readUInt16BE(10), copyLimits.segmentDescriptorsMax)
  assert.equal(data.readUInt32BE(12), copyLimits.descriptorListBytesMax)
  assert.equal(data.readUInt32BE(16), copyLimits.segmentBytesMax)
  assert.deepEqual([...data.subarray(44, 44 + data[43]!)], [0x02, 0x0a, 0xe4])
})

test('parseCopyList never throws and refuses with a pointer inside the list (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const parsed = parseCopyList(bytes)
      if (parsed.ok || parsed.field === undefined) return
      assert.ok(parsed.field.byte < Math.max(bytes.length, 16))
    }),
    { numRuns: 2000 },
  )
})

test('parseCopyList: a valid list with one field mutated never yields an out-of-list segment (property)', () => {
  const unitLike = {
    naaDesignator: Buffer.from('6'.padEnd(32, '1'), 'hex'),
  } as unknown as LogicalUnit
  const base = copyList(1, 0, [cscd(unitLike)], [segment(0, 0, 8, 0, 8)])
  fc.assert(
    fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (at, value) => {
      const list = Buffer.from(base)
      list[at] = value
      const parsed = parseCopyList(list)
      if (!parsed.ok || parsed.list === null) return
      for (const entry of parsed.list.segments) assert.ok(entry.at + 28 <= list.length)
      for (const entry of parsed.list.cscds) assert.ok(entry.at + 32 <= list.length)
    }),
    { numRuns: 3000 },
  )
})

test('a device failure in segment 2: COPY ABORTED, FAILED SEGMENT DETAILS, SEGMENTS PROCESSED 1 [SPC-4 §6.18.5]', async () => {
  const inner = new MemoryBlockDevice(blockBytes, blocks)
  const device = new FaultyBlockDevice(inner)
  const unit = makeUnit(device)
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  device.fault = (operation, lba) => (operation === 'read' && lba === 100 ? 'IO_ERROR' : null)
  const list = copyList(
    3,
    0,
    [cscd(unit)],
    [segment(0, 0, 8, 0, 1000), segment(0, 0, 8, 100, 2000), segment(0, 0, 8, 200, 3000)],
  )
  const result = await initiator.run(xcopyCdb(list.length), list)
  const sense = senseOf(result)
  assert.equal(sense.key, 0x0a, 'COPY ABORTED')
  assert.equal(
    Buffer.from(result.sense!).readUInt32BE(8),
    1,
    'COMMAND-SPECIFIC INFORMATION: segment 1',
  )
  const details = Buffer.from((await initiator.run(rcrCdb(0x04, 3))).dataIn!)
  assert.equal(details[56], 0x02, 'COPY COMMAND STATUS: CHECK CONDITION')
  const held = details.subarray(60, 60 + details.readUInt16BE(58))
  assert.equal(held[2]! & 0x0f, 0x0a, 'the held sense is COPY ABORTED')
  assert.equal(senseOf(await initiator.run(rcrCdb(0x04, 3))).code, 0x2400, 'returned once')
})

/** `running`'s outcome if it settles within a few turns of the event loop, else 'pending'. */
async function soon<T>(running: Promise<T>): Promise<T | 'pending'> {
  let outcome: T | 'pending' = 'pending'
  void running.then((value) => {
    outcome = value
  })
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
  return outcome
}

test('ExtendedCopy: a list identifier in progress from the same I_T nexus → OPERATION IN PROGRESS [SPC-4 §6.3.1]', async () => {
  const { first, second, initiator } = await setup()
  await first.device.write(0, new Uint8Array(8 * blockBytes).fill(0x33), false)
  for (const usage of [0, 2]) {
    // The source blocks are held exclusively, so the first copy waits in its first segment.
    const hold = await first.unit.rangeLock.exclusive(0, 8)
    const list = copyList(9, usage, [cscd(first.unit)], [segment(0, 0, 8, 0, 100 + usage)])
    const running = initiator.run(xcopyCdb(list.length), list)
    assert.equal(await soon(running), 'pending')
    const again = copyList(9, usage, [cscd(first.unit)], [segment(0, 0, 8, 0, 200 + usage)])
    const duplicate = await soon(initiator.run(xcopyCdb(again.length), again))
    assert.notEqual(duplicate, 'pending', 'the duplicate is refused at once, not queued')
    if (duplicate === 'pending') return
    assert.equal(duplicate.status, ScsiStatus.checkCondition)
    assert.equal(senseOf(duplicate).key, 0x05, 'ILLEGAL REQUEST')
    assert.equal(senseOf(duplicate).code, 0x0016, 'OPERATION IN PROGRESS')
    if (usage === 0) {
      // COPY STATUS still describes the first copy: in progress, nothing moved yet.
      const status = Buffer.from((await initiator.run(rcrCdb(0x00, 9))).dataIn!)
      assert.equal(status[4], 0x00, 'COPY MANAGER STATUS: in progress')
    }
    // Another I_T nexus may use the same list identifier: the rule is per I_T nexus.
    const other = new TestInitiator(initiator.group, makeNexus(2))
    await other.clearAttentions()
    const elsewhere = copyList(9, usage, [cscd(second.unit)], [segment(0, 0, 1, 0, 1)])
    assert.equal((await other.run(xcopyCdb(elsewhere.length), elsewhere)).status, ScsiStatus.good)
    first.unit.rangeLock.release(hold)
    assert.equal((await running).status, ScsiStatus.good)
    const copied = await readBlocks(first.device, 100 + usage, 8)
    assert.deepEqual(copied, Buffer.alloc(8 * blockBytes, 0x33))
    const refused = await readBlocks(first.device, 200 + usage, 8)
    assert.deepEqual(refused, Buffer.alloc(8 * blockBytes), 'the duplicate copied nothing')
    if (usage === 0) {
      const status = Buffer.from((await initiator.run(rcrCdb(0x00, 9))).dataIn!)
      assert.equal(status[4], 0x01, 'the first copy: completed, good')
      assert.equal(status.readUInt32BE(8), 8 * blockBytes, 'TRANSFER COUNT of the first copy')
    }
  }
})

test('ExtendedCopy: a list identifier may be reused once its copy completed [SPC-4 §6.3.1]', async () => {
  const { first, initiator } = await setup()
  await first.device.write(0, new Uint8Array(blockBytes).fill(0x44), false)
  const runs = [
    [0, 10],
    [0, 11],
    [2, 12],
    [2, 13],
    [0, 14],
  ] as const
  for (const [usage, to] of runs) {
    const list = copyList(5, usage, [cscd(first.unit)], [segment(0, 0, 1, 0, to)])
    assert.equal((await initiator.run(xcopyCdb(list.length), list)).status, ScsiStatus.good)
    assert.deepEqual(await readBlocks(first.device, to, 1), Buffer.alloc(blockBytes, 0x44))
  }
  const status = Buffer.from((await initiator.run(rcrCdb(0x00, 5))).dataIn!)
  assert.equal(status[4], 0x01, 'the latest held copy: good')
  // A refused duplicate leaves nothing running behind: the identifier is free again.
  const list = copyList(5, 0, [cscd(first.unit)], [segment(0, 0, 1, 0, 15)])
  assert.equal((await initiator.run(xcopyCdb(list.length), list)).status, ScsiStatus.good)
})
