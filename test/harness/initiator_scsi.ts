/**
 * The test initiator's command flows in full feature phase: SCSI commands with immediate data,
 * unsolicited Data-Out and R2T-solicited bursts (RFC 7143 §11.3, §11.7, §11.8), Data-In
 * sequences with phase collapse (§11.7.4), and the shared wait loop that answers target pings.
 * It checks what it receives (DataSN order, offsets within the buffer) so it can act as an oracle.
 */
import { senseFromSegment } from '../../src/iscsi/pdu/mod.ts'
import type {
  AsyncMessage,
  DataIn,
  Pdu,
  ReadyToTransfer,
  Reject,
  ScsiResponse,
  TaskAttributeCode,
} from '../../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'
import { type InitiatorConnection, InitiatorProtocolError } from './initiator_connection.ts'
import type { NegotiatedParameters } from './initiator_login.ts'

export interface ScsiRequest {
  lun?: number
  cdb: Uint8Array
  /** Write data; its length is the default Expected Data Transfer Length. */
  dataOut?: Uint8Array
  expectedDataTransferLength?: number
  /** Defaults: write when dataOut is given, read when a length is expected without dataOut. */
  read?: boolean
  write?: boolean
  taskAttribute?: TaskAttributeCode
  timeoutMs?: number
}

export interface ScsiResult {
  status: number
  /** §11.4.3 iSCSI response code (0 when the status came in a Data-In). */
  response: number
  /** Sense bytes without the SenseLength prefix; empty when none. */
  sense: Uint8Array
  dataIn: Uint8Array
  residualCount: number
  residualOverflow: boolean
  residualUnderflow: boolean
  r2tCount: number
  dataInPduCount: number
}

/** The target rejected one of our PDUs (§11.17). */
export class RejectedError extends Error {
  override name = 'RejectedError'
  constructor(readonly reject: Reject) {
    super(`target rejected the PDU with reason 0x${reject.reason.toString(16)}`)
  }
}

/** SAM-5 §4.7.7 peripheral (LUN < 256) or flat (LUN < 16384) addressing in the 8-byte field. */
export function lunBytes(lun: number): Uint8Array {
  const bytes = new Uint8Array(8)
  if (lun < 256) bytes[1] = lun
  else {
    bytes[0] = 0x40 | (lun >>> 8)
    bytes[1] = lun & 0xff
  }
  return bytes
}

/**
 * The next PDU of task `itt`, answering target pings (§11.19) and keeping async messages on
 * the way; a Reject of our PDU throws RejectedError.
 */
export async function nextForTask(
  connection: InitiatorConnection,
  itt: number,
  timeoutMs: number,
  asyncMessages: AsyncMessage[],
): Promise<Pdu> {
  for (;;) {
    const pdu = await connection.nextPdu(timeoutMs)
    if (pdu === null) throw new InitiatorProtocolError('connection closed while waiting')
    if (pdu.opcode === Opcode.nopIn && pdu.initiatorTaskTag === reservedTag) {
      if (pdu.targetTransferTag !== reservedTag)
        answerPing(connection, pdu.targetTransferTag, pdu.pingData)
      continue
    }
    if (pdu.opcode === Opcode.asyncMessage) {
      asyncMessages.push(pdu)
      continue
    }
    if (pdu.opcode === Opcode.reject) throw new RejectedError(pdu)
    if ('initiatorTaskTag' in pdu && pdu.initiatorTaskTag === itt) return pdu
    throw new InitiatorProtocolError(`unexpected PDU opcode 0x${pdu.opcode.toString(16)}`)
  }
}

function answerPing(connection: InitiatorConnection, ttt: number, pingData: Uint8Array): void {
  connection.send({
    opcode: Opcode.nopOut,
    immediate: true,
    lun: new Uint8Array(8),
    initiatorTaskTag: reservedTag,
    targetTransferTag: ttt,
    cmdSN: connection.cmdSN,
    expStatSN: connection.expStatSN,
    pingData: pingData.slice(),
  })
}

