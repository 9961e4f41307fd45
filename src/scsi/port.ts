/**
 * What a transport (iscsi/) needs from the SCSI layer: the set of logical units behind one
 * target, with a two-phase command path (parse, then execute) and task management.
 * The transport never looks inside a CDB; the SCSI layer never sees a PDU.
 */
import type { Nexus } from './nexus.ts'

/** SAM-5 §5.3: status codes. */
export const ScsiStatus = {
  good: 0x00,
  checkCondition: 0x02,
  conditionMet: 0x04,
  busy: 0x08,
  reservationConflict: 0x18,
  taskSetFull: 0x28,
  acaActive: 0x30,
  taskAborted: 0x40,
} as const
export type ScsiStatus = (typeof ScsiStatus)[keyof typeof ScsiStatus]

/** SAM-5 §8.6: task attributes (same values as RFC 7143 §11.3.1.2's ATTR field). */
export type TaskAttribute = 'simple' | 'ordered' | 'headOfQueue' | 'aca'

export interface ScsiRequest {
  readonly nexus: Nexus
  /** The 8-byte LUN field as received (SAM-5 §4.7). */
  readonly lun: Uint8Array
  readonly cdb: Uint8Array
  readonly taskAttribute: TaskAttribute
  /** The transport's task tag, used by ABORT TASK and for abort bookkeeping. */
  readonly taskTag: number
  /**
   * The Data-Out length the initiator announced (iSCSI: the Expected Data Transfer Length of a
   * write, RFC 7143 §11.3.6), when the transport knows one. A block write whose CDB asks for more
   * is cut to the whole blocks that fit (SAM-5 §5.4.3: the transfer stops at the initiator's
   * buffer); any other command that needs more answers INVALID FIELD IN INFORMATION UNIT.
   */
  readonly expectedDataOutBytes?: number
}

export interface ScsiResult {
  readonly status: ScsiStatus
  /** Data-In for the initiator (already truncated to the CDB's allocation length). */
  readonly dataIn: Uint8Array | null
  /** Sense data bytes (fixed or descriptor format) when status is CHECK CONDITION. */
  readonly sense: Uint8Array | null
}

/**
 * Phase 1's verdict: answer at once, or receive `dataOutBytes` and then execute.
 * `requestedDataOutBytes` is the Data-Out the CDB itself asks for, when that differs from what
 * the command will take (the CDB asked for more than `expectedDataOutBytes`): the transport
 * counts its residual against it (RFC 7143 §11.4.5). Absent, it equals `dataOutBytes` (0 for
 * 'done').
 */
export type ParsedCommand =
  | {
      readonly kind: 'done'
      readonly result: ScsiResult
      readonly requestedDataOutBytes?: number
    }
  | {
      readonly kind: 'ready'
      /** Bytes of Data-Out the command takes (0 for none), never above expectedDataOutBytes. */
      readonly dataOutBytes: number
      readonly requestedDataOutBytes?: number
      /** Bytes of Data-In the CDB may return at most (0 for none). */
      readonly dataInBytesMax: number
      readonly command: ParsedHandle
    }

/** Opaque to the transport. */
export interface ParsedHandle {
  readonly opcodeName: string
}

/**
 * Conditions the transport itself detects on a command and reports as CHECK CONDITION; the sense
 * bytes still come from the SCSI layer (sense.ts), in the addressed unit's format (D_SENSE).
 * - `invalidFieldInInformationUnit`: the command's data does not fit the transport's expected
 *   length (FCP-4 §9.4.2 b).
 * - `protocolServiceCrcError`: Data-Out was lost to a digest error (RFC 7143 §11.4.7.2, §7.8.1).
 */
export type TransportCondition = 'invalidFieldInInformationUnit' | 'protocolServiceCrcError'

/** SAM-5 §7: task management functions, as the transport maps them. */
export type TaskManagementFunction =
  | 'abortTask'
  | 'abortTaskSet'
  | 'clearTaskSet'
  | 'clearAca'
  | 'lunReset'
  | 'targetWarmReset'
  | 'targetColdReset'
  | 'queryTask'

/** SAM-5 §7.11 / RFC 7143 §11.6.1 outcomes the SCSI layer can give. */
export type TaskManagementOutcome = 'complete' | 'lunDoesNotExist' | 'notSupported' | 'rejected'

/**
 * The transport's handle on the tasks of one I_T nexus, for aborts the SCSI layer itself starts:
 * PREEMPT AND ABORT aborts the preempted nexuses' tasks on the unit (SPC-4 §5.9.11.5, SAM-5 §5.6).
 */
export interface NexusTasks {
  /**
   * Aborts every task of this nexus whose 8-byte LUN field `onLun` accepts, except the one
   * carrying `except` (the command asking). Aborted tasks never answer; the promise resolves once
   * none of them can still answer or touch the medium.
   */
  abortTasks(onLun: (lun: Uint8Array) => boolean, except: ParsedHandle | null): Promise<void>
}

export interface LogicalUnitGroup {
  /** LUN numbers served (REPORT LUNS draws on the same list). */
  readonly lunNumbers: readonly number[]
  /** Phase 1: decode the CDB and run every central check (opcode, reserved bits, LBA range,
   * transfer length, unit attention, reservation). Synchronous and side-effect free except for
   * consuming a unit attention that it reports. */
  parse(request: ScsiRequest): ParsedCommand
  /**
   * Phase 2: run the command. `dataOut` has exactly `dataOutBytes` bytes (or is null if 0). A
   * command that completes without waiting (a page-cache read, a mode page) answers at once, so
   * that the transport can send its status in the same turn; one that waits answers a promise.
   * Either way a failure of the world is a result (CHECK CONDITION), and only our bug throws.
   */
  execute(command: ParsedHandle, dataOut: Uint8Array | null): ScsiResult | Promise<ScsiResult>
  /** CHECK CONDITION for a condition the transport found, with sense in `lun`'s format. */
  transportFailure(lun: Uint8Array, condition: TransportCondition): ScsiResult
  /** Task management on behalf of `nexus`. The transport aborts its own task records. */
  taskManagement(fn: TaskManagementFunction, nexus: Nexus, lun: Uint8Array): TaskManagementOutcome
  /**
   * The task of `command`, which `execute` was called for and has not settled, was aborted
   * (whatever function or PREEMPT AND ABORT did it, SAM-5 §5.6). What the command still waits
   * for before touching the medium (the range lock) is dropped, so it never does; its execute
   * then settles soon with a result the transport discards. Idempotent. Absent from groups whose
   * commands never wait so.
   */
  abort?(command: ParsedHandle): void
  /** A nexus came into existence (login) or went away (session closed). `tasks` is the
   * transport's handle on the nexus's tasks (absent from transports that cannot abort). */
  nexusAdded(nexus: Nexus, tasks?: NexusTasks): void
  nexusRemoved(nexus: Nexus, tasks?: NexusTasks): void
}
