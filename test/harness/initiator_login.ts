/**
 * The test initiator's login (RFC 7143 §6.3, §11.12, §12.1 CHAP): security stage with
 * AuthMethod None or CHAP (optionally mutual), operational negotiation of the §13 keys, and the
 * parameters in force afterwards. Written independently of the target's login code so that it
 * can serve as an oracle.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { LoginResponse } from '../../src/iscsi/pdu/types.ts'
import { LoginStage } from '../../src/iscsi/spec/login_stage.ts'
import { LoginStatus } from '../../src/iscsi/spec/login_status.ts'
import { Opcode } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData, parseTextData, TextAccumulator } from '../../src/iscsi/text/key_value.ts'
import { type InitiatorConnection, InitiatorProtocolError } from './initiator_connection.ts'

export interface ChapCredentials {
  user: string
  secret: string
  /** Mutual CHAP: the target must prove it knows this secret under this name. */
  mutual?: { user: string; secret: string }
}

export interface LoginOptions {
  initiatorName: string
  targetName?: string
  sessionType?: 'Normal' | 'Discovery'
  /** 6 bytes; defaults to a random-qualifier ISID (§11.12.5, type 0x80 "random"). */
  isid?: Uint8Array
  tsih?: number
  cid?: number
  chap?: ChapCredentials
  /** Extra or overriding operational keys, sent as given. */
  keys?: Record<string, string>
  headerDigest?: boolean
  dataDigest?: boolean
  timeoutMs?: number
}

/** What the login established (values from the target's answers, else the §13 defaults). */
export interface NegotiatedParameters {
  tsih: number
  isid: Uint8Array
  headerDigest: boolean
  dataDigest: boolean
  /** The most data we may send in one PDU: the target's MaxRecvDataSegmentLength. */
  maxSendDataSegmentLength: number
  /** What we declared. */
  maxRecvDataSegmentLength: number
  firstBurstLength: number
  maxBurstLength: number
  immediateData: boolean
  initialR2T: boolean
  maxOutstandingR2T: number
  errorRecoveryLevel: number
  /** Every key the target sent during login. */
  targetKeys: Record<string, string>
}

/** The target ended the login with a non-success status (§11.13.5). */
export class LoginFailedError extends Error {
  override name = 'LoginFailedError'
  constructor(
    readonly status: number,
    readonly response: LoginResponse,
  ) {
    super(`login failed with status 0x${status.toString(16).padStart(4, '0')}`)
  }
}

const ourMaxRecvDataSegmentLength = 262_144
/** RFC 7143 §13: keys the target only declares; we never answer them. */
const declarativeKeys = new Set([
  'MaxRecvDataSegmentLength',
  'TargetAlias',
  'TargetPortalGroupTag',
  'TargetAddress',
])

export function operationalKeys(options: LoginOptions): [string, string][] {
  const discovery = options.sessionType === 'Discovery'
  const keys: Record<string, string> = {
    HeaderDigest: options.headerDigest ? 'CRC32C' : 'None',
    DataDigest: options.dataDigest ? 'CRC32C' : 'None',
    MaxRecvDataSegmentLength: String(ourMaxRecvDataSegmentLength),
  }
  if (!discovery) {
    Object.assign(keys, {
      InitialR2T: 'No',
      ImmediateData: 'Yes',
      MaxBurstLength: '262144',
      FirstBurstLength: '65536',
      MaxOutstandingR2T: '1',
      MaxConnections: '1',
      DataPDUInOrder: 'Yes',
      DataSequenceInOrder: 'Yes',
      ErrorRecoveryLevel: '0',
      DefaultTime2Wait: '2',
      DefaultTime2Retain: '0',
    })
  }
  return Object.entries({ ...keys, ...options.keys })
}

/** One login exchange: sends a request and reads the (possibly multi-PDU) response text. */
interface Exchange {
  connection: InitiatorConnection
  options: LoginOptions
  isid: Uint8Array
  tsih: number
  itt: number
  timeoutMs: number
  targetKeys: Record<string, string>
}

