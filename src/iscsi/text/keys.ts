/**
 * The login and text keys of RFC 7143 §13 (plus §12 security keys and RFC 7144's
 * iSCSIProtocolLevel), as one descriptor table: who may send each key, in which phase it is
 * used, its scope, its kind (list, boolean with its result function, numeric with its result
 * function and range, or declarative) and its initial value. `negotiate.ts` is the only reader
 * that decides anything from it.
 */

/** RFC 7143 §13 "Use": IO initialize only (login), LO leading connection only, FFPO full feature
 * phase only, ALL any phase; SEC marks the security-stage keys of §12. */
export type KeyUse = 'IO' | 'LO' | 'FFPO' | 'ALL' | 'SEC'
/** RFC 7143 §13: CO connection-only, SW session-wide. */
export type KeyScope = 'CO' | 'SW'
export type KeySenders = 'initiator' | 'target' | 'both'

export type KeyKind =
  /** §6.2.1: the responder picks the first offered value it supports. */
  | { readonly type: 'list'; readonly values: readonly string[] }
  /** §6.2.2: result AND or OR of both sides. */
  | { readonly type: 'boolean'; readonly result: 'and' | 'or' }
  /** §6.2.2: result minimum or maximum of both sides, within an inclusive range. */
  | {
      readonly type: 'number'
      readonly result: 'min' | 'max'
      readonly range: readonly [number, number]
    }
  /** Declared by the sender, no answer (e.g. MaxRecvDataSegmentLength, InitiatorName). */
  | {
      readonly type: 'declarative'
      readonly value: 'text' | 'number'
      readonly range?: readonly [number, number]
    }
  /** §12: CHAP and AuthMethod, handled by the security stage (login/chap.ts). */
  | { readonly type: 'security' }
  /** §13.25: obsoleted marker keys; answered with a constant. */
  | { readonly type: 'obsolete'; readonly answer: 'No' | 'Reject' }

export interface KeyDescriptor {
  readonly section: string
  readonly use: KeyUse
  readonly scope: KeyScope
  readonly senders: KeySenders
  readonly kind: KeyKind
  /** The value in force when nobody negotiates it (§13); null when there is none. */
  readonly initial: string | null
  /** §13.10-§13.19 "Irrelevant when: SessionType=Discovery". */
  readonly discoveryIrrelevant?: true
}

const dataLength = [512, 2 ** 24 - 1] as const

function security(section: string): KeyDescriptor {
  const kind = { type: 'security' } as const
  return { section, use: 'SEC', scope: 'CO', senders: 'both', kind, initial: null }
}

export const keys = {
  HeaderDigest: {
    section: '§13.1',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'list', values: ['CRC32C', 'None'] },
    initial: 'None',
  },
  DataDigest: {
    section: '§13.1',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'list', values: ['CRC32C', 'None'] },
    initial: 'None',
  },
  MaxConnections: {
    section: '§13.2',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: [1, 65_535] },
    initial: '1',
  },
  SendTargets: {
    section: '§13.3',
    use: 'FFPO',
    scope: 'SW',
    senders: 'initiator',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  TargetName: {
    section: '§13.4',
    use: 'IO',
    scope: 'SW',
    senders: 'initiator',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  InitiatorName: {
    section: '§13.5',
    use: 'IO',
    scope: 'SW',
    senders: 'initiator',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  TargetAlias: {
    section: '§13.6',
    use: 'ALL',
    scope: 'SW',
    senders: 'target',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  InitiatorAlias: {
    section: '§13.7',
    use: 'ALL',
    scope: 'SW',
    senders: 'initiator',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  TargetAddress: {
    section: '§13.8',
    use: 'ALL',
    scope: 'SW',
    senders: 'target',
    kind: { type: 'declarative', value: 'text' },
    initial: null,
  },
  TargetPortalGroupTag: {
    section: '§13.9',
    use: 'IO',
    scope: 'SW',
    senders: 'target',
    kind: { type: 'declarative', value: 'number', range: [0, 65_535] },
    initial: null,
  },
  InitialR2T: {
    section: '§13.10',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'boolean', result: 'or' },
    initial: 'Yes',
    discoveryIrrelevant: true,
  },
  ImmediateData: {
    section: '§13.11',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'boolean', result: 'and' },
    initial: 'Yes',
    discoveryIrrelevant: true,
  },
  MaxRecvDataSegmentLength: {
    section: '§13.12',
    use: 'ALL',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'declarative', value: 'number', range: dataLength },
    initial: '8192',
  },
  MaxBurstLength: {
    section: '§13.13',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: dataLength },
    initial: '262144',
    discoveryIrrelevant: true,
  },
  FirstBurstLength: {
    section: '§13.14',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: dataLength },
    initial: '65536',
    discoveryIrrelevant: true,
  },
  DefaultTime2Wait: {
    section: '§13.15',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'max', range: [0, 3_600] },
    initial: '2',
  },
  DefaultTime2Retain: {
    section: '§13.16',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: [0, 3_600] },
    initial: '20',
  },
  MaxOutstandingR2T: {
    section: '§13.17',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: [1, 65_535] },
    initial: '1',
    discoveryIrrelevant: true,
  },
  DataPDUInOrder: {
    section: '§13.18',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'boolean', result: 'or' },
    initial: 'Yes',
    discoveryIrrelevant: true,
  },
  DataSequenceInOrder: {
    section: '§13.19',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'boolean', result: 'or' },
    initial: 'Yes',
    discoveryIrrelevant: true,
  },
  ErrorRecoveryLevel: {
    section: '§13.20',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: [0, 2] },
    initial: '0',
  },
  SessionType: {
    section: '§13.21',
    use: 'LO',
    scope: 'SW',
    senders: 'initiator',
    kind: { type: 'declarative', value: 'text' },
    initial: 'Normal',
  },
  TaskReporting: {
    section: '§13.23',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'list', values: ['RFC3720'] },
    initial: 'RFC3720',
  },
  iSCSIProtocolLevel: {
    section: 'RFC 7144 §2.1',
    use: 'LO',
    scope: 'SW',
    senders: 'both',
    kind: { type: 'number', result: 'min', range: [0, 31] },
    initial: '0',
  },
  OFMarker: {
    section: '§13.25',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'obsolete', answer: 'No' },
    initial: 'No',
  },
  IFMarker: {
    section: '§13.25',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'obsolete', answer: 'No' },
    initial: 'No',
  },
  OFMarkInt: {
    section: '§13.25',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'obsolete', answer: 'Reject' },
    initial: null,
  },
  IFMarkInt: {
    section: '§13.25',
    use: 'IO',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'obsolete', answer: 'Reject' },
    initial: null,
  },
  AuthMethod: {
    section: '§12.1',
    use: 'SEC',
    scope: 'CO',
    senders: 'both',
    kind: { type: 'security' },
    initial: 'None',
  },
  CHAP_A: security('§12.1.3'),
  CHAP_I: security('§12.1.3'),
  CHAP_C: security('§12.1.3'),
  CHAP_N: security('§12.1.3'),
  CHAP_R: security('§12.1.3'),
} as const satisfies Record<string, KeyDescriptor>

export type KeyName = keyof typeof keys

export function isKeyName(name: string): name is KeyName {
  return Object.hasOwn(keys, name)
}

/** RFC 7143 §6.2: the constants a responder answers with instead of a value. */
export const KeyAnswer = {
  notUnderstood: 'NotUnderstood',
  reject: 'Reject',
  irrelevant: 'Irrelevant',
} as const
