import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { keys } from './keys.ts'
import {
  applyAgreed,
  initialConnectionParameters,
  initialSessionParameters,
  type NegotiationContext,
  negotiate,
  parseNumber,
  type TargetOffer,
} from './negotiate.ts'

const offer: TargetOffer = {
  headerDigest: ['CRC32C', 'None'],
  dataDigest: ['None'],
  maxConnections: 1,
  initialR2T: false,
  immediateData: true,
  maxBurstLength: 1_048_576,
  firstBurstLength: 262_144,
  defaultTime2Wait: 2,
  defaultTime2Retain: 0,
  maxOutstandingR2T: 4,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  errorRecoveryLevel: 0,
  iSCSIProtocolLevel: 1,
}
const login: NegotiationContext = { phase: 'login', leadingConnection: true, sessionType: 'Normal' }

const numeric = Object.entries(keys).flatMap(([name, d]) =>
  d.kind.type === 'number' ? [{ name, kind: d.kind }] : [],
)
const ours: Record<string, number> = {
  MaxConnections: 1,
  MaxBurstLength: 1_048_576,
  FirstBurstLength: 262_144,
  DefaultTime2Wait: 2,
  DefaultTime2Retain: 0,
  MaxOutstandingR2T: 4,
  ErrorRecoveryLevel: 0,
  iSCSIProtocolLevel: 1,
}

test('Negotiate.NumbersTakeTheMinimumOrMaximumWithinRange [RFC7143 §6.2.2]', () => {
  for (const { name, kind } of numeric) {
    fc.assert(
      fc.property(fc.integer({ min: kind.range[0], max: kind.range[1] }), (theirs) => {
        const result = negotiate(name, String(theirs), offer, login)
        assert.equal(result.kind, 'answer')
        if (result.kind !== 'answer') return
        const mine = ours[name]!
        const expected = kind.result === 'min' ? Math.min(theirs, mine) : Math.max(theirs, mine)
        assert.equal(result.answer, String(expected))
        assert.equal(result.value, result.answer)
      }),
      { numRuns: 50 },
    )
  }
})

test('Negotiate.OutOfRangeOrMalformedNumbersAreRejected [RFC7143 §6.2.2]', () => {
  for (const { name, kind } of numeric) {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: kind.range[1] + 1, max: 2 ** 40 }).map(String),
          fc
            .integer({ min: 0, max: Math.max(0, kind.range[0] - 1) })
            .map((n) => (kind.range[0] === 0 ? '-1' : String(n))),
          fc.constantFrom('', 'abc', '-1', '1.5', '0x', '12a'),
        ),
        (text) => {
          assert.deepEqual(negotiate(name, text, offer, login), {
            kind: 'constant',
            answer: 'Reject',
          })
        },
      ),
      { numRuns: 30 },
    )
  }
})

test('Negotiate.BooleansAndOr [RFC7143 §6.2.2, §13.10, §13.11]', () => {
  const answer = (name: string, value: string) => {
    const result = negotiate(name, value, offer, login)
    return result.kind === 'answer' || result.kind === 'constant' ? result.answer : result.kind
  }
  assert.equal(answer('InitialR2T', 'Yes'), 'Yes') // OR: theirs wins when Yes
  assert.equal(answer('InitialR2T', 'No'), 'No') // we offer No
  assert.equal(answer('ImmediateData', 'Yes'), 'Yes') // AND with our Yes
  assert.equal(answer('ImmediateData', 'No'), 'No')
  assert.equal(answer('DataPDUInOrder', 'No'), 'Yes') // OR with our Yes
  assert.equal(answer('ImmediateData', 'yes'), 'Reject')
  assert.equal(answer('OFMarker', 'Yes'), 'No') // §13.25 obsolete: answer No
  assert.equal(answer('OFMarkInt', '2048~4096'), 'Reject')
})