async function exchange(
  state: Exchange,
  stages: { csg: number; nsg: number; transit: boolean },
  pairs: readonly (readonly [string, string])[],
): Promise<{ response: LoginResponse; keys: Map<string, string> }> {
  const { connection } = state
  connection.send({
    opcode: Opcode.loginRequest,
    immediate: true,
    transit: stages.transit,
    continue: false,
    currentStage: stages.csg,
    nextStage: stages.transit ? stages.nsg : 0,
    versionMax: 0,
    versionMin: 0,
    isid: state.isid,
    tsih: state.tsih,
    initiatorTaskTag: state.itt,
    cid: state.options.cid ?? 0,
    cmdSN: connection.cmdSN,
    expStatSN: connection.expStatSN,
    data: encodeTextData(pairs),
  })
  const text = new TextAccumulator(65_536)
  for (;;) {
    const response = await expectLoginResponse(state)
    if (!text.append(response.data).ok) throw new InitiatorProtocolError('login text too long')
    if (!response.continue) return { response, keys: parseKeys(text.take(), state) }
    // §11.13.2 C bit: acknowledge with an empty Login Request to get the rest.
    connection.send({
      opcode: Opcode.loginRequest,
      immediate: true,
      transit: false,
      continue: false,
      currentStage: stages.csg,
      nextStage: 0,
      versionMax: 0,
      versionMin: 0,
      isid: state.isid,
      tsih: state.tsih,
      initiatorTaskTag: state.itt,
      cid: state.options.cid ?? 0,
      cmdSN: connection.cmdSN,
      expStatSN: connection.expStatSN,
      data: new Uint8Array(0),
    })
  }
}

async function expectLoginResponse(state: Exchange): Promise<LoginResponse> {
  const pdu = await state.connection.nextPdu(state.timeoutMs)
  if (pdu === null) throw new InitiatorProtocolError('connection closed during login')
  if (pdu.opcode !== Opcode.loginResponse) {
    throw new InitiatorProtocolError(
      `expected Login Response, got opcode 0x${pdu.opcode.toString(16)}`,
    )
  }
  if (pdu.status !== LoginStatus.success) throw new LoginFailedError(pdu.status, pdu)
  return pdu
}

function parseKeys(data: Uint8Array, state: Exchange): Map<string, string> {
  const parsed = parseTextData(data)
  if (!parsed.ok) throw new InitiatorProtocolError(`bad login text: ${parsed.detail}`)
  for (const [key, value] of parsed.pairs) state.targetKeys[key] = value
  return new Map(parsed.pairs)
}

function defaultIsid(): Uint8Array {
  // §11.12.5: T=0b10 (random), A=0, B/C random qualifier, D=0.
  const isid = new Uint8Array(6)
  isid[0] = 0x80
  isid.set(randomBytes(3), 1)
  return isid
}

/** Logs in from the security stage to full feature phase; throws LoginFailedError on refusal. */
export async function login(
  connection: InitiatorConnection,
  options: LoginOptions,
): Promise<NegotiatedParameters> {
  const state: Exchange = {
    connection,
    options,
    isid: options.isid ?? defaultIsid(),
    tsih: options.tsih ?? 0,
    itt: connection.nextTag(),
    timeoutMs: options.timeoutMs ?? 5000,
    targetKeys: {},
  }
  let stage = await securityStage(state)
  while (stage !== LoginStage.fullFeaturePhase) stage = await operationalStage(state, stage)
  const parameters = negotiated(state, options)
  // §11.12.8: login does not consume CmdSN; the first command carries the target's ExpCmdSN.
  connection.cmdSN = connection.expCmdSN
  connection.setLimits(
    { header: parameters.headerDigest, data: parameters.dataDigest },
    parameters.maxRecvDataSegmentLength,
  )
  return parameters
}

function declarations(options: LoginOptions): [string, string][] {
  const pairs: [string, string][] = [['InitiatorName', options.initiatorName]]
  pairs.push(['SessionType', options.sessionType ?? 'Normal'])
  if (options.targetName !== undefined) pairs.push(['TargetName', options.targetName])
  return pairs
}

/** §6.3.2, §12: returns the stage the target moved us to. */
async function securityStage(state: Exchange): Promise<number> {
  const { options } = state
  const toOperational = {
    csg: LoginStage.securityNegotiation,
    nsg: LoginStage.operationalNegotiation,
  }
  if (options.chap === undefined) {
    let { response } = await exchange(state, { ...toOperational, transit: true }, [
      ...declarations(options),
      ['AuthMethod', 'None'],
    ])
    while (!response.transit) {
      ;({ response } = await exchange(state, { ...toOperational, transit: true }, []))
    }
    return response.nextStage
  }
  return chapStage(state, options.chap, toOperational)
}

