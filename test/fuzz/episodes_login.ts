/**
 * Raw-fuzzer episodes before full feature phase (RFC 7143 §6 login, §11.12, §11.13): garbage
 * before any login, and Login Requests with one well-defined mistake each, whose Login Response
 * status (§11.13.5) is checked, followed by the close the failure requires. Random login-phase
 * PDUs have no fixed answer; only the target's survival and a close are checked.
 */

import { serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu } from '../../src/iscsi/pdu/mod.ts'
import type { LoginRequest } from '../../src/iscsi/pdu/types.ts'
import { Opcode } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData } from '../../src/iscsi/text/key_value.ts'
import type { Prng } from '../harness/prng.ts'
import type { FuzzLink } from './fuzz_link.ts'
import { count, hex } from './fuzz_link.ts'
import { concat, hostileBytes, randomText } from './raw_pdu_generator.ts'
import { framedLength } from './stream_model.ts'

export interface EpisodeContext {
  readonly host: string
  readonly port: number
  readonly target: string
  readonly initiatorName: string
  readonly timeoutMs: number
  /** Opcodes REPORT SUPPORTED OPERATION CODES listed (SPC-4 §6.35). */
  readonly supported: ReadonlySet<number>
}

/** The daemon's MaxRecvDataSegmentLength applies from the first PDU (src/iscsi/limits.ts). */
const loginPhaseLimits = {
  headerDigest: false,
  dataDigest: false,
  maxRecvDataSegmentLength: 262_144,
}
const noDigests = { header: false, data: false }

/** Sends in two writes split at a random point, so the target's framer sees partial PDUs. */
export function sendSplit(link: FuzzLink, prng: Prng, bytes: Uint8Array, malformed: boolean) {
  const split = prng.below(bytes.length + 1)
  link.sendBytes(bytes.subarray(0, split), malformed ? 'malformed' : 'fuzz', 0)
  link.sendBytes(bytes.subarray(split), malformed ? 'malformed' : 'fuzz', 1)
}

/**
 * 1..6 PDUs that are not Login Requests on a fresh connection (§6: login comes first). Once a
 * whole one has arrived, or a DataSegmentLength beyond the target's limit, the connection must
 * close; a partial one is simply abandoned ("truncated, then close").
 */
export async function preLogin(link: FuzzLink, prng: Prng): Promise<void> {
  const sent: Uint8Array[] = []
  for (let i = prng.between(1, 6); i > 0; i--) {
    const { bytes } = hostileBytes(prng, { cmdSN: 1, expStatSN: 0 }, noDigests)
    if (bytes.length > 0 && (bytes[0]! & 0x3f) === Opcode.loginRequest) bytes[0] = bytes[0]! ^ 1
    sendSplit(link, prng, bytes, true)
    sent.push(bytes)
  }
  await expectDropIfWhole(link, concat(sent), 'a non-login PDU before login [RFC 7143 §6]')
}

async function expectDropIfWhole(link: FuzzLink, stream: Uint8Array, why: string) {
  const first = framedLength(stream, loginPhaseLimits)
  const oversized =
    stream.length >= 48 &&
    ((stream[5]! << 16) | (stream[6]! << 8) | stream[7]!) >
      loginPhaseLimits.maxRecvDataSegmentLength
  if (oversized || (first !== null && stream.length >= first)) await link.expectDrop(why)
  else {
    await link.pump(() => false, 20)
    count(link.tally.answers, 'truncatedThenClosed')
  }
}

type LoginMistake =
  | 'unknownTarget'
  | 'noInitiatorName'
  | 'badVersion'
  | 'badSessionType'
  | 'bothTransitAndContinue'
  | 'notKeyValue'
  | 'unknownTsih'
  | 'random'

/** §11.13.5 status each mistake must get; null: any failure in the initiator-error class. */
const expectedStatus: Record<LoginMistake, number | null> = {
  unknownTarget: 0x0203,
  noInitiatorName: 0x0207,
  badVersion: 0x0205,
  badSessionType: 0x0209,
  bothTransitAndContinue: null,
  notKeyValue: null,
  unknownTsih: 0x020a,
  random: null,
}
/** Mistakes a target may also answer by closing without a Login Response (undecodable PDU). */
const mayDropSilently: ReadonlySet<LoginMistake> = new Set(['bothTransitAndContinue', 'random'])

