/**
 * The iSCSI PDUs (RFC 7143 §11) as typed values: one discriminated union, field names after the
 * RFC in camelCase. Codecs live one PDU per file beside this one (`decodeX`/`encodeX`); the framer
 * (../framer.ts) cuts byte streams into `Frame`s and `decodePdu` turns a frame into one of these.
 *
 * Conventions: 32-bit sequence numbers and tags are unsigned `number`s; the 8-byte LUN field is
 * kept as raw bytes (`Uint8Array(8)`, SAM-5 §4.7) and decoded by ../lun.ts; data segments are
 * views into the received buffer (no copy) and must not be retained past the PDU's handling
 * unless copied.
 */
import type { Opcode } from '../spec/opcodes.ts'

export type Lun8 = Uint8Array

/** RFC 7143 §11.18 */
export interface NopOut {
  readonly opcode: typeof Opcode.nopOut
  readonly immediate: boolean
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly cmdSN: number
  readonly expStatSN: number
  readonly pingData: Uint8Array
}

/** RFC 7143 §11.19 */
export interface NopIn {
  readonly opcode: typeof Opcode.nopIn
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly pingData: Uint8Array
}

/** RFC 7143 §11.3.1.2 */
export type TaskAttributeCode = 0 | 1 | 2 | 3 | 4 // untagged, simple, ordered, head of queue, ACA

/** RFC 7143 §11.3 */
export interface ScsiCommand {
  readonly opcode: typeof Opcode.scsiCommand
  readonly immediate: boolean
  readonly final: boolean
  readonly read: boolean
  readonly write: boolean
  readonly taskAttribute: TaskAttributeCode
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly expectedDataTransferLength: number
  readonly cmdSN: number
  readonly expStatSN: number
  /** CDB bytes: the 16 in the BHS, extended by an Extended CDB AHS when present (§11.3.5). */
  readonly cdb: Uint8Array
  /** Bidirectional Expected Read-Data Length AHS (§11.3.6.2), when present. */
  readonly expectedBidirectionalReadDataLength: number | null
  /** Immediate (unsolicited, in-PDU) data. */
  readonly data: Uint8Array
}

/** RFC 7143 §11.4 */
export interface ScsiResponse {
  readonly opcode: typeof Opcode.scsiResponse
  readonly bidiReadResidualOverflow: boolean
  readonly bidiReadResidualUnderflow: boolean
  readonly residualOverflow: boolean
  readonly residualUnderflow: boolean
  /** §11.4.3: 0x00 command completed at target, 0x01 target failure. */
  readonly response: number
  /** SAM status byte (GOOD 0x00, CHECK CONDITION 0x02, …). */
  readonly status: number
  readonly initiatorTaskTag: number
  readonly snackTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly expDataSN: number
  readonly bidiReadResidualCount: number
  readonly residualCount: number
  /** §11.4.7: SenseLength (2 bytes) + sense data; empty when no sense. */
  readonly senseData: Uint8Array
}

/** RFC 7143 §11.5 */
export interface TaskManagementRequest {
  readonly opcode: typeof Opcode.taskManagementRequest
  readonly immediate: boolean
  /** §11.5.1: 1 ABORT TASK … 8 TASK REASSIGN. */
  readonly function: number
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly referencedTaskTag: number
  readonly cmdSN: number
  readonly expStatSN: number
  readonly refCmdSN: number
  readonly expDataSN: number
}

/** RFC 7143 §11.6 */
export interface TaskManagementResponse {
  readonly opcode: typeof Opcode.taskManagementResponse
  /** §11.6.1 response codes. */
  readonly response: number
  readonly initiatorTaskTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
}

/** RFC 7143 §11.7 */
export interface DataOut {
  readonly opcode: typeof Opcode.dataOut
  readonly final: boolean
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly expStatSN: number
  readonly dataSN: number
  readonly bufferOffset: number
  readonly data: Uint8Array
}

/** RFC 7143 §11.7 */
export interface DataIn {
  readonly opcode: typeof Opcode.dataIn
  readonly final: boolean
  readonly acknowledge: boolean
  readonly residualOverflow: boolean
  readonly residualUnderflow: boolean
  /** S bit: status is carried in this PDU (phase collapse, §11.7.4). */
  readonly hasStatus: boolean
  /** Valid only when hasStatus. */
  readonly status: number
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  /** Valid only when hasStatus; otherwise reserved (0). */
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly dataSN: number
  readonly bufferOffset: number
  readonly residualCount: number
  readonly data: Uint8Array
}

/** RFC 7143 §11.8 */
export interface ReadyToTransfer {
  readonly opcode: typeof Opcode.readyToTransfer
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly r2tSN: number
  readonly bufferOffset: number
  readonly desiredDataTransferLength: number
}

