import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import { cdb6, lunBytes, senseOf } from '../testing/initiator.ts'
import { PrOutAction as Out, PrType } from './persistent_reserve_spec.ts'
import { fixture, prIn, prOut, readKeys, readReservation } from './persistent_reserve_testing.ts'

const disk = () => new MemoryBlockDevice(512, 1024)

const conflict = ScsiStatus.reservationConflict
const good = ScsiStatus.good

test('ProutRegister: unregistered nexus registers with key 0, else conflict [SPC-4 §5.9.6]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a] = hosts
  assert.equal((await prOut(a!, Out.register, { key: 5n, serviceActionKey: 7n })).status, conflict)
  assert.equal((await prOut(a!, Out.register, { serviceActionKey: 7n })).status, good)
  assert.deepEqual(await readKeys(a!), { generation: 1, keys: [7n] })
  // A wrong RESERVATION KEY conflicts; the right one changes the key; SA key 0 unregisters.
  assert.equal((await prOut(a!, Out.register, { key: 8n, serviceActionKey: 9n })).status, conflict)
  assert.equal((await prOut(a!, Out.register, { key: 7n, serviceActionKey: 9n })).status, good)
  assert.deepEqual(await readKeys(a!), { generation: 2, keys: [9n] })
  assert.equal((await prOut(a!, Out.register, { key: 9n })).status, good)
  assert.deepEqual(await readKeys(a!), { generation: 3, keys: [] })
  // Unregistered, SA key 0: nothing happens, PRgeneration stays.
  assert.equal((await prOut(a!, Out.register, {})).status, good)
  assert.equal((await readKeys(a!)).generation, 3)
})

test('ProutRegisterAndIgnore: the RESERVATION KEY is ignored [SPC-4 §5.9.7]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  assert.equal(
    (await prOut(a!, Out.registerAndIgnoreExistingKey, { key: 99n, serviceActionKey: 1n })).status,
    good,
  )
  assert.equal(
    (await prOut(a!, Out.registerAndIgnoreExistingKey, { key: 42n, serviceActionKey: 2n })).status,
    good,
  )
  assert.equal(
    (await prOut(b!, Out.registerAndIgnoreExistingKey, { serviceActionKey: 3n })).status,
    good,
  )
  assert.deepEqual(await readKeys(b!), { generation: 3, keys: [2n, 3n] })
})

test('ProutReserve: every type reserves, reads back, and releases [SPC-4 §5.9.8, §6.15.3]', async () => {
  const { hosts } = await fixture(disk(), 1)
  const [a] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 0xabcn })
  for (const type of Object.values(PrType)) {
    assert.equal((await prOut(a!, Out.reserve, { key: 0xabcn, type })).status, good)
    const allRegistrants =
      type === PrType.writeExclusiveAllRegistrants || type === PrType.exclusiveAccessAllRegistrants
    assert.deepEqual(await readReservation(a!), {
      key: allRegistrants ? 0n : 0xabcn,
      type,
      scope: 0,
    })
    // The holder reserving again with the same type is GOOD; another type conflicts.
    assert.equal((await prOut(a!, Out.reserve, { key: 0xabcn, type })).status, good)
    const other = type === PrType.writeExclusive ? PrType.exclusiveAccess : PrType.writeExclusive
    assert.equal((await prOut(a!, Out.reserve, { key: 0xabcn, type: other })).status, conflict)
    assert.equal((await prOut(a!, Out.release, { key: 0xabcn, type })).status, good)
    assert.equal(await readReservation(a!), null)
  }
  // RESERVE and RELEASE leave PRgeneration alone (§6.15.2).
  assert.equal((await readKeys(a!)).generation, 1)
})

