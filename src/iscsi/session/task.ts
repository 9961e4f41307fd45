/**
 * One SCSI task's transfer bookkeeping, pure (RFC 7143 §4.2.5.2 unsolicited and solicited data,
 * §11.7 Data-Out, §11.8 R2T, §11.4.5 residuals): where its Data-Out lands, which DataSN and
 * BufferOffset come next, which R2Ts are outstanding and which to send, and how Data-In splits into
 * PDUs and sequences. DataPDUInOrder and DataSequenceInOrder are always Yes here (we offer Yes and
 * both keys are OR-ed, §13.18-§13.19), so every sequence arrives in offset order.
 */
import { assert } from '../../base/assert.ts'
import { transferBuffers } from '../../base/buffer_pool.ts'
import type { ParsedHandle, ScsiResult } from '../../scsi/port.ts'
import type { DataOut, Lun8 } from '../pdu/types.ts'
import { reservedTag } from '../spec/opcodes.ts'

/** What the task will do once its Data-Out has arrived. */
export type TaskPlan =
  /** Execute with exactly `dataOutBytes` of Data-Out; `writeBytes` is the Data-Out the CDB asked
   * for (more than `dataOutBytes` when the SCSI layer cut it to the EDTL), for the residual. */
  | { readonly kind: 'execute'; readonly command: ParsedHandle; readonly writeBytes: number }
  /** Answer with this result once unsolicited data is drained (parse said 'done', or overflow);
   * `writeBytes` is the Data-Out the CDB asked for, for the residual (§11.4.5). */
  | { readonly kind: 'answer'; readonly result: ScsiResult; readonly writeBytes: number }

export interface R2tRecord {
  readonly targetTransferTag: number
  readonly r2tSN: number
  readonly bufferOffset: number
  readonly length: number
  nextOffset: number
  nextDataSN: number
}

export interface TransferParameters {
  readonly maxBurstLength: number
  readonly firstBurstLength: number
  readonly maxOutstandingR2T: number
}

export type DataOutVerdict =
  | { readonly kind: 'accepted' }
  /** A wrong DataSN, BufferOffset or TTT (§7.4): the task is failed and drains (see `fail`). */
  | { readonly kind: 'sequenceError'; readonly detail: string }
  /** Immediate data the negotiation does not allow: the command itself is malformed. */
  | { readonly kind: 'protocolError'; readonly detail: string }

export type TaskState = 'receiving' | 'executing' | 'done'

export class Task<C = unknown> {
  state: TaskState = 'receiving'
  aborted = false
  /** Data-Out arrives here, in [0, dataOutBytes); bytes past it (EDTL underflow) are dropped. */
  buffer: Uint8Array | null = null
  receivedBytes = 0
  /** Shared numbering of R2Ts and Data-Ins (§11.7.4, §11.8.5). */
  inputSN = 0
  readonly outstanding: R2tRecord[] = []
  #unsolicitedOpen: boolean
  #unsolicitedLimit: number
  #unsolicitedOffset = 0
  #unsolicitedDataSN = 0
  #nextSolicitOffset = 0
  #failed = false

  constructor(
    readonly connection: C,
    readonly initiatorTaskTag: number,
    readonly cmdSN: number,
    readonly lun: Lun8,
    readonly immediate: boolean,
    /** Expected lengths per direction (§11.3.6): 0 when the R or W bit is clear. */
    readonly readEdtl: number,
    readonly writeEdtl: number,
    readonly plan: TaskPlan,
    /** Bytes of Data-Out the command takes: 0 unless the plan is 'execute'. */
    readonly dataOutBytes: number,
    /** The command's F bit is clear: unsolicited Data-Out PDUs follow (§11.3.1). */
    unsolicitedFollows: boolean,
    transfer: TransferParameters,
  ) {
    assert(plan.kind === 'execute' || dataOutBytes === 0)
    this.#unsolicitedOpen = unsolicitedFollows
    this.#unsolicitedLimit = Math.min(transfer.firstBurstLength, writeEdtl)
  }

  /** Immediate data (§4.2.5.2): the first unsolicited bytes, at offset 0. */
  acceptImmediate(data: Uint8Array): DataOutVerdict {
    if (data.length === 0) return { kind: 'accepted' }
    if (data.length > this.#unsolicitedLimit) {
      return { kind: 'protocolError', detail: 'immediate data exceeds FirstBurstLength or EDTL' }
    }
    this.#unsolicitedOffset = data.length
    if (data.length === this.dataOutBytes && !this.#unsolicitedOpen) {
      this.buffer = data // the whole Data-Out in one PDU: no copy
      this.receivedBytes = data.length
      this.#nextSolicitOffset = data.length
      return { kind: 'accepted' }
    }
    this.#place(0, data)
    this.#nextSolicitOffset = Math.min(data.length, this.dataOutBytes)
    return { kind: 'accepted' }
  }

