import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SanError } from '../base/errors.ts'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { ScsiStatus } from './port.ts'
import type { PersistedReservations, ReservationStore } from './reservations.ts'
import { persistentConflict, type ReservationAccess } from './reservations_access.ts'
import { PrOutAction as Out, PrType } from './spc/persistent_reserve_spec.ts'
import {
  fixture,
  prIn,
  prOut,
  readKeys,
  readReservation,
} from './spc/persistent_reserve_testing.ts'
import { AdditionalSense } from './spec/sense_codes.ts'
import { cdb6, lunBytes, senseOf } from './testing/initiator.ts'

class MemoryStore implements ReservationStore {
  saved: PersistedReservations | null = null
  saves = 0
  failing = false
  /** Resolves the pending save when the test says so. */
  gate: Promise<void> | null = null

  load(): PersistedReservations | null {
    return this.saved
  }

  async save(state: PersistedReservations | null): Promise<void> {
    if (this.gate !== null) await this.gate
    if (this.failing) throw new SanError('IO_ERROR', 'disk says no')
    this.saves += 1
    this.saved = state
  }
}

const disk = () => new MemoryBlockDevice(512, 1024)

const conflict = ScsiStatus.reservationConflict
const good = ScsiStatus.good

test('Access classes against the six types [SPC-4 §5.9.1 table 66, SBC-3 table 13]', () => {
  // Expected: [registered non-holder, unregistered] conflict for read, exclusive.
  const expected: Record<number, [[boolean, boolean], [boolean, boolean]]> = {
    [PrType.writeExclusive]: [
      [false, true],
      [false, true],
    ],
    [PrType.exclusiveAccess]: [
      [true, true],
      [true, true],
    ],
    [PrType.writeExclusiveRegistrantsOnly]: [
      [false, false],
      [false, true],
    ],
    [PrType.exclusiveAccessRegistrantsOnly]: [
      [false, false],
      [true, true],
    ],
    [PrType.writeExclusiveAllRegistrants]: [
      [false, false],
      [false, true],
    ],
    [PrType.exclusiveAccessAllRegistrants]: [
      [false, false],
      [true, true],
    ],
  }
  const classes: ReservationAccess[] = ['read', 'exclusive']
  for (const type of Object.values(PrType)) {
    const allRegistrants = type === 7 || type === 8
    const registered = classes.map((access) =>
      persistentConflict(access, { type, holder: allRegistrants, registered: true }),
    )
    const stranger = classes.map((access) =>
      persistentConflict(access, { type, holder: false, registered: false }),
    )
    assert.deepEqual([registered, stranger], expected[type], `type ${type}`)
    for (const access of ['exempt', 'allowed', 'persistentReserve', 'spc2'] as const)
      assert.equal(persistentConflict(access, { type, holder: false, registered: false }), false)
    for (const access of classes)
      assert.equal(persistentConflict(access, { type, holder: true, registered: true }), false)
  }
})

test('APTPL: the PR OUT completes only after the save [SPC-4 §5.9.4]', async () => {
  const store = new MemoryStore()
  const { hosts } = await fixture(disk(), 1, store)
  const [a] = hosts
  let release!: () => void
  store.gate = new Promise((resolve) => {
    release = resolve
  })
  let finished = false
  const pending = prOut(a!, Out.register, { serviceActionKey: 7n, aptpl: true }).then((r) => {
    finished = true
    return r
  })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(finished, false)
  assert.equal(store.saves, 0)
  release()
  assert.equal((await pending).status, good)
  assert.equal(store.saves, 1)
  assert.deepEqual(
    store.saved?.registrations.map((r) => r.key),
    ['0000000000000007'],
  )
})

test('APTPL: a failed save fails the command and changes nothing [SPC-4 §5.9.4]', async () => {
  const store = new MemoryStore()
  const { hosts } = await fixture(disk(), 1, store)
  const [a] = hosts
  assert.equal((await prOut(a!, Out.register, { serviceActionKey: 1n, aptpl: true })).status, good)
  store.failing = true
  const failed = await prOut(a!, Out.reserve, { key: 1n, type: PrType.writeExclusive })
  assert.equal(failed.status, ScsiStatus.checkCondition)
  store.failing = false
  assert.equal(await readReservation(a!), null)
  assert.deepEqual(await readKeys(a!), { generation: 1, keys: [1n] })
})

