/**
 * What one connection sends (RFC 7143 §11), numbered and stamped in one place: StatSN (§4.2.2.2:
 * each response carrying status takes the next one; R2T and our NOP-In ping carry the current one
 * without taking it), ExpCmdSN and MaxCmdSN from the session's window (§4.2.2.1), then encoding,
 * the connection's digests (§13.1) and the transport. The connection decides what to send and
 * when; nothing here decides.
 */
import { assert } from '../../base/assert.ts'
import { transferBuffers } from '../../base/buffer_pool.ts'
import { serializePdu } from '../framer.ts'
import type { LoginOutcome } from '../login/login.ts'
import { encodePdu, senseSegment } from '../pdu/mod.ts'
import type { LoginRequest, LogoutRequest, NopOut, TargetPdu, TextRequest } from '../pdu/types.ts'
import { AsyncEvent } from '../spec/async_event.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import type { SessionLink, TaskResultView } from './session.ts'
import { planDataIn, type Task } from './task.ts'
import type { TextAnswer } from './text_exchange.ts'

/** The socket side of a connection, as the portal provides it. */
export interface ConnectionTransport {
  /**
   * Queues one or more PDUs' pieces; the portal sends what is queued together. `written`, if
   * given, runs once the socket no longer needs the pieces' memory (it may never run, if the
   * connection dies first).
   */
  write(pieces: readonly Uint8Array[], written?: () => void): void
  /** Flushes what is queued, then closes. */
  close(): void
  /** True while our output is not draining (the peer reads slowly); see `drained`. */
  congested(): boolean
}

/** The command window a PDU advertises (§4.2.2.1). */
export interface Window {
  readonly expCmdSN: number
  readonly maxCmdSN: number
}

/** The limits Data-In is cut by (§13.12 the initiator's MaxRecvDataSegmentLength, §13.13). */
export interface DataInLimits {
  readonly initiatorMrdsl: number
  readonly maxBurstLength: number
}

const noLun = new Uint8Array(8)
const noData = new Uint8Array(0)

export class Outbox {
  #statSN = 0
  #digests = { header: false, data: false }

  constructor(
    private readonly transport: ConnectionTransport,
    /** The session's window, once there is a session. */
    private readonly window: () => Window | null,
    /** Nothing is sent once the connection closed. */
    private readonly closed: () => boolean,
  ) {}

  /** §11.12.5: the first login request's ExpStatSN starts the connection's numbering. */
  startAt(statSN: number): void {
    this.#statSN = statSN
  }

  /** §13.1: digests apply from the PDU after the final login response. */
  useDigests(digests: { header: boolean; data: boolean }): void {
    this.#digests = digests
  }

