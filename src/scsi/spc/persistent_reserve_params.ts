/**
 * The PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3 basic, §6.16.4 REGISTER AND MOVE) and
 * the iSCSI TransportID (SPC-4 §7.6.4.6, formats 00b and 01b): decoded from untrusted bytes into
 * a PrOutRequest, or refused with the sense reason and the field pointer; never a partial value.
 * SPEC_I_P and ALL_TG_PT are refused as REPORT CAPABILITIES says (SIP_C=0, ATP_C=0).
 */
import { readU16, readU32 } from '../../base/bytes.ts'
import type { PrOutRequest } from '../reservations_actions.ts'
import type { FieldPointer, SenseReason } from '../sense.ts'
import {
  isidSeparator,
  PrMoveField,
  PrOutAction,
  PrOutField,
  prOutBasicBytes,
  prOutMoveHeaderBytes,
  protocolIdIscsi,
  TransportIdFormat,
  transportIdBytesMin,
} from './persistent_reserve_spec.ts'

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: SenseReason; readonly field?: FieldPointer }

/** RFC 7143 §4.2.7.1: an iSCSI name is at most 223 bytes. */
const iscsiNameBytesMax = 223

function fail<T>(reason: SenseReason, byte?: number, bit?: number): Parsed<T> {
  if (byte === undefined) return { ok: false, reason }
  const field = bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit }
  return { ok: false, reason, field }
}

function readU64Big(data: Uint8Array, offset: number): bigint {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(offset)
}

/** Decodes the CDB's service action, scope and type and the parameter list. */
export function parsePrOut(cdb: Uint8Array, data: Uint8Array): Parsed<PrOutRequest> {
  const action = (cdb[1]! & 0x1f) as PrOutRequest['action']
  const scope = cdb[2]! >>> 4
  const type = cdb[2]! & 0x0f
  if (action === PrOutAction.registerAndMove) return parseMove(data, scope, type)
  if (data.length < prOutBasicBytes) return fail('parameterListLengthError')
  const flags = data[PrOutField.flags]!
  // Reserved: bits 7-4 and 1 of byte 20, all of byte 21.
  if ((flags & 0xf2) !== 0) return fail('invalidFieldInParameterList', PrOutField.flags, 7)
  if (data[21] !== 0) return fail('invalidFieldInParameterList', 21)
  const registers =
    action === PrOutAction.register || action === PrOutAction.registerAndIgnoreExistingKey
  // SPC-4 §6.16.3: SPEC_I_P is refused unless supported (SIP_C=0) and outside REGISTER.
  if ((flags & 0x08) !== 0) return fail('invalidFieldInParameterList', PrOutField.flags, 3)
  // ALL_TG_PT is valid only for the REGISTER actions, and ATP_C=0 refuses it there.
  if (registers && (flags & 0x04) !== 0)
    return fail('invalidFieldInParameterList', PrOutField.flags, 2)
  if (data.length !== prOutBasicBytes) return fail('parameterListLengthError')
  return {
    ok: true,
    value: {
      action,
      scope,
      type,
      key: readU64Big(data, PrOutField.reservationKey),
      serviceActionKey: readU64Big(data, PrOutField.serviceActionReservationKey),
      aptpl: (flags & 0x01) !== 0,
      move: null,
    },
  }
}

