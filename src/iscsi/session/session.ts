/**
 * An iSCSI session, target side (RFC 7143 §4.2, ErrorRecoveryLevel 0): its identity (ISID, TSIH,
 * I_T nexus), the CmdSN window and in-order delivery, the task table, the SCSI command path
 * (parse → Data-Out via immediate data, unsolicited Data-Out and R2T → execute → Data-In/status),
 * the Data-Out budget, and task management (§11.5, §4.2.3 ordering). Sans-IO: PDUs go out through
 * the owning `SessionLink` of each task's connection.
 */
import { assert } from '../../base/assert.ts'
import { transferBuffers } from '../../base/buffer_pool.ts'
import { readU32 } from '../../base/bytes.ts'
import type { Logger } from '../../base/log.ts'
import type { Nexus } from '../../scsi/nexus.ts'
import type { LogicalUnitGroup, ScsiRequest, ScsiResult, TaskAttribute } from '../../scsi/port.ts'
import { ScsiStatus } from '../../scsi/port.ts'
import type { ExportedTarget } from '../catalog.ts'
import type { IscsiLimits } from '../limits.ts'
import type {
  DataOut,
  LogoutRequest,
  NopOut,
  ScsiCommand,
  TaskManagementRequest,
  TextRequest,
} from '../pdu/types.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { RejectReason } from '../spec/reject_reason.ts'
import type { SessionParameters } from '../text/negotiate.ts'
import { CommandWindow } from './command_window.ts'
import { type Residual, residualOf, Task, type TaskPlan, type TransferParameters } from './task.ts'
import { TaskManagement } from './task_management.ts'

/** A PDU that carries a CmdSN and is handled in CmdSN order (§3.2.2.1 of RFC 3720). */
export type OrderedPdu = ScsiCommand | TaskManagementRequest | TextRequest | LogoutRequest | NopOut

export interface Ordered {
  readonly link: SessionLink
  readonly pdu: OrderedPdu
  /** The PDU's header, for a Reject (§11.17). */
  readonly bhs: Uint8Array
}

/** What a session needs from a connection to answer on it. */
export interface SessionLink {
  readonly cid: number
  /** Handles an ordered PDU whose turn has come. */
  deliver(item: Ordered): void
  /** While true, tasks whose data is in wait before executing (slow reader backpressure). */
  congested(): boolean
  /** Sends Data-In (split per the connection's limits) and status for a finished task. */
  sendTaskResult(task: Task<SessionLink>, result: TaskResultView): void
  sendR2T(task: Task<SessionLink>, r2tIndex: number): void
  sendTaskManagementResponse(initiatorTaskTag: number, response: number): void
  /** Reject (§11.17) carrying `bhs`; with `fatal`, the connection closes afterwards. */
  reject(bhs: Uint8Array, reason: number, fatal: boolean, detail: string): void
  /** Drops the connection without a word (ERL 0 recovery, cold reset). */
  drop(reason: string): void
}

/** What the initiator is told at the end of a task (§11.4, §11.7.4). */
export interface TaskResultView {
  readonly status: number
  readonly dataIn: Uint8Array | null
  readonly sense: Uint8Array | null
  readonly residual: Residual
  readonly bidiReadResidual: Residual | null
}

/** The registry's view, for functions that reach across sessions of a target. */
export interface SessionPeers {
  sessionsOfTarget(target: ExportedTarget): readonly Session[]
  sessionClosed(session: Session): void
}

export interface SessionIdentity {
  readonly tsih: number
  readonly isid: Uint8Array
  readonly initiatorName: string
  readonly initiatorAlias: string | null
  readonly target: ExportedTarget | null
  readonly parameters: SessionParameters
  readonly initialCmdSN: number
}

/** RFC 7143 §11.7: Data-Out header fields, read from a header whose data was lost. */
const dataOutField = {
  finalMask: 0x80,
  initiatorTaskTag: 16,
  targetTransferTag: 20,
  dataSN: 36,
  bufferOffset: 40,
} as const

/** RFC 7143 §11.3.1.2 ATTR codes → SAM task attributes. */
const taskAttributes: readonly TaskAttribute[] = [
  'simple',
  'simple',
  'ordered',
  'headOfQueue',
  'aca',
]