test('ProutReserve: bad scope or type is INVALID FIELD IN CDB [SPC-4 §6.16.2]', async () => {
  const { hosts } = await fixture(disk(), 1)
  const [a] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  const scope = senseOf(await prOut(a!, Out.reserve, { key: 1n, type: 1, scope: 2 }))
  assert.equal(scope.code, AdditionalSense.invalidFieldInCdb)
  assert.deepEqual(scope.field, { inCdb: true, byte: 2, bit: 7 })
  const type = senseOf(await prOut(a!, Out.reserve, { key: 1n, type: 2 }))
  assert.deepEqual(type.field, { inCdb: true, byte: 2, bit: 3 })
})

test('ProutRelease: holder with another type gets INVALID RELEASE [SPC-4 §5.9.11.2]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(b!, Out.register, { serviceActionKey: 2n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.exclusiveAccessRegistrantsOnly })
  const wrong = senseOf(await prOut(a!, Out.release, { key: 1n, type: PrType.writeExclusive }))
  assert.equal(wrong.key, SenseKey.illegalRequest)
  assert.equal(wrong.code, AdditionalSense.invalidReleaseOfPersistentReservation)
  // A registered non-holder's RELEASE is GOOD and changes nothing.
  assert.equal((await prOut(b!, Out.release, { key: 2n, type: 6 })).status, good)
  assert.notEqual(await readReservation(a!), null)
  // The holder's release of a registrants-only type tells the other registrants.
  assert.equal((await prOut(a!, Out.release, { key: 1n, type: 6 })).status, good)
  const attention = senseOf(await b!.run(cdb6(0x00)))
  assert.equal(attention.code, AdditionalSense.reservationsReleased)
})

test('ProutClear: removes everything, others get RESERVATIONS PREEMPTED [SPC-4 §5.9.11.6]', async () => {
  const { hosts } = await fixture(disk(), 3)
  const [a, b, c] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(b!, Out.register, { serviceActionKey: 2n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.writeExclusive })
  assert.equal((await prOut(c!, Out.clear, { key: 3n })).status, conflict)
  assert.equal((await prOut(b!, Out.clear, { key: 2n })).status, good)
  assert.deepEqual(await readKeys(c!), { generation: 3, keys: [] })
  assert.equal(await readReservation(c!), null)
  assert.equal(senseOf(await a!.run(cdb6(0x00))).code, AdditionalSense.reservationsPreempted)
  assert.equal((await b!.run(cdb6(0x00))).status, good)
  assert.equal((await c!.run(cdb6(0x00))).status, good)
})

test('ProutPreempt.RemoveRegistration: no reservation, key removed, gen+1 [SPC-4 §5.9.11.4]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  await prOut(a!, Out.registerAndIgnoreExistingKey, { serviceActionKey: 0x11n })
  await prOut(b!, Out.registerAndIgnoreExistingKey, { serviceActionKey: 0x22n })
  const before = await readKeys(a!)
  const preempt = { key: 0x22n, serviceActionKey: 0x11n, type: PrType.exclusiveAccess }
  assert.equal((await prOut(b!, Out.preempt, preempt)).status, good)
  assert.deepEqual(await readKeys(b!), { generation: before.generation + 1, keys: [0x22n] })
  assert.equal(senseOf(await a!.run(cdb6(0x00))).code, AdditionalSense.registrationsPreempted)
  // No registration holds the key any more: RESERVATION CONFLICT.
  assert.equal((await prOut(b!, Out.preempt, preempt)).status, conflict)
  // SA key 0 without an all-registrants reservation: INVALID FIELD IN PARAMETER LIST, byte 8.
  const zero = senseOf(await prOut(b!, Out.preempt, { key: 0x22n, type: 1 }))
  assert.equal(zero.code, AdditionalSense.invalidFieldInParameterList)
  assert.deepEqual(zero.field, { inCdb: false, byte: 8, bit: null })
})

