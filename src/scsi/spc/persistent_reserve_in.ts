/**
 * PERSISTENT RESERVE IN (SPC-4 §6.15): READ KEYS, READ RESERVATION, REPORT CAPABILITIES and READ
 * FULL STATUS, laid out from the unit's reservation state. Data-in is cut to the ALLOCATION
 * LENGTH; the ADDITIONAL LENGTH fields always say the whole length (§6.15.2).
 */
import { assert } from '../../base/assert.ts'
import { writeU16, writeU32 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import type { PrState } from '../reservations.ts'
import { encodeTransportId } from './persistent_reserve_params.ts'
import {
  PrCapabilities,
  PrInAction,
  PrType,
  prScopeLogicalUnit,
  prTypeMaskBits,
} from './persistent_reserve_spec.ts'

export function persistentReserveIn(command: Command): ScsiResult {
  const state = command.lu.reservations.state
  const action = command.cdb[1]! & 0x1f
  switch (action) {
    case PrInAction.readKeys:
      return command.dataIn(readKeys(state))
    case PrInAction.readReservation:
      return command.dataIn(readReservation(state))
    case PrInAction.reportCapabilities:
      return command.dataIn(reportCapabilities(state))
    case PrInAction.readFullStatus:
      return command.dataIn(readFullStatus(state))
  }
  assert(false, `the table routes only PR IN actions 0-3, not ${action}`)
}

function writeKey(bytes: Uint8Array, offset: number, key: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(offset, key)
}

/** SPC-4 §6.15.2 table 168. */
export function readKeys(state: PrState): Uint8Array {
  const registrations = [...state.registrations.values()]
  const bytes = new Uint8Array(8 + 8 * registrations.length)
  writeU32(bytes, 0, state.generation)
  writeU32(bytes, 4, 8 * registrations.length)
  for (const [index, registration] of registrations.entries())
    writeKey(bytes, 8 + 8 * index, registration.key)
  return bytes
}

/** SPC-4 §6.15.3 table 170: an all-registrants reservation reports key 0 (§5.9.10). */
export function readReservation(state: PrState): Uint8Array {
  const reservation = state.reservation
  const bytes = new Uint8Array(reservation === null ? 8 : 24)
  writeU32(bytes, 0, state.generation)
  if (reservation === null) return bytes
  writeU32(bytes, 4, 16)
  const holder = reservation.holder === null ? null : state.registrations.get(reservation.holder)
  assert(reservation.holder === null || holder !== undefined, 'the holder is registered')
  writeKey(bytes, 8, holder?.key ?? 0n)
  bytes[21] = (prScopeLogicalUnit << 4) | reservation.type
  return bytes
}

/** SPC-4 §6.15.4 table 176: CRH=1, SIP_C=0, ATP_C=0, PTPL_C=1; every type. */
export function reportCapabilities(state: PrState): Uint8Array {
  const bytes = new Uint8Array(PrCapabilities.length)
  writeU16(bytes, 0, PrCapabilities.length)
  bytes[2] = PrCapabilities.crh | PrCapabilities.ptplC
  bytes[3] = PrCapabilities.tmv | PrCapabilities.allowCommandsTur
  if (state.aptpl) bytes[3] |= PrCapabilities.ptplA
  let mask = 0
  for (const type of Object.values(PrType)) mask |= prTypeMaskBits[type]
  writeU16(bytes, 4, mask)
  return bytes
}

/** SPC-4 §6.15.5 tables 178-179: one descriptor per registered I_T nexus. */
export function readFullStatus(state: PrState): Uint8Array {
  const descriptors: Uint8Array[] = []
  const reservation = state.reservation
  for (const [key, registration] of state.registrations) {
    const transportId = encodeTransportId(registration.initiatorName, registration.isidHex)
    const descriptor = new Uint8Array(24 + transportId.length)
    writeKey(descriptor, 0, registration.key)
    const holder = reservation !== null && (reservation.holder ?? key) === key
    if (holder) {
      descriptor[12] = 0x01 // R_HOLDER (ALL_TG_PT stays 0: registrations are per target port)
      descriptor[13] = (prScopeLogicalUnit << 4) | reservation.type
    }
    writeU16(descriptor, 18, registration.relativeTargetPort)
    writeU32(descriptor, 20, transportId.length)
    descriptor.set(transportId, 24)
    descriptors.push(descriptor)
  }
  const length = descriptors.reduce((sum, descriptor) => sum + descriptor.length, 0)
  const bytes = new Uint8Array(8 + length)
  writeU32(bytes, 0, state.generation)
  writeU32(bytes, 4, length)
  let at = 8
  for (const descriptor of descriptors) {
    bytes.set(descriptor, at)
    at += descriptor.length
  }
  return bytes
}
