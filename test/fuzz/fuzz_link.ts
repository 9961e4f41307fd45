/**
 * One fuzzer connection to the target under test: the test initiator's socket and codecs, a
 * model of the target's framing (stream_model.ts), the SCSI tasks whose answers the fuzzer
 * checks, and the tally of everything the target answered (RFC 7143 §11: Reject reasons, Login
 * status, SCSI status and sense, dropped connections). `sync()` brings the stream back to a PDU
 * boundary and pings (§11.18 immediate NOP-Out): the target must answer or drop the connection.
 */

import { serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu, senseFromSegment } from '../../src/iscsi/pdu/mod.ts'
import type { DataIn, InitiatorPdu, Pdu, ScsiResponse } from '../../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'
import {
  InitiatorConnection,
  InitiatorProtocolError,
  InitiatorTimeoutError,
} from '../harness/initiator_connection.ts'
import type { LoginOptions, NegotiatedParameters } from '../harness/initiator_login.ts'
import { login } from '../harness/initiator_login.ts'
import { concat } from './raw_pdu_generator.ts'
import { StreamModel } from './stream_model.ts'

/** Everything the run counts; one object shared by every connection. */
export interface Tally {
  pdusSent: number
  /** PDUs the fuzzer generated (random CDBs, hostile and out-of-order PDUs), not setup. */
  fuzzPdus: number
  /** Of those, PDUs that break a rule: mutated, truncated, oversized, out of order, bogus. */
  malformedPdus: number
  connections: number
  answers: Record<string, number>
  /** Checks of a well-defined answer that passed, by name. */
  checks: Record<string, number>
  hangs: number
  findings: string[]
}

export function newTally(): Tally {
  return {
    pdusSent: 0,
    fuzzPdus: 0,
    malformedPdus: 0,
    connections: 0,
    answers: {},
    checks: {},
    hangs: 0,
    findings: [],
  }
}

export function count(table: Record<string, number>, key: string, by = 1): void {
  table[key] = (table[key] ?? 0) + by
}

/** What a tracked SCSI command must get back (SPC-4 §4.5 sense, RFC 7143 §11.4). */
export type Expectation = 'invalidOpcode' | 'anyStatus' | 'good' | 'ignored'

interface Task {
  readonly itt: number
  readonly edtl: number
  readonly expectation: Expectation
  readonly what: string
  done: boolean
}

export type PduClass = 'setup' | 'fuzz' | 'malformed'
export type SyncOutcome = 'answered' | 'dropped' | 'hang'

const trackedTagBase = 0x4000_0000

export function hex(n: number, width = 2): string {
  return `0x${n.toString(16).padStart(width, '0')}`
}

/** Sense key / ASC / ASCQ of fixed (0x70, 0x71) or descriptor (0x72, 0x73) sense, SPC-4 §4.5. */
export function senseTriple(sense: Uint8Array): [number, number, number] | null {
  const code = (sense[0] ?? 0) & 0x7f
  if ((code === 0x70 || code === 0x71) && sense.length >= 14)
    return [sense[2]! & 0x0f, sense[12]!, sense[13]!]
  if ((code === 0x72 || code === 0x73) && sense.length >= 4)
    return [sense[1]! & 0x0f, sense[2]!, sense[3]!]
  return null
}

export class FuzzLink {
  readonly model: StreamModel
  readonly #tasks = new Map<number, Task>()
  #nextTag = trackedTagBase
  parameters: NegotiatedParameters | null = null
  /** The status of the last Login Response (§11.13.5), null before one. */
  lastLoginStatus: number | null = null
  /** This connection's answers, by the same keys as the tally's. */
  readonly seen: Record<string, number> = {}
  #dropped = false

  private constructor(
    readonly connection: InitiatorConnection,
    readonly tally: Tally,
    readonly label: string,
    readonly timeoutMs: number,
  ) {
    this.model = new StreamModel({
      headerDigest: false,
      dataDigest: false,
      maxRecvDataSegmentLength: 8192,
    })
  }

  static async open(
    host: string,
    port: number,
    tally: Tally,
    label: string,
    timeoutMs: number,
  ): Promise<FuzzLink> {
    const connection = await InitiatorConnection.connect(host, port, timeoutMs)
    tally.connections++
    return new FuzzLink(connection, tally, label, timeoutMs)
  }

  get dropped(): boolean {
    return this.#dropped || this.connection.closed
  }

  /** A full login (§6); afterwards the model uses the negotiated digests and target limit. */
  async login(options: LoginOptions): Promise<NegotiatedParameters> {
    const parameters = await login(this.connection, { timeoutMs: this.timeoutMs, ...options })
    this.tally.pdusSent += 2
    this.parameters = parameters
    this.model.limits = {
      headerDigest: parameters.headerDigest,
      dataDigest: parameters.dataDigest,
      maxRecvDataSegmentLength: parameters.maxSendDataSegmentLength,
    }
    return parameters
  }

  /** A fresh ITT that hostile PDUs (tags 1..64 or 0xffffffff) never use. */
  tag(): number {
    const tag = this.#nextTag
    this.#nextTag = tag + 1 >= reservedTag ? trackedTagBase : tag + 1
    return tag
  }

