import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import {
  cdb6,
  cdb10,
  cdb16,
  lunBytes,
  makeNexus,
  makeUnit,
  senseOf,
  TestInitiator,
} from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

async function setup(removable = true) {
  const device = new MemoryBlockDevice(512, 1000)
  const unit = makeUnit(device, undefined, removable)
  const group = new UnitGroup(new Map([[0, unit]]))
  const first = new TestInitiator(group, makeNexus(1))
  const second = new TestInitiator(group, makeNexus(2))
  group.nexusAdded(first.nexus)
  group.nexusAdded(second.nexus)
  await first.clearAttentions()
  await second.clearAttentions()
  return { device, unit, group, first, second }
}

/** START STOP UNIT byte 4: POWER CONDITION << 4 | NO_FLUSH 0x04 | LOEJ 0x02 | START 0x01. */
const eject = cdb6(0x1b, 0, 0, 0, 0x02)
const load = cdb6(0x1b, 0, 0, 0, 0x03)
const prevent = cdb6(0x1e, 0, 0, 0, 0x01)
const allow = cdb6(0x1e, 0, 0, 0, 0x00)
const testUnitReady = cdb6(0x00)

function assertNoMedium(result: Parameters<typeof senseOf>[0], what: string): void {
  const sense = senseOf(result)
  assert.equal(sense.key, SenseKey.notReady, what)
  assert.equal(sense.code, AdditionalSense.mediumNotPresent, what)
}

function assertRemovalPrevented(result: Parameters<typeof senseOf>[0]): void {
  const sense = senseOf(result)
  assert.equal(sense.key, SenseKey.illegalRequest)
  assert.equal(sense.code, AdditionalSense.mediumRemovalPrevented)
}

test('Inquiry: RMB is set only on a removable unit [SPC-4 §6.6.2]', async () => {
  for (const removable of [false, true]) {
    const { first } = await setup(removable)
    const data = (await first.run([0x12, 0, 0, 0, 36, 0])).dataIn!
    assert.equal(data[1], removable ? 0x80 : 0x00)
  }
})

test('StartStopUnit.Eject: media access is MEDIUM NOT PRESENT [SBC-3 §5.25]', async () => {
  const { device, first } = await setup()
  await device.write(3, new Uint8Array(512).fill(0x5a), true)
  assert.equal((await first.run(eject)).status, ScsiStatus.good)
  const mediaAccess = [
    testUnitReady,
    cdb10(0x28, 0, 1),
    cdb10(0x2a, 0, 1),
    cdb10(0x2e, 0, 1, 0x02),
    cdb10(0x2f, 0, 1, 0x02),
    cdb10(0x25, 0, 0),
    [0x9e, 0x10, ...new Array<number>(8).fill(0), 0, 0, 0, 32, 0, 0],
    cdb10(0x35, 0, 1),
    cdb10(0x34, 0, 1),
    cdb16(0x88, 0, 1),
    cdb6(0x08, 0, 0, 0, 1),
  ]
  for (const cdb of mediaAccess) assertNoMedium(await first.run(cdb), `opcode ${cdb[0]}`)
  // Commands that do not touch the medium still run (SPC-4 §6.6, §6.11, §6.33).
  assert.equal((await first.run([0x12, 0, 0, 0, 36, 0])).status, ScsiStatus.good)
  assert.equal((await first.run([0x1a, 0, 0x3f, 0, 255, 0])).status, ScsiStatus.good)
  assert.equal((await first.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0])).status, 0)
  const requestSense = await first.run(cdb6(0x03, 0, 0, 0, 18))
  assert.equal(requestSense.status, ScsiStatus.good)
  assert.equal(requestSense.dataIn![2], SenseKey.notReady)
  assert.equal(requestSense.dataIn![12], 0x3a)
  // Loading serves the same data again: the eject was only logical.
  assert.equal((await first.run(load)).status, ScsiStatus.good)
  assert.equal((await first.run(testUnitReady)).status, ScsiStatus.good)
  const read = await first.run(cdb10(0x28, 3, 1))
  assert.ok(read.dataIn!.every((byte) => byte === 0x5a))
})

test('StartStopUnit.Eject writes cached data unless NO_FLUSH [SBC-3 §5.25]', async () => {
  const { device, first } = await setup()
  let flushes = 0
  device.flush = async () => {
    flushes += 1
  }
  await first.run(eject)
  assert.equal(flushes, 1)
  await first.run(load)
  await first.run(cdb6(0x1b, 0, 0, 0, 0x06))
  assert.equal(flushes, 1)
})

test('StartStopUnit.NoLoej: a removable unit stays ready [libiscsi NoLoej]', async () => {
  const { unit, first } = await setup()
  for (const byte4 of [0x00, 0x01, 0x04, 0x05]) {
    for (const immediate of [0, 1]) {
      assert.equal((await first.run(cdb6(0x1b, immediate, 0, 0, byte4))).status, 0)
      assert.equal((await first.run(testUnitReady)).status, ScsiStatus.good)
    }
  }
  assert.equal(unit.stopped, false)
})