test("ProutPreempt: taking over the holder's reservation with a new type [SPC-4 §5.9.11.4]", async () => {
  const { hosts } = await fixture(disk(), 3)
  const [a, b, c] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(b!, Out.register, { serviceActionKey: 2n })
  await prOut(c!, Out.register, { serviceActionKey: 3n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.writeExclusive })
  const result = await prOut(b!, Out.preemptAndAbort, { key: 2n, serviceActionKey: 1n, type: 3 })
  assert.equal(result.status, good)
  assert.deepEqual(await readReservation(b!), { key: 2n, type: 3, scope: 0 })
  assert.deepEqual((await readKeys(b!)).keys, [2n, 3n])
  assert.equal(senseOf(await a!.run(cdb6(0x00))).code, AdditionalSense.registrationsPreempted)
  assert.equal(senseOf(await c!.run(cdb6(0x00))).code, AdditionalSense.reservationsReleased)
})

test('ProutPreempt: SA key 0 ends an all-registrants reservation [SPC-4 §5.9.11.4.3]', async () => {
  const { hosts } = await fixture(disk(), 3)
  const [a, b, c] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(b!, Out.register, { serviceActionKey: 2n })
  await prOut(c!, Out.register, { serviceActionKey: 3n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.exclusiveAccessAllRegistrants })
  assert.equal((await prOut(b!, Out.preempt, { key: 2n, type: 1 })).status, good)
  assert.equal(senseOf(await c!.run(cdb6(0x00))).code, AdditionalSense.registrationsPreempted)
  assert.deepEqual(await readReservation(c!), { key: 2n, type: 1, scope: 0 })
  assert.deepEqual((await readKeys(c!)).keys, [2n])
})

test('ProutReserve.Ownership: unregistering ends a single-holder reservation only [SPC-4 §5.9.11.2]', async () => {
  for (const type of Object.values(PrType)) {
    const { hosts } = await fixture(disk(), 2)
    const [a, b] = hosts
    await prOut(a!, Out.register, { serviceActionKey: 1n })
    await prOut(b!, Out.register, { serviceActionKey: 2n })
    await prOut(a!, Out.reserve, { key: 1n, type })
    await prOut(a!, Out.register, { key: 1n })
    await b!.clearAttentions()
    const shared =
      type === PrType.writeExclusiveAllRegistrants || type === PrType.exclusiveAccessAllRegistrants
    const reservation = await readReservation(b!)
    assert.equal(reservation === null, !shared, `type ${type}`)
    // The last registrant leaving ends an all-registrants reservation too.
    await prOut(b!, Out.register, { key: 2n })
    assert.equal(await readReservation(b!), null)
  }
})

/** SPC-4 table 66 / SBC-3 table 13: can the holder, a registrant, a stranger read / write? */
const accessTable: Record<number, { registered: [boolean, boolean]; other: [boolean, boolean] }> = {
  [PrType.writeExclusive]: { registered: [true, false], other: [true, false] },
  [PrType.exclusiveAccess]: { registered: [false, false], other: [false, false] },
  [PrType.writeExclusiveRegistrantsOnly]: { registered: [true, true], other: [true, false] },
  [PrType.exclusiveAccessRegistrantsOnly]: { registered: [true, true], other: [false, false] },
  [PrType.writeExclusiveAllRegistrants]: { registered: [true, true], other: [true, false] },
  [PrType.exclusiveAccessAllRegistrants]: { registered: [true, true], other: [false, false] },
}