test('APTPL: a new unit on the same store has the registrations and reservation', async () => {
  const store = new MemoryStore()
  const first = await fixture(disk(), 2, store)
  const [a, b] = first.hosts
  await prOut(a!, Out.register, { serviceActionKey: 0xa1n, aptpl: true })
  await prOut(b!, Out.register, { serviceActionKey: 0xb2n, aptpl: true })
  await prOut(b!, Out.reserve, { key: 0xb2n, type: PrType.exclusiveAccessRegistrantsOnly })
  const again = await fixture(disk(), 3, store)
  const [a2, b2, c2] = again.hosts
  assert.deepEqual(await readKeys(c2!), { generation: 2, keys: [0xa1n, 0xb2n] })
  assert.deepEqual(await readReservation(c2!), { key: 0xb2n, type: 6, scope: 0 })
  assert.equal((await c2!.run([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])).status, conflict)
  assert.equal((await a2!.run([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0])).status, good)
  assert.equal((await prIn(b2!, 2)).dataIn![3]! & 1, 1) // PTPL_A
  // APTPL=0 on a REGISTER: the store forgets the state.
  await prOut(a2!, Out.register, { key: 0xa1n, serviceActionKey: 0xa1n })
  assert.equal(store.saved, null)
})

test('Reserve6: a second initiator gets RESERVATION CONFLICT [SPC-2 §5.5.1]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  assert.equal((await b!.run(cdb6(0x16))).status, conflict)
  assert.equal((await b!.run([0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0])).status, conflict)
  // RELEASE from a non-holder is GOOD and releases nothing.
  assert.equal((await b!.run(cdb6(0x17))).status, good)
  assert.equal((await b!.run([0x1a, 0, 0x3f, 0, 255, 0])).status, conflict)
  assert.equal((await b!.run(cdb6(0x00))).status, conflict)
  assert.equal((await b!.run(cdb6(0x12, 0, 0, 0, 36))).status, good)
  assert.equal((await b!.run(cdb6(0x03, 0, 0, 0, 18))).status, good)
  assert.equal((await prIn(b!, 0)).status, conflict)
  assert.equal((await a!.run([0x1a, 0, 0x3f, 0, 255, 0])).status, good)
  assert.equal((await a!.run([0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0])).status, good)
  assert.equal((await b!.run(cdb6(0x16))).status, good)
})

test('Reserve6.LUNReset and ITNexusLoss release the reservation [SPC-2 §5.5.1]', async () => {
  const { group, hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  assert.equal(group.taskManagement('lunReset', a!.nexus, lunBytes(0)), 'complete')
  await b!.clearAttentions()
  assert.equal((await b!.run(cdb6(0x16))).status, good)
  group.nexusRemoved(b!.nexus)
  await a!.clearAttentions()
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  // Third-party RESERVE(10) is not supported: INVALID FIELD IN CDB.
  const thirdParty = senseOf(await a!.run([0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0]))
  assert.equal(thirdParty.code, AdditionalSense.invalidFieldInCdb)
})

test('Reserve6 beside persistent reservations: CRH=1 rules [SPC-4 §5.9.3]', async () => {
  const { hosts } = await fixture(disk(), 2)
  const [a, b] = hosts
  await prOut(a!, Out.register, { serviceActionKey: 1n })
  assert.equal((await b!.run(cdb6(0x16))).status, conflict)
  assert.equal((await a!.run(cdb6(0x16))).status, conflict)
  await prOut(a!, Out.reserve, { key: 1n, type: PrType.writeExclusive })
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  assert.equal((await b!.run(cdb6(0x17))).status, good)
  assert.deepEqual(await readReservation(b!), { key: 1n, type: 1, scope: 0 })
  // And the other way round: under an SPC-2 reservation, another nexus's PR OUT conflicts.
  await prOut(a!, Out.clear, { key: 1n })
  await b!.clearAttentions()
  assert.equal((await a!.run(cdb6(0x16))).status, good)
  assert.equal((await prOut(b!, Out.register, { serviceActionKey: 2n })).status, conflict)
})
