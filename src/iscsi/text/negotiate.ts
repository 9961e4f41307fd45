/**
 * Text-key negotiation, target side (RFC 7143 §6.1-§6.2 and §13): one pure function that answers
 * a single offered key from the descriptor table in keys.ts and the target's own offer, plus the
 * typed parameter sets that the agreed values produce. No I/O, no state: login and text handlers
 * call `negotiate` for each key and fold the results with `applyAgreed`.
 */
import { isKeyName, KeyAnswer, type KeyDescriptor, type KeyName, keys } from './keys.ts'

/** What the target supports or prefers for each negotiated key (our side of §6.2). */
export interface TargetOffer {
  readonly headerDigest: readonly string[]
  readonly dataDigest: readonly string[]
  readonly maxConnections: number
  readonly initialR2T: boolean
  readonly immediateData: boolean
  readonly maxBurstLength: number
  readonly firstBurstLength: number
  readonly defaultTime2Wait: number
  readonly defaultTime2Retain: number
  readonly maxOutstandingR2T: number
  readonly dataPDUInOrder: boolean
  readonly dataSequenceInOrder: boolean
  readonly errorRecoveryLevel: number
  readonly iSCSIProtocolLevel: number
}

export interface NegotiationContext {
  /** 'login' during the operational stage, 'fullFeature' for Text requests (§6.1). */
  readonly phase: 'login' | 'fullFeature'
  /** LO keys are negotiated on the leading connection only (§13). */
  readonly leadingConnection: boolean
  readonly sessionType: 'Normal' | 'Discovery'
}

export type Negotiation =
  /** Send `key=answer`; `value` is the value now in force. */
  | { readonly kind: 'answer'; readonly answer: string; readonly value: string }
  /** A declaration we accept; nothing is sent back. */
  | { readonly kind: 'declared'; readonly value: string }
  /** Send `key=<constant>` (§6.2: NotUnderstood, Reject, Irrelevant); nothing changes. */
  | { readonly kind: 'constant'; readonly answer: string }
  /** A §12 security key; the security stage (login/chap.ts) owns it. */
  | { readonly kind: 'security' }

/** RFC 7143 §6.1: key names are at most 63 bytes; values at most 255 unless a key says more. */
const keyNameBytesMax = 63
const valueBytesMax = 8192

export function negotiate(
  name: string,
  offered: string,
  offer: TargetOffer,
  context: NegotiationContext,
): Negotiation {
  // §6.2.1 and §13.26: unknown keys, including X- and X# extension keys, are NotUnderstood.
  if (!isKeyName(name) || name.length > keyNameBytesMax) return constant(KeyAnswer.notUnderstood)
  const descriptor: KeyDescriptor = keys[name]
  if (descriptor.kind.type === 'security') return { kind: 'security' }
  if (offered.length > valueBytesMax) return constant(KeyAnswer.reject)
  const placement = placementAnswer(descriptor, context)
  if (placement !== null) return constant(placement)
  const kind = descriptor.kind
  switch (kind.type) {
    case 'list':
      return answerList(offered, kind.values, ours(name, offer))
    case 'boolean':
      return answerBoolean(offered, kind.result, ours(name, offer) === 'Yes')
    case 'number':
      return answerNumber(offered, kind.result, kind.range, Number(ours(name, offer)))
    case 'declarative':
      return answerDeclaration(offered, kind.range)
    case 'obsolete':
      // §13.25: IFMarker/OFMarker SHOULD get Reject and MAY get No; the MarkInt keys Reject.
      return kind.answer === 'No' ? answerBoolean(offered, 'and', false) : constant(kind.answer)
  }
}