test('ProutReserve.Access: the access rules of the six types [SPC-4 §5.9.1 table 66]', async () => {
  const read10 = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]
  const write10 = [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]
  const modeSense6 = [0x1a, 0, 0x3f, 0, 255, 0]
  for (const [typeText, expected] of Object.entries(accessTable)) {
    const type = Number(typeText)
    const { hosts } = await fixture(disk(), 3)
    const [holder, registrant, stranger] = hosts
    await prOut(holder!, Out.register, { serviceActionKey: 1n })
    await prOut(registrant!, Out.register, { serviceActionKey: 2n })
    await prOut(holder!, Out.reserve, { key: 1n, type })
    const can = async (host: typeof holder, cdb: number[]) =>
      (await host!.run(cdb)).status !== conflict
    assert.deepEqual([await can(holder, read10), await can(holder, write10)], [true, true])
    assert.deepEqual(
      [await can(registrant, read10), await can(registrant, write10)],
      expected.registered,
      `registrant, type ${type}`,
    )
    assert.deepEqual(
      [await can(stranger, read10), await can(stranger, write10)],
      expected.other,
      `stranger, type ${type}`,
    )
    // Allowed under every persistent reservation: INQUIRY, TUR, READ CAPACITY, PR IN.
    for (const cdb of [cdb6(0x12, 0, 0, 0, 36), cdb6(0x00), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
      assert.equal((await stranger!.run(cdb)).status, good)
    assert.equal((await prIn(stranger!, 0)).status, good)
    // MODE SENSE is C C A C C: only the nexuses that may write get it.
    assert.equal(await can(stranger, modeSense6), false)
    assert.equal(await can(registrant, modeSense6), expected.registered[1])
  }
})

test('PrinReportCapabilities: CRH, PTPL_C, TMV, all six types [SPC-4 §6.15.4]', async () => {
  const { hosts } = await fixture(disk(), 1)
  const data = (await prIn(hosts[0]!, 2)).dataIn!
  assert.deepEqual([...data], [0, 8, 0x11, 0x90, 0xea, 0x01, 0, 0])
  await prOut(hosts[0]!, Out.register, { serviceActionKey: 1n, aptpl: true })
  assert.equal((await prIn(hosts[0]!, 2)).dataIn![3]! & 0x01, 1) // PTPL_A
})

test('PrinReadFullStatus: descriptors with iSCSI TransportIDs [SPC-4 §6.15.5, §7.6.4.6]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 0x1234n })
  await prOut(b!, Out.register, { serviceActionKey: 0x5678n })
  await prOut(a!, Out.reserve, { key: 0x1234n, type: PrType.writeExclusive })
  const data = Buffer.from((await prIn(b!, 3)).dataIn!)
  assert.equal(data.readUInt32BE(0), 2)
  const length = data.readUInt32BE(4)
  assert.equal(data.length, 8 + length)
  const seen: string[] = []
  for (let at = 8; at < 8 + length; ) {
    const key = data.readBigUInt64BE(at)
    const holder = (data[at + 12]! & 1) === 1
    assert.equal(data.readUInt16BE(at + 18), 1) // RELATIVE TARGET PORT IDENTIFIER
    const tidBytes = data.readUInt32BE(at + 20)
    const tid = data.subarray(at + 24, at + 24 + tidBytes)
    assert.equal(tid[0], 0x45) // FORMAT 01b, iSCSI
    assert.equal(tidBytes % 4, 0)
    assert.equal(tid.readUInt16BE(2), tidBytes - 4)
    const name = tid.subarray(4).toString('latin1').replace(/\0+$/, '')
    seen.push(`${key.toString(16)} ${holder ? 'H' : '-'} ${holder ? data[at + 13] : 0} ${name}`)
    at += 24 + tidBytes
  }
  assert.deepEqual(seen, [
    `1234 H 1 ${a!.nexus.initiatorName},i,0x${a!.nexus.isidHex}`,
    `5678 - 0 ${b!.nexus.initiatorName},i,0x${b!.nexus.isidHex}`,
  ])
})

test('PrinReadKeys.Truncate: ADDITIONAL LENGTH is whole, data cut [SPC-4 §6.15.2]', async () => {
  const { hosts } = await fixture(disk(), 2)
  await prOut(hosts[0]!, Out.register, { serviceActionKey: 1n })
  await prOut(hosts[1]!, Out.register, { serviceActionKey: 2n })
  const data = (await prIn(hosts[0]!, 0, 12)).dataIn!
  assert.equal(data.length, 12)
  assert.equal(Buffer.from(data).readUInt32BE(4), 16)
})