  /** §11.7: checks a Data-Out's TTT, DataSN and BufferOffset against its sequence; keeps it. */
  acceptDataOut(pdu: DataOut): DataOutVerdict {
    if (this.#failed) return this.#drain(pdu)
    const verdict =
      pdu.targetTransferTag === reservedTag
        ? this.#acceptUnsolicited(pdu)
        : this.#acceptSolicited(pdu)
    if (verdict.kind === 'sequenceError') this.fail(pdu)
    return verdict
  }

  #acceptSolicited(pdu: DataOut): DataOutVerdict {
    const r2t = this.outstanding.find((r) => r.targetTransferTag === pdu.targetTransferTag)
    if (r2t === undefined) return sequenceError(`no R2T with TTT ${pdu.targetTransferTag}`)
    if (pdu.dataSN !== r2t.nextDataSN) return sequenceError(`DataSN ${pdu.dataSN} out of order`)
    if (pdu.bufferOffset !== r2t.nextOffset) {
      return sequenceError(`BufferOffset ${pdu.bufferOffset} out of order`)
    }
    const end = r2t.bufferOffset + r2t.length
    if (pdu.bufferOffset + pdu.data.length > end) return sequenceError('Data-Out beyond its R2T')
    if (pdu.final && pdu.bufferOffset + pdu.data.length !== end) {
      return sequenceError('F bit before the end of the R2T sequence')
    }
    r2t.nextDataSN += 1
    r2t.nextOffset += pdu.data.length
    this.#place(pdu.bufferOffset, pdu.data)
    if (r2t.nextOffset === end) this.outstanding.splice(this.outstanding.indexOf(r2t), 1)
    return { kind: 'accepted' }
  }