export class Session {
  readonly window: CommandWindow<Ordered>
  readonly tasks = new Map<number, Task<SessionLink>>()
  readonly links = new Map<number, SessionLink>()
  readonly nexus: Nexus | null
  readonly transfer: TransferParameters
  readonly tmf: TaskManagement
  dataOutBytesBuffered = 0
  closed = false
  #nextTargetTransferTag = 1
  #settleWaiters: { link: SessionLink | null; then: () => void }[] = []
  /** Tasks ready to execute, held while their connection is congested. */
  #deferred: Task<SessionLink>[] = []
  readonly #units: LogicalUnitGroup | null

  constructor(
    readonly identity: SessionIdentity,
    readonly limits: IscsiLimits,
    readonly peers: SessionPeers,
    readonly logger: Logger,
  ) {
    this.window = new CommandWindow(identity.initialCmdSN, limits.tasksInFlightPerSessionMax)
    const p = identity.parameters
    this.transfer = {
      maxBurstLength: p.maxBurstLength,
      firstBurstLength: p.firstBurstLength,
      maxOutstandingR2T: p.maxOutstandingR2T,
    }
    this.#units = identity.target?.units ?? null
    this.nexus = identity.target === null ? null : nexusOf(identity, identity.target)
    this.tmf = new TaskManagement(this)
    if (this.nexus !== null) this.#units?.nexusAdded(this.nexus, this.tmf)
  }

  get tsih(): number {
    return this.identity.tsih
  }

  get units(): LogicalUnitGroup | null {
    return this.#units
  }

  /** A SCSI Command in CmdSN order (or immediate): parse, admit, and start its data transfer. */
  startCommand(link: SessionLink, pdu: ScsiCommand, bhs: Uint8Array): void {
    if (this.#units === null || this.nexus === null) {
      link.reject(bhs, RejectReason.commandNotSupported, false, 'SCSI command in discovery session')
      this.window.finished()
      return
    }
    if (this.tasks.has(pdu.initiatorTaskTag)) {
      link.reject(bhs, RejectReason.taskInProgress, false, 'ITT already in use')
      this.window.finished()
      return
    }
    if (pdu.data.length > 0 && !this.identity.parameters.immediateData) {
      link.reject(bhs, RejectReason.protocolError, true, 'immediate data not negotiated')
      return
    }
    const writeEdtl = pdu.write ? pdu.expectedDataTransferLength : 0
    const readEdtl = !pdu.read
      ? 0
      : pdu.write
        ? (pdu.expectedBidirectionalReadDataLength ?? 0)
        : pdu.expectedDataTransferLength
    const { plan, dataOutBytes } = this.#plan(pdu, writeEdtl)
    const unsolicitedFollows = !pdu.final && pdu.write
    const task = new Task<SessionLink>(
      link,
      pdu.initiatorTaskTag,
      pdu.cmdSN,
      pdu.lun.slice(),
      pdu.immediate,
      readEdtl,
      writeEdtl,
      plan,
      dataOutBytes,
      unsolicitedFollows,
      this.transfer,
    )
    this.tasks.set(task.initiatorTaskTag, task)
    this.#reserve(dataOutBytes)
    const verdict = task.acceptImmediate(pdu.data)
    if (verdict.kind === 'protocolError') {
      link.reject(bhs, RejectReason.protocolError, true, verdict.detail)
      return
    }
    this.#advance(task)
  }