test('PrinServiceactionRange: actions 4..31 are INVALID FIELD IN CDB [SPC-4 §6.15.1]', async () => {
  const { hosts } = await fixture(disk(), 1)
  for (let action = 0; action < 32; action++) {
    const result = await prIn(hosts[0]!, action)
    if (action < 4) assert.equal(result.status, good)
    else assert.equal(senseOf(result).code, AdditionalSense.invalidFieldInCdb)
  }
})

test('ProutRegisterAndMove: the holder hands its reservation over [SPC-4 §5.9.9]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.exclusiveAccess })
  const name = `${b!.nexus.initiatorName},i,0x${b!.nexus.isidHex}`
  const text = Buffer.from(`${name}\0`, 'latin1')
  const tidBytes = 4 + Math.ceil(text.length / 4) * 4
  const data = new Uint8Array(24 + tidBytes)
  const view = new DataView(data.buffer)
  view.setBigUint64(0, 1n)
  view.setBigUint64(8, 9n)
  data[17] = 0x02 // UNREG
  view.setUint16(18, 1)
  view.setUint32(20, tidBytes)
  data[24] = 0x45
  view.setUint16(26, tidBytes - 4)
  data.set(text, 28)
  const cdb = [0x5f, 0x07, PrType.exclusiveAccess, 0, 0, 0, 0, 0, data.length, 0]
  assert.equal((await a!.run(cdb, data)).status, good)
  assert.deepEqual(await readReservation(b!), { key: 9n, type: 3, scope: 0 })
  assert.deepEqual((await readKeys(b!)).keys, [9n])
  assert.equal((await b!.run([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0])).status, good)
  assert.equal((await a!.run([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])).status, conflict)
})

test('ProutRegister: bad parameter lists are refused whole [SPC-4 §6.16.3]', async () => {
  const { hosts } = await fixture(disk(), 1)
  const [a] = hosts
  const short = await a!.run([0x5f, 0, 0, 0, 0, 0, 0, 0, 20, 0], new Uint8Array(20))
  assert.equal(senseOf(short).code, AdditionalSense.parameterListLengthError)
  const long = await a!.run([0x5f, 0, 0, 0, 0, 0, 0, 0, 28, 0], new Uint8Array(28))
  assert.equal(senseOf(long).code, AdditionalSense.parameterListLengthError)
  const huge = await a!.run([0x5f, 0, 0, 0, 0, 0x10, 0, 0, 0, 0])
  assert.equal(senseOf(huge).code, AdditionalSense.parameterListLengthError)
  const specIp = senseOf(await prOut(a!, Out.register, { serviceActionKey: 1n, flags: 0x08 }))
  assert.deepEqual(specIp.field, { inCdb: false, byte: 20, bit: 3 })
  const allTgPt = senseOf(await prOut(a!, Out.register, { serviceActionKey: 1n, flags: 0x04 }))
  assert.deepEqual(allTgPt.field, { inCdb: false, byte: 20, bit: 2 })
  assert.deepEqual(await readKeys(a!), { generation: 0, keys: [] })
})

test('Reservations: the same state from two target ports (multipath) [SAM-5 §4.6]', async () => {
  const { group, hosts } = await fixture(disk(), 1)
  const [a] = hosts
  const { TestInitiator, makeNexus } = await import('../testing/initiator.ts')
  const otherPort = new TestInitiator(group, {
    ...makeNexus(1),
    targetPort: 'tp2',
    relativeTargetPort: 2,
  })
  group.nexusAdded(otherPort.nexus)
  await otherPort.clearAttentions()
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.writeExclusive })
  // The same initiator port through another target port is another, unregistered I_T nexus.
  assert.equal((await otherPort.run([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0])).status, conflict)
  assert.deepEqual(await readReservation(otherPort), { key: 1n, type: 1, scope: 0 })
  assert.equal(group.taskManagement('lunReset', a!.nexus, lunBytes(0)), 'complete')
  await otherPort.clearAttentions()
  assert.deepEqual(await readReservation(otherPort), { key: 1n, type: 1, scope: 0 })
})
