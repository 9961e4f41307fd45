/**
 * The PDU codec entry points (RFC 7143 §11): `decodePdu` turns any framed PDU into a typed value,
 * or a reason a Reject can carry; `encodePdu` writes any PDU. The per-PDU files hold the layouts.
 */
import { unreachable } from '../../base/assert.ts'
import { bhsBytes, Opcode } from '../spec/opcodes.ts'
import { decodeAsyncMessage, encodeAsyncMessage } from './async_message.ts'
import type { Problem } from './bhs.ts'
import { checkNoAhs, dataSegmentLength, opcodeOf, totalAhsBytes } from './bhs.ts'
import { checkDataIn, decodeDataIn, encodeDataIn } from './data_in.ts'
import { decodeDataOut, encodeDataOut } from './data_out.ts'
import { decodeLoginRequest, encodeLoginRequest } from './login_request.ts'
import { decodeLoginResponse, encodeLoginResponse } from './login_response.ts'
import { checkLogoutRequest, decodeLogoutRequest, encodeLogoutRequest } from './logout_request.ts'
import {
  checkLogoutResponse,
  decodeLogoutResponse,
  encodeLogoutResponse,
} from './logout_response.ts'
import { decodeNopIn, encodeNopIn } from './nop_in.ts'
import { checkNopOut, decodeNopOut, encodeNopOut } from './nop_out.ts'
import {
  checkReadyToTransfer,
  decodeReadyToTransfer,
  encodeReadyToTransfer,
} from './ready_to_transfer.ts'
import { checkReject, decodeReject, encodeReject } from './reject.ts'
import { checkScsiCommand, decodeScsiCommand, encodeScsiCommand } from './scsi_command.ts'
import { decodeScsiResponse, encodeScsiResponse } from './scsi_response.ts'
import { checkSnackRequest, decodeSnackRequest, encodeSnackRequest } from './snack_request.ts'
import * as tmfRequest from './task_management_request.ts'
import * as tmfResponse from './task_management_response.ts'
import { checkTextRequest, decodeTextRequest, encodeTextRequest } from './text_request.ts'
import { checkTextResponse, decodeTextResponse, encodeTextResponse } from './text_response.ts'
import type { EncodedPdu, Frame, Pdu } from './types.ts'

export { senseFromSegment, senseSegment } from './scsi_response.ts'
export type { EncodedPdu, Frame, Pdu } from './types.ts'

export type DecodeResult =
  | { ok: true; pdu: Pdu }
  | { ok: false; reason: 'unknownOpcode' | 'protocolError' | 'invalidPduField'; detail: string }

interface Codec {
  readonly check: (frame: Frame) => Problem | null
  readonly decode: (frame: Frame) => Pdu
}

const none = (): null => null
const tmfRequestCodec: Codec = {
  check: tmfRequest.checkTaskManagementRequest,
  decode: tmfRequest.decodeTaskManagementRequest,
}
const tmfResponseCodec: Codec = {
  check: tmfResponse.checkTaskManagementResponse,
  decode: tmfResponse.decodeTaskManagementResponse,
}

/** One row per opcode (§11.2.1.2); an opcode without a row is answered "unknownOpcode". */
const codecs: ReadonlyMap<number, Codec> = new Map<number, Codec>([
  [Opcode.nopOut, { check: checkNopOut, decode: decodeNopOut }],
  [Opcode.scsiCommand, { check: checkScsiCommand, decode: decodeScsiCommand }],
  [Opcode.taskManagementRequest, tmfRequestCodec],
  [Opcode.loginRequest, { check: none, decode: decodeLoginRequest }],
  [Opcode.textRequest, { check: checkTextRequest, decode: decodeTextRequest }],
  [Opcode.dataOut, { check: none, decode: decodeDataOut }],
  [Opcode.logoutRequest, { check: checkLogoutRequest, decode: decodeLogoutRequest }],
  [Opcode.snackRequest, { check: checkSnackRequest, decode: decodeSnackRequest }],
  [Opcode.nopIn, { check: none, decode: decodeNopIn }],
  [Opcode.scsiResponse, { check: none, decode: decodeScsiResponse }],
  [Opcode.taskManagementResponse, tmfResponseCodec],
  [Opcode.loginResponse, { check: none, decode: decodeLoginResponse }],
  [Opcode.textResponse, { check: checkTextResponse, decode: decodeTextResponse }],
  [Opcode.dataIn, { check: checkDataIn, decode: decodeDataIn }],
  [Opcode.logoutResponse, { check: checkLogoutResponse, decode: decodeLogoutResponse }],
  [Opcode.readyToTransfer, { check: checkReadyToTransfer, decode: decodeReadyToTransfer }],
  [Opcode.asyncMessage, { check: none, decode: decodeAsyncMessage }],
  [Opcode.reject, { check: checkReject, decode: decodeReject }],
])

