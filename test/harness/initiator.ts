/**
 * A small promise-based iSCSI initiator for system tests and the fuzzer, built on Basalt's own
 * codecs and framer (RFC 7143): login (None or CHAP), SendTargets, SCSI commands with R2T and
 * Data-In handling, NOP, task management, logout, and raw PDU access for protocol tests.
 * One command at a time; tests that need concurrency drive `send`/`nextPdu` themselves.
 *
 *   const initiator = await Initiator.connect('127.0.0.1', port)
 *   await initiator.login({ initiatorName: 'iqn.2024-01.test:init', targetName })
 *   const { status, dataIn } = await initiator.scsi({ cdb, expectedDataTransferLength: 512 })
 */
import type {
  AsyncMessage,
  InitiatorPdu,
  LogoutResponse,
  NopIn,
  Pdu,
  TaskManagementResponse,
} from '../../src/iscsi/pdu/types.ts'
import { LogoutReason } from '../../src/iscsi/spec/logout.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData, parseTextData, TextAccumulator } from '../../src/iscsi/text/key_value.ts'
import { InitiatorConnection, InitiatorProtocolError } from './initiator_connection.ts'
import type { LoginOptions, NegotiatedParameters } from './initiator_login.ts'
import { login } from './initiator_login.ts'
import type { ScsiRequest, ScsiResult } from './initiator_scsi.ts'
import { lunBytes, nextForTask, runScsi } from './initiator_scsi.ts'

export { InitiatorProtocolError, InitiatorTimeoutError } from './initiator_connection.ts'
export type { ChapCredentials, LoginOptions, NegotiatedParameters } from './initiator_login.ts'
export { LoginFailedError } from './initiator_login.ts'
export type { ScsiRequest, ScsiResult } from './initiator_scsi.ts'
export { lunBytes, RejectedError } from './initiator_scsi.ts'

const defaultTimeoutMs = 10_000

export class Initiator {
  #parameters: NegotiatedParameters | null = null
  /** Asynchronous Messages (§11.9) received while waiting for something else. */
  readonly asyncMessages: AsyncMessage[] = []

  private constructor(readonly connection: InitiatorConnection) {}

  static async connect(host: string, port: number, timeoutMs = 5000): Promise<Initiator> {
    return new Initiator(await InitiatorConnection.connect(host, port, timeoutMs))
  }

  /** The parameters of the completed login; throws before login. */
  get parameters(): NegotiatedParameters {
    if (this.#parameters === null) throw new Error('not logged in')
    return this.#parameters
  }

  async login(options: LoginOptions): Promise<NegotiatedParameters> {
    this.#parameters = await login(this.connection, options)
    return this.#parameters
  }

  /** §11.10, Appendix C: SendTargets=<value>; follows C-bit continuations. */
  async sendTargets(value = 'All', timeoutMs = defaultTimeoutMs): Promise<[string, string][]> {
    const itt = this.connection.nextTag()
    const text = new TextAccumulator(1 << 20)
    let data = encodeTextData([['SendTargets', value]])
    let ttt = reservedTag
    for (;;) {
      this.#sendText(itt, ttt, data)
      const pdu = await nextForTask(this.connection, itt, timeoutMs, this.asyncMessages)
      if (pdu.opcode !== Opcode.textResponse) throw unexpected(pdu)
      if (!text.append(pdu.data).ok) throw new InitiatorProtocolError('SendTargets text too long')
      if (pdu.final) break
      // §11.11.4: continue with an empty Text Request carrying the target's TTT.
      ttt = pdu.targetTransferTag
      data = new Uint8Array(0)
    }
    const parsed = parseTextData(text.take())
    if (!parsed.ok) throw new InitiatorProtocolError(`bad SendTargets text: ${parsed.detail}`)
    return parsed.pairs
  }

  #sendText(itt: number, ttt: number, data: Uint8Array): void {
    this.connection.send({
      opcode: Opcode.textRequest,
      immediate: false,
      final: true,
      continue: false,
      lun: new Uint8Array(8),
      initiatorTaskTag: itt,
      targetTransferTag: ttt,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
      data,
    })
    this.connection.cmdSN = (this.connection.cmdSN + 1) >>> 0
  }

  scsi(request: ScsiRequest): Promise<ScsiResult> {
    return runScsi(this.connection, this.parameters, request, this.asyncMessages)
  }

  /** §11.18: an immediate NOP-Out ping; resolves with the target's NOP-In. */
  async nop(pingData = new Uint8Array(0), timeoutMs = defaultTimeoutMs): Promise<NopIn> {
    const itt = this.connection.nextTag()
    this.connection.send({
      opcode: Opcode.nopOut,
      immediate: true,
      lun: new Uint8Array(8),
      initiatorTaskTag: itt,
      targetTransferTag: reservedTag,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
      pingData,
    })
    const pdu = await nextForTask(this.connection, itt, timeoutMs, this.asyncMessages)
    if (pdu.opcode !== Opcode.nopIn) throw unexpected(pdu)
    return pdu
  }

  /** §11.5: an immediate task management request (function codes in spec/task_management.ts). */
  async taskManagement(
    fn: number,
    target: { lun?: number; referencedTaskTag?: number; refCmdSN?: number },
    timeoutMs = defaultTimeoutMs,
  ): Promise<TaskManagementResponse> {
    const itt = this.connection.nextTag()
    this.connection.send({
      opcode: Opcode.taskManagementRequest,
      immediate: true,
      function: fn,
      lun: lunBytes(target.lun ?? 0),
      initiatorTaskTag: itt,
      referencedTaskTag: target.referencedTaskTag ?? reservedTag,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
      refCmdSN: target.refCmdSN ?? 0,
      expDataSN: 0,
    })
    const pdu = await nextForTask(this.connection, itt, timeoutMs, this.asyncMessages)
    if (pdu.opcode !== Opcode.taskManagementResponse) throw unexpected(pdu)
    return pdu
  }

  /** §11.14: logs out (closing the session by default) and waits for the response. */
  async logout(
    reasonCode: number = LogoutReason.closeSession,
    timeoutMs = defaultTimeoutMs,
  ): Promise<LogoutResponse> {
    const itt = this.connection.nextTag()
    this.connection.send({
      opcode: Opcode.logoutRequest,
      immediate: true,
      reasonCode,
      initiatorTaskTag: itt,
      cid: 0,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
    })
    const pdu = await nextForTask(this.connection, itt, timeoutMs, this.asyncMessages)
    if (pdu.opcode !== Opcode.logoutResponse) throw unexpected(pdu)
    return pdu
  }

  /** Encodes and sends any PDU with the negotiated digests (sequence numbers are the caller's). */
  send(pdu: InitiatorPdu | Pdu): void {
    this.connection.send(pdu)
  }

  sendRaw(bytes: Uint8Array | readonly Uint8Array[]): void {
    this.connection.sendRaw(bytes)
  }

  /** The next PDU from the target, or null once it closed the connection. */
  nextPdu(timeoutMs = defaultTimeoutMs): Promise<Pdu | null> {
    return this.connection.nextPdu(timeoutMs)
  }

  waitClosed(timeoutMs = defaultTimeoutMs): Promise<boolean> {
    return this.connection.waitClosed(timeoutMs)
  }

  close(): void {
    this.connection.close()
  }
}

function unexpected(pdu: Pdu): InitiatorProtocolError {
  return new InitiatorProtocolError(`unexpected PDU opcode 0x${pdu.opcode.toString(16)}`)
}
