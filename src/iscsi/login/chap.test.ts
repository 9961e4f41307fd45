import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { ChapAlgorithm, ChapExchange, chapResponse, decodeBinary } from './chap.ts'

/** An independent RFC 1994 response: H(id || secret || challenge), hex with 0x. */
function expected(hash: string, id: number, secret: string, challenge: Uint8Array): string {
  const h = createHash(hash)
  h.update(Buffer.from([id]))
  h.update(Buffer.from(secret, 'utf8'))
  h.update(challenge)
  return `0x${h.digest('hex')}`
}

const policy = {
  initiator: { user: 'alice', secret: 'initiator-secret' },
  target: { user: 'target', secret: 'target-secret-1' },
}

/** A deterministic random source: 0x11, 0x22, ... */
function counting(): (n: number) => Uint8Array {
  let next = 0x11
  return (n) => Uint8Array.from({ length: n }, () => (next = (next + 0x11) & 0xff))
}

function challengeOf(reply: readonly (readonly [string, string])[]) {
  const map = new Map(reply)
  return { id: Number(map.get('CHAP_I')), challenge: decodeBinary(map.get('CHAP_C')!)! }
}

test('Chap.Md5VectorMatchesNodeCrypto [RFC1994 §4.1, RFC7143 §12.1.3]', () => {
  const challenge = Uint8Array.from({ length: 16 }, (_, i) => i)
  const ours = chapResponse(ChapAlgorithm.md5, 7, 'secret', challenge)
  assert.equal(`0x${Buffer.from(ours).toString('hex')}`, expected('md5', 7, 'secret', challenge))
  const sha = chapResponse(ChapAlgorithm.sha256, 255, 'secret', challenge)
  assert.equal(
    `0x${Buffer.from(sha).toString('hex')}`,
    expected('sha256', 255, 'secret', challenge),
  )
})

for (const [name, algorithm, hash, bytes] of [
  ['Md5', ChapAlgorithm.md5, 'md5', 16],
  ['Sha256', ChapAlgorithm.sha256, 'sha256', 32],
  ['Sha3', ChapAlgorithm.sha3_256, 'sha3-256', 32],
] as const) {
  test(`Chap.${name}MutualExchange [RFC7143 §12.1.3]`, () => {
    const exchange = new ChapExchange(policy, counting())
    const first = exchange.receive(new Map([['CHAP_A', `99,${algorithm},5`]]))
    assert.equal(first.kind, 'continue')
    assert.equal(
      new Map(first.kind === 'continue' ? first.reply : []).get('CHAP_A'),
      String(algorithm),
    )
    const { id, challenge } = challengeOf(first.kind === 'continue' ? first.reply : [])
    assert.equal(challenge.length, bytes)
    const ourChallenge = Uint8Array.from({ length: 16 }, (_, i) => 200 - i)
    const second = exchange.receive(
      new Map([
        ['CHAP_N', 'alice'],
        ['CHAP_R', expected(hash, id, policy.initiator.secret, challenge)],
        ['CHAP_I', '42'],
        ['CHAP_C', `0x${Buffer.from(ourChallenge).toString('hex')}`],
      ]),
    )
    assert.equal(second.kind, 'authenticated')
    const answer = new Map(second.kind === 'authenticated' ? second.reply : [])
    assert.equal(answer.get('CHAP_N'), 'target')
    assert.equal(answer.get('CHAP_R'), expected(hash, 42, policy.target.secret, ourChallenge))
    assert.ok(exchange.done)
  })
}

test('Chap.Base64ResponseAccepted [RFC7143 §6.1 binary-value]', () => {
  const exchange = new ChapExchange(policy, counting())
  const first = exchange.receive(new Map([['CHAP_A', '5']]))
  const { id, challenge } = challengeOf(first.kind === 'continue' ? first.reply : [])
  const hex = expected('md5', id, policy.initiator.secret, challenge).slice(2)
  const step = exchange.receive(
    new Map([
      ['CHAP_N', 'alice'],
      ['CHAP_R', `0b${Buffer.from(hex, 'hex').toString('base64')}`],
    ]),
  )
  assert.deepEqual(step, { kind: 'authenticated', reply: [] })
})

test('Chap.WrongSecretOrUserFails [RFC7143 §12.1.3]', () => {
  for (const [user, secret] of [
    ['alice', 'wrong'],
    ['mallory', policy.initiator.secret],
  ] as const) {
    const exchange = new ChapExchange(policy, counting())
    const first = exchange.receive(new Map([['CHAP_A', '5']]))
    const { id, challenge } = challengeOf(first.kind === 'continue' ? first.reply : [])
    const step = exchange.receive(
      new Map([
        ['CHAP_N', user],
        ['CHAP_R', expected('md5', id, secret, challenge)],
      ]),
    )
    assert.equal(step.kind, 'failed')
    assert.ok(step.kind === 'failed' && !step.detail.includes(policy.initiator.secret))
  }
})

test('Chap.ReflectedChallengeFails [RFC7143 §12.1.3]', () => {
  const exchange = new ChapExchange(policy, counting())
  const first = exchange.receive(new Map([['CHAP_A', '5']]))
  const reply = new Map(first.kind === 'continue' ? first.reply : [])
  const { id, challenge } = challengeOf(first.kind === 'continue' ? first.reply : [])
  const step = exchange.receive(
    new Map([
      ['CHAP_N', 'alice'],
      ['CHAP_R', expected('md5', id, policy.initiator.secret, challenge)],
      ['CHAP_I', '1'],
      ['CHAP_C', reply.get('CHAP_C')!],
    ]),
  )
  assert.equal(step.kind, 'failed')
})

test('Chap.UnsupportedAlgorithmAndMutualWithoutCredentialFail [RFC7143 §12.1.3]', () => {
  assert.equal(
    new ChapExchange(policy, counting()).receive(new Map([['CHAP_A', '99']])).kind,
    'failed',
  )
  const oneWay = new ChapExchange({ initiator: policy.initiator, target: null }, counting())
  const first = oneWay.receive(new Map([['CHAP_A', '5']]))
  const { id, challenge } = challengeOf(first.kind === 'continue' ? first.reply : [])
  const step = oneWay.receive(
    new Map([
      ['CHAP_N', 'alice'],
      ['CHAP_R', expected('md5', id, policy.initiator.secret, challenge)],
      ['CHAP_I', '1'],
      ['CHAP_C', '0x0102030405060708'],
    ]),
  )
  assert.equal(step.kind, 'failed')
})