/** The frame must agree with its own BHS (§11.2.1.5, §11.2.1.6); the framer guarantees this. */
function checkFrameShape(frame: Frame): Problem | null {
  if (frame.bhs.length !== bhsBytes) {
    return { reason: 'protocolError', detail: 'BHS is not 48 bytes' }
  }
  if (frame.ahs.length !== totalAhsBytes(frame.bhs)) {
    return { reason: 'protocolError', detail: 'AHS length disagrees with TotalAHSLength' }
  }
  if (frame.data.length !== dataSegmentLength(frame.bhs)) {
    return { reason: 'protocolError', detail: 'data length disagrees with DataSegmentLength' }
  }
  return null
}

/**
 * Decodes any frame; never throws on peer input. Checks the reserved and invariant fields the RFC
 * makes mandatory (F bit rules, AHS shape). Login Requests are decoded leniently: their errors
 * are the login layer's to answer with a status (§11.13.5).
 */
export function decodePdu(frame: Frame): DecodeResult {
  const shape = checkFrameShape(frame)
  if (shape !== null) return { ok: false, ...shape }
  const opcode = opcodeOf(frame.bhs)
  const codec = codecs.get(opcode)
  if (codec === undefined) {
    return { ok: false, reason: 'unknownOpcode', detail: `opcode 0x${opcode.toString(16)}` }
  }
  const problem = (opcode === Opcode.scsiCommand ? null : checkNoAhs(frame)) ?? codec.check(frame)
  if (problem !== null) return { ok: false, ...problem }
  return { ok: true, pdu: codec.decode(frame) }
}

/** Encodes any PDU: BHS (+AHS) in `header`, data segment (unpadded) in `data`. */
export function encodePdu(pdu: Pdu): EncodedPdu {
  switch (pdu.opcode) {
    case Opcode.nopOut:
      return encodeNopOut(pdu)
    case Opcode.scsiCommand:
      return encodeScsiCommand(pdu)
    case Opcode.taskManagementRequest:
      return tmfRequest.encodeTaskManagementRequest(pdu)
    case Opcode.loginRequest:
      return encodeLoginRequest(pdu)
    case Opcode.textRequest:
      return encodeTextRequest(pdu)
    case Opcode.dataOut:
      return encodeDataOut(pdu)
    case Opcode.logoutRequest:
      return encodeLogoutRequest(pdu)
    case Opcode.snackRequest:
      return encodeSnackRequest(pdu)
    case Opcode.nopIn:
      return encodeNopIn(pdu)
    case Opcode.scsiResponse:
      return encodeScsiResponse(pdu)
    case Opcode.taskManagementResponse:
      return tmfResponse.encodeTaskManagementResponse(pdu)
    case Opcode.loginResponse:
      return encodeLoginResponse(pdu)
    case Opcode.textResponse:
      return encodeTextResponse(pdu)
    case Opcode.dataIn:
      return encodeDataIn(pdu)
    case Opcode.logoutResponse:
      return encodeLogoutResponse(pdu)
    case Opcode.readyToTransfer:
      return encodeReadyToTransfer(pdu)
    case Opcode.asyncMessage:
      return encodeAsyncMessage(pdu)
    case Opcode.reject:
      return encodeReject(pdu)
    default:
      return unreachable(pdu, 'unknown PDU')
  }
}

/** RFC 7143 §11.2.1.2: initiator opcodes are 0x00..0x1f, target opcodes 0x20..0x3f. */
export function isInitiatorOpcode(opcode: number): boolean {
  return opcode < 0x20
}
