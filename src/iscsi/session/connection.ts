/**
 * One iSCSI connection, target side, sans-IO (RFC 7143 §4.2, §6, §7 at ERL 0): bytes in through
 * the framer, PDUs out through a `ConnectionTransport` as writev-ready pieces. It runs the login
 * phase, switches digests and data-segment limits on after the final login response, numbers its
 * responses (StatSN), answers NOP-Out, Text (SendTargets and FFP negotiation) and Logout, pings an
 * idle initiator with NOP-In, and hands commands, task management and Data-Out to its session.
 */
import { assert } from '../../base/assert.ts'
import { transferBuffers } from '../../base/buffer_pool.ts'
import { type Clock, Timeout } from '../../base/clock.ts'
import type { Logger } from '../../base/log.ts'
import type { TargetCatalog } from '../catalog.ts'
import { Framer, type FramerEvent } from '../framer.ts'
import type { IscsiLimits } from '../limits.ts'
import type { RandomSource } from '../login/chap.ts'
import type { PortalAddress } from '../login/discovery.ts'
import { Login, type LoginOutcome } from '../login/login.ts'
import { decodePdu } from '../pdu/mod.ts'
import type { Frame, LoginRequest, LogoutRequest, NopOut, TextRequest } from '../pdu/types.ts'
import { LogoutReason, LogoutResponseCode } from '../spec/logout.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { RejectReason } from '../spec/reject_reason.ts'
import type { ConnectionParameters, TargetOffer } from '../text/negotiate.ts'
import { type ConnectionTransport, Outbox } from './outbox.ts'
import type { SessionRegistry } from './registry.ts'
import type { Ordered, Session, SessionLink, TaskResultView } from './session.ts'
import type { Task } from './task.ts'
import { TextExchange } from './text_exchange.ts'

export type { ConnectionTransport } from './outbox.ts'

export interface ConnectionOptions {
  readonly transport: ConnectionTransport
  readonly registry: SessionRegistry
  readonly catalog: TargetCatalog
  readonly clock: Clock
  readonly logger: Logger
  readonly limits: IscsiLimits
  readonly offer: TargetOffer
  /** Where the initiator connected to (for TargetAddress) and from. */
  readonly local: PortalAddress
  readonly remote: PortalAddress
  /** CHAP challenge source; node:crypto's by default (tests inject their own). */
  readonly random?: RandomSource
  /** The bytes `receive` gets are reused once it returns (the framer's `transientChunks`). */
  readonly chunksReused?: boolean
}

export type ConnectionState = 'login' | 'fullFeature' | 'closed'

/** §11.2.1.2: BHS byte 0 carries the opcode in its low six bits. */
const opcodeMask = 0x3f
const rejectReasons = {
  unknownOpcode: RejectReason.commandNotSupported,
  protocolError: RejectReason.protocolError,
  invalidPduField: RejectReason.invalidPduField,
} as const
/** Before a FFP text negotiation says otherwise (§13.12 default). */
const defaultMrdsl = 8192

export class Connection implements SessionLink {
  state: ConnectionState = 'login'
  session: Session | null = null
  cid = 0
  #parameters: ConnectionParameters | null = null
  readonly #framer: Framer
  readonly #out: Outbox
  readonly #login: Login
  readonly #loginTimeout: Timeout
  readonly #idle: Timeout | null
  readonly #pingWait: Timeout
  #pingTag = 0
  /** Rejects sent on this connection; only the first is logged at info (a peer cannot flood). */
  #rejects = 0
  #text: TextExchange | null = null
  #first: LoginRequest | null = null
  readonly logger: Logger