async function chapStage(
  state: Exchange,
  chap: ChapCredentials,
  stages: { csg: number; nsg: number },
): Promise<number> {
  const first = await exchange(state, { ...stages, transit: false }, [
    ...declarations(state.options),
    ['AuthMethod', 'CHAP'],
  ])
  if (first.keys.get('AuthMethod') !== 'CHAP') {
    throw new InitiatorProtocolError(`target chose AuthMethod=${first.keys.get('AuthMethod')}`)
  }
  const challenge = await exchange(state, { ...stages, transit: false }, [['CHAP_A', '5']])
  const id = Number(challenge.keys.get('CHAP_I'))
  const targetChallenge = decodeBinary(challenge.keys.get('CHAP_C') ?? '')
  if (!Number.isInteger(id) || targetChallenge === null) {
    throw new InitiatorProtocolError('target sent no usable CHAP_I/CHAP_C')
  }
  const pairs: [string, string][] = [
    ['CHAP_N', chap.user],
    ['CHAP_R', `0x${md5(id, chap.secret, targetChallenge).toString('hex')}`],
  ]
  const ourId = randomBytes(1)[0]!
  const ourChallenge = randomBytes(16)
  if (chap.mutual !== undefined) {
    pairs.push(['CHAP_I', String(ourId)], ['CHAP_C', `0x${ourChallenge.toString('hex')}`])
  }
  let { response, keys } = await exchange(state, { ...stages, transit: true }, pairs)
  if (chap.mutual !== undefined) verifyMutual(keys, chap.mutual, ourId, ourChallenge)
  while (!response.transit) {
    ;({ response } = await exchange(state, { ...stages, transit: true }, []))
  }
  return response.nextStage
}

function verifyMutual(
  keys: Map<string, string>,
  mutual: { user: string; secret: string },
  id: number,
  challenge: Uint8Array,
): void {
  const response = decodeBinary(keys.get('CHAP_R') ?? '')
  if (keys.get('CHAP_N') !== mutual.user || response === null) {
    throw new InitiatorProtocolError('target did not authenticate itself (mutual CHAP)')
  }
  if (!md5(id, mutual.secret, challenge).equals(response)) {
    throw new InitiatorProtocolError('target sent a wrong mutual CHAP response')
  }
}

/** RFC 1994 §4.1 as used by RFC 7143 §12.1.3: MD5(identifier ‖ secret ‖ challenge). */
function md5(id: number, secret: string, challenge: Uint8Array): Buffer {
  return createHash('md5').update(Uint8Array.of(id)).update(secret).update(challenge).digest()
}

/** §5.1 binary values: 0x-prefixed hex or 0b-prefixed base64. */
function decodeBinary(text: string): Buffer | null {
  if (/^0[xX][0-9a-fA-F]+$/.test(text) && text.length % 2 === 0)
    return Buffer.from(text.slice(2), 'hex')
  if (/^0[bB][A-Za-z0-9+/=]+$/.test(text)) return Buffer.from(text.slice(2), 'base64')
  return null
}

/** §6.3.3: operational negotiation; answers keys the target offers on its own. */
async function operationalStage(state: Exchange, stage: number): Promise<number> {
  if (stage !== LoginStage.operationalNegotiation) {
    throw new InitiatorProtocolError(`target moved login to unexpected stage ${stage}`)
  }
  const stages = { csg: stage, nsg: LoginStage.fullFeaturePhase, transit: true }
  const offered = operationalKeys(state.options)
  let { response, keys } = await exchange(state, stages, offered)
  const sent = new Set(offered.map(([key]) => key))
  while (!response.transit) {
    const answers = [...keys].filter(([key]) => !sent.has(key) && !declarativeKeys.has(key))
    for (const [key] of answers) sent.add(key)
    ;({ response, keys } = await exchange(state, stages, answers))
  }
  state.tsih = response.tsih
  return response.nextStage
}

/** Values the target answered, else the RFC 7143 §13 defaults. */
function negotiated(state: Exchange, options: LoginOptions): NegotiatedParameters {
  const keys = state.targetKeys
  const number = (key: string, fallback: number) => (key in keys ? Number(keys[key]) : fallback)
  const yes = (key: string, fallback: boolean) => (key in keys ? keys[key] === 'Yes' : fallback)
  const ours = new Map(operationalKeys(options))
  return {
    tsih: state.tsih,
    isid: state.isid,
    headerDigest: keys.HeaderDigest === 'CRC32C',
    dataDigest: keys.DataDigest === 'CRC32C',
    maxSendDataSegmentLength: number('MaxRecvDataSegmentLength', 8192),
    maxRecvDataSegmentLength: Number(ours.get('MaxRecvDataSegmentLength') ?? 8192),
    firstBurstLength: number('FirstBurstLength', 65_536),
    maxBurstLength: number('MaxBurstLength', 262_144),
    immediateData: yes('ImmediateData', true),
    initialR2T: yes('InitialR2T', true),
    maxOutstandingR2T: number('MaxOutstandingR2T', 1),
    errorRecoveryLevel: number('ErrorRecoveryLevel', 0),
    targetKeys: keys,
  }
}
