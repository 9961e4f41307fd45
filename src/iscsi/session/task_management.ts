/**
 * Task management functions, target side (RFC 7143 §11.5, §11.6, §4.2.3; SAM-5 §7): which tasks
 * each function aborts (this session's, or every session's of the target for CLEAR TASK SET,
 * LOGICAL UNIT RESET and the target resets), the ABORT TASK rules for tasks not found (RefCmdSN
 * inside the window → consumed and "function complete"; outside → "task does not exist"), and the
 * ordering rule: aborted tasks never answer, and the TMF response leaves only after every aborted
 * task that was executing has settled (the logical unit hears of each, so that one still waiting
 * for the range lock settles at once without running). The same abort serves the SCSI layer's
 * own aborts of a nexus's tasks (PREEMPT AND ABORT, SPC-4 §5.9.11.5) through `NexusTasks`.
 */

import { serialLt } from '../../base/serial.ts'
import type {
  NexusTasks,
  ParsedHandle,
  TaskManagementFunction as ScsiTmf,
  TaskManagementOutcome,
} from '../../scsi/port.ts'
import type { TaskManagementRequest } from '../pdu/types.ts'
import { TaskManagementFunction, TaskManagementResponseCode } from '../spec/task_management.ts'
import type { Session, SessionLink } from './session.ts'
import type { Task } from './task.ts'

const outcomeCodes: Record<TaskManagementOutcome, number> = {
  complete: TaskManagementResponseCode.functionComplete,
  lunDoesNotExist: TaskManagementResponseCode.lunDoesNotExist,
  notSupported: TaskManagementResponseCode.taskManagementFunctionNotSupported,
  rejected: TaskManagementResponseCode.functionRejected,
}

/** §11.5.1 codes → the SCSI layer's names, for the functions that reach it. */
const scsiFunctions: Partial<Record<number, ScsiTmf>> = {
  [TaskManagementFunction.abortTaskSet]: 'abortTaskSet',
  [TaskManagementFunction.clearTaskSet]: 'clearTaskSet',
  [TaskManagementFunction.logicalUnitReset]: 'lunReset',
  [TaskManagementFunction.targetWarmReset]: 'targetWarmReset',
  [TaskManagementFunction.targetColdReset]: 'targetColdReset',
}

/** A TMF response waiting for the aborted tasks that were executing. */
interface Barrier {
  pending: number
  readonly send: () => void
}

export class TaskManagement implements NexusTasks {
  #barriers = new Map<Task<SessionLink>, Barrier[]>()

  constructor(private readonly session: Session) {}

  /** NexusTasks (port.ts): this session's tasks on the LUNs `onLun` accepts, `except` spared. */
  abortTasks(onLun: (lun: Uint8Array) => boolean, except: ParsedHandle | null): Promise<void> {
    const victims: Task<SessionLink>[] = []
    for (const task of this.session.tasks.values()) {
      const spared = task.plan.kind === 'execute' && task.plan.command === except
      if (!spared && onLun(task.lun)) victims.push(task)
    }
    return new Promise((resolve) => this.#abort(victims, resolve))
  }

  receive(link: SessionLink, pdu: TaskManagementRequest): void {
    const respond = (code: number): void =>
      link.sendTaskManagementResponse(pdu.initiatorTaskTag, code)
    switch (pdu.function) {
      case TaskManagementFunction.abortTask: {
        this.#abortTask(pdu, respond)
        return
      }
      case TaskManagementFunction.clearAca: {
        respond(TaskManagementResponseCode.taskManagementFunctionNotSupported)
        return
      }
      case TaskManagementFunction.taskReassign: {
        // §11.5.1: allegiance reassignment needs ErrorRecoveryLevel 2; we run at 0.
        respond(TaskManagementResponseCode.taskAllegianceReassignmentNotSupported)
        return
      }
      default: {
        this.#scsiFunction(pdu, respond)
        return
      }
    }
  }

  /** §11.5.1 ABORT TASK, with the rules for a referenced task we do not hold. */
  #abortTask(pdu: TaskManagementRequest, respond: (code: number) => void): void {
    const session = this.session
    const task = session.tasks.get(pdu.referencedTaskTag)
    // A task another function already aborted still holds this response until it settles.
    if (task !== undefined) {
      // The logical unit hears of it too: a SANITIZE command then answers at once (SBC-3 §4.11).
      if (session.nexus !== null)
        session.units?.taskManagement('abortTask', session.nexus, task.lun)
      this.#abort([task], () => respond(TaskManagementResponseCode.functionComplete))
      return
    }
    const window = session.window
    // b) not received yet but inside the window and before this TMF: consume it, complete.
    if (window.inWindow(pdu.refCmdSN) && serialLt(pdu.refCmdSN, pdu.cmdSN)) {
      window.discard(pdu.refCmdSN)
      window.consume(pdu.refCmdSN)
      respond(TaskManagementResponseCode.functionComplete)
      return
    }
    // c) outside the window: it already completed (or never existed).
    respond(TaskManagementResponseCode.taskDoesNotExist)
  }

