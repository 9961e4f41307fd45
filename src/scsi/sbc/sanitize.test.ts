/**
 * SANITIZE (SBC-3 §5.29) through parse and execute: OVERWRITE with pattern, count and INVERT;
 * BLOCK ERASE; the parameter checks libiscsi's Sanitize tests make; SANITIZE IN PROGRESS with the
 * progress indication while a paced overwrite runs (and REQUEST SENSE's report of it); the
 * sanitize failed state after an interrupted one; and a second unit left byte for byte as it was.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ManualClock } from '../../base/clock.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { LogicalUnit } from '../logical_unit.ts'
import { ScsiStatus } from '../port.ts'
import { cdb6, cdb16, makeIdentity, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'
import { parseOverwrite } from './sanitize.ts'
import { attachSanitize, type SanitizeIncomplete, tickSanitize } from './sanitize_state.ts'

const blockBytes = 512
const blocks = 8192 // 4 MiB

function sanitizeCdb(action: number, length: number, immediate = false, ause = false): number[] {
  const byte1 = (immediate ? 0x80 : 0) | (ause ? 0x20 : 0) | action
  return [0x48, byte1, 0, 0, 0, 0, 0, length >>> 8, length & 0xff, 0]
}

function overwriteList(pattern: Uint8Array, count: number, invert = false): Uint8Array {
  const list = Buffer.alloc(4 + pattern.length)
  list[0] = (invert ? 0x80 : 0) | count
  list.writeUInt16BE(pattern.length, 2)
  list.set(pattern, 4)
  return list
}

async function setup(options: { paced?: boolean; initial?: SanitizeIncomplete } = {}) {
  const clock = new ManualClock()
  const device = new MemoryBlockDevice(blockBytes, blocks)
  const other = new MemoryBlockDevice(blockBytes, blocks)
  const unit = new LogicalUnit({ device, identity: makeIdentity(), clock })
  const recorded: (SanitizeIncomplete | null)[] = []
  attachSanitize(unit, {
    journal: {
      initial: options.initial ?? null,
      record: async (state) => void recorded.push(state),
    },
    ...(options.paced === true ? { bytesPerSecond: 1024 * 1024 } : {}),
  })
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  return { clock, device, other, unit, initiator, recorded }
}

async function readAll(device: MemoryBlockDevice): Promise<Buffer> {
  const data = new Uint8Array(device.blockCount * blockBytes)
  await device.read(0, data)
  return Buffer.from(data)
}

test('Sanitize.Overwrite fills every block with the pattern; the other volume is unchanged [SBC-3 §5.29.3]', async () => {
  const { device, other, initiator, recorded } = await setup()
  const noise = Buffer.alloc(blocks * blockBytes)
  for (let index = 0; index < noise.length; index++) noise[index] = (index * 31) & 0xff
  await other.write(0, noise, false)
  await device.write(0, noise, false)
  const list = overwriteList(Uint8Array.from([1, 2, 3]), 1)
  const result = await initiator.run(sanitizeCdb(0x01, list.length), list)
  assert.equal(result.status, ScsiStatus.good)
  const expected = Buffer.alloc(blockBytes)
  for (let index = 0; index < blockBytes; index++) expected[index] = [1, 2, 3][index % 3]!
  const written = await readAll(device)
  for (let lba = 0; lba < blocks; lba += 997) {
    assert.deepEqual(written.subarray(lba * blockBytes, (lba + 1) * blockBytes), expected)
  }
  assert.deepEqual(await readAll(other), noise, 'the second volume is untouched byte for byte')
  assert.deepEqual(recorded, [{ ause: false }, null], 'journal: incomplete, then complete')
})

test('Sanitize.Overwrite with INVERT and two passes ends inverted [SBC-3 §5.29.3]', async () => {
  const { device, initiator } = await setup()
  const list = overwriteList(new Uint8Array(blockBytes).fill(0x0f), 2, true)
  assert.equal((await initiator.run(sanitizeCdb(0x01, list.length), list)).status, ScsiStatus.good)
  const data = new Uint8Array(blockBytes)
  await device.read(blocks - 1, data)
  assert.deepEqual(Buffer.from(data), Buffer.alloc(blockBytes, 0xf0))
})

test('Sanitize.Overwrite parameter checks (libiscsi Sanitize.Overwrite) [SBC-3 §5.29.3]', async () => {
  const { initiator } = await setup()
  const good = overwriteList(new Uint8Array(blockBytes).fill(0xaa), 1)
  for (const length of [0, 1, 2, 3, 4]) {
    const result = await initiator.run(sanitizeCdb(0x01, length), good.subarray(0, length))
    assert.equal(senseOf(result).code, 0x2400, `length ${length}`)
  }
  const long = Buffer.alloc(blockBytes + 5)
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x01, long.length), long)).code, 0x2400)
  const zeroCount = Buffer.from(good)
  zeroCount[0] = 0
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x01, good.length), zeroCount)).code, 0x2600)
  const zeroPattern = Buffer.from(good)
  zeroPattern.writeUInt16BE(0, 2)
  assert.equal(
    senseOf(await initiator.run(sanitizeCdb(0x01, good.length), zeroPattern)).code,
    0x2600,
  )
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x02, 8), new Uint8Array(8))).code, 0x2400)
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x03, 0))).code, 0x2400, 'no CRYPTO ERASE')
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x05, 0))).code, 0x2400)
})

test('Sanitize.BlockErase deallocates every block [SBC-3 §5.29.2]', async () => {
  const { device, initiator } = await setup()
  await device.write(0, new Uint8Array(blocks * blockBytes).fill(0x61), false)
  assert.equal((await initiator.run(sanitizeCdb(0x02, 0))).status, ScsiStatus.good)
  assert.deepEqual(await readAll(device), Buffer.alloc(blocks * blockBytes))
})

test('SANITIZE IN PROGRESS with progress while a paced overwrite runs; INQUIRY goes on [SBC-3 §4.11.2]', async () => {
  const { clock, unit, initiator } = await setup({ paced: true })
  const list = overwriteList(Uint8Array.from([7]), 1)
  const started = await initiator.run(sanitizeCdb(0x01, list.length, true), list)
  assert.equal(started.status, ScsiStatus.good, 'IMMED: GOOD once begun')
  let previous = -1
  for (let step = 0; step < 3; step++) {
    clock.advanceMs(1000)
    tickSanitize(unit)
    await new Promise((resolve) => setImmediate(resolve))
    const refused = await initiator.run(cdb16(0x88, 0, 1))
    const sense = refused.sense!
    assert.equal(senseOf(refused).key, 0x02)
    assert.equal(senseOf(refused).code, 0x041b)
    assert.equal(sense[15]! & 0x80, 0x80, 'SKSV: progress indication')
    const progress = (sense[16]! << 8) | sense[17]!
    assert.ok(progress > previous, `progress ${progress} grows`)
    previous = progress
    const requestSense = await initiator.run(cdb6(0x03, 0, 0, 0, 252))
    assert.equal(requestSense.status, ScsiStatus.good)
    assert.equal((requestSense.dataIn![12]! << 8) | requestSense.dataIn![13]!, 0x041b)
  }
  assert.equal((await initiator.run(cdb6(0x12, 0, 0, 0, 36))).status, ScsiStatus.good)
  assert.equal(senseOf(await initiator.run(cdb6(0x00))).code, 0x041b, 'TEST UNIT READY')
  for (let step = 0; step < 10; step++) {
    clock.advanceMs(1000)
    tickSanitize(unit)
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal(
    (await initiator.run(cdb6(0x00))).status,
    ScsiStatus.good,
    'done after ~4 s at 1 MiB/s',
  )
})

test('ABORT TASK ends a SANITIZE command (IMMED=0) but not the sanitize [SBC-3 §4.11.1]', async () => {
  const { clock, unit, initiator } = await setup({ paced: true })
  const list = overwriteList(Uint8Array.from([9]), 1)
  const command = initiator.run(sanitizeCdb(0x01, list.length), list)
  await new Promise((resolve) => setImmediate(resolve))
  const outcome = initiator.group.taskManagement('abortTask', initiator.nexus, new Uint8Array(8))
  assert.equal(outcome, 'complete')
  assert.equal(senseOf(await command).code, 0x041b, 'the command answers at once')
  assert.equal(senseOf(await initiator.run(cdb6(0x00))).code, 0x041b, 'the sanitize goes on')
  for (let step = 0; step < 6; step++) {
    clock.advanceMs(1000)
    tickSanitize(unit)
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal((await initiator.run(cdb6(0x00))).status, ScsiStatus.good)
})

test('an interrupted sanitize leaves the unit failed until EXIT FAILURE MODE with AUSE [SBC-3 §4.11.3]', async () => {
  const strict = await setup({ initial: { ause: false } })
  assert.equal(senseOf(await strict.initiator.run(cdb16(0x88, 0, 1))).code, 0x3103)
  assert.equal(senseOf(await strict.initiator.run(sanitizeCdb(0x1f, 0))).code, 0x2400)
  assert.equal((await strict.initiator.run(sanitizeCdb(0x02, 0))).status, ScsiStatus.good)
  assert.equal((await strict.initiator.run(cdb16(0x88, 0, 1))).status, ScsiStatus.good)
  const lenient = await setup({ initial: { ause: true } })
  assert.equal((await lenient.initiator.run(sanitizeCdb(0x1f, 0))).status, ScsiStatus.good)
  assert.equal((await lenient.initiator.run(cdb16(0x88, 0, 1))).status, ScsiStatus.good)
  assert.deepEqual(lenient.recorded, [null])
})

test('parseOverwrite never throws; accepted plans are within the block (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (list) => {
      const plan = parseOverwrite(list, blockBytes)
      if (!('pattern' in plan)) return
      assert.ok(plan.pattern.length >= 1 && plan.pattern.length <= blockBytes)
      assert.ok(plan.passes >= 1 && plan.passes <= 31)
    }),
    { numRuns: 2000 },
  )
})