interface CommandPlan {
  readonly itt: number
  readonly lun: Uint8Array
  readonly data: Uint8Array
  readonly transferLength: number
  readonly immediateBytes: number
  /** End of the unsolicited data (immediate + unsolicited Data-Out, §11.7, FirstBurstLength). */
  readonly unsolicitedEnd: number
}

function planCommand(
  connection: InitiatorConnection,
  params: NegotiatedParameters,
  request: ScsiRequest,
): CommandPlan {
  const data = request.dataOut ?? new Uint8Array(0)
  const transferLength = request.expectedDataTransferLength ?? data.length
  const writable = Math.min(data.length, transferLength)
  const firstBurst = Math.min(params.firstBurstLength, writable)
  const immediateBytes = params.immediateData
    ? Math.min(firstBurst, params.maxSendDataSegmentLength)
    : 0
  const unsolicitedEnd = params.initialR2T ? immediateBytes : firstBurst
  const lun = lunBytes(request.lun ?? 0)
  return { itt: connection.nextTag(), lun, data, transferLength, immediateBytes, unsolicitedEnd }
}

/** Runs one SCSI command to its status (§11.3). */
export async function runScsi(
  connection: InitiatorConnection,
  params: NegotiatedParameters,
  request: ScsiRequest,
  asyncMessages: AsyncMessage[],
): Promise<ScsiResult> {
  const plan = planCommand(connection, params, request)
  const write = request.write ?? request.dataOut !== undefined
  const read = request.read ?? (!write && plan.transferLength > 0)
  connection.send({
    opcode: Opcode.scsiCommand,
    immediate: false,
    final: plan.unsolicitedEnd <= plan.immediateBytes,
    read,
    write,
    taskAttribute: request.taskAttribute ?? 1,
    lun: plan.lun,
    initiatorTaskTag: plan.itt,
    expectedDataTransferLength: plan.transferLength,
    cmdSN: connection.cmdSN,
    expStatSN: connection.expStatSN,
    cdb: padCdb(request.cdb),
    expectedBidirectionalReadDataLength: null,
    data: plan.data.subarray(0, plan.immediateBytes),
  })
  connection.cmdSN = (connection.cmdSN + 1) >>> 0
  const burst = { offset: plan.immediateBytes, length: plan.unsolicitedEnd - plan.immediateBytes }
  if (burst.length > 0) sendBurst(connection, params, plan, reservedTag, burst)
  return collect(connection, params, plan, request.timeoutMs ?? 10_000, asyncMessages)
}

function padCdb(cdb: Uint8Array): Uint8Array {
  if (cdb.length >= 16) return cdb
  const padded = new Uint8Array(16)
  padded.set(cdb)
  return padded
}

/** Sends [offset, offset+length) as Data-Out PDUs of at most MaxRecvDataSegmentLength (§11.7). */
function sendBurst(
  connection: InitiatorConnection,
  params: NegotiatedParameters,
  plan: CommandPlan,
  ttt: number,
  burst: { offset: number; length: number },
): void {
  const end = burst.offset + burst.length
  let dataSN = 0
  for (let offset = burst.offset; offset < end; dataSN++) {
    const size = Math.min(params.maxSendDataSegmentLength, end - offset)
    connection.send({
      opcode: Opcode.dataOut,
      final: offset + size === end,
      lun: plan.lun,
      initiatorTaskTag: plan.itt,
      targetTransferTag: ttt,
      expStatSN: connection.expStatSN,
      dataSN,
      bufferOffset: offset,
      data: plan.data.subarray(offset, Math.min(offset + size, plan.data.length)),
    })
    offset += size
  }
}

interface Collected {
  readonly buffer: Uint8Array
  received: number
  nextDataSN: number
  nextR2TSN: number
  r2tCount: number
  dataInPduCount: number
}

