/**
 * Random CDBs for well-formed SCSI Command PDUs (RFC 7143 §11.3): either an operation code the
 * device server does not support (SPC-4 §4.5.6: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE)
 * or a supported one with random fields, plus random direction flags and Expected Data Transfer
 * Length. The supported set comes from the target's own REPORT SUPPORTED OPERATION CODES
 * (SPC-4 §6.35), so the expectation follows whatever the SCSI layer implements today. Pure.
 */
import type { Prng } from '../harness/prng.ts'

/**
 * Commands that change logical-unit state beyond the session that sends them (reservations,
 * formatting, sanitizing, stopping the unit), which would make the health checks see
 * RESERVATION CONFLICT or NOT READY: the fuzzer never sends them with random fields.
 */
export const lastingStateOpcodes: ReadonlySet<number> = new Set([
  0x04, 0x16, 0x17, 0x1b, 0x48, 0x56, 0x57, 0x5f,
])

/** SPC-4 §4.2.5.1: the CDB length follows from the group code (bits 7..5 of the opcode). */
export function cdbLength(opcode: number): number {
  switch (opcode >>> 5) {
    case 0:
      return 6
    case 1:
    case 2:
      return 10
    case 5:
      return 12
    default:
      return 16
  }
}

export interface RandomCommand {
  readonly cdb: Uint8Array
  readonly read: boolean
  readonly write: boolean
  readonly expectedDataTransferLength: number
  /** Immediate data (a prefix of what EDTL announces; the rest goes on R2T). */
  readonly data: Uint8Array
  readonly supported: boolean
}

function pickOpcode(prng: Prng, supported: ReadonlySet<number>): [number, boolean] {
  const known = [...supported].filter((op) => !lastingStateOpcodes.has(op))
  if (known.length > 0 && prng.chance(0.6)) return [prng.pick(known), true]
  for (;;) {
    const op = prng.below(256)
    if (!supported.has(op) && !lastingStateOpcodes.has(op)) return [op, false]
  }
}

/** A CDB of the opcode's length; fields all random or mostly zero with a few random bytes. */
function cdbFor(prng: Prng, opcode: number): Uint8Array {
  const cdb = new Uint8Array(16)
  const length = cdbLength(opcode)
  const dense = prng.chance(0.4)
  for (let i = 1; i < length; i++) {
    if (dense || prng.chance(0.25)) cdb[i] = prng.chance(0.5) ? prng.below(8) : prng.below(256)
  }
  cdb[0] = opcode
  // SAM-5 §5.2: the CONTROL byte (last) with NACA or vendor bits is a separate question.
  if (prng.chance(0.8)) cdb[length - 1] = 0
  return cdb
}

/** `maxImmediate`: what one PDU may carry as immediate data (FirstBurst, MaxRecv). */
export function randomCommand(
  prng: Prng,
  supported: ReadonlySet<number>,
  maxImmediate: number,
): RandomCommand {
  const [opcode, isSupported] = pickOpcode(prng, supported)
  const cdb = cdbFor(prng, opcode)
  const direction = prng.pick(['none', 'read', 'read', 'write'] as const)
  if (direction === 'none')
    return {
      cdb,
      read: false,
      write: false,
      expectedDataTransferLength: 0,
      data: cdb.subarray(0, 0),
      supported: isSupported,
    }
  const edtl = prng.chance(0.5) ? prng.between(1, 4096) : prng.between(1, 262_144)
  if (direction === 'read')
    return {
      cdb,
      read: true,
      write: false,
      expectedDataTransferLength: edtl,
      data: cdb.subarray(0, 0),
      supported: isSupported,
    }
  const immediate = Math.min(edtl, maxImmediate, prng.chance(0.5) ? edtl : prng.below(edtl + 1))
  return {
    cdb,
    read: false,
    write: true,
    expectedDataTransferLength: edtl,
    data: prng.bytes(immediate),
    supported: isSupported,
  }
}

/**
 * The operation codes in a REPORT SUPPORTED OPERATION CODES parameter list with REPORTING
 * OPTIONS 000b (SPC-4 §6.35.2): a 4-byte length, then 8-byte descriptors, each followed by a
 * 12-byte timeouts descriptor when CTDP is set.
 */
export function parseSupportedOpcodes(data: Uint8Array): Set<number> {
  const opcodes = new Set<number>()
  if (data.length < 4) return opcodes
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0)
  const end = Math.min(data.length, 4 + length)
  for (let at = 4; at + 8 <= end; ) {
    opcodes.add(data[at]!)
    const ctdp = (data[at + 5]! & 0x02) !== 0
    at += 8 + (ctdp ? 12 : 0)
  }
  return opcodes
}
