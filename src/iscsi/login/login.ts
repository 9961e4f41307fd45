/**
 * The login phase of one connection, target side (RFC 7143 §6.3, §11.12, §11.13): stages
 * (security → operational → full feature), the CSG/NSG/T/C rules, version check, the required
 * InitiatorName/TargetName/SessionType declarations, target lookup and ACL, AuthMethod and CHAP,
 * and operational key negotiation. Sans-IO: each Login Request in, one outcome out; the
 * connection fills in the sequence numbers and TSIH and puts the response on the wire.
 */

import type { ChapPolicy, ExportedTarget, TargetCatalog } from '../catalog.ts'
import type { LoginRequest } from '../pdu/types.ts'
import { iscsiVersion, LoginStage } from '../spec/login_stage.ts'
import { LoginStatus } from '../spec/login_status.ts'
import { encodeTextData, parseTextData } from '../text/key_value.ts'
import { KeyAnswer } from '../text/keys.ts'
import {
  applyAgreed,
  initialConnectionParameters,
  initialSessionParameters,
  negotiate,
  type Parameters,
  type TargetOffer,
} from '../text/negotiate.ts'
import { ChapExchange, type RandomSource } from './chap.ts'

/** What a login needs from the rest of the target. */
export interface LoginEnvironment {
  readonly catalog: TargetCatalog
  readonly offer: TargetOffer
  /** MaxRecvDataSegmentLength we declare. */
  readonly maxRecvDataSegmentLength: number
  readonly textBytesMax: number
  /** RFC 7143 §11.12.1: does a session with this ISID and TSIH exist for this initiator? */
  sessionExists(initiatorName: string, isid: Uint8Array, tsih: number): boolean
  readonly random?: RandomSource
}

/** The response fields the login decides; the connection adds ISID, TSIH, ITT and numbers. */
export interface LoginReply {
  readonly transit: boolean
  readonly continue: boolean
  readonly currentStage: number
  readonly nextStage: number
  readonly status: number
  readonly data: Uint8Array
}

/** What a completed login established. */
export interface LoginResult {
  readonly initiatorName: string
  readonly initiatorAlias: string | null
  readonly sessionType: 'Normal' | 'Discovery'
  /** Null for discovery sessions. */
  readonly target: ExportedTarget | null
  readonly isid: Uint8Array
  /** 0 for a new session (the registry assigns one), else the session joined. */
  readonly tsih: number
  readonly cid: number
  /** The CmdSN of the first Login Request: the session's first ExpCmdSN (§11.12.8). */
  readonly initialCmdSN: number
  readonly parameters: Parameters
}

export type LoginOutcome =
  /** Send the reply and wait for the next Login Request. */
  | { readonly kind: 'reply'; readonly reply: LoginReply }
  /** Send the reply (a failure status) and close the connection (§11.13.5). */
  | { readonly kind: 'fail'; readonly reply: LoginReply; readonly detail: string }
  /** Send the reply (T=1, NSG=3): the connection enters Full Feature Phase. */
  | { readonly kind: 'complete'; readonly reply: LoginReply; readonly result: LoginResult }

type Pairs = (readonly [string, string])[]

/** Keys the first Login Request declares (§13.4-§13.7, §13.21); never negotiated again. */
const identityKeys = new Set(['InitiatorName', 'InitiatorAlias', 'TargetName', 'SessionType'])

export class Login {
  #stage: number = LoginStage.securityNegotiation
  #first: LoginRequest | null = null
  #identity: Omit<LoginResult, 'parameters' | 'tsih' | 'cid' | 'isid' | 'initialCmdSN'> | null =
    null
  #parameters: Parameters
  #negotiated = new Set<string>()
  #text: Uint8Array[] = []
  #textBytes = 0
  #chap: ChapExchange | null = null
  #authenticated = false
  #authMethodAgreed = false
  #declaredMrdsl = false