test('Negotiate.ListsPickTheFirstOfferedValueWeSupport [RFC7143 §6.2.1]', () => {
  const pick = (name: string, value: string) => negotiate(name, value, offer, login)
  assert.deepEqual(pick('HeaderDigest', 'None,CRC32C'), {
    kind: 'answer',
    answer: 'None',
    value: 'None',
  })
  assert.deepEqual(pick('HeaderDigest', 'CRC32C,None'), {
    kind: 'answer',
    answer: 'CRC32C',
    value: 'CRC32C',
  })
  assert.deepEqual(pick('DataDigest', 'CRC32C'), { kind: 'constant', answer: 'Reject' })
  assert.deepEqual(pick('HeaderDigest', 'MD5,None'), {
    kind: 'answer',
    answer: 'None',
    value: 'None',
  })
})

test('Negotiate.UnknownAndExtensionKeysAreNotUnderstood [RFC7143 §6.2, §13.26]', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), (suffix) => {
      for (const name of [`X-${suffix}`, `X#${suffix}`]) {
        assert.deepEqual(negotiate(name, 'v', offer, login), {
          kind: 'constant',
          answer: 'NotUnderstood',
        })
      }
    }),
  )
  assert.equal(negotiate('constructor', 'x', offer, login).kind, 'constant')
})

test('Negotiate.PlacementRules [RFC7143 §13 Use, §13.10 Irrelevant]', () => {
  const ffp: NegotiationContext = { ...login, phase: 'fullFeature' }
  assert.deepEqual(negotiate('MaxBurstLength', '512', offer, ffp), {
    kind: 'constant',
    answer: 'Reject',
  })
  assert.deepEqual(negotiate('SendTargets', 'All', offer, login), {
    kind: 'constant',
    answer: 'Reject',
  })
  assert.deepEqual(negotiate('TargetAlias', 'x', offer, login), {
    kind: 'constant',
    answer: 'Reject',
  })
  const discovery: NegotiationContext = { ...login, sessionType: 'Discovery' }
  assert.deepEqual(negotiate('InitialR2T', 'Yes', offer, discovery), {
    kind: 'constant',
    answer: 'Irrelevant',
  })
  const secondary: NegotiationContext = { ...login, leadingConnection: false }
  assert.deepEqual(negotiate('MaxBurstLength', '512', offer, secondary), {
    kind: 'constant',
    answer: 'Irrelevant',
  })
  assert.deepEqual(negotiate('MaxRecvDataSegmentLength', '4096', offer, ffp), {
    kind: 'declared',
    value: '4096',
  })
  assert.deepEqual(negotiate('MaxRecvDataSegmentLength', '511', offer, login), {
    kind: 'constant',
    answer: 'Reject',
  })
  assert.deepEqual(negotiate('CHAP_A', '5', offer, login), { kind: 'security' })
})

test('Negotiate.NumbersAcceptHexConstants [RFC7143 §6.1]', () => {
  assert.equal(parseNumber('0x200'), 512)
  assert.equal(parseNumber('0X1F'), 31)
  assert.equal(parseNumber('65536'), 65536)
  assert.equal(parseNumber('0b1'), null)
})

test('Negotiate.AppliedValuesKeepFirstBurstWithinMaxBurst [RFC7143 §13.14]', () => {
  let parameters = {
    session: initialSessionParameters(),
    connection: initialConnectionParameters(65536),
  }
  parameters = applyAgreed(parameters, 'MaxBurstLength', '4096')
  assert.equal(parameters.session.firstBurstLength, 4096)
  parameters = applyAgreed(parameters, 'HeaderDigest', 'CRC32C')
  parameters = applyAgreed(parameters, 'MaxRecvDataSegmentLength', '1024')
  assert.equal(parameters.connection.headerDigest, true)
  assert.equal(parameters.connection.initiatorMaxRecvDataSegmentLength, 1024)
  assert.equal(applyAgreed(parameters, 'TargetAlias', 'x'), parameters)
})
