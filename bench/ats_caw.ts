/**
 * The wire side of the ATS benchmark (bench/ats.ts), sans-IO: the CDBs it sends (COMPARE AND
 * WRITE, SBC-3 §5.2; READ(16) §5.16; WRITE(16) §5.40; READ CAPACITY(16) §5.16.2; TEST UNIT
 * READY, SPC-4 §6.37), the sense data it reads back (SPC-4 §4.5: fixed and descriptor formats,
 * with the INFORMATION field that carries a miscompare's offset), the lock block the two
 * "hosts" fight over, and the statistics of a run (percentiles, the longest wait for a lock).
 * Written independently of src/scsi so that the benchmark checks the target, not itself.
 */

/** SPC-4 §4.5.1 / SAM-5 §5.3.1: the status codes the benchmark tells apart. */
export const ScsiStatus = {
  good: 0x00,
  checkCondition: 0x02,
  busy: 0x08,
  reservationConflict: 0x18,
  taskSetFull: 0x28,
} as const

/** SPC-4 §4.5.6, table 27: the sense keys the benchmark tells apart. */
export const SenseKey = {
  notReady: 0x02,
  mediumError: 0x03,
  hardwareError: 0x04,
  illegalRequest: 0x05,
  unitAttention: 0x06,
  abortedCommand: 0x0b,
  miscompare: 0x0e,
} as const

/** SPC-4 Annex D: ASC << 8 | ASCQ. */
export const AdditionalSense = {
  invalidCommandOperationCode: 0x2000,
  miscompareDuringVerifyOperation: 0x1d00,
} as const

/** SBC-3 §5.2 table 13, §5.16, §5.40; SPC-4 §6.37. */
export const OpCode = {
  testUnitReady: 0x00,
  write16: 0x8a,
  read16: 0x88,
  compareAndWrite: 0x89,
  serviceActionIn16: 0x9e,
} as const

/** SBC-3 §5.16.1: READ CAPACITY (16) is SERVICE ACTION IN (16) with service action 10h. */
const readCapacity16ServiceAction = 0x10
const readCapacity16Bytes = 32

/** Bytes 2..9 of a 16-byte CDB: the LOGICAL BLOCK ADDRESS, big-endian. */
function cdb16(opcode: number, lba: number, blocks: number): Uint8Array {
  if (!Number.isSafeInteger(lba) || lba < 0) throw new RangeError(`bad LBA ${lba}`)
  const cdb = new Uint8Array(16)
  const view = new DataView(cdb.buffer)
  cdb[0] = opcode
  view.setBigUint64(2, BigInt(lba))
  view.setUint32(10, blocks)
  return cdb
}

/**
 * COMPARE AND WRITE (SBC-3 §5.2 table 13): byte 1 WRPROTECT/DPO/FUA/FUA_NV all 0, bytes 2..9
 * LBA, bytes 10..12 reserved, byte 13 NUMBER OF LOGICAL BLOCKS, byte 14 GROUP NUMBER, byte 15
 * CONTROL. The Data-Out buffer is 2 × blocks: the verify data, then the write data.
 */
export function compareAndWriteCdb(lba: number, blocks: number): Uint8Array {
  if (!Number.isInteger(blocks) || blocks < 0 || blocks > 0xff) {
    throw new RangeError(`NUMBER OF LOGICAL BLOCKS is one byte, not ${blocks}`)
  }
  const cdb = cdb16(OpCode.compareAndWrite, lba, 0)
  cdb[13] = blocks
  return cdb
}

/** The Data-Out buffer of COMPARE AND WRITE: verify data followed by write data (SBC-3 §5.2). */
export function compareAndWriteData(verify: Uint8Array, write: Uint8Array): Uint8Array {
  if (verify.length !== write.length) throw new RangeError('verify and write differ in length')
  const data = new Uint8Array(verify.length * 2)
  data.set(verify, 0)
  data.set(write, verify.length)
  return data
}

/** READ(16), SBC-3 §5.16: TRANSFER LENGTH in bytes 10..13. */
export function read16Cdb(lba: number, blocks: number): Uint8Array {
  return cdb16(OpCode.read16, lba, blocks)
}

/** WRITE(16), SBC-3 §5.40: TRANSFER LENGTH in bytes 10..13. */
export function write16Cdb(lba: number, blocks: number): Uint8Array {
  return cdb16(OpCode.write16, lba, blocks)
}

export function testUnitReadyCdb(): Uint8Array {
  return new Uint8Array(6)
}

/** READ CAPACITY (16), SBC-3 §5.16.2: ALLOCATION LENGTH in bytes 10..13. */
export function readCapacity16Cdb(): Uint8Array {
  const cdb = new Uint8Array(16)
  cdb[0] = OpCode.serviceActionIn16
  cdb[1] = readCapacity16ServiceAction
  new DataView(cdb.buffer).setUint32(10, readCapacity16Bytes)
  return cdb
}

export const readCapacity16Length = readCapacity16Bytes

/** SBC-3 §5.16.2: RETURNED LOGICAL BLOCK ADDRESS (bytes 0..7), BLOCK LENGTH IN BYTES (8..11). */
export function parseReadCapacity16(data: Uint8Array): { blockCount: number; blockBytes: number } {
  if (data.length < 12) throw new RangeError(`READ CAPACITY (16) data of ${data.length} bytes`)
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const lastLba = Number(view.getBigUint64(0))
  return { blockCount: lastLba + 1, blockBytes: view.getUint32(8) }
}

