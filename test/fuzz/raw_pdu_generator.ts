/**
 * Hostile PDU generation for the raw fuzzer, from a seeded Prng (deterministic per seed):
 * random initiator PDUs with plausible fields, then byte-level mutations (bit flips, truncation,
 * oversized lengths, bogus AHS, garbage). Pure: returns bytes to send, never touches a socket.
 */
import { serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu } from '../../src/iscsi/pdu/mod.ts'
import type { InitiatorPdu, TaskAttributeCode } from '../../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData } from '../../src/iscsi/text/key_value.ts'
import type { Prng } from '../harness/prng.ts'

/** The session numbers a generated PDU should sit near, so that some get past admission. */
export interface SequenceHint {
  cmdSN: number
  expStatSN: number
}

const keyNames = [
  'HeaderDigest',
  'DataDigest',
  'MaxRecvDataSegmentLength',
  'InitialR2T',
  'ImmediateData',
  'MaxBurstLength',
  'FirstBurstLength',
  'MaxConnections',
  'ErrorRecoveryLevel',
  'SendTargets',
  'TargetName',
  'InitiatorName',
  'SessionType',
  'AuthMethod',
  'CHAP_A',
  'X-Vendor',
  'Bogus',
]
const keyValues = [
  'None',
  'CRC32C',
  'Yes',
  'No',
  '0',
  '1',
  '512',
  '16777216',
  '',
  'All',
  'x'.repeat(300),
]

function near(prng: Prng, value: number): number {
  if (prng.chance(0.1)) return prng.u32()
  return (value + prng.between(-3, 3)) >>> 0
}

function lun(prng: Prng): Uint8Array {
  const bytes = new Uint8Array(8)
  if (prng.chance(0.8)) bytes[1] = prng.chance(0.8) ? 0 : prng.below(4)
  else bytes.set(prng.bytes(8))
  return bytes
}

function tag(prng: Prng): number {
  return prng.chance(0.1) ? reservedTag : prng.between(1, 64)
}

export function randomText(prng: Prng): Uint8Array {
  const pairs: [string, string][] = []
  for (let i = prng.below(6); i > 0; i--) pairs.push([prng.pick(keyNames), prng.pick(keyValues)])
  const text = encodeTextData(pairs)
  return prng.chance(0.2) ? prng.bytes(prng.below(200)) : text
}

function cdb(prng: Prng): Uint8Array {
  const opcodes = [0x00, 0x03, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x35, 0x88, 0x8a, 0x9e, 0xa0, 0x42]
  const length = prng.chance(0.05) ? prng.between(17, 64) : 16
  const bytes = prng.chance(0.5) ? new Uint8Array(length) : prng.bytes(length)
  bytes[0] = prng.chance(0.8) ? prng.pick(opcodes) : prng.below(256)
  return bytes
}

/** Which PDU `randomPdu` builds (its switch cases). */
export const RandomPduKind = {
  nopOut: 0,
  scsiCommand: 1,
  taskManagement: 2,
  login: 3,
  text: 4,
  dataOut: 5,
  logout: 6,
  snack: 7,
} as const

/** One random initiator PDU (§11), fields near the session's numbers; `kind` or any kind. */
export function randomPdu(prng: Prng, hint: SequenceHint, kind?: number): InitiatorPdu {
  const common = { cmdSN: near(prng, hint.cmdSN), expStatSN: near(prng, hint.expStatSN) }
  const data = () => prng.bytes(prng.chance(0.7) ? prng.below(64) : prng.below(9000))
  const which = kind ?? prng.below(8)
  switch (which) {
    case 0:
      return {
        opcode: Opcode.nopOut,
        immediate: prng.chance(0.5),
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        targetTransferTag: tag(prng),
        pingData: data(),
        ...common,
      }
    case 1: {
      const write = prng.chance(0.5)
      return {
        opcode: Opcode.scsiCommand,
        immediate: prng.chance(0.2),
        final: !write || prng.chance(0.7),
        read: prng.chance(0.5),
        write,
        taskAttribute: prng.below(5) as TaskAttributeCode,
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        expectedDataTransferLength: prng.chance(0.8) ? prng.below(70_000) : prng.u32(),
        cdb: cdb(prng),
        expectedBidirectionalReadDataLength: prng.chance(0.05) ? prng.u32() : null,
        data: write ? data() : new Uint8Array(0),
        ...common,
      }
    }
    case 2:
      return {
        opcode: Opcode.taskManagementRequest,
        immediate: prng.chance(0.7),
        function: prng.chance(0.9) ? prng.between(1, 8) : prng.below(128),
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        referencedTaskTag: tag(prng),
        refCmdSN: near(prng, hint.cmdSN),
        expDataSN: prng.below(4),
        ...common,
      }
    case 3:
      return {
        opcode: Opcode.loginRequest,
        immediate: true,
        transit: prng.chance(0.5),
        continue: prng.chance(0.2),
        currentStage: prng.below(4),
        nextStage: prng.below(4),
        versionMax: prng.chance(0.9) ? 0 : prng.below(256),
        versionMin: 0,
        isid: prng.bytes(6),
        tsih: prng.chance(0.8) ? 0 : prng.below(65_536),
        initiatorTaskTag: tag(prng),
        cid: prng.below(4),
        data: randomText(prng),
        ...common,
      }
    default:
      return randomLaterPdu(prng, common, data, which)
  }
}