/** RFC 7143 §11.9 */
export interface AsyncMessage {
  readonly opcode: typeof Opcode.asyncMessage
  readonly lun: Lun8
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  /** §11.9.1: 0 SCSI event, 1 logout request, 2 drop connection, 3 drop all, 4 renegotiate. */
  readonly asyncEvent: number
  readonly asyncVCode: number
  readonly parameter1: number
  readonly parameter2: number
  readonly parameter3: number
  /** Sense data (with its 2-byte length) and/or iSCSI event data. */
  readonly data: Uint8Array
}

/** RFC 7143 §11.10 */
export interface TextRequest {
  readonly opcode: typeof Opcode.textRequest
  readonly immediate: boolean
  readonly final: boolean
  readonly continue: boolean
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly cmdSN: number
  readonly expStatSN: number
  /** key=value pairs, NUL-separated (§6.1). */
  readonly data: Uint8Array
}

/** RFC 7143 §11.11 */
export interface TextResponse {
  readonly opcode: typeof Opcode.textResponse
  readonly final: boolean
  readonly continue: boolean
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly data: Uint8Array
}

/** RFC 7143 §11.12 */
export interface LoginRequest {
  readonly opcode: typeof Opcode.loginRequest
  readonly immediate: boolean
  readonly transit: boolean
  readonly continue: boolean
  /** Current and next stage: 0 security, 1 operational, 3 full feature (§11.12.3). */
  readonly currentStage: number
  readonly nextStage: number
  readonly versionMax: number
  readonly versionMin: number
  /** 6 bytes: T, A, B, C, D fields of §11.12.5. */
  readonly isid: Uint8Array
  readonly tsih: number
  readonly initiatorTaskTag: number
  readonly cid: number
  readonly cmdSN: number
  readonly expStatSN: number
  readonly data: Uint8Array
}

/** RFC 7143 §11.13 */
export interface LoginResponse {
  readonly opcode: typeof Opcode.loginResponse
  readonly transit: boolean
  readonly continue: boolean
  readonly currentStage: number
  readonly nextStage: number
  readonly versionMax: number
  readonly versionActive: number
  readonly isid: Uint8Array
  readonly tsih: number
  readonly initiatorTaskTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  /** §11.13.5, packed: Status-Class << 8 | Status-Detail (see spec/login_status.ts). */
  readonly status: number
  readonly data: Uint8Array
}

/** RFC 7143 §11.14 */
export interface LogoutRequest {
  readonly opcode: typeof Opcode.logoutRequest
  readonly immediate: boolean
  /** §11.14.1: 0 close session, 1 close connection, 2 remove connection for recovery. */
  readonly reasonCode: number
  readonly initiatorTaskTag: number
  readonly cid: number
  readonly cmdSN: number
  readonly expStatSN: number
}

/** RFC 7143 §11.15 */
export interface LogoutResponse {
  readonly opcode: typeof Opcode.logoutResponse
  /** §11.15.1: 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed. */
  readonly response: number
  readonly initiatorTaskTag: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly time2Wait: number
  readonly time2Retain: number
}

/** RFC 7143 §11.16 */
export interface SnackRequest {
  readonly opcode: typeof Opcode.snackRequest
  readonly type: number
  readonly lun: Lun8
  readonly initiatorTaskTag: number
  readonly targetTransferTag: number
  readonly expStatSN: number
  readonly begRun: number
  readonly runLength: number
}

/** RFC 7143 §11.17 */
export interface Reject {
  readonly opcode: typeof Opcode.reject
  /** §11.17.1 reason code (see spec/reject_reason.ts). */
  readonly reason: number
  readonly statSN: number
  readonly expCmdSN: number
  readonly maxCmdSN: number
  readonly dataSN: number
  /** The complete header of the rejected PDU (48 bytes). */
  readonly header: Uint8Array
}

export type InitiatorPdu =
  | NopOut
  | ScsiCommand
  | TaskManagementRequest
  | LoginRequest
  | TextRequest
  | DataOut
  | LogoutRequest
  | SnackRequest

export type TargetPdu =
  | NopIn
  | ScsiResponse
  | TaskManagementResponse
  | LoginResponse
  | TextResponse
  | DataIn
  | LogoutResponse
  | ReadyToTransfer
  | AsyncMessage
  | Reject

export type Pdu = InitiatorPdu | TargetPdu

/**
 * One PDU as cut from the byte stream by the framer: the 48-byte BHS, any AHS, and the data
 * segment without padding. Digests have already been checked (or found wrong: see framer.ts).
 */
export interface Frame {
  readonly bhs: Uint8Array
  readonly ahs: Uint8Array
  readonly data: Uint8Array
}

/** A PDU ready for the wire: header bytes (BHS + AHS) and data segment, sent with writev. */
export interface EncodedPdu {
  readonly header: Uint8Array
  readonly data: Uint8Array
}
