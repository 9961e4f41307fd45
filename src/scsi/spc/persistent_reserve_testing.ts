/**
 * Test helpers for persistent reservations (SPC-4 §6.15, §6.16): PR IN/OUT CDBs and parameter
 * lists, and a small fixture of one unit with several I_T nexuses. Test-only.
 */
import { assert } from '../../base/assert.ts'
import { ManualClock } from '../../base/clock.ts'
import type { BlockDevice } from '../block_device.ts'
import { LogicalUnit } from '../logical_unit.ts'
import type { ReservationStore } from '../reservations.ts'
import { makeIdentity, makeNexus, type Outcome, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

export interface PrOutOptions {
  readonly key?: bigint
  readonly serviceActionKey?: bigint
  readonly type?: number
  readonly scope?: number
  readonly aptpl?: boolean
  readonly flags?: number
}

export function prOutCdb(action: number, options: PrOutOptions, length: number): number[] {
  const byte2 = ((options.scope ?? 0) << 4) | (options.type ?? 0)
  return [
    0x5f,
    action,
    byte2,
    0,
    0,
    length >>> 24,
    (length >>> 16) & 0xff,
    (length >>> 8) & 0xff,
    length & 0xff,
    0,
  ]
}

export function prOutData(options: PrOutOptions): Uint8Array {
  const data = new Uint8Array(24)
  const view = new DataView(data.buffer)
  view.setBigUint64(0, options.key ?? 0n)
  view.setBigUint64(8, options.serviceActionKey ?? 0n)
  data[20] = (options.flags ?? 0) | (options.aptpl === true ? 1 : 0)
  return data
}

export function prOut(
  initiator: TestInitiator,
  action: number,
  options: PrOutOptions = {},
): Promise<Outcome> {
  const data = prOutData(options)
  return initiator.run(prOutCdb(action, options, data.length), data)
}

export function prIn(initiator: TestInitiator, action: number, bytes = 4096): Promise<Outcome> {
  return initiator.run([0x5e, action, 0, 0, 0, 0, 0, bytes >>> 8, bytes & 0xff, 0])
}

export interface Fixture {
  readonly unit: LogicalUnit
  readonly group: UnitGroup
  readonly hosts: TestInitiator[]
}

/** One unit on `device`, `count` I_T nexuses (ISIDs 1..count), attentions cleared. */
export async function fixture(
  device: BlockDevice,
  count = 3,
  store?: ReservationStore,
): Promise<Fixture> {
  const clock = new ManualClock()
  const unit = new LogicalUnit({
    device,
    identity: makeIdentity(),
    clock,
    ...(store === undefined ? {} : { reservationStore: store }),
  })
  const group = new UnitGroup(new Map([[0, unit]]))
  const hosts: TestInitiator[] = []
  for (let index = 1; index <= count; index++) {
    const host = new TestInitiator(group, makeNexus(index))
    group.nexusAdded(host.nexus)
    await host.clearAttentions()
    hosts.push(host)
  }
  return { unit, group, hosts }
}

/** READ KEYS decoded: PRgeneration and the keys. */
export async function readKeys(
  initiator: TestInitiator,
): Promise<{ generation: number; keys: bigint[] }> {
  const result = await prIn(initiator, 0)
  assert(result.dataIn !== null, 'READ KEYS failed (a pending unit attention?)')
  const data = Buffer.from(result.dataIn!)
  const length = data.readUInt32BE(4)
  const keys: bigint[] = []
  for (let at = 8; at < 8 + length; at += 8) keys.push(data.readBigUInt64BE(at))
  return { generation: data.readUInt32BE(0), keys }
}

/** READ RESERVATION decoded: null when not reserved. */
export async function readReservation(
  initiator: TestInitiator,
): Promise<{ key: bigint; type: number; scope: number } | null> {
  const result = await prIn(initiator, 1)
  assert(result.dataIn !== null, 'READ RESERVATION failed (a pending unit attention?)')
  const data = Buffer.from(result.dataIn!)
  if (data.readUInt32BE(4) === 0) return null
  return { key: data.readBigUInt64BE(8), type: data[21]! & 0x0f, scope: data[21]! >>> 4 }
}