/** Whether the key may be negotiated here at all; the constant to answer when it may not. */
function placementAnswer(descriptor: KeyDescriptor, context: NegotiationContext): string | null {
  if (descriptor.senders === 'target') return KeyAnswer.reject
  if (context.phase === 'fullFeature' && descriptor.use !== 'FFPO' && descriptor.use !== 'ALL') {
    return KeyAnswer.reject
  }
  if (context.phase === 'login' && descriptor.use === 'FFPO') return KeyAnswer.reject
  if (descriptor.use === 'LO' && !context.leadingConnection) return KeyAnswer.irrelevant
  if (descriptor.discoveryIrrelevant && context.sessionType === 'Discovery') {
    return KeyAnswer.irrelevant
  }
  return null
}

function constant(answer: string): Negotiation {
  return { kind: 'constant', answer }
}

/** §6.2.1: the first offered value the responder supports; none → Reject. */
function answerList(offered: string, known: readonly string[], supported: string): Negotiation {
  const ourValues = supported.split(',')
  for (const value of offered.split(',')) {
    if (known.includes(value) && ourValues.includes(value)) {
      return { kind: 'answer', answer: value, value }
    }
  }
  return constant(KeyAnswer.reject)
}

/** §6.2.2: Boolean AND / OR; anything but Yes or No is rejected. */
function answerBoolean(offered: string, result: 'and' | 'or', ourValue: boolean): Negotiation {
  if (offered !== 'Yes' && offered !== 'No') return constant(KeyAnswer.reject)
  const theirs = offered === 'Yes'
  const agreed = result === 'and' ? theirs && ourValue : theirs || ourValue
  const value = agreed ? 'Yes' : 'No'
  return { kind: 'answer', answer: value, value }
}

/** §6.2.2: numerical minimum / maximum; out of range or malformed → Reject. */
function answerNumber(
  offered: string,
  result: 'min' | 'max',
  range: readonly [number, number],
  ourValue: number,
): Negotiation {
  const theirs = parseNumber(offered)
  if (theirs === null || theirs < range[0] || theirs > range[1]) return constant(KeyAnswer.reject)
  const agreed = result === 'min' ? Math.min(theirs, ourValue) : Math.max(theirs, ourValue)
  return { kind: 'answer', answer: String(agreed), value: String(agreed) }
}

function answerDeclaration(
  offered: string,
  range: readonly [number, number] | undefined,
): Negotiation {
  if (range === undefined) return { kind: 'declared', value: offered }
  const declared = parseNumber(offered)
  if (declared === null || declared < range[0] || declared > range[1]) {
    return constant(KeyAnswer.reject)
  }
  return { kind: 'declared', value: String(declared) }
}

/** §6.1 numerical values: decimal-constant or hex-constant (0x…); null when malformed. */
export function parseNumber(text: string): number | null {
  if (/^[0-9]{1,16}$/.test(text)) return Number(text)
  if (/^0[xX][0-9a-fA-F]{1,13}$/.test(text)) return Number.parseInt(text.slice(2), 16)
  return null
}

/** Which field of the target's offer answers each negotiated key. */
const offerField = {
  HeaderDigest: 'headerDigest',
  DataDigest: 'dataDigest',
  MaxConnections: 'maxConnections',
  InitialR2T: 'initialR2T',
  ImmediateData: 'immediateData',
  MaxBurstLength: 'maxBurstLength',
  FirstBurstLength: 'firstBurstLength',
  DefaultTime2Wait: 'defaultTime2Wait',
  DefaultTime2Retain: 'defaultTime2Retain',
  MaxOutstandingR2T: 'maxOutstandingR2T',
  DataPDUInOrder: 'dataPDUInOrder',
  DataSequenceInOrder: 'dataSequenceInOrder',
  ErrorRecoveryLevel: 'errorRecoveryLevel',
  iSCSIProtocolLevel: 'iSCSIProtocolLevel',
} as const satisfies Partial<Record<KeyName, keyof TargetOffer>>