  send(pdu: InitiatorPdu, kind: PduClass): void {
    this.sendBytes(concat(serializePdu(encodePdu(pdu), this.connection.digests)), kind)
  }

  sendBytes(bytes: Uint8Array, kind: PduClass, pdus = 1): void {
    this.model.feed(bytes)
    this.connection.sendRaw(bytes)
    this.tally.pdusSent += pdus
    if (kind !== 'setup') this.tally.fuzzPdus += pdus
    if (kind === 'malformed') this.tally.malformedPdus += pdus
  }

  /** Remembers a SCSI command whose answer will be checked. */
  track(itt: number, edtl: number, expectation: Expectation, what: string): void {
    this.#tasks.set(itt, { itt, edtl, expectation, what, done: false })
  }

  get tasksPending(): number {
    let pending = 0
    for (const task of this.#tasks.values()) {
      if (!task.done && task.expectation !== 'ignored') pending++
    }
    return pending
  }

  finding(text: string): void {
    this.tally.findings.push(`${this.label}: ${text}`)
  }

  /** Reads and tallies PDUs until `until()` holds, the target drops us, or time runs out. */
  async pump(until: () => boolean, timeoutMs = this.timeoutMs): Promise<SyncOutcome> {
    const deadline = performance.now() + timeoutMs
    while (!until()) {
      const remainingMs = deadline - performance.now()
      if (remainingMs <= 0) return 'hang'
      let pdu: Pdu | null
      try {
        pdu = await this.connection.nextPdu(remainingMs)
      } catch (error) {
        if (error instanceof InitiatorTimeoutError) return 'hang'
        if (error instanceof InitiatorProtocolError) {
          this.finding(`the target sent an undecodable PDU: ${error.message}`)
          this.close()
          return 'dropped'
        }
        throw error
      }
      if (pdu === null) {
        this.#noteDrop()
        return 'dropped'
      }
      this.#receive(pdu)
    }
    return 'answered'
  }

  #noteDrop(): void {
    if (this.#dropped) return
    this.#dropped = true
    this.#answer('connectionDropped')
  }

