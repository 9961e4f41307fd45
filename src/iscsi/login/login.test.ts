import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { resolveLimits } from '../limits.ts'
import type { LoginRequest } from '../pdu/types.ts'
import { offerFromLimits } from '../portal.ts'
import { fakeCatalog, initiatorName, loginRequest, targetName } from '../session/testing.ts'
import { LoginStatus } from '../spec/login_status.ts'
import { parseTextData } from '../text/key_value.ts'
import { decodeBinary } from './chap.ts'
import { Login, type LoginEnvironment, type LoginOutcome } from './login.ts'

const limits = resolveLimits()
const identity = [
  ['InitiatorName', initiatorName],
  ['TargetName', targetName],
] as const

function environment(options: Parameters<typeof fakeCatalog>[0] = {}): LoginEnvironment {
  return {
    catalog: fakeCatalog(options).catalog,
    offer: offerFromLimits(limits),
    maxRecvDataSegmentLength: limits.maxRecvDataSegmentLength,
    textBytesMax: limits.textBytesMax,
    sessionExists: () => false,
    random: (n) => new Uint8Array(n).fill(0x5a),
  }
}

function keysOf(outcome: LoginOutcome): Map<string, string> {
  const parsed = parseTextData(outcome.reply.data)
  assert.ok(parsed.ok)
  return new Map(parsed.pairs)
}

/** The stage rules of RFC 7143 §11.12.3-§11.12.4 for a first request, written as an oracle. */
function oracle(csg: number, nsg: number, transit: boolean, more: boolean): string {
  if (transit && more) return 'fail'
  if (csg !== 0 && csg !== 1) return 'fail'
  if (more) return 'reply'
  if (!transit) return 'reply'
  if ((nsg !== 1 && nsg !== 3) || nsg <= csg) return 'fail'
  return nsg === 3 ? 'complete' : 'reply:transit'
}

test('Login.StagesExhaustivelyOverCsgNsgTC [RFC7143 §11.12.3, §11.12.4]', () => {
  for (let csg = 0; csg < 4; csg++) {
    for (let nsg = 0; nsg < 4; nsg++) {
      for (const transit of [false, true]) {
        for (const more of [false, true]) {
          const login = new Login(environment())
          const outcome = login.receive(
            loginRequest({
              keys: identity,
              currentStage: csg,
              nextStage: nsg,
              transit,
              continue: more,
            }),
          )
          const label = `CSG=${csg} NSG=${nsg} T=${transit} C=${more}`
          const want = oracle(csg, nsg, transit, more)
          const got =
            outcome.kind === 'reply' && outcome.reply.transit ? 'reply:transit' : outcome.kind
          assert.equal(got, want, label)
          if (outcome.kind === 'fail')
            assert.equal(outcome.reply.status, LoginStatus.initiatorError, label)
          if (got === 'reply:transit') assert.equal(outcome.reply.nextStage, nsg, label)
          if (outcome.kind !== 'fail') assert.equal(outcome.reply.currentStage, csg, label)
        }
      }
    }
  }
})

test('Login.RequiredDeclarationsAndTargetChecks [RFC7143 §11.13.5, §13.4, §13.5]', () => {
  const status = (
    keys: readonly (readonly [string, string])[],
    fields: Partial<LoginRequest> = {},
    options: Parameters<typeof fakeCatalog>[0] = {},
  ) => {
    const env = environment(options)
    return new Login(env).receive(loginRequest({ keys, ...fields })).reply.status
  }
  assert.equal(status([['TargetName', targetName]]), LoginStatus.missingParameter)
  assert.equal(status([['InitiatorName', initiatorName]]), LoginStatus.missingParameter)
  assert.equal(
    status([
      ['InitiatorName', initiatorName],
      ['TargetName', 'iqn.2026-01.x:none'],
    ]),
    LoginStatus.targetNotFound,
  )
  assert.equal(status(identity, {}, { allows: () => false }), LoginStatus.authorizationFailure)
  assert.equal(status(identity, { versionMin: 1, versionMax: 2 }), LoginStatus.unsupportedVersion)
  assert.equal(status([...identity, ['SessionType', 'Bogus']]), LoginStatus.sessionTypeNotSupported)
  assert.equal(status(identity, { tsih: 9 }), LoginStatus.sessionDoesNotExist)
  assert.equal(
    status([
      ['InitiatorName', initiatorName],
      ['SessionType', 'Discovery'],
    ]),
    LoginStatus.success,
  )
  assert.equal(
    status([...identity, ['MaxBurstLength', '512'], ['MaxBurstLength', '1024']]),
    LoginStatus.initiatorError,
  )
})