function loginRequest(ctx: EpisodeContext, prng: Prng, mistake: LoginMistake): LoginRequest {
  const keys: [string, string][] = [
    ['InitiatorName', ctx.initiatorName],
    ['TargetName', ctx.target],
    ['SessionType', 'Normal'],
    ['AuthMethod', 'None'],
  ]
  if (mistake === 'unknownTarget') keys[1] = ['TargetName', `${ctx.target}-nx${prng.u32()}`]
  if (mistake === 'noInitiatorName') keys.shift()
  if (mistake === 'badSessionType') keys[2] = ['SessionType', prng.pick(['Bogus', 'normal', ''])]
  let data = encodeTextData(keys)
  if (mistake === 'notKeyValue') data = concat([data, new TextEncoder().encode('NoEquals\0')])
  if (mistake === 'random') data = randomText(prng)
  const version = mistake === 'badVersion' ? prng.between(1, 255) : 0
  const random = mistake === 'random'
  return {
    opcode: Opcode.loginRequest,
    immediate: true,
    transit: random ? prng.chance(0.5) : true,
    continue: false,
    currentStage: random ? prng.below(4) : 0,
    nextStage: random ? prng.below(4) : 1,
    versionMax: version,
    versionMin: version,
    isid: Uint8Array.of(0x80, ...prng.bytes(3), 0, 0),
    tsih:
      mistake === 'unknownTsih'
        ? prng.between(0xf000, 0xffff)
        : random && prng.chance(0.2)
          ? prng.below(65_536)
          : 0,
    initiatorTaskTag: 1,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    data,
  }
}

/** One Login Request with one mistake; checks the status and the close that must follow. */
export async function loginMistake(ctx: EpisodeContext, link: FuzzLink, prng: Prng) {
  const mistake = prng.pick<LoginMistake>([
    'unknownTarget',
    'noInitiatorName',
    'badVersion',
    'badSessionType',
    'bothTransitAndContinue',
    'notKeyValue',
    'unknownTsih',
    'random',
    'random',
  ])
  const bytes = concat(serializePdu(encodePdu(loginRequest(ctx, prng, mistake)), noDigests))
  // §11.12.2: C must be 0 when T is 1; the encoder will not build that, so set it on the wire.
  if (mistake === 'bothTransitAndContinue') bytes[1] = bytes[1]! | 0x40
  sendSplit(link, prng, bytes, true)
  const outcome = await link.pump(() => link.lastLoginStatus !== null)
  if (outcome === 'hang') {
    link.tally.hangs++
    link.finding(`login ${mistake}: neither a Login Response nor a close [§11.13]`)
    return
  }
  const status = link.lastLoginStatus
  if (status === null) {
    if (!mayDropSilently.has(mistake))
      link.finding(`login ${mistake}: closed without a Login Response [§11.13.5]`)
    return
  }
  if (status === 0) return loginAccepted(link, prng, mistake)
  judgeFailure(link, mistake, status)
  await link.expectDrop('a failed login [§11.13.5]')
}

function judgeFailure(link: FuzzLink, mistake: LoginMistake, status: number): void {
  const expected = expectedStatus[mistake]
  if (expected !== null) {
    if (status === expected) count(link.tally.checks, `login ${mistake} → ${hex(expected, 4)}`)
    else link.finding(`login ${mistake}: status ${hex(status, 4)}, expected ${hex(expected, 4)}`)
  } else if (mistake !== 'random') {
    // §11.13.5: Status-Class 2, initiator error.
    if (status >>> 8 === 2) count(link.tally.checks, `login ${mistake} → class 0x02`)
    else link.finding(`login ${mistake}: status ${hex(status, 4)}, expected class 0x02`)
  }
}

/** A random login the target accepted so far: more login-phase garbage, then a close. */
async function loginAccepted(link: FuzzLink, prng: Prng, mistake: LoginMistake): Promise<void> {
  if (mistake !== 'random') {
    link.finding(`login ${mistake}: accepted (status 0x0000), expected a failure`)
    return
  }
  const sent: Uint8Array[] = []
  for (let i = prng.between(1, 4); i > 0; i--) {
    const { bytes } = hostileBytes(prng, { cmdSN: 1, expStatSN: 0 }, noDigests)
    if (bytes.length > 0 && (bytes[0]! & 0x3f) === Opcode.loginRequest) bytes[0] = bytes[0]! ^ 1
    sendSplit(link, prng, bytes, true)
    sent.push(bytes)
  }
  await expectDropIfWhole(link, concat(sent), 'a non-login PDU during login [RFC 7143 §6]')
}