  /**
   * Phase 1 (port.ts): parse, then decide what the command does with its Data-Out. The SCSI layer
   * fits the command to the write EDTL (a block write takes the whole blocks sent, SAM-5 §5.4.3)
   * and says what the CDB asked for, so that the residual is counted against it (§11.4.5.2).
   */
  #plan(pdu: ScsiCommand, writeEdtl: number): { plan: TaskPlan; dataOutBytes: number } {
    const request: ScsiRequest = {
      nexus: this.nexus!,
      lun: pdu.lun,
      cdb: pdu.cdb,
      taskAttribute: taskAttributes[pdu.taskAttribute] ?? 'simple',
      taskTag: pdu.initiatorTaskTag,
      expectedDataOutBytes: writeEdtl,
    }
    const units = this.#units!
    const parsed = units.parse(request)
    if (parsed.kind === 'done') {
      const writeBytes = parsed.requestedDataOutBytes ?? 0
      return { plan: { kind: 'answer', result: parsed.result, writeBytes }, dataOutBytes: 0 }
    }
    const writeBytes = parsed.requestedDataOutBytes ?? parsed.dataOutBytes
    if (parsed.dataOutBytes > writeEdtl) {
      // A unit group that did not fit the command (FCP-4 §9.4.2): with no data at all the
      // command completes having moved nothing (a); otherwise nothing moves and the answer is
      // INVALID FIELD IN INFORMATION UNIT (b). Either way the residual is an overflow.
      const result: ScsiResult =
        writeEdtl === 0
          ? { status: ScsiStatus.good, dataIn: null, sense: null }
          : units.transportFailure(pdu.lun, 'invalidFieldInInformationUnit')
      return { plan: { kind: 'answer', result, writeBytes }, dataOutBytes: 0 }
    }
    const plan: TaskPlan = { kind: 'execute', command: parsed.command, writeBytes }
    return { plan, dataOutBytes: parsed.dataOutBytes }
  }

  /** A Data-Out PDU (§11.7); unknown ITTs (aborted or finished tasks) are dropped silently. */
  dataOut(link: SessionLink, pdu: DataOut, bhs: Uint8Array): void {
    const task = this.tasks.get(pdu.initiatorTaskTag)
    if (task === undefined || task.aborted || task.state !== 'receiving') return
    if (task.connection !== link) {
      link.reject(bhs, RejectReason.protocolError, true, 'Data-Out on another connection')
      return
    }
    const verdict = task.acceptDataOut(pdu)
    if (verdict.kind === 'sequenceError') {
      this.logger.debug('Data-Out sequence error', {
        itt: task.initiatorTaskTag,
        detail: verdict.detail,
      })
    }
    this.#advance(task)
  }

  /**
   * Where a Data-Out's data segment may be assembled as it arrives (the framer's `place`): its
   * spot in the task's buffer, when the task is receiving and the segment fits. Its sequence is
   * checked when the whole PDU is in (`dataOut`); a PDU that then fails fails its task (ERL 0),
   * which never executes, so bytes placed early cannot reach a device.
   */
  placeDataOut(link: SessionLink, bhs: Uint8Array, dataBytes: number): Uint8Array | null {
    const task = this.tasks.get(readU32(bhs, dataOutField.initiatorTaskTag))
    if (task === undefined || task.aborted || task.state !== 'receiving') return null
    if (task.connection !== link) return null
    const ttt = readU32(bhs, dataOutField.targetTransferTag)
    return task.destination(ttt, readU32(bhs, dataOutField.bufferOffset), dataBytes)
  }

  /** A Data-Out whose data digest failed (§7.8.1): its task fails and drains. */
  dataOutLost(bhs: Uint8Array): void {
    const task = this.tasks.get(readU32(bhs, dataOutField.initiatorTaskTag))
    if (task === undefined || task.aborted || task.state !== 'receiving') return
    task.fail({
      opcode: Opcode.dataOut,
      final: (bhs[1]! & dataOutField.finalMask) !== 0,
      lun: task.lun,
      initiatorTaskTag: task.initiatorTaskTag,
      targetTransferTag: readU32(bhs, dataOutField.targetTransferTag),
      expStatSN: 0,
      dataSN: readU32(bhs, dataOutField.dataSN),
      bufferOffset: readU32(bhs, dataOutField.bufferOffset),
      data: new Uint8Array(0),
    })
    this.#advance(task)
  }

  /** Executes once the data is in, or solicits more with R2Ts. */
  #advance(task: Task<SessionLink>): void {
    if (!task.dataComplete) {
      const before = task.outstanding.length
      const sent = task.solicit(this.transfer, () => this.#allocateTargetTransferTag())
      for (let i = 0; i < sent.length; i++) task.connection.sendR2T(task, before + i)
      return
    }
    if (task.failed) {
      const result = this.#units!.transportFailure(task.lun, 'protocolServiceCrcError')
      this.#answer(task, result, 0)
      return
    }
    if (task.plan.kind === 'answer') {
      this.#answer(task, task.plan.result, task.plan.writeBytes)
      return
    }
    if (this.#deferred.length > 0 || task.connection.congested()) {
      // The initiator is not reading our output: hold the work that would add to it.
      this.#deferred.push(task)
      return
    }
    this.#execute(task)
  }

  /** A congested connection drained: run the tasks held back, in order, while it stays clear. */
  resume(link: SessionLink): void {
    while (this.#deferred.length > 0 && !link.congested()) {
      const task = this.#deferred.shift()!
      if (!task.aborted && task.state === 'receiving') this.#execute(task)
    }
  }

  /** A command that completes at once is answered at once (port.ts), in this same turn. */
  #execute(task: Task<SessionLink>): void {
    const plan = task.plan
    assert(plan.kind === 'execute')
    task.state = 'executing'
    let outcome: ScsiResult | Promise<ScsiResult>
    try {
      outcome = this.#units!.execute(plan.command, task.dataOutBytes === 0 ? null : task.buffer)
    } catch (error) {
      this.#executeFailed(task, error)
      return
    }
    if (!(outcome instanceof Promise)) {
      this.#executed(task, outcome)
      return
    }
    outcome.then(
      (result) => this.#executed(task, result),
      (error: unknown) => this.#executeFailed(task, error),
    )
  }

  #executed(task: Task<SessionLink>, result: ScsiResult): void {
    if (task.aborted || this.closed) {
      this.tmf.abortedTaskSettled(task)
      return
    }
    const plan = task.plan
    assert(plan.kind === 'execute')
    this.#answer(task, result, plan.writeBytes)
  }

  #executeFailed(task: Task<SessionLink>, error: unknown): void {
    this.logger.error('SCSI execute failed', { itt: task.initiatorTaskTag, error: String(error) })
    if (task.aborted || this.closed) {
      this.tmf.abortedTaskSettled(task)
      return
    }
    const failure: ScsiResult = { status: ScsiStatus.busy, dataIn: null, sense: null }
    this.#answer(task, failure, 0)
  }

  /** Status (and Data-In) for a task, with residuals per direction (§11.4.5). */
  #answer(task: Task<SessionLink>, result: ScsiResult, writeBytes: number): void {
    const readBytes = result.dataIn?.length ?? 0
    const isRead = task.readEdtl > 0 || (readBytes > 0 && task.writeEdtl === 0)
    const bidi = task.writeEdtl > 0 && task.readEdtl > 0
    let residual: Residual
    if (task.writeEdtl > 0 || writeBytes > 0) residual = residualOf(task.writeEdtl, writeBytes)
    else if (isRead) residual = residualOf(task.readEdtl, readBytes)
    else residual = residualOf(0, 0)
    const dataIn =
      result.dataIn === null || task.readEdtl === 0
        ? null
        : readBytes <= task.readEdtl
          ? result.dataIn
          : result.dataIn.subarray(0, task.readEdtl)
    const view: TaskResultView = {
      status: result.status,
      dataIn,
      sense: result.sense,
      residual,
      bidiReadResidual: bidi ? residualOf(task.readEdtl, readBytes) : null,
    }
    this.#release(task)
    task.state = 'done'
    task.connection.sendTaskResult(task, view)
    // The device is done with the Data-Out (an aborted task never gets here: its buffer may
    // still be in a device's hands, and is left to the collector).
    if (task.buffer !== null && task.buffer.buffer !== result.dataIn?.buffer) {
      transferBuffers.release(task.buffer)
    }
    this.#checkSettled()
  }

  /**
   * Logout (§11.14): tasks still waiting for Data-Out on `link` (or anywhere, for null) are
   * dropped; `then` runs once the executing ones have answered.
   */
  afterTasks(link: SessionLink | null, then: () => void): void {
    for (const task of [...this.tasks.values()]) {
      if ((link === null || task.connection === link) && task.state === 'receiving') {
        task.aborted = true
        task.state = 'done'
        this.#release(task)
      }
    }
    this.#settleWaiters.push({ link, then })
    this.#checkSettled()
  }

  #checkSettled(): void {
    if (this.#settleWaiters.length === 0) return
    const waiting = this.#settleWaiters
    this.#settleWaiters = []
    for (const waiter of waiting) {
      let busy = false
      for (const task of this.tasks.values()) {
        if (waiter.link === null || task.connection === waiter.link) busy = true
      }
      if (busy) this.#settleWaiters.push(waiter)
      else waiter.then()
    }
  }

  /** Frees a task's slot in the window, its ITT, and its Data-Out budget. */
  #release(task: Task<SessionLink>): void {
    this.tasks.delete(task.initiatorTaskTag)
    this.#reserve(-task.dataOutBytes)
    this.window.finished()
  }

  /** Called by task management for a task aborted before it ran or after it settled. */
  releaseAborted(task: Task<SessionLink>): void {
    if (this.tasks.get(task.initiatorTaskTag) !== task) return
    task.state = 'done'
    this.#release(task)
    this.#checkSettled()
  }

  /**
   * Admits a CmdSN-numbered PDU (§4.2.2.1): immediate ones at once, others in CmdSN order;
   * out-of-window and duplicate ones are dropped without a word. Each delivered PDU holds a
   * window slot until `window.finished()` (the task's release, or the handler's).
   */
  submit(item: Ordered): void {
    if (item.pdu.immediate) {
      this.window.startedImmediate()
      item.link.deliver(item)
      return
    }
    if (this.window.takeInOrder(item.pdu.cmdSN)) {
      item.link.deliver(item)
      return
    }
    const admission = this.window.offer(item.pdu.cmdSN, item)
    if (admission !== 'accepted') {
      this.logger.debug('command dropped', { cmdSN: item.pdu.cmdSN, admission })
      return
    }
    // A delivered command may complete at once, and so may a Logout waiting on it: stop there.
    for (let next = this.window.deliver(); next !== null; next = this.window.deliver()) {
      next.link.deliver(next)
      if (this.closed) return
    }
  }

  /** §4.2.2.1: the Data-Out budget; past it the window stops opening. */
  #reserve(bytes: number): void {
    this.dataOutBytesBuffered += bytes
    assert(this.dataOutBytesBuffered >= 0)
    this.window.hold(this.dataOutBytesBuffered > this.limits.dataOutBytesPerSessionMax)
  }

  #allocateTargetTransferTag(): number {
    const tag = this.#nextTargetTransferTag
    this.#nextTargetTransferTag = tag + 1 >= reservedTag ? 1 : tag + 1
    return tag
  }

  /** Task management (§11.5) is delegated; the response waits for aborted tasks (§4.2.3). */
  taskManagement(link: SessionLink, pdu: TaskManagementRequest): void {
    this.tmf.receive(link, pdu)
  }

  /** Ends the session: tasks are dropped without responses, the nexus goes away (§6.3.5). */
  close(reason: string): void {
    if (this.closed) return
    this.closed = true
    this.logger.info('session closed', { tsih: this.tsih, reason })
    for (const task of [...this.tasks.values()]) {
      task.aborted = true
      if (task.state !== 'executing') this.tasks.delete(task.initiatorTaskTag)
      // I_T nexus loss aborts the task (SAM-5 §6.3.4): what it still waits for (the range lock)
      // lets it go, so it never touches the medium.
      else if (task.plan.kind === 'execute') this.#units?.abort?.(task.plan.command)
    }
    const links = [...this.links.values()]
    this.links.clear()
    for (const link of links) link.drop(reason)
    if (this.nexus !== null) this.#units?.nexusRemoved(this.nexus, this.tmf)
    this.peers.sessionClosed(this)
  }
}

function nexusOf(identity: SessionIdentity, target: ExportedTarget): Nexus {
  const isidHex = Buffer.from(identity.isid).toString('hex')
  const tpgt = target.portalGroupTag
  return {
    initiatorPort: `${identity.initiatorName},i,0x${isidHex}`,
    targetPort: `${target.name},t,0x${tpgt.toString(16).padStart(4, '0')}`,
    initiatorName: identity.initiatorName,
    isidHex,
    relativeTargetPort: Math.max(1, tpgt),
  }
}
