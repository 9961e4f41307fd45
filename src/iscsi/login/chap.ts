/**
 * CHAP authentication in the security stage, target side (RFC 7143 §12.1.3, RFC 1994), with
 * mutual CHAP when the initiator asks for it. This file is the randomness door for iSCSI:
 * challenges come from node:crypto's randomBytes (or an injected source in tests). Secrets are
 * compared in constant time and never logged or put in an error detail.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { assert } from '../../base/assert.ts'
import type { ChapCredential, ChapPolicy } from '../catalog.ts'

/** CHAP_A values (IANA "PPP Authentication Algorithms", as used by RFC 7143 §12.1.3). */
export const ChapAlgorithm = {
  md5: 5,
  sha1: 6,
  sha256: 7,
  sha3_256: 8,
} as const
export type ChapAlgorithm = (typeof ChapAlgorithm)[keyof typeof ChapAlgorithm]

const hashOf: Record<ChapAlgorithm, { name: string; bytes: number }> = {
  [ChapAlgorithm.md5]: { name: 'md5', bytes: 16 },
  [ChapAlgorithm.sha1]: { name: 'sha1', bytes: 20 },
  [ChapAlgorithm.sha256]: { name: 'sha256', bytes: 32 },
  [ChapAlgorithm.sha3_256]: { name: 'sha3-256', bytes: 32 },
}

/** The algorithms we accept; of several offered, the initiator's first one we support wins. */
export const chapAlgorithmsSupported: readonly ChapAlgorithm[] = [
  ChapAlgorithm.sha3_256,
  ChapAlgorithm.sha256,
  ChapAlgorithm.sha1,
  ChapAlgorithm.md5,
]

export type RandomSource = (byteCount: number) => Uint8Array

export type ChapStep =
  /** Send these keys and wait for the initiator's next security-stage PDU. */
  | { readonly kind: 'continue'; readonly reply: readonly (readonly [string, string])[] }
  /** The initiator proved its identity; send `reply` (the mutual answer, if any). */
  | { readonly kind: 'authenticated'; readonly reply: readonly (readonly [string, string])[] }
  /** Login fails with authentication failure (§11.13.5); `detail` is safe to log. */
  | { readonly kind: 'failed'; readonly detail: string }

/** RFC 1994 §4.1: Response = H(Identifier || secret || Challenge). */
export function chapResponse(
  algorithm: ChapAlgorithm,
  identifier: number,
  secret: string,
  challenge: Uint8Array,
): Uint8Array {
  assert(identifier >= 0 && identifier <= 255)
  const hash = createHash(hashOf[algorithm].name)
  hash.update(Uint8Array.of(identifier))
  hash.update(secret, 'utf8')
  hash.update(challenge)
  return new Uint8Array(hash.digest())
}

/** RFC 7143 §6.1 binary-value: 0x hex or 0b base64; null when malformed. */
export function decodeBinary(text: string): Uint8Array | null {
  const prefix = text.slice(0, 2).toLowerCase()
  const body = text.slice(2)
  if (prefix === '0x' && body.length > 0 && /^[0-9a-fA-F]+$/.test(body)) {
    const even = body.length % 2 === 0 ? body : `0${body}`
    return new Uint8Array(Buffer.from(even, 'hex'))
  }
  if (prefix === '0b' && body.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    return new Uint8Array(Buffer.from(body, 'base64'))
  }
  return null
}