  constructor(private readonly env: LoginEnvironment) {
    this.#parameters = {
      session: initialSessionParameters(),
      connection: initialConnectionParameters(env.maxRecvDataSegmentLength),
    }
  }

  receive(request: LoginRequest): LoginOutcome {
    const shape = this.#checkShape(request)
    if (shape !== null) return shape
    if (request.continue) return this.#collect(request)
    const text = this.#takeText(request.data)
    if (text === null) return this.#fail(LoginStatus.initiatorError, 'login text too long')
    const parsed = parseTextData(text)
    if (!parsed.ok) return this.#fail(LoginStatus.initiatorError, parsed.detail)
    if (this.#first === null) {
      this.#first = request
      const identity = this.#identify(request, parsed.pairs)
      if (identity !== null) return identity
      this.#authenticated = this.#chapPolicy() === null
    }
    if (request.currentStage === LoginStage.operationalNegotiation && !this.#authenticated) {
      // §6.3: an initiator that skips a required security stage fails authentication.
      return this.#fail(LoginStatus.authenticationFailure, 'security stage skipped')
    }
    return this.#negotiateStage(request, parsed.pairs)
  }

  /** RFC 7143 §11.12.2-§11.12.4: version, stage and flag rules. */
  #checkShape(request: LoginRequest): LoginOutcome | null {
    if (
      this.#first === null &&
      (request.versionMin > iscsiVersion || request.versionMax < iscsiVersion)
    ) {
      return this.#fail(LoginStatus.unsupportedVersion, 'no common version')
    }
    if (request.transit && request.continue) {
      return this.#fail(LoginStatus.initiatorError, 'T and C both set')
    }
    if (request.currentStage !== this.#stage) {
      // The first request may start in the operational stage (security skipped, §6.3).
      const skipping =
        this.#first === null && request.currentStage === LoginStage.operationalNegotiation
      if (!skipping) return this.#fail(LoginStatus.initiatorError, 'unexpected CSG')
      this.#stage = LoginStage.operationalNegotiation
    }
    if (request.transit) {
      const next = request.nextStage
      const legal =
        next === LoginStage.operationalNegotiation || next === LoginStage.fullFeaturePhase
      if (!legal || next <= request.currentStage) {
        return this.#fail(LoginStatus.initiatorError, `illegal NSG ${next}`)
      }
    }
    const first = this.#first
    if (first !== null && (first.tsih !== request.tsih || !sameBytes(first.isid, request.isid))) {
      return this.#fail(LoginStatus.initiatorError, 'ISID or TSIH changed during login')
    }
    return null
  }

  /** §11.12.1 C bit: gather the text and answer with an empty response (§6.3). */
  #collect(request: LoginRequest): LoginOutcome {
    this.#textBytes += request.data.length
    if (this.#textBytes > this.env.textBytesMax) {
      return this.#fail(LoginStatus.initiatorError, 'login text too long')
    }
    this.#text.push(request.data.slice())
    return { kind: 'reply', reply: this.#reply(false, 0, []) }
  }

  #takeText(last: Uint8Array): Uint8Array | null {
    if (this.#text.length === 0) return last.length <= this.env.textBytesMax ? last : null
    const total = this.#textBytes + last.length
    if (total > this.env.textBytesMax) return null
    const joined = new Uint8Array(total)
    let offset = 0
    for (const part of [...this.#text, last]) {
      joined.set(part, offset)
      offset += part.length
    }
    this.#text = []
    this.#textBytes = 0
    return joined
  }

  /** The declarations of the first Login Request (§13.4, §13.5, §13.21) and the target check. */
  #identify(request: LoginRequest, pairs: Pairs): LoginOutcome | null {
    const get = (name: string): string | undefined => pairs.find(([key]) => key === name)?.[1]
    const initiatorName = get('InitiatorName')
    if (initiatorName === undefined || initiatorName === '') {
      return this.#fail(LoginStatus.missingParameter, 'InitiatorName missing')
    }
    const sessionTypeText = get('SessionType') ?? 'Normal'
    if (sessionTypeText !== 'Normal' && sessionTypeText !== 'Discovery') {
      return this.#fail(LoginStatus.sessionTypeNotSupported, `SessionType ${sessionTypeText}`)
    }
    const sessionType = sessionTypeText
    let target: ExportedTarget | null = null
    if (sessionType === 'Normal') {
      const targetName = get('TargetName')
      if (targetName === undefined)
        return this.#fail(LoginStatus.missingParameter, 'TargetName missing')
      target = this.env.catalog.target(targetName)
      if (target === null) return this.#fail(LoginStatus.targetNotFound, `no target ${targetName}`)
      if (!target.allows(initiatorName)) {
        return this.#fail(LoginStatus.authorizationFailure, `${initiatorName} not allowed`)
      }
    }
    if (request.tsih !== 0 && !this.env.sessionExists(initiatorName, request.isid, request.tsih)) {
      return this.#fail(LoginStatus.sessionDoesNotExist, `no session with TSIH ${request.tsih}`)
    }
    const initiatorAlias = get('InitiatorAlias') ?? null
    this.#identity = { initiatorName, initiatorAlias, sessionType, target }
    this.#parameters = applyAgreed(this.#parameters, 'SessionType', sessionType)
    return null
  }

  #chapPolicy(): ChapPolicy | null {
    const identity = this.#identity
    if (identity === null) return null
    if (identity.sessionType === 'Discovery') return this.env.catalog.discoveryChap()
    return identity.target?.chap ?? null
  }

  #negotiateStage(request: LoginRequest, pairs: Pairs): LoginOutcome {
    const reply: Pairs = this.#firstReplyKeys(request)
    const security = new Map<string, string>()
    for (const [name, value] of pairs) {
      if (identityKeys.has(name)) continue
      if (this.#negotiated.has(name) && !name.startsWith('CHAP_')) {
        return this.#fail(LoginStatus.initiatorError, `key ${name} negotiated twice`)
      }
      this.#negotiated.add(name)
      const outcome = negotiate(name, value, this.env.offer, {
        phase: 'login',
        leadingConnection: request.tsih === 0,
        sessionType: this.#identity?.sessionType ?? 'Normal',
      })
      if (outcome.kind === 'security') security.set(name, value)
      else if (outcome.kind === 'constant') reply.push([name, outcome.answer])
      else {
        this.#parameters = applyAgreed(this.#parameters, name, outcome.value)
        if (outcome.kind === 'answer') reply.push([name, outcome.answer])
        if (name === 'MaxRecvDataSegmentLength') this.#declareMrdsl(reply)
      }
    }
    if (security.size > 0) {
      const step = this.#security(request, security, reply)
      if (step !== null) return step
    }
    return this.#transit(request, reply)
  }

  /** §13.9: the first response of a normal session carries TargetPortalGroupTag (and alias). */
  #firstReplyKeys(request: LoginRequest): Pairs {
    const target = this.#identity?.target ?? null
    if (this.#first !== request || target === null) return []
    const keys: Pairs = [['TargetPortalGroupTag', String(target.portalGroupTag)]]
    if (target.alias !== null) keys.push(['TargetAlias', target.alias])
    return keys
  }

  #declareMrdsl(reply: Pairs): void {
    if (this.#declaredMrdsl) return
    this.#declaredMrdsl = true
    reply.push(['MaxRecvDataSegmentLength', String(this.env.maxRecvDataSegmentLength)])
  }

  /** §12.1: AuthMethod, then CHAP. Returns a final outcome, or null to go on to transit. */
  #security(request: LoginRequest, keys: Map<string, string>, reply: Pairs): LoginOutcome | null {
    if (request.currentStage !== LoginStage.securityNegotiation) {
      return this.#fail(LoginStatus.initiatorError, 'security keys outside the security stage')
    }
    const policy = this.#chapPolicy()
    const offered = keys.get('AuthMethod')
    keys.delete('AuthMethod')
    if (offered !== undefined) {
      const chosen = offered.split(',').find((m) => m === (policy === null ? 'None' : 'CHAP'))
      if (chosen === undefined) {
        reply.push(['AuthMethod', KeyAnswer.reject])
        return this.#fail(LoginStatus.authenticationFailure, `AuthMethod ${offered} refused`, reply)
      }
      reply.push(['AuthMethod', chosen])
      this.#authMethodAgreed = true
      if (policy !== null) this.#chap = new ChapExchange(policy, this.env.random)
    }
    if (keys.size === 0) return null
    if (this.#chap === null) return this.#fail(LoginStatus.initiatorError, 'CHAP keys without CHAP')
    const step = this.#chap.receive(keys)
    if (step.kind === 'failed') return this.#fail(LoginStatus.authenticationFailure, step.detail)
    reply.push(...step.reply)
    if (step.kind === 'authenticated') this.#authenticated = true
    return null
  }

  /** §11.12.3: the target grants a requested transit once the stage's work is done. */
  #transit(request: LoginRequest, reply: Pairs): LoginOutcome {
    const inSecurity = this.#stage === LoginStage.securityNegotiation
    const ready = inSecurity ? this.#authenticated && this.#authMethodReady() : true
    if (!request.transit || !ready) {
      return { kind: 'reply', reply: this.#reply(false, 0, reply) }
    }
    const next = request.nextStage
    if (this.#stage === LoginStage.operationalNegotiation && next === LoginStage.fullFeaturePhase) {
      this.#declareMrdsl(reply)
    }
    if (next !== LoginStage.fullFeaturePhase) {
      const answer = this.#reply(true, next, reply)
      this.#stage = next
      return { kind: 'reply', reply: answer }
    }
    return { kind: 'complete', reply: this.#reply(true, next, reply), result: this.#result() }
  }

  /** Without CHAP, a transit needs no AuthMethod exchange; with CHAP it needs the proof. */
  #authMethodReady(): boolean {
    return this.#chapPolicy() === null || (this.#authMethodAgreed && (this.#chap?.done ?? false))
  }

  #result(): LoginResult {
    const first = this.#first
    const identity = this.#identity
    if (first === null || identity === null) throw new Error('login result before identity')
    return {
      ...identity,
      isid: first.isid.slice(),
      tsih: first.tsih,
      cid: first.cid,
      initialCmdSN: first.cmdSN,
      parameters: this.#parameters,
    }
  }

  #reply(transit: boolean, nextStage: number, pairs: Pairs): LoginReply {
    return {
      transit,
      continue: false,
      currentStage: this.#stage,
      nextStage: transit ? nextStage : 0,
      status: LoginStatus.success,
      data: pairs.length === 0 ? new Uint8Array(0) : encodeTextData(pairs),
    }
  }

  #fail(status: number, detail: string, pairs: Pairs = []): LoginOutcome {
    const reply: LoginReply = {
      transit: false,
      continue: false,
      currentStage: this.#stage,
      nextStage: 0,
      status,
      data: pairs.length === 0 ? new Uint8Array(0) : encodeTextData(pairs),
    }
    return { kind: 'fail', reply, detail }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