  loginResponse(request: LoginRequest, reply: LoginOutcome['reply'], tsih: number, max: number) {
    const window = this.window()
    this.#send({
      opcode: Opcode.loginResponse,
      transit: reply.transit,
      continue: reply.continue,
      currentStage: reply.currentStage,
      nextStage: reply.nextStage,
      versionMax: 0,
      versionActive: 0,
      isid: request.isid,
      tsih: tsih !== 0 ? tsih : request.tsih,
      initiatorTaskTag: request.initiatorTaskTag,
      statSN: this.#nextStatSN(),
      // §11.13.4: during login ExpCmdSN is the login's CmdSN (login requests are immediate).
      expCmdSN: window?.expCmdSN ?? request.cmdSN,
      maxCmdSN: window?.maxCmdSN ?? (request.cmdSN + max - 1) >>> 0,
      status: reply.status,
      data: reply.data,
    })
  }

  /** §11.19: the answer to a ping, echoing at most what the initiator can receive. */
  nopInAnswer(pdu: NopOut, initiatorMrdsl: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.nopIn,
      lun: pdu.lun,
      initiatorTaskTag: pdu.initiatorTaskTag,
      targetTransferTag: reservedTag,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      pingData: pdu.pingData.subarray(0, initiatorMrdsl),
    })
  }

  /** §11.19: our keepalive; StatSN is not advanced and the initiator must echo `tag`. */
  nopInPing(tag: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.nopIn,
      lun: noLun,
      initiatorTaskTag: reservedTag,
      targetTransferTag: tag,
      statSN: this.#statSN,
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      pingData: noData,
    })
  }

  /** §11.9.1 event 1: asks the initiator to log out within `seconds`. */
  logoutRequest(seconds: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.asyncMessage,
      lun: noLun,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      asyncEvent: AsyncEvent.logoutRequest,
      asyncVCode: 0,
      parameter1: 0,
      parameter2: 0,
      parameter3: seconds,
      data: noData,
    })
  }

  textResponse(pdu: TextRequest, answer: TextAnswer & { kind: 'reply' }): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.textResponse,
      final: answer.final,
      continue: answer.continue,
      lun: pdu.lun,
      initiatorTaskTag: pdu.initiatorTaskTag,
      targetTransferTag: answer.targetTransferTag,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      data: answer.data,
    })
  }

  logoutResponse(pdu: LogoutRequest, response: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.logoutResponse,
      response,
      initiatorTaskTag: pdu.initiatorTaskTag,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      time2Wait: 0,
      time2Retain: 0,
    })
  }

  /** Data-In PDUs, then status: collapsed into the last Data-In when GOOD without sense. */
  taskResult(task: Task<SessionLink>, result: TaskResultView, limits: DataInLimits): void {
    const window = this.#window()
    const data = result.dataIn
    const dataBytes = data?.length ?? 0
    const collapse =
      dataBytes > 0 &&
      result.status === 0 &&
      result.sense === null &&
      result.bidiReadResidual === null
    const pieces: Uint8Array[] = []
    if (data !== null && dataBytes > 0) {
      const segments = planDataIn(dataBytes, limits.initiatorMrdsl, limits.maxBurstLength)
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!
        const withStatus = collapse && i === segments.length - 1
        const residual = result.residual
        this.#encode(pieces, {
          opcode: Opcode.dataIn,
          final: segment.final,
          acknowledge: false,
          residualOverflow: withStatus && residual.overflow,
          residualUnderflow: withStatus && residual.underflow,
          hasStatus: withStatus,
          status: withStatus ? result.status : 0,
          lun: task.lun,
          initiatorTaskTag: task.initiatorTaskTag,
          targetTransferTag: reservedTag,
          statSN: withStatus ? this.#nextStatSN() : 0,
          expCmdSN: window.expCmdSN,
          maxCmdSN: window.maxCmdSN,
          dataSN: task.inputSN++,
          bufferOffset: segment.offset,
          residualCount: withStatus ? residual.count : 0,
          data:
            segment.length === dataBytes
              ? data
              : data.subarray(segment.offset, segment.offset + segment.length),
        })
      }
    }
    if (!collapse) this.#scsiResponse(pieces, task, result)
    // A large Data-In buffer goes back to the transfer pool once the socket has its bytes.
    if (data === null) this.transport.write(pieces)
    else this.transport.write(pieces, () => transferBuffers.release(data))
  }

  #scsiResponse(pieces: Uint8Array[], task: Task<SessionLink>, result: TaskResultView): void {
    const window = this.#window()
    const bidi = result.bidiReadResidual
    this.#encode(pieces, {
      opcode: Opcode.scsiResponse,
      bidiReadResidualOverflow: bidi?.overflow ?? false,
      bidiReadResidualUnderflow: bidi?.underflow ?? false,
      residualOverflow: result.residual.overflow,
      residualUnderflow: result.residual.underflow,
      response: 0,
      status: result.status,
      initiatorTaskTag: task.initiatorTaskTag,
      snackTag: 0,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      expDataSN: task.inputSN,
      bidiReadResidualCount: bidi?.count ?? 0,
      residualCount: result.residual.count,
      senseData: result.sense === null ? noData : senseSegment(result.sense),
    })
  }

  r2t(task: Task<SessionLink>, r2tIndex: number): void {
    const window = this.#window()
    const r2t = task.outstanding[r2tIndex]
    assert(r2t !== undefined)
    this.#send({
      opcode: Opcode.readyToTransfer,
      lun: task.lun,
      initiatorTaskTag: task.initiatorTaskTag,
      targetTransferTag: r2t.targetTransferTag,
      statSN: this.#statSN,
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      r2tSN: r2t.r2tSN,
      bufferOffset: r2t.bufferOffset,
      desiredDataTransferLength: r2t.length,
    })
  }

  taskManagementResponse(initiatorTaskTag: number, response: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.taskManagementResponse,
      response,
      initiatorTaskTag,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
    })
  }

  /** §11.17: Reject carrying the offending header. */
  reject(bhs: Uint8Array, reason: number): void {
    const window = this.#window()
    this.#send({
      opcode: Opcode.reject,
      reason,
      statSN: this.#nextStatSN(),
      expCmdSN: window.expCmdSN,
      maxCmdSN: window.maxCmdSN,
      dataSN: 0,
      header: bhs.slice(0, 48),
    })
  }

  #window(): Window {
    const window = this.window()
    assert(window !== null, 'a full-feature PDU without a session')
    return window
  }

  #nextStatSN(): number {
    const statSN = this.#statSN
    this.#statSN = (statSN + 1) >>> 0
    return statSN
  }

  #encode(pieces: Uint8Array[], pdu: TargetPdu): void {
    for (const piece of serializePdu(encodePdu(pdu), this.#digests)) pieces.push(piece)
  }

  #send(pdu: TargetPdu): void {
    if (this.closed()) return
    this.transport.write(serializePdu(encodePdu(pdu), this.#digests))
  }
}