  constructor(readonly options: ConnectionOptions) {
    const limits = options.limits
    this.logger = options.logger.child({ remote: `${options.remote.host}:${options.remote.port}` })
    this.#out = new Outbox(
      options.transport,
      () => this.session?.window ?? null,
      () => this.state === 'closed',
    )
    this.#framer = new Framer(
      {
        maxRecvDataSegmentLength: limits.maxRecvDataSegmentLength,
        headerDigest: false,
        dataDigest: false,
      },
      (bhs, dataBytes) => this.#placeData(bhs, dataBytes),
      options.chunksReused ?? false,
    )
    this.#login = new Login({
      catalog: options.catalog,
      offer: options.offer,
      maxRecvDataSegmentLength: limits.maxRecvDataSegmentLength,
      textBytesMax: limits.textBytesMax,
      sessionExists: (name, isid, tsih) => options.registry.sessionExists(name, isid, tsih),
      ...(options.random === undefined ? {} : { random: options.random }),
    })
    this.#loginTimeout = new Timeout('login', limits.loginTimeoutMs, options.clock)
    this.#loginTimeout.start()
    this.#idle =
      limits.nopInIntervalMs > 0
        ? new Timeout('nop-in interval', limits.nopInIntervalMs, options.clock)
        : null
    this.#pingWait = new Timeout('nop-in answer', limits.nopInTimeoutMs, options.clock)
  }

  /** Bytes from the socket. */
  receive(chunk: Uint8Array): void {
    if (this.state === 'closed') return
    const events = this.#framer.push(chunk)
    for (const event of events) {
      if (this.#closed()) return
      this.#onEvent(event)
    }
  }

  /** Driven by the portal's single timer: login timeout and NOP-In keepalive (§7.1). */
  tick(): void {
    if (this.state === 'login' && this.#loginTimeout.fired()) {
      this.drop('login timeout')
      return
    }
    if (this.state !== 'fullFeature') return
    if (this.#pingWait.fired()) {
      this.drop('NOP-In not answered')
      return
    }
    if (this.#idle?.fired() && !this.#pingWait.running) this.#ping()
  }

  /** The socket closed or failed under us. */
  transportClosed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.#detach('connection lost')
  }

  /** SessionLink: new work should wait while the socket's output queue is over its bound. */
  congested(): boolean {
    return this.options.transport.congested()
  }

  /** The portal saw 'drain': work held back by congestion may go on. */
  drained(): void {
    if (this.state === 'fullFeature') this.session?.resume(this)
  }

  #closed(): boolean {
    return this.state === 'closed'
  }

  /** §11.9.1 event 1: asks the initiator to log out within `seconds` (portal shutdown). */
  requestLogout(seconds: number): void {
    if (this.state !== 'fullFeature') return
    this.#out.logoutRequest(seconds)
  }

  get framerBufferedBytes(): number {
    return this.#framer.bufferedBytes
  }

  #onEvent(event: FramerEvent): void {
    this.#idle?.start()
    this.#pingWait.stop()
    if (event.kind === 'fatal') {
      this.drop(`framing: ${event.reason}`)
      return
    }
    if (event.kind === 'dataDigestError') {
      // §7.8.1: the PDU is discarded and rejected; a lost Data-Out fails its task (ERL 0).
      this.reject(event.bhs, RejectReason.dataDigestError, false, 'data digest error')
      if (this.state === 'fullFeature' && (event.bhs[0]! & opcodeMask) === Opcode.dataOut) {
        this.session?.dataOutLost(event.bhs)
      }
      return
    }
    this.#onFrame(event.frame, event.assembled)
  }

  /** The framer's `place` hook: a Data-Out's data goes straight into its task's buffer. */
  #placeData(bhs: Uint8Array, dataBytes: number): Uint8Array | null {
    if (this.state !== 'fullFeature' || (bhs[0]! & opcodeMask) !== Opcode.dataOut) return null
    return this.session?.placeDataOut(this, bhs, dataBytes) ?? null
  }

  #onFrame(frame: Frame, assembled: Uint8Array | null): void {
    const decoded = decodePdu(frame)
    if (!decoded.ok) {
      if (this.state === 'login') {
        this.drop(`login phase: ${decoded.detail}`)
        return
      }
      const fatal = decoded.reason === 'protocolError'
      this.reject(frame.bhs, rejectReasons[decoded.reason], fatal, decoded.detail)
      return
    }
    const pdu = decoded.pdu
    if (this.state === 'login') {
      if (pdu.opcode !== Opcode.loginRequest) {
        this.drop('non-login PDU during login')
        return
      }
      this.#onLogin(pdu)
      return
    }
    const session = this.session
    assert(session !== null)
    switch (pdu.opcode) {
      case Opcode.scsiCommand:
      case Opcode.taskManagementRequest:
      case Opcode.textRequest:
      case Opcode.logoutRequest:
      case Opcode.nopOut: {
        session.submit({ link: this, pdu, bhs: frame.bhs })
        return
      }
      case Opcode.dataOut: {
        session.dataOut(this, pdu, frame.bhs)
        // The task copied what it keeps (task.ts #place), so an assembled PDU goes back now.
        transferBuffers.release(assembled)
        return
      }
      case Opcode.snackRequest: {
        this.reject(frame.bhs, RejectReason.snackReject, false, 'SNACK at ERL 0')
        return
      }
      default: {
        this.reject(frame.bhs, RejectReason.protocolError, true, 'PDU not allowed in FFP')
        return
      }
    }
  }

  #onLogin(request: LoginRequest): void {
    if (this.#first === null) {
      this.#first = request
      this.#out.startAt(request.expStatSN)
      this.cid = request.cid
    }
    const outcome = this.#login.receive(request)
    if (outcome.kind === 'complete') {
      this.#completeLogin(request, outcome)
      return
    }
    this.#sendLoginResponse(request, outcome.reply, 0)
    if (outcome.kind === 'fail') this.#failLogin(outcome.detail)
  }

  #completeLogin(request: LoginRequest, outcome: LoginOutcome & { kind: 'complete' }): void {
    const established = this.options.registry.establish(outcome.result, this)
    if (!established.ok) {
      const reply = { ...outcome.reply, transit: false, nextStage: 0, status: established.status }
      this.#sendLoginResponse(request, reply, 0)
      this.#failLogin(established.detail)
      return
    }
    const session = established.session
    this.session = session
    this.#parameters = outcome.result.parameters.connection
    this.#sendLoginResponse(request, outcome.reply, session.tsih)
    // §13.1, §13.12: digests and our MaxRecvDataSegmentLength apply after the final response.
    const digests = { header: this.#parameters.headerDigest, data: this.#parameters.dataDigest }
    this.#out.useDigests(digests)
    this.#framer.setLimits({
      headerDigest: digests.header,
      dataDigest: digests.data,
      maxRecvDataSegmentLength: this.#parameters.targetMaxRecvDataSegmentLength,
    })
    this.state = 'fullFeature'
    this.#loginTimeout.stop()
    this.#idle?.start()
    this.#text = new TextExchange(this.options.limits.textBytesMax)
    this.logger.info('login complete', {
      initiator: outcome.result.initiatorName,
      target: outcome.result.target?.name ?? null,
      tsih: session.tsih,
      cid: this.cid,
    })
  }

  #failLogin(detail: string): void {
    this.logger.info('login failed', { detail })
    this.drop('login failed')
  }

  #sendLoginResponse(request: LoginRequest, reply: LoginOutcome['reply'], tsih: number): void {
    this.#out.loginResponse(request, reply, tsih, this.options.limits.tasksInFlightPerSessionMax)
  }

  /** An ordered PDU whose turn has come (SessionLink). */
  deliver(item: Ordered): void {
    const session = this.session
    assert(session !== null)
    const pdu = item.pdu
    if (pdu.opcode === Opcode.scsiCommand) {
      session.startCommand(this, pdu, item.bhs)
      return
    }
    switch (pdu.opcode) {
      case Opcode.taskManagementRequest:
        session.taskManagement(this, pdu)
        break
      case Opcode.textRequest:
        this.#onText(pdu, item.bhs)
        break
      case Opcode.logoutRequest:
        this.#onLogout(pdu)
        break
      case Opcode.nopOut:
        this.#onNopOut(pdu)
        break
    }
    session.window.finished()
  }

  /** §11.18, §11.19: answer pings; a NOP-Out with our TTT answers our NOP-In. */
  #onNopOut(pdu: NopOut): void {
    if (pdu.targetTransferTag !== reservedTag) this.#pingWait.stop()
    if (pdu.initiatorTaskTag === reservedTag) return
    this.#out.nopInAnswer(pdu, this.#initiatorMrdsl())
  }

  /** §11.19: our keepalive, with a tag the initiator must echo. */
  #ping(): void {
    this.#pingTag = this.#pingTag + 1 >= reservedTag ? 1 : this.#pingTag + 1
    this.#out.nopInPing(this.#pingTag)
    this.#pingWait.start()
    this.#idle?.start()
  }

  #onText(pdu: TextRequest, bhs: Uint8Array): void {
    const session = this.session
    assert(session !== null && this.#text !== null)
    const answer = this.#text.receive(pdu, {
      sendTargets: {
        catalog: this.options.catalog,
        initiatorName: session.identity.initiatorName,
        portal: this.options.local,
        sessionTarget: session.identity.target,
      },
      negotiation: {
        phase: 'fullFeature',
        leadingConnection: true,
        sessionType: session.identity.parameters.sessionType,
      },
      offer: this.options.offer,
      initiatorMrdsl: this.#initiatorMrdsl(),
    })
    if (answer.kind === 'reject') {
      this.reject(bhs, RejectReason.protocolError, false, answer.detail)
      return
    }
    if (answer.mrdsl !== null && this.#parameters !== null) {
      this.#parameters = { ...this.#parameters, initiatorMaxRecvDataSegmentLength: answer.mrdsl }
    }
    this.#out.textResponse(pdu, answer)
  }

  /** §11.14, §11.15 at ERL 0. */
  #onLogout(pdu: LogoutRequest): void {
    const session = this.session
    assert(session !== null)
    let response: number = LogoutResponseCode.closedSuccessfully
    let closing: 'session' | 'connection' | 'other' | null = null
    if (pdu.reasonCode === LogoutReason.closeSession) closing = 'session'
    else if (pdu.reasonCode === LogoutReason.closeConnection) {
      if (pdu.cid === this.cid) closing = 'connection'
      else if (session.links.has(pdu.cid)) closing = 'other'
      else response = LogoutResponseCode.cidNotFound
    } else response = LogoutResponseCode.connectionRecoveryNotSupported
    const finish = (): void => {
      this.#out.logoutResponse(pdu, response)
      if (closing === 'session') session.close('logout')
      else if (closing === 'connection') this.drop('logout')
      else if (closing === 'other') {
        session.links.get(pdu.cid)?.drop('logged out by another connection')
      }
    }
    // §11.14: the response follows the responses of the tasks still running on what closes.
    if (closing === 'session' || closing === 'connection') {
      session.afterTasks(closing === 'session' ? null : this, finish)
    } else finish()
  }

  /** Data-In PDUs, then status: collapsed into the last Data-In when GOOD without sense. */
  sendTaskResult(task: Task<SessionLink>, result: TaskResultView): void {
    const limits = {
      initiatorMrdsl: this.#initiatorMrdsl(),
      maxBurstLength: this.session!.transfer.maxBurstLength,
    }
    this.#out.taskResult(task, result, limits)
  }

  sendR2T(task: Task<SessionLink>, r2tIndex: number): void {
    this.#out.r2t(task, r2tIndex)
  }

  sendTaskManagementResponse(initiatorTaskTag: number, response: number): void {
    if (this.state !== 'fullFeature') return
    this.#out.taskManagementResponse(initiatorTaskTag, response)
  }

  /** §11.17: Reject carrying the offending header; `fatal` ends the connection (ERL 0). */
  reject(bhs: Uint8Array, reason: number, fatal: boolean, detail: string): void {
    this.#rejects += 1
    const fields = { reason, opcode: bhs[0]! & opcodeMask, detail, fatal, count: this.#rejects }
    if (this.#rejects === 1) this.logger.info('reject', fields)
    else this.logger.debug('reject', fields)
    if (this.state === 'fullFeature') this.#out.reject(bhs, reason)
    if (fatal) this.drop(detail)
  }

  drop(reason: string): void {
    if (this.state === 'closed') return
    this.logger.debug('connection closing', { reason })
    this.state = 'closed'
    this.options.transport.close()
    this.#detach(reason)
  }

  /** ERL 0: losing a connection fails its tasks; losing the last one ends the session. */
  #detach(reason: string): void {
    this.#idle?.stop()
    this.#pingWait.stop()
    const session = this.session
    if (session === null || session.closed) return
    if (session.links.get(this.cid) === this) session.links.delete(this.cid)
    if (session.links.size === 0) {
      session.close(reason)
      return
    }
    for (const task of [...session.tasks.values()]) {
      if (task.connection === this) {
        task.aborted = true
        if (task.state !== 'executing') session.releaseAborted(task)
      }
    }
  }

  #initiatorMrdsl(): number {
    return this.#parameters?.initiatorMaxRecvDataSegmentLength ?? defaultMrdsl
  }
}