/** `randomPdu`'s kinds 4..7 (text, Data-Out, logout, SNACK). */
function randomLaterPdu(
  prng: Prng,
  common: { cmdSN: number; expStatSN: number },
  data: () => Uint8Array,
  which: number,
): InitiatorPdu {
  switch (which) {
    case 4: {
      const [final, more] = prng.pick([
        [true, false],
        [false, true],
        [false, false],
      ] as const)
      return {
        opcode: Opcode.textRequest,
        immediate: prng.chance(0.3),
        final,
        continue: more,
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        targetTransferTag: tag(prng),
        data: randomText(prng),
        ...common,
      }
    }
    case 5:
      return {
        opcode: Opcode.dataOut,
        final: prng.chance(0.6),
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        targetTransferTag: tag(prng),
        expStatSN: common.expStatSN,
        dataSN: prng.below(4),
        bufferOffset: prng.chance(0.8) ? prng.below(70_000) : prng.u32(),
        data: data(),
      }
    case 6:
      return {
        opcode: Opcode.logoutRequest,
        immediate: prng.chance(0.5),
        reasonCode: prng.below(4),
        initiatorTaskTag: tag(prng),
        cid: prng.below(3),
        ...common,
      }
    default:
      return {
        opcode: Opcode.snackRequest,
        type: prng.below(5),
        lun: lun(prng),
        initiatorTaskTag: tag(prng),
        targetTransferTag: tag(prng),
        expStatSN: common.expStatSN,
        begRun: prng.below(8),
        runLength: prng.below(8),
      }
  }
}

export type Mutation = 'none' | 'bitflip' | 'truncate' | 'oversized' | 'ahs' | 'garbage' | 'opcode'

/** Wire bytes of a random PDU after one mutation; `digests` as negotiated on the connection. */
export function hostileBytes(
  prng: Prng,
  hint: SequenceHint,
  digests: { header: boolean; data: boolean },
): { mutation: Mutation; bytes: Uint8Array } {
  const mutation = prng.pick<Mutation>([
    'none',
    'none',
    'bitflip',
    'bitflip',
    'truncate',
    'oversized',
    'ahs',
    'garbage',
    'opcode',
  ])
  if (mutation === 'garbage') return { mutation, bytes: prng.bytes(prng.between(1, 200)) }
  const bytes = concat(serializePdu(encodePdu(randomPdu(prng, hint)), digests))
  switch (mutation) {
    case 'bitflip':
      for (let i = prng.between(1, 4); i > 0; i--) {
        const at = prng.chance(0.8)
          ? prng.below(Math.min(48, bytes.length))
          : prng.below(bytes.length)
        bytes[at] = bytes[at]! ^ (1 << prng.below(8))
      }
      return { mutation, bytes }
    case 'truncate':
      return { mutation, bytes: bytes.subarray(0, prng.below(bytes.length)) }
    case 'oversized': {
      // DataSegmentLength far beyond any MaxRecvDataSegmentLength, with a little data after it.
      const length = prng.chance(0.5) ? 0xff_ffff : prng.between(300_000, 0xff_ffff)
      bytes[5] = length >>> 16
      bytes[6] = (length >>> 8) & 0xff
      bytes[7] = length & 0xff
      return { mutation, bytes }
    }
    case 'ahs':
      bytes[4] = prng.below(256)
      return { mutation, bytes }
    case 'opcode':
      bytes[0] = (bytes[0]! & 0xc0) | prng.below(64)
      return { mutation, bytes }
    default:
      return { mutation, bytes }
  }
}

export function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0))
  let offset = 0
  for (const piece of pieces) {
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}