export interface Sense {
  readonly key: number
  /** ASC << 8 | ASCQ. */
  readonly code: number
  /** The INFORMATION field when its VALID bit is set, else null. */
  readonly information: number | null
}

/** SPC-4 §4.5.2.2: the information sense data descriptor. */
const informationDescriptorType = 0x00

/**
 * Parses sense data in the fixed (70h/71h, SPC-4 §4.5.3) or descriptor (72h/73h, §4.5.2)
 * format; null when it is neither or too short to hold a sense key and ASC/ASCQ.
 */
export function parseSense(bytes: Uint8Array): Sense | null {
  if (bytes.length < 4) return null
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const responseCode = bytes[0]! & 0x7f
  if (responseCode === 0x70 || responseCode === 0x71) {
    if (bytes.length < 14) return null
    const valid = (bytes[0]! & 0x80) !== 0
    const information = valid ? view.getUint32(3) : null
    return { key: bytes[2]! & 0x0f, code: (bytes[12]! << 8) | bytes[13]!, information }
  }
  if (responseCode === 0x72 || responseCode === 0x73) {
    const end = Math.min(bytes.length, 8 + (bytes[7] ?? 0))
    let information: number | null = null
    for (let at = 8; at + 2 <= end; at += 2 + bytes[at + 1]!) {
      const fits = at + 12 <= end && bytes[at + 1] === 0x0a
      if (bytes[at] !== informationDescriptorType || !fits) continue
      if ((bytes[at + 2]! & 0x80) !== 0) information = Number(view.getBigUint64(at + 4))
    }
    return { key: bytes[1]! & 0x0f, code: (bytes[2]! << 8) | bytes[3]!, information }
  }
  return null
}

/** What one command's status and sense mean to the lock loop. */
export type Outcome =
  | { readonly kind: 'good' }
  | { readonly kind: 'miscompare'; readonly offset: number | null }
  | { readonly kind: 'unitAttention'; readonly label: string }
  | { readonly kind: 'other'; readonly label: string }

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0')

export function senseLabel(sense: Sense): string {
  const code = hex(sense.code, 4)
  return `key ${hex(sense.key, 2)} asc/ascq ${code.slice(0, 2)}/${code.slice(2)}`
}

export function classify(status: number, senseBytes: Uint8Array): Outcome {
  if (status === ScsiStatus.good) return { kind: 'good' }
  if (status !== ScsiStatus.checkCondition)
    return { kind: 'other', label: `status ${hex(status, 2)}` }
  const sense = parseSense(senseBytes)
  if (sense === null) return { kind: 'other', label: 'check condition, unparsable sense' }
  const miscompare =
    sense.key === SenseKey.miscompare &&
    sense.code === AdditionalSense.miscompareDuringVerifyOperation
  if (miscompare) return { kind: 'miscompare', offset: sense.information }
  if (sense.key === SenseKey.unitAttention)
    return { kind: 'unitAttention', label: senseLabel(sense) }
  return { kind: 'other', label: senseLabel(sense) }
}

/** ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE: the target does not have the command. */
export function isUnsupportedOpcode(status: number, senseBytes: Uint8Array): boolean {
  const sense = status === ScsiStatus.checkCondition ? parseSense(senseBytes) : null
  return (
    sense !== null &&
    sense.key === SenseKey.illegalRequest &&
    sense.code === AdditionalSense.invalidCommandOperationCode
  )
}

/**
 * The lock block: bytes 0..7 the generation (how many times the lock changed hands), 8..11 the
 * owning session, 12..15 the command slot that took it; the rest zero. Every successful COMPARE
 * AND WRITE turns generation g into g + 1, so after a run the generation must equal the number
 * of successes counted by both sessions together — or some compare-and-write was not atomic.
 */
export interface LockValue {
  readonly generation: number
  readonly owner: number
  readonly slot: number
}

export function encodeLock(value: LockValue, blockBytes: number): Uint8Array {
  if (blockBytes < 16) throw new RangeError(`a lock block needs 16 bytes, not ${blockBytes}`)
  const block = new Uint8Array(blockBytes)
  const view = new DataView(block.buffer)
  view.setBigUint64(0, BigInt(value.generation))
  view.setUint32(8, value.owner)
  view.setUint32(12, value.slot)
  return block
}

export function decodeLock(block: Uint8Array): LockValue {
  if (block.length < 16) throw new RangeError(`a lock block of ${block.length} bytes`)
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
  return {
    generation: Number(view.getBigUint64(0)),
    owner: view.getUint32(8),
    slot: view.getUint32(12),
  }
}

/** The p-th percentile (0..100) of ascending values, nearest rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/**
 * The longest stretch in [start, end] without an event: between start and the first event,
 * between two events, or after the last one. The whole window when there was none.
 */
export function longestGap(times: readonly number[], start: number, end: number): number {
  let longest = 0
  let previous = start
  for (const time of times) {
    longest = Math.max(longest, time - previous)
    previous = time
  }
  return Math.max(longest, end - previous)
}