/** SPC-4 §6.16.4: REGISTER AND MOVE names the destination initiator port by TransportID. */
function parseMove(data: Uint8Array, scope: number, type: number): Parsed<PrOutRequest> {
  if (data.length < prOutMoveHeaderBytes) return fail('parameterListLengthError')
  if (data[16] !== 0) return fail('invalidFieldInParameterList', 16)
  const flags = data[PrMoveField.flags]!
  if ((flags & 0xfc) !== 0) return fail('invalidFieldInParameterList', PrMoveField.flags, 7)
  const transportIdBytes = readU32(data, PrMoveField.transportIdLength)
  if (prOutMoveHeaderBytes + transportIdBytes !== data.length)
    return fail('parameterListLengthError')
  const port = parseTransportId(data, PrMoveField.transportId, transportIdBytes)
  if (!port.ok) return port
  if (port.value.isidHex === null) {
    // Format 00b names a device, not the initiator port a reservation moves to.
    return fail('invalidFieldInParameterList', PrMoveField.transportId, 7)
  }
  return {
    ok: true,
    value: {
      action: PrOutAction.registerAndMove,
      scope,
      type,
      key: readU64Big(data, PrMoveField.reservationKey),
      serviceActionKey: readU64Big(data, PrMoveField.serviceActionReservationKey),
      aptpl: (flags & 0x01) !== 0,
      move: {
        unregister: (flags & 0x02) !== 0,
        relativeTargetPort: readU16(data, PrMoveField.relativeTargetPort),
        initiatorName: port.value.name,
        isidHex: port.value.isidHex,
      },
    },
  }
}

export interface TransportId {
  readonly name: string
  /** 12 lower-case hex digits for format 01b; null for 00b. */
  readonly isidHex: string | null
}

/** SPC-4 §7.6.4.6: an iSCSI TransportID of `bytes` bytes at `offset` of `data`. */
export function parseTransportId(
  data: Uint8Array,
  offset: number,
  bytes: number,
): Parsed<TransportId> {
  if (bytes < transportIdBytesMin || bytes % 4 !== 0 || offset + bytes > data.length)
    return fail('invalidFieldInParameterList', offset - 4)
  const first = data[offset]!
  const format = first >>> 6
  if ((first & 0x0f) !== protocolIdIscsi) return fail('invalidFieldInParameterList', offset, 3)
  if ((first & 0x30) !== 0 || data[offset + 1] !== 0)
    return fail('invalidFieldInParameterList', offset, 5)
  if (format !== TransportIdFormat.deviceName && format !== TransportIdFormat.initiatorPort)
    return fail('invalidFieldInParameterList', offset, 7)
  const additional = readU16(data, offset + 2)
  if (additional % 4 !== 0 || 4 + additional > bytes)
    return fail('invalidFieldInParameterList', offset + 2)
  const text = data.subarray(offset + 4, offset + 4 + additional)
  const end = text.indexOf(0)
  if (end <= 0 || end > iscsiNameBytesMax + isidSeparator.length + 12)
    return fail('invalidFieldInParameterList', offset + 4)
  const name = Buffer.from(text.subarray(0, end)).toString('latin1')
  if (!/^[\x21-\x7e]+$/.test(name)) return fail('invalidFieldInParameterList', offset + 4)
  if (format === TransportIdFormat.deviceName) {
    if (name.length > iscsiNameBytesMax || name.includes(','))
      return fail('invalidFieldInParameterList', offset + 4)
    return { ok: true, value: { name: name.toLowerCase(), isidHex: null } }
  }
  const at = name.toLowerCase().lastIndexOf(isidSeparator)
  const isid = name.slice(at + isidSeparator.length).toLowerCase()
  if (at <= 0 || at > iscsiNameBytesMax || !/^[0-9a-f]{12}$/.test(isid))
    return fail('invalidFieldInParameterList', offset + 4)
  return { ok: true, value: { name: name.slice(0, at).toLowerCase(), isidHex: isid } }
}

/** SPC-4 §7.6.4.6 format 01b: "NAME,i,0xISID", NUL-terminated, padded to 4, ≥ 24 bytes. */
export function encodeTransportId(initiatorName: string, isidHex: string): Uint8Array {
  const text = Buffer.from(`${initiatorName}${isidSeparator}${isidHex}`, 'latin1')
  const additional = Math.max(transportIdBytesMin - 4, Math.ceil((text.length + 1) / 4) * 4)
  const bytes = new Uint8Array(4 + additional)
  bytes[0] = (TransportIdFormat.initiatorPort << 6) | protocolIdIscsi
  bytes[2] = additional >>> 8
  bytes[3] = additional & 0xff
  bytes.set(text, 4)
  return bytes
}