/** Our offer for a key, in wire form. */
function ours(name: KeyName, offer: TargetOffer): string {
  if (!Object.hasOwn(offerField, name)) return keys[name].initial ?? ''
  const value = offer[offerField[name as keyof typeof offerField]]
  if (typeof value === 'boolean') return value ? 'Yes' : 'No'
  if (typeof value === 'number') return String(value)
  return value.join(',')
}

/** Session-wide operational parameters in force (§13, scope SW). */
export interface SessionParameters {
  readonly sessionType: 'Normal' | 'Discovery'
  readonly maxConnections: number
  readonly initialR2T: boolean
  readonly immediateData: boolean
  readonly maxBurstLength: number
  readonly firstBurstLength: number
  readonly defaultTime2Wait: number
  readonly defaultTime2Retain: number
  readonly maxOutstandingR2T: number
  readonly dataPDUInOrder: boolean
  readonly dataSequenceInOrder: boolean
  readonly errorRecoveryLevel: number
}

/** Connection-only parameters in force (§13, scope CO). */
export interface ConnectionParameters {
  readonly headerDigest: boolean
  readonly dataDigest: boolean
  /** The initiator's declared MaxRecvDataSegmentLength: our Data-In PDUs never exceed it. */
  readonly initiatorMaxRecvDataSegmentLength: number
  /** Ours, declared to the initiator: the framer rejects longer segments. */
  readonly targetMaxRecvDataSegmentLength: number
}

/** The §13 initial values, before anything is negotiated. */
export function initialSessionParameters(): SessionParameters {
  return {
    sessionType: 'Normal',
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    maxBurstLength: 262_144,
    firstBurstLength: 65_536,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxOutstandingR2T: 1,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
  }
}

export function initialConnectionParameters(targetMrdsl: number): ConnectionParameters {
  return {
    headerDigest: false,
    dataDigest: false,
    initiatorMaxRecvDataSegmentLength: 8192,
    targetMaxRecvDataSegmentLength: targetMrdsl,
  }
}

export interface Parameters {
  readonly session: SessionParameters
  readonly connection: ConnectionParameters
}

/** Folds one agreed or declared value into the parameters; keys that carry no parameter (names,
 * aliases, TaskReporting, markers) leave them unchanged. */
export function applyAgreed(parameters: Parameters, name: string, value: string): Parameters {
  const session = { ...parameters.session }
  const connection = { ...parameters.connection }
  const yes = value === 'Yes'
  const number = Number(value)
  switch (name) {
    case 'HeaderDigest':
      connection.headerDigest = value === 'CRC32C'
      break
    case 'DataDigest':
      connection.dataDigest = value === 'CRC32C'
      break
    case 'MaxRecvDataSegmentLength':
      connection.initiatorMaxRecvDataSegmentLength = number
      break
    case 'SessionType':
      session.sessionType = value === 'Discovery' ? 'Discovery' : 'Normal'
      break
    case 'MaxConnections':
      session.maxConnections = number
      break
    case 'InitialR2T':
      session.initialR2T = yes
      break
    case 'ImmediateData':
      session.immediateData = yes
      break
    case 'MaxBurstLength':
      session.maxBurstLength = number
      break
    case 'FirstBurstLength':
      session.firstBurstLength = number
      break
    case 'DefaultTime2Wait':
      session.defaultTime2Wait = number
      break
    case 'DefaultTime2Retain':
      session.defaultTime2Retain = number
      break
    case 'MaxOutstandingR2T':
      session.maxOutstandingR2T = number
      break
    case 'DataPDUInOrder':
      session.dataPDUInOrder = yes
      break
    case 'DataSequenceInOrder':
      session.dataSequenceInOrder = yes
      break
    case 'ErrorRecoveryLevel':
      session.errorRecoveryLevel = number
      break
    default:
      return parameters
  }
  // §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength; the smaller burst wins.
  if (session.firstBurstLength > session.maxBurstLength) {
    session.firstBurstLength = session.maxBurstLength
  }
  return { session, connection }
}
