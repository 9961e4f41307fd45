/**
 * A pipelined iSCSI session for the ATS benchmark: the test initiator's connection and login
 * (test/harness/initiator_connection.ts, initiator_login.ts) with many SCSI commands in flight
 * at once, which the harness's one-at-a-time `Initiator.scsi` does not do. One reader loop
 * routes every PDU to its task by Initiator Task Tag (RFC 7143 §11.2.1.8); commands wait for
 * room in the target's command window (§4.2.2.1: CmdSN ≤ MaxCmdSN, RFC 1982 arithmetic); write
 * data goes as immediate data, unsolicited Data-Out and R2T bursts as negotiated (§11.3, §11.7,
 * §11.8); target pings are answered (§11.19). It checks less than the harness does (it is a
 * load generator, not an oracle), but a Reject or a PDU for an unknown task ends the session.
 */
import { serialLte } from '../src/base/serial.ts'
import { senseFromSegment } from '../src/iscsi/pdu/mod.ts'
import type { Pdu } from '../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../src/iscsi/spec/opcodes.ts'
import {
  InitiatorConnection,
  InitiatorProtocolError,
} from '../test/harness/initiator_connection.ts'
import { login, type NegotiatedParameters } from '../test/harness/initiator_login.ts'
import { lunBytes } from '../test/harness/initiator_scsi.ts'
import { splitPortal } from '../test/system/harness.ts'

export interface CommandResult {
  readonly status: number
  /** Sense bytes without the SenseLength prefix; empty when none. */
  readonly sense: Uint8Array
  readonly dataIn: Uint8Array
}

export interface CommandRequest {
  readonly cdb: Uint8Array
  readonly dataOut?: Uint8Array
  /** Bytes expected in Data-In (reads). */
  readonly readBytes?: number
}

interface Pending {
  readonly lun: Uint8Array
  readonly dataOut: Uint8Array
  readonly buffer: Uint8Array
  readonly resolve: (result: CommandResult) => void
  readonly reject: (error: Error) => void
}

export interface SessionOptions {
  readonly portal: string
  readonly targetName: string
  readonly initiatorName: string
  readonly isid: Uint8Array
  readonly lun: number
}

const pduWaitMs = 120_000

export class PipelinedSession {
  readonly #pending = new Map<number, Pending>()
  #windowWaiters: (() => void)[] = []
  #failure: Error | null = null
  readonly #reader: Promise<void>
  /** Asynchronous Messages received (§11.9), counted: the benchmark reports them. */
  asyncMessages = 0

  private constructor(
    readonly connection: InitiatorConnection,
    readonly parameters: NegotiatedParameters,
    readonly lun: number,
  ) {
    this.#reader = this.#read()
  }

  static async open(options: SessionOptions): Promise<PipelinedSession> {
    const [host, port] = splitPortal(options.portal)
    const connection = await InitiatorConnection.connect(host, port)
    try {
      const parameters = await login(connection, {
        initiatorName: options.initiatorName,
        targetName: options.targetName,
        isid: options.isid,
      })
      return new PipelinedSession(connection, parameters, options.lun)
    } catch (error) {
      connection.close()
      throw error
    }
  }

  get inFlight(): number {
    return this.#pending.size
  }