export function encodeHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`
}

/** One CHAP exchange for one login (§12.1.3): algorithm → challenge → response (→ mutual). */
export class ChapExchange {
  #state: 'awaitAlgorithm' | 'awaitResponse' | 'done' = 'awaitAlgorithm'
  #algorithm: ChapAlgorithm = ChapAlgorithm.md5
  #identifier = 0
  #challenge: Uint8Array = new Uint8Array(0)

  constructor(
    private readonly policy: ChapPolicy,
    private readonly random: RandomSource = defaultRandom,
  ) {}

  get done(): boolean {
    return this.#state === 'done'
  }

  /** Feeds the CHAP_* keys of one security-stage request (other keys are not passed in). */
  receive(chapKeys: ReadonlyMap<string, string>): ChapStep {
    if (this.#state === 'awaitAlgorithm') return this.#chooseAlgorithm(chapKeys)
    if (this.#state === 'awaitResponse') return this.#checkResponse(chapKeys)
    return failed('CHAP keys after authentication completed')
  }

  #chooseAlgorithm(chapKeys: ReadonlyMap<string, string>): ChapStep {
    const offered = chapKeys.get('CHAP_A')
    if (offered === undefined) return { kind: 'continue', reply: [] }
    const algorithm = offered
      .split(',')
      .map(Number)
      .find((a): a is ChapAlgorithm => chapAlgorithmsSupported.includes(a as ChapAlgorithm))
    // §12.1.3: an initiator that offers no algorithm we support gets CHAP_A=Reject, and we fail.
    if (algorithm === undefined) return failed(`no supported CHAP_A in ${offered}`)
    this.#algorithm = algorithm
    this.#identifier = this.random(1)[0]!
    this.#challenge = this.random(hashOf[algorithm].bytes)
    this.#state = 'awaitResponse'
    return {
      kind: 'continue',
      reply: [
        ['CHAP_A', String(algorithm)],
        ['CHAP_I', String(this.#identifier)],
        ['CHAP_C', encodeHex(this.#challenge)],
      ],
    }
  }

  #checkResponse(chapKeys: ReadonlyMap<string, string>): ChapStep {
    const user = chapKeys.get('CHAP_N')
    const responseText = chapKeys.get('CHAP_R')
    if (user === undefined || responseText === undefined) return failed('CHAP_N or CHAP_R missing')
    const response = decodeBinary(responseText)
    if (response === null) return failed('CHAP_R is not a binary value')
    const expected = chapResponse(
      this.#algorithm,
      this.#identifier,
      this.policy.initiator.secret,
      this.#challenge,
    )
    const userMatches = constantTimeEqual(utf8(user), utf8(this.policy.initiator.user))
    const responseMatches = constantTimeEqual(response, expected)
    if (!userMatches || !responseMatches) return failed(`CHAP response for user ${user} is wrong`)
    const mutual = this.#mutualAnswer(chapKeys)
    if (mutual.kind === 'failed') return mutual
    this.#state = 'done'
    return mutual
  }

  /** §12.1.3: the initiator's CHAP_I and CHAP_C ask the target to prove itself. */
  #mutualAnswer(chapKeys: ReadonlyMap<string, string>): ChapStep {
    const identifierText = chapKeys.get('CHAP_I')
    const challengeText = chapKeys.get('CHAP_C')
    if (identifierText === undefined && challengeText === undefined) {
      return { kind: 'authenticated', reply: [] }
    }
    if (identifierText === undefined || challengeText === undefined) {
      return failed('mutual CHAP needs both CHAP_I and CHAP_C')
    }
    const identifier = /^[0-9]{1,3}$/.test(identifierText) ? Number(identifierText) : -1
    const challenge = decodeBinary(challengeText)
    if (identifier < 0 || identifier > 255 || challenge === null || challenge.length === 0) {
      return failed('malformed mutual CHAP_I or CHAP_C')
    }
    // §12.1.3: a challenge equal to ours is a reflection attack; the login fails.
    if (constantTimeEqual(challenge, this.#challenge))
      return failed('CHAP_C reflects our challenge')
    const credential: ChapCredential | null = this.policy.target
    if (credential === null) return failed('mutual CHAP requested but not configured')
    const answer = chapResponse(this.#algorithm, identifier, credential.secret, challenge)
    return {
      kind: 'authenticated',
      reply: [
        ['CHAP_N', credential.user],
        ['CHAP_R', encodeHex(answer)],
      ],
    }
  }
}

function failed(detail: string): ChapStep {
  return { kind: 'failed', detail }
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Compares without leaking where the first difference is; lengths may differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(b, b)
    return false
  }
  return timingSafeEqual(a, b)
}

function defaultRandom(byteCount: number): Uint8Array {
  return new Uint8Array(randomBytes(byteCount))
}