test('StartStopUnit.PwrCnd: a POWER CONDITION ignores LOEJ, START [SBC-3 §5.25]', async () => {
  const { unit, first } = await setup()
  for (let condition = 1; condition < 16; condition++) {
    const result = await first.run(cdb6(0x1b, 1, 0, 0, (condition << 4) | 0x02))
    assert.equal(result.status, ScsiStatus.good, `power condition ${condition}`)
    assert.equal(unit.mediumPresent, true)
  }
})

test('StartStopUnit: a fixed unit ignores LOEJ and stops instead [SBC-3 §5.25]', async () => {
  const { unit, first } = await setup(false)
  assert.equal((await first.run(eject)).status, ScsiStatus.good)
  assert.equal(unit.mediumPresent, true)
  const sense = senseOf(await first.run(testUnitReady))
  assert.equal(sense.code, AdditionalSense.logicalUnitNotReadyInitializingCommandRequired)
  assert.equal((await first.run(load)).status, ScsiStatus.good)
  assert.equal((await first.run(testUnitReady)).status, ScsiStatus.good)
})

test('PreventAllow.Eject: prevented eject and load fail [SBC-3 §5.10]', async () => {
  const { unit, first, second } = await setup()
  assert.equal((await first.run(prevent)).status, ScsiStatus.good)
  assertRemovalPrevented(await first.run(eject))
  // Any I_T nexus's prevention holds the medium for all of them (libiscsi 2ITNexuses).
  assertRemovalPrevented(await second.run(eject))
  assert.equal((await first.run(testUnitReady)).status, ScsiStatus.good)
  assert.equal((await first.run(allow)).status, ScsiStatus.good)
  assert.equal((await first.run(eject)).status, ScsiStatus.good)
  assertNoMedium(await first.run(testUnitReady), 'ejected')
  assert.equal((await first.run(prevent)).status, ScsiStatus.good)
  assertRemovalPrevented(await first.run(load))
  assert.equal(unit.mediumPresent, false)
  await first.run(allow)
  assert.equal((await first.run(load)).status, ScsiStatus.good)
})

test('PreventAllow: each nexus allows only its own prevention [SBC-3 §5.10]', async () => {
  const { first, second } = await setup()
  await first.run(prevent)
  await second.run(prevent)
  await first.run(allow)
  assertRemovalPrevented(await first.run(eject))
  await second.run(allow)
  assert.equal((await first.run(eject)).status, ScsiStatus.good)
})

test('PreventAllow: obsolete PREVENT values are invalid [SBC-3 §5.10]', async () => {
  const { first } = await setup()
  for (const value of [0x02, 0x03]) {
    const sense = senseOf(await first.run(cdb6(0x1e, 0, 0, 0, value)))
    assert.deepEqual(sense.field, { inCdb: true, byte: 4, bit: 1 })
  }
})

test('PreventAllow: nexus loss ends that nexus\u2019s prevention [SBC-3 §5.10]', async () => {
  const { unit, group, first, second } = await setup()
  await first.run(prevent)
  await second.run(prevent)
  group.nexusRemoved(first.nexus)
  assert.equal(unit.removalPrevented, true)
  group.nexusRemoved(second.nexus)
  assert.equal(unit.removalPrevented, false)
})

for (const reset of ['lunReset', 'targetWarmReset', 'targetColdReset'] as const) {
  test(`PreventAllow: ${reset} ends every prevention [SBC-3 §5.10, SAM-5 §6.3]`, async () => {
    const { unit, group, first, second } = await setup()
    await first.run(prevent)
    await second.run(prevent)
    assert.equal(group.taskManagement(reset, first.nexus, lunBytes(0)), 'complete')
    assert.equal(unit.removalPrevented, false)
    await first.clearAttentions()
    assert.equal((await first.run(eject)).status, ScsiStatus.good)
    // The reset leaves the medium where it was (libiscsi PreventAllow.LUNReset).
    assert.equal(unit.mediumPresent, false)
  })
}

test('LUN reset restores the mode parameters to their defaults [SPC-4 §7.5]', async () => {
  const { unit, group, first } = await setup()
  const changed = unit.modes.select(
    Uint8Array.from([0x0a, 0x0a, 0x06, 0x10, 0x08, 0, 0, 0, 0xff, 0xff, 0, 0]),
    0,
  )
  assert.deepEqual(changed, { ok: true, changed: true })
  assert.ok(unit.modes.descriptorSense && unit.modes.softwareWriteProtect)
  group.taskManagement('lunReset', first.nexus, lunBytes(0))
  assert.equal(unit.modes.descriptorSense, false)
  assert.equal(unit.modes.softwareWriteProtect, false)
  assert.equal(unit.modes.writeCacheEnabled, true)
})