async function collect(
  connection: InitiatorConnection,
  params: NegotiatedParameters,
  plan: CommandPlan,
  timeoutMs: number,
  asyncMessages: AsyncMessage[],
): Promise<ScsiResult> {
  const state: Collected = {
    buffer: new Uint8Array(plan.transferLength),
    received: 0,
    nextDataSN: 0,
    nextR2TSN: 0,
    r2tCount: 0,
    dataInPduCount: 0,
  }
  for (;;) {
    const pdu = await nextForTask(connection, plan.itt, timeoutMs, asyncMessages)
    if (pdu.opcode === Opcode.readyToTransfer) answerR2T(connection, params, plan, state, pdu)
    else if (pdu.opcode === Opcode.dataIn) {
      acceptDataIn(state, pdu)
      if (pdu.hasStatus) return fromDataIn(state, pdu)
    } else if (pdu.opcode === Opcode.scsiResponse) return fromResponse(state, pdu)
    else throw new InitiatorProtocolError(`unexpected opcode 0x${pdu.opcode.toString(16)} for task`)
  }
}

function answerR2T(
  connection: InitiatorConnection,
  params: NegotiatedParameters,
  plan: CommandPlan,
  state: Collected,
  r2t: ReadyToTransfer,
): void {
  // §11.8.3, §11.8.4: R2TSN counts from 0; the burst lies inside the transfer and MaxBurstLength.
  if (r2t.r2tSN !== state.nextR2TSN)
    throw new InitiatorProtocolError(`R2TSN ${r2t.r2tSN} out of order`)
  const end = r2t.bufferOffset + r2t.desiredDataTransferLength
  if (end > plan.transferLength || r2t.desiredDataTransferLength === 0) {
    throw new InitiatorProtocolError('R2T outside the expected transfer')
  }
  if (r2t.desiredDataTransferLength > params.maxBurstLength) {
    throw new InitiatorProtocolError('R2T larger than MaxBurstLength')
  }
  state.nextR2TSN++
  state.r2tCount++
  const burst = { offset: r2t.bufferOffset, length: r2t.desiredDataTransferLength }
  sendBurst(connection, params, plan, r2t.targetTransferTag, burst)
}

function acceptDataIn(state: Collected, pdu: DataIn): void {
  // §11.7.5: DataSN counts Data-In PDUs of the command from 0.
  if (pdu.dataSN !== state.nextDataSN)
    throw new InitiatorProtocolError(`DataSN ${pdu.dataSN} out of order`)
  if (pdu.bufferOffset + pdu.data.length > state.buffer.length) {
    throw new InitiatorProtocolError('Data-In beyond the Expected Data Transfer Length')
  }
  state.buffer.set(pdu.data, pdu.bufferOffset)
  state.received = Math.max(state.received, pdu.bufferOffset + pdu.data.length)
  state.nextDataSN++
  state.dataInPduCount++
}

function fromDataIn(state: Collected, pdu: DataIn): ScsiResult {
  return {
    status: pdu.status,
    response: 0,
    sense: new Uint8Array(0),
    dataIn: state.buffer.subarray(0, state.received),
    residualCount: pdu.residualCount,
    residualOverflow: pdu.residualOverflow,
    residualUnderflow: pdu.residualUnderflow,
    r2tCount: state.r2tCount,
    dataInPduCount: state.dataInPduCount,
  }
}

function fromResponse(state: Collected, pdu: ScsiResponse): ScsiResult {
  return {
    status: pdu.status,
    response: pdu.response,
    sense: senseFromSegment(pdu.senseData).slice(),
    dataIn: state.buffer.subarray(0, state.received),
    residualCount: pdu.residualCount,
    residualOverflow: pdu.residualOverflow,
    residualUnderflow: pdu.residualUnderflow,
    r2tCount: state.r2tCount,
    dataInPduCount: state.dataInPduCount,
  }
}