  #acceptUnsolicited(pdu: DataOut): DataOutVerdict {
    if (!this.#unsolicitedOpen) return sequenceError('unsolicited Data-Out not expected')
    if (pdu.dataSN !== this.#unsolicitedDataSN)
      return sequenceError(`DataSN ${pdu.dataSN} out of order`)
    if (pdu.bufferOffset !== this.#unsolicitedOffset) {
      return sequenceError(`BufferOffset ${pdu.bufferOffset} out of order`)
    }
    const end = pdu.bufferOffset + pdu.data.length
    if (end > this.#unsolicitedLimit)
      return sequenceError('unsolicited data beyond FirstBurstLength')
    if (!pdu.final && end === this.#unsolicitedLimit)
      return sequenceError('F bit missing at FirstBurstLength')
    this.#unsolicitedDataSN += 1
    this.#unsolicitedOffset = end
    this.#place(pdu.bufferOffset, pdu.data)
    this.#nextSolicitOffset = Math.max(this.#nextSolicitOffset, Math.min(end, this.dataOutBytes))
    if (pdu.final) this.#unsolicitedOpen = false
    return { kind: 'accepted' }
  }

  /**
   * RFC 7143 §7.4 and §7.8.1 at ERL 0: a sequence error implies a lost PDU. The task keeps no
   * more data, asks for none, and ends once every open sequence has ended (F bit), to be answered
   * with CHECK CONDITION.
   */
  fail(pdu: DataOut | null): void {
    this.#failed = true
    this.buffer = null
    if (pdu !== null) this.#drain(pdu)
  }

  get failed(): boolean {
    return this.#failed
  }

  #drain(pdu: DataOut): DataOutVerdict {
    if (!pdu.final) return { kind: 'accepted' }
    if (pdu.targetTransferTag === reservedTag) this.#unsolicitedOpen = false
    const index = this.outstanding.findIndex((r) => r.targetTransferTag === pdu.targetTransferTag)
    if (index >= 0) this.outstanding.splice(index, 1)
    return { kind: 'accepted' }
  }

  /**
   * Where a Data-Out's `bytes` at `offset` would go (Session.placeDataOut): only where its
   * sequence (R2T `ttt`, or the unsolicited one) expects its next bytes and within that sequence,
   * so bytes placed before the PDU is checked never overwrite any already received.
   */
  destination(ttt: number, offset: number, bytes: number): Uint8Array | null {
    if (this.#failed) return null
    if (ttt === reservedTag) {
      if (!this.#unsolicitedOpen || offset !== this.#unsolicitedOffset) return null
      if (offset + bytes > Math.min(this.#unsolicitedLimit, this.dataOutBytes)) return null
    } else {
      const r2t = this.outstanding.find((r) => r.targetTransferTag === ttt)
      if (r2t === undefined || offset !== r2t.nextOffset) return null
      if (offset + bytes > r2t.bufferOffset + r2t.length) return null
    }
    return this.#buffer().subarray(offset, offset + bytes)
  }

  /**
   * The Data-Out buffer, made on first use. No zero-fill: the task executes only once every byte
   * of [0, dataOutBytes) has arrived (`dataComplete` counts them, and sequences are in offset
   * order). Large buffers come from the transfer pool; the session returns them when the command
   * is answered.
   */
  #buffer(): Uint8Array {
    this.buffer ??= transferBuffers.acquire(this.dataOutBytes)
    return this.buffer
  }

  /** Copies the part of a segment that falls inside [0, dataOutBytes), unless already there. */
  #place(offset: number, data: Uint8Array): void {
    const end = Math.min(offset + data.length, this.dataOutBytes)
    if (end <= offset) return
    const buffer = this.#buffer()
    // Placed by the framer as it arrived (`destination`): nothing to copy.
    const inPlace = data.buffer === buffer.buffer && data.byteOffset === buffer.byteOffset + offset
    if (!inPlace) buffer.set(data.subarray(0, end - offset), offset)
    this.receivedBytes += end - offset
  }

  get unsolicitedOpen(): boolean {
    return this.#unsolicitedOpen
  }

  /** All the data the plan needs has arrived and no unsolicited PDU is still to come; a failed
   * task is complete once no sequence is open. */
  get dataComplete(): boolean {
    if (this.#failed) return !this.#unsolicitedOpen && this.outstanding.length === 0
    return !this.#unsolicitedOpen && this.receivedBytes === this.dataOutBytes
  }

  /** The R2Ts to send now (§11.8): up to MaxOutstandingR2T, each at most MaxBurstLength. */
  solicit(transfer: TransferParameters, allocateTag: () => number): R2tRecord[] {
    const sent: R2tRecord[] = []
    if (this.#unsolicitedOpen || this.aborted || this.#failed) return sent
    while (
      this.#nextSolicitOffset < this.dataOutBytes &&
      this.outstanding.length < transfer.maxOutstandingR2T
    ) {
      const length = Math.min(transfer.maxBurstLength, this.dataOutBytes - this.#nextSolicitOffset)
      const r2t: R2tRecord = {
        targetTransferTag: allocateTag(),
        r2tSN: this.inputSN,
        bufferOffset: this.#nextSolicitOffset,
        length,
        nextOffset: this.#nextSolicitOffset,
        nextDataSN: 0,
      }
      this.inputSN += 1
      this.#nextSolicitOffset += length
      this.outstanding.push(r2t)
      sent.push(r2t)
    }
    return sent
  }
}

function sequenceError(detail: string): DataOutVerdict {
  return { kind: 'sequenceError', detail }
}

/** §11.4.5.1: the residual between what the initiator expected and what the command moved. */
export interface Residual {
  readonly overflow: boolean
  readonly underflow: boolean
  readonly count: number
}

export function residualOf(expectedBytes: number, commandBytes: number): Residual {
  if (commandBytes > expectedBytes) {
    return { overflow: true, underflow: false, count: commandBytes - expectedBytes }
  }
  if (commandBytes < expectedBytes) {
    return { overflow: false, underflow: true, count: expectedBytes - commandBytes }
  }
  return { overflow: false, underflow: false, count: 0 }
}

export interface DataInSegment {
  readonly offset: number
  readonly length: number
  /** F bit: the last PDU of a sequence (each sequence is at most MaxBurstLength, §11.7.1). */
  readonly final: boolean
}

/**
 * Splits `totalBytes` of Data-In into PDUs of at most the initiator's MaxRecvDataSegmentLength,
 * grouped in sequences of at most MaxBurstLength (§11.7.1, §13.12, §13.13).
 */
export function planDataIn(totalBytes: number, mrdsl: number, maxBurst: number): DataInSegment[] {
  assert(mrdsl > 0 && maxBurst > 0)
  const segments: DataInSegment[] = []
  let offset = 0
  while (offset < totalBytes) {
    const sequenceEnd = Math.min(offset + maxBurst, totalBytes)
    while (offset < sequenceEnd) {
      const length = Math.min(mrdsl, sequenceEnd - offset)
      segments.push({ offset, length, final: offset + length === sequenceEnd })
      offset += length
    }
  }
  return segments
}