  /** Sends one command once the command window has room; resolves with its status. */
  async command(request: CommandRequest): Promise<CommandResult> {
    const connection = this.connection
    while (!serialLte(connection.cmdSN, connection.maxCmdSN)) {
      if (this.#failure !== null) throw this.#failure
      await new Promise<void>((resolve) => this.#windowWaiters.push(resolve))
    }
    if (this.#failure !== null) throw this.#failure
    const itt = connection.nextTag()
    const dataOut = request.dataOut ?? new Uint8Array(0)
    const lun = lunBytes(this.lun)
    const result = new Promise<CommandResult>((resolve, reject) => {
      const buffer = new Uint8Array(request.readBytes ?? 0)
      this.#pending.set(itt, { lun, dataOut, buffer, resolve, reject })
    })
    this.#send(itt, lun, request, dataOut)
    return result
  }

  #send(itt: number, lun: Uint8Array, request: CommandRequest, dataOut: Uint8Array): void {
    const p = this.parameters
    const firstBurst = Math.min(p.firstBurstLength, dataOut.length)
    const immediateBytes = p.immediateData ? Math.min(firstBurst, p.maxSendDataSegmentLength) : 0
    const unsolicitedEnd = p.initialR2T ? immediateBytes : firstBurst
    const connection = this.connection
    connection.send({
      opcode: Opcode.scsiCommand,
      immediate: false,
      final: unsolicitedEnd <= immediateBytes,
      read: (request.readBytes ?? 0) > 0,
      write: dataOut.length > 0,
      taskAttribute: 1, // SIMPLE, as ESXi sends its ATS
      lun,
      initiatorTaskTag: itt,
      expectedDataTransferLength: dataOut.length > 0 ? dataOut.length : (request.readBytes ?? 0),
      cmdSN: connection.cmdSN,
      expStatSN: connection.expStatSN,
      cdb: request.cdb,
      expectedBidirectionalReadDataLength: null,
      data: dataOut.subarray(0, immediateBytes),
    })
    connection.cmdSN = (connection.cmdSN + 1) >>> 0
    if (unsolicitedEnd > immediateBytes) {
      const burst = { offset: immediateBytes, end: unsolicitedEnd }
      this.#sendBurst(itt, lun, dataOut, reservedTag, burst)
    }
  }

  /** Data-Out PDUs for [offset, end) of MaxRecvDataSegmentLength at most (§11.7). */
  #sendBurst(
    itt: number,
    lun: Uint8Array,
    data: Uint8Array,
    ttt: number,
    burst: { offset: number; end: number },
  ): void {
    let dataSN = 0
    for (let offset = burst.offset; offset < burst.end; dataSN++) {
      const size = Math.min(this.parameters.maxSendDataSegmentLength, burst.end - offset)
      this.connection.send({
        opcode: Opcode.dataOut,
        final: offset + size === burst.end,
        lun,
        initiatorTaskTag: itt,
        targetTransferTag: ttt,
        expStatSN: this.connection.expStatSN,
        dataSN,
        bufferOffset: offset,
        data: data.subarray(offset, offset + size),
      })
      offset += size
    }
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const pdu = await this.connection.nextPdu(pduWaitMs)
        if (pdu === null) throw new InitiatorProtocolError('the target closed the connection')
        this.#route(pdu)
        this.#openWindow()
      }
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)))
    }
  }

  #route(pdu: Pdu): void {
    if (pdu.opcode === Opcode.nopIn) {
      if (pdu.initiatorTaskTag === reservedTag && pdu.targetTransferTag !== reservedTag) {
        this.#answerPing(pdu.targetTransferTag, pdu.pingData)
      }
      return
    }
    if (pdu.opcode === Opcode.asyncMessage) {
      this.asyncMessages += 1
      return
    }
    if (pdu.opcode === Opcode.reject) {
      throw new InitiatorProtocolError(
        `the target rejected a PDU, reason 0x${pdu.reason.toString(16)}`,
      )
    }
    const itt = 'initiatorTaskTag' in pdu ? pdu.initiatorTaskTag : reservedTag
    const task = this.#pending.get(itt)
    if (task === undefined) {
      throw new InitiatorProtocolError(
        `opcode 0x${pdu.opcode.toString(16)} for unknown task ${itt}`,
      )
    }
    if (pdu.opcode === Opcode.readyToTransfer) {
      const burst = {
        offset: pdu.bufferOffset,
        end: pdu.bufferOffset + pdu.desiredDataTransferLength,
      }
      if (burst.end > task.dataOut.length) throw new InitiatorProtocolError('R2T beyond the data')
      this.#sendBurst(itt, task.lun, task.dataOut, pdu.targetTransferTag, burst)
    } else if (pdu.opcode === Opcode.dataIn) {
      if (pdu.bufferOffset + pdu.data.length > task.buffer.length) {
        throw new InitiatorProtocolError('Data-In beyond the expected length')
      }
      task.buffer.set(pdu.data, pdu.bufferOffset)
      if (pdu.hasStatus) this.#finish(itt, task, pdu.status, new Uint8Array(0))
    } else if (pdu.opcode === Opcode.scsiResponse) {
      this.#finish(itt, task, pdu.status, senseFromSegment(pdu.senseData).slice())
    } else {
      throw new InitiatorProtocolError(`unexpected opcode 0x${pdu.opcode.toString(16)}`)
    }
  }

  #finish(itt: number, task: Pending, status: number, sense: Uint8Array): void {
    this.#pending.delete(itt)
    task.resolve({ status, sense, dataIn: task.buffer })
  }

  #answerPing(ttt: number, pingData: Uint8Array): void {
    this.connection.send({
      opcode: Opcode.nopOut,
      immediate: true,
      lun: new Uint8Array(8),
      initiatorTaskTag: reservedTag,
      targetTransferTag: ttt,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
      pingData: pingData.slice(),
    })
  }

  #openWindow(): void {
    const waiters = this.#windowWaiters
    this.#windowWaiters = []
    for (const wake of waiters) wake()
  }

  #fail(error: Error): void {
    if (this.#failure === null) this.#failure = error
    for (const task of this.#pending.values()) task.reject(error)
    this.#pending.clear()
    this.#openWindow()
  }

  /** Closes the connection (no logout: the benchmark does not measure it) and ends the reader. */
  async close(): Promise<void> {
    this.connection.close()
    await this.#reader
  }
}
