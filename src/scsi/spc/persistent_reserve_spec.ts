/**
 * Wire constants of PERSISTENT RESERVE IN/OUT (SPC-4 §6.15, §6.16) and of the iSCSI TransportID
 * (SPC-4 §7.6.4.6). Names follow the standard; behaviour lives in reservations*.ts and
 * persistent_reserve_*.ts.
 */

/** SPC-4 §6.15.1 table 167: PERSISTENT RESERVE IN service actions. */
export const PrInAction = {
  readKeys: 0x00,
  readReservation: 0x01,
  reportCapabilities: 0x02,
  readFullStatus: 0x03,
} as const

/** SPC-4 §6.16.1 table 185: PERSISTENT RESERVE OUT service actions. */
export const PrOutAction = {
  register: 0x00,
  reserve: 0x01,
  release: 0x02,
  clear: 0x03,
  preempt: 0x04,
  preemptAndAbort: 0x05,
  registerAndIgnoreExistingKey: 0x06,
  registerAndMove: 0x07,
} as const
export type PrOutAction = (typeof PrOutAction)[keyof typeof PrOutAction]

/** SPC-4 §6.15.3.4 table 173: persistent reservation TYPE codes. */
export const PrType = {
  writeExclusive: 0x1,
  exclusiveAccess: 0x3,
  writeExclusiveRegistrantsOnly: 0x5,
  exclusiveAccessRegistrantsOnly: 0x6,
  writeExclusiveAllRegistrants: 0x7,
  exclusiveAccessAllRegistrants: 0x8,
} as const
export type PrType = (typeof PrType)[keyof typeof PrType]

export function isPrType(value: number): value is PrType {
  return (Object.values(PrType) as number[]).includes(value)
}

/** SPC-4 §5.9.10: every registrant holds an all-registrants reservation. */
export function isAllRegistrants(type: number): boolean {
  return (
    type === PrType.writeExclusiveAllRegistrants || type === PrType.exclusiveAccessAllRegistrants
  )
}

/** SPC-4 §6.15.3.3: the only SCOPE value (LU_SCOPE). */
export const prScopeLogicalUnit = 0x0

/** SPC-4 §6.16.3 table 188: the basic PR OUT parameter list is 24 bytes. */
export const prOutBasicBytes = 24
/** SPC-4 §6.16.4 table 190: REGISTER AND MOVE's header before its TransportID. */
export const prOutMoveHeaderBytes = 24

/** Byte offsets of the basic PR OUT parameter list (table 188). */
export const PrOutField = {
  reservationKey: 0,
  serviceActionReservationKey: 8,
  flags: 20, // SPEC_I_P bit 3, ALL_TG_PT bit 2, APTPL bit 0
  transportIdLength: 24, // only with SPEC_I_P=1
} as const

/** Byte offsets of the REGISTER AND MOVE parameter list (table 190). */
export const PrMoveField = {
  reservationKey: 0,
  serviceActionReservationKey: 8,
  flags: 17, // UNREG bit 1, APTPL bit 0
  relativeTargetPort: 18,
  transportIdLength: 20,
  transportId: 24,
} as const

/** SPC-4 §7.6.2 table 444: PROTOCOL IDENTIFIER of iSCSI. */
export const protocolIdIscsi = 0x5
/** SPC-4 §7.6.4.6: FORMAT CODE 00b names the device, 01b the initiator port (with ISID). */
export const TransportIdFormat = { deviceName: 0x0, initiatorPort: 0x1 } as const
/** SPC-4 §7.6.4.6: a TransportID is at least 24 bytes, a multiple of 4. */
export const transportIdBytesMin = 24
/** The SEPARATOR of format 01b. */
export const isidSeparator = ',i,0x'

/** SPC-4 §6.15.4 table 176: REPORT CAPABILITIES bits. */
export const PrCapabilities = {
  length: 8,
  crh: 0x10, // byte 2: Compatible Reservation Handling
  sipC: 0x08,
  atpC: 0x04,
  ptplC: 0x01,
  tmv: 0x80, // byte 3
  ptplA: 0x01,
  /** ALLOW COMMANDS 001b: TEST UNIT READY is allowed through WE and EA reservations. */
  allowCommandsTur: 0x1 << 4,
} as const

/** SPC-4 §6.15.4 table 177: PERSISTENT RESERVATION TYPE MASK, bytes 4-5 as one number. */
export const prTypeMaskBits: Record<PrType, number> = {
  [PrType.writeExclusiveAllRegistrants]: 0x8000,
  [PrType.exclusiveAccessRegistrantsOnly]: 0x4000,
  [PrType.writeExclusiveRegistrantsOnly]: 0x2000,
  [PrType.exclusiveAccess]: 0x0800,
  [PrType.writeExclusive]: 0x0200,
  [PrType.exclusiveAccessAllRegistrants]: 0x0001,
}