  #scsiFunction(pdu: TaskManagementRequest, respond: (code: number) => void): void {
    const session = this.session
    const fn = scsiFunctions[pdu.function]
    const units = session.units
    if (fn === undefined || units === null || session.nexus === null) {
      respond(TaskManagementResponseCode.taskManagementFunctionNotSupported)
      return
    }
    const outcome = units.taskManagement(fn, session.nexus, pdu.lun)
    const code = outcomeCodes[outcome]
    if (outcome !== 'complete') {
      respond(code)
      return
    }
    const victims = this.#victims(fn, pdu.lun)
    const after =
      fn === 'targetColdReset' ? () => this.#coldReset(respond, code) : () => respond(code)
    this.#abort(victims, after)
  }

  /** SAM-5 §7: ABORT TASK SET is this nexus's tasks on the LU; the rest reach every nexus. */
  #victims(fn: ScsiTmf, lun: Uint8Array): Task<SessionLink>[] {
    const session = this.session
    const sessions =
      fn === 'abortTaskSet' || session.identity.target === null
        ? [session]
        : session.peers.sessionsOfTarget(session.identity.target)
    const wholeTarget = fn === 'targetWarmReset' || fn === 'targetColdReset'
    const victims: Task<SessionLink>[] = []
    for (const s of sessions) {
      for (const task of s.tasks.values()) {
        if (wholeTarget || sameLun(task.lun, lun)) victims.push(task)
      }
    }
    return victims
  }

  /** §11.5.1 TARGET COLD RESET: answer, then drop every connection of the target's sessions. */
  #coldReset(respond: (code: number) => void, code: number): void {
    respond(code)
    const target = this.session.identity.target
    if (target === null) return
    for (const s of [...this.session.peers.sessionsOfTarget(target)]) s.close('target cold reset')
  }

  /** Marks tasks aborted (again, for tasks an earlier function aborted); `then` runs once none
   * of them can still produce a response or touch the medium. */
  #abort(tasks: readonly Task<SessionLink>[], then: () => void): void {
    const barrier: Barrier = { pending: 0, send: then }
    for (const task of tasks) {
      task.aborted = true
      const owner = this.#ownerOf(task)
      if (task.state === 'executing') {
        barrier.pending += 1
        const list = owner.tmf.#barriers.get(task) ?? []
        list.push(barrier)
        owner.tmf.#barriers.set(task, list)
        // The logical unit drops what the command still waits for (the range lock), so it
        // settles without touching the medium (SAM-5 §5.6).
        if (task.plan.kind === 'execute') owner.units?.abort?.(task.plan.command)
      } else {
        owner.releaseAborted(task)
      }
    }
    if (barrier.pending === 0) then()
  }

  #ownerOf(task: Task<SessionLink>): Session {
    const target = this.session.identity.target
    if (this.session.tasks.get(task.initiatorTaskTag) === task || target === null)
      return this.session
    for (const s of this.session.peers.sessionsOfTarget(target)) {
      if (s.tasks.get(task.initiatorTaskTag) === task) return s
    }
    return this.session
  }

  /** An aborted task's execute settled: release it and send any TMF response it held back. */
  abortedTaskSettled(task: Task<SessionLink>): void {
    this.session.releaseAborted(task)
    const barriers = this.#barriers.get(task)
    if (barriers === undefined) return
    this.#barriers.delete(task)
    for (const barrier of barriers) {
      barrier.pending -= 1
      if (barrier.pending === 0) barrier.send()
    }
  }
}

function sameLun(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false
  return true
}