  /**
   * Completes any PDU in progress with zeros, then pings with an immediate NOP-Out; the target
   * must answer it or drop the connection within the timeout. Anything else is a hang.
   */
  async sync(timeoutMs = this.timeoutMs): Promise<SyncOutcome> {
    if (this.dropped) return 'dropped'
    if (this.model.mustDrop) return this.expectDrop('DataSegmentLength over MaxRecv [§13.12]')
    const filler = this.model.filler()
    if (filler.length > 0) this.sendBytes(filler, 'setup', 0)
    const itt = this.tag()
    let answered = false
    this.#pings.set(itt, () => {
      answered = true
    })
    this.send(this.#ping(itt), 'setup')
    const outcome = await this.pump(() => answered, timeoutMs)
    this.#pings.delete(itt)
    if (outcome === 'answered') this.#settleIgnored()
    if (outcome === 'hang') {
      this.tally.hangs++
      this.finding(`no NOP-In and no drop within ${timeoutMs} ms after a ping [RFC 7143 §11.18]`)
    }
    return outcome
  }

  /** The ping came back, so every earlier command was read: those to ignore got no answer. */
  #settleIgnored(): void {
    for (const task of this.#tasks.values()) {
      if (task.expectation !== 'ignored' || task.done) continue
      task.done = true
      count(this.tally.checks, 'CmdSN outside the window → ignored [RFC 7143 §4.2.2.1]')
    }
  }

  /** The target must close the connection (a Reject before it is fine). */
  async expectDrop(why: string, timeoutMs = this.timeoutMs): Promise<SyncOutcome> {
    const outcome = await this.pump(() => false, timeoutMs)
    if (outcome === 'dropped') count(this.tally.checks, `dropped: ${why}`)
    else {
      this.tally.hangs++
      this.finding(`expected the connection dropped (${why}), still open after ${timeoutMs} ms`)
    }
    return outcome
  }

  readonly #pings = new Map<number, () => void>()

  #ping(itt: number): InitiatorPdu {
    return {
      opcode: Opcode.nopOut,
      immediate: true,
      lun: new Uint8Array(8),
      initiatorTaskTag: itt,
      targetTransferTag: reservedTag,
      cmdSN: this.connection.cmdSN,
      expStatSN: this.connection.expStatSN,
      pingData: new Uint8Array(0),
    }
  }

  close(): void {
    this.connection.close()
  }

  #answer(kind: string): void {
    count(this.tally.answers, kind)
    count(this.seen, kind)
  }

  #receive(pdu: Pdu): void {
    switch (pdu.opcode) {
      case Opcode.reject:
        this.#answer(`reject:${hex(pdu.reason)}`)
        return
      case Opcode.loginResponse:
        this.lastLoginStatus = pdu.status
        this.#answer(`login:${hex(pdu.status, 4)}`)
        return
      case Opcode.scsiResponse:
        this.#status(pdu.initiatorTaskTag, pdu.response, pdu.status, pdu)
        return
      case Opcode.dataIn:
        this.#dataIn(pdu)
        return
      case Opcode.nopIn:
        this.#nopIn(pdu.initiatorTaskTag, pdu.targetTransferTag)
        return
      case Opcode.readyToTransfer:
        this.#answer('r2t')
        this.#answerR2T(pdu.initiatorTaskTag, pdu.targetTransferTag, pdu.bufferOffset, pdu)
        return
      case Opcode.taskManagementResponse:
        this.#answer(`tmfResponse:${hex(pdu.response)}`)
        return
      case Opcode.logoutResponse:
        this.#answer(`logoutResponse:${hex(pdu.response)}`)
        return
      case Opcode.textResponse:
        this.#answer('textResponse')
        return
      case Opcode.asyncMessage:
        this.#answer(`asyncMessage:${hex(pdu.asyncEvent)}`)
        return
      default:
        this.#answer(`opcode:${hex(pdu.opcode)}`)
    }
  }

  #nopIn(itt: number, ttt: number): void {
    this.#answer('nopIn')
    this.#pings.get(itt)?.()
    // §11.19: a target ping (ITT 0xffffffff, TTT set) wants an answer carrying its TTT.
    if (itt === reservedTag && ttt !== reservedTag) {
      const pong = { ...this.#ping(reservedTag), targetTransferTag: ttt }
      this.send(pong, 'setup')
    }
  }

  #dataIn(pdu: DataIn): void {
    const task = this.#tasks.get(pdu.initiatorTaskTag)
    if (task !== undefined && pdu.bufferOffset + pdu.data.length > task.edtl) {
      this.finding(`${task.what}: Data-In beyond the Expected Data Transfer Length [§11.7.4]`)
    }
    if (pdu.hasStatus) this.#status(pdu.initiatorTaskTag, 0, pdu.status, null)
    else this.#answer('dataIn')
  }

  #status(itt: number, response: number, status: number, pdu: ScsiResponse | null): void {
    const sense = pdu === null ? new Uint8Array(0) : senseFromSegment(pdu.senseData)
    const triple = senseTriple(sense)
    let kind: string
    if (response !== 0) kind = `response:${hex(response)}`
    else if (status === 0) kind = 'good'
    else if (status === 2 && triple !== null)
      kind = `check:${triple.map((n) => n.toString(16).padStart(2, '0')).join('/')}`
    else kind = `status:${hex(status)}`
    this.#answer(kind)
    const task = this.#tasks.get(itt)
    if (task === undefined || (task.done && task.expectation !== 'ignored')) return
    task.done = true
    this.#judge(task, response, status, triple)
  }

  #judge(
    task: Task,
    response: number,
    status: number,
    triple: [number, number, number] | null,
  ): void {
    if (task.expectation === 'ignored') {
      this.finding(`${task.what}: answered, but §4.2.2.1 says it MUST be silently ignored`)
      return
    }
    if (response !== 0) {
      this.finding(`${task.what}: iSCSI response ${hex(response)} to a well-formed command`)
      return
    }
    // SAM-5 §5.14: a new I_T nexus may see UNIT ATTENTION before anything else.
    if (status === 2 && triple !== null && triple[0] === 0x6) return
    if (status === 2 && triple === null) {
      this.finding(`${task.what}: CHECK CONDITION without usable sense data [SPC-4 §4.5]`)
      return
    }
    if (task.expectation === 'invalidOpcode') {
      const ok = status === 2 && triple![0] === 0x5 && triple![1] === 0x20 && triple![2] === 0
      if (ok) count(this.tally.checks, 'invalid opcode → ILLEGAL REQUEST 20/00 [SPC-4 §4.5.6]')
      else
        this.finding(
          `${task.what}: expected ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE,` +
            ` got status ${hex(status)} sense ${triple?.map((n) => hex(n)).join('/') ?? 'none'}`,
        )
    } else if (task.expectation === 'good') {
      if (status === 0) count(this.tally.checks, 'well-formed command → GOOD')
      else this.finding(`${task.what}: expected GOOD, got status ${hex(status)}`)
    }
  }

  #answerR2T(itt: number, ttt: number, offset: number, r2t: { desiredDataTransferLength: number }) {
    const task = this.#tasks.get(itt)
    if (task === undefined) return
    const length = r2t.desiredDataTransferLength
    if (offset + length > task.edtl || length === 0) {
      this.finding(
        `${task.what}: R2T for [${offset}, +${length}) outside EDTL ${task.edtl} [§11.8]`,
      )
      return
    }
    const step = Math.max(512, Math.min(65_536, this.model.limits.maxRecvDataSegmentLength))
    let dataSN = 0
    for (let at = offset; at < offset + length; at += step, dataSN++) {
      const size = Math.min(step, offset + length - at)
      this.send(
        {
          opcode: Opcode.dataOut,
          final: at + size === offset + length,
          lun: new Uint8Array(8),
          initiatorTaskTag: itt,
          targetTransferTag: ttt,
          expStatSN: this.connection.expStatSN,
          dataSN,
          bufferOffset: at,
          data: new Uint8Array(size),
        },
        'setup',
      )
    }
  }
}