test('Login.OperationalKeysAnswered [RFC7143 §6.2, §13]', () => {
  const outcome = new Login(environment()).receive(
    loginRequest({
      keys: [
        ...identity,
        ['MaxBurstLength', '65536'],
        ['X-com.example', '1'],
        ['ErrorRecoveryLevel', '2'],
      ],
    }),
  )
  assert.equal(outcome.kind, 'complete')
  const keys = keysOf(outcome)
  assert.equal(keys.get('MaxBurstLength'), '65536')
  assert.equal(keys.get('X-com.example'), 'NotUnderstood')
  assert.equal(keys.get('ErrorRecoveryLevel'), '0')
  assert.equal(keys.get('MaxRecvDataSegmentLength'), String(limits.maxRecvDataSegmentLength))
  assert.ok(
    outcome.kind === 'complete' && outcome.result.parameters.session.maxBurstLength === 65536,
  )
})

test('Login.ContinuedTextIsGathered [RFC7143 §6.1 C bit]', () => {
  const login = new Login(environment())
  const whole = loginRequest({ keys: identity })
  const first = login.receive({
    ...whole,
    transit: false,
    continue: true,
    data: whole.data.subarray(0, 10),
  })
  assert.equal(first.kind, 'reply')
  assert.equal(first.reply.data.length, 0)
  const second = login.receive({ ...whole, data: whole.data.subarray(10) })
  assert.equal(second.kind, 'complete')
})

const chap = { initiator: { user: 'alice', secret: 'sixteen-byte-pw' }, target: null }

function respond(outcome: LoginOutcome): string {
  const keys = keysOf(outcome)
  const challenge = decodeBinary(keys.get('CHAP_C')!)!
  const h = createHash('md5')
  h.update(Buffer.from([Number(keys.get('CHAP_I'))]))
  h.update(chap.initiator.secret)
  h.update(challenge)
  return `0x${h.digest('hex')}`
}

test('Login.ChapThenOperationalThenFullFeature [RFC7143 §12.1.3, §6.3]', () => {
  const login = new Login(environment({ chap }))
  const step1 = login.receive(
    loginRequest({
      keys: [...identity, ['AuthMethod', 'CHAP,None']],
      currentStage: 0,
      nextStage: 1,
    }),
  )
  assert.equal(step1.kind, 'reply')
  assert.equal(keysOf(step1).get('AuthMethod'), 'CHAP')
  assert.equal(step1.reply.transit, false, 'no transit before the proof')
  const step2 = login.receive(
    loginRequest({ keys: [['CHAP_A', '5']], currentStage: 0, nextStage: 1 }),
  )
  assert.equal(keysOf(step2).get('CHAP_A'), '5')
  const step3 = login.receive(
    loginRequest({
      keys: [
        ['CHAP_N', 'alice'],
        ['CHAP_R', respond(step2)],
      ],
      currentStage: 0,
      nextStage: 1,
    }),
  )
  assert.equal(step3.kind, 'reply')
  assert.ok(step3.reply.transit)
  assert.equal(step3.reply.nextStage, 1)
  const step4 = login.receive(loginRequest({ keys: [['MaxRecvDataSegmentLength', '8192']] }))
  assert.equal(step4.kind, 'complete')
})

test('Login.ChapRequiredButRefusedOrSkipped [RFC7143 §12.1, §6.3]', () => {
  const refused = new Login(environment({ chap })).receive(
    loginRequest({
      keys: [...identity, ['AuthMethod', 'None']],
      currentStage: 0,
      nextStage: 1,
    }),
  )
  assert.equal(refused.reply.status, LoginStatus.authenticationFailure)
  assert.equal(keysOf(refused).get('AuthMethod'), 'Reject')
  const skipped = new Login(environment({ chap })).receive(loginRequest({ keys: identity }))
  assert.equal(skipped.reply.status, LoginStatus.authenticationFailure)
  const login = new Login(environment({ chap }))
  login.receive(
    loginRequest({ keys: [...identity, ['AuthMethod', 'CHAP']], currentStage: 0, nextStage: 1 }),
  )
  login.receive(loginRequest({ keys: [['CHAP_A', '5']], currentStage: 0, nextStage: 1 }))
  const wrong = login.receive(
    loginRequest({
      keys: [
        ['CHAP_N', 'alice'],
        ['CHAP_R', `0x${'00'.repeat(16)}`],
      ],
      currentStage: 0,
      nextStage: 1,
    }),
  )
  assert.equal(wrong.reply.status, LoginStatus.authenticationFailure)
})

test('Login.DiscoveryUsesDiscoveryChap [RFC7143 §12, catalog.discoveryChap]', () => {
  const outcome = new Login(environment({ discoveryChap: chap })).receive(
    loginRequest({
      keys: [
        ['InitiatorName', initiatorName],
        ['SessionType', 'Discovery'],
      ],
    }),
  )
  assert.equal(outcome.reply.status, LoginStatus.authenticationFailure)
})
