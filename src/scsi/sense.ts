/**
 * The only writer of sense bytes (LIO's sense_detail_table, STYLE rule 9). Code elsewhere names a
 * typed `SenseReason`; this file maps it to key/ASC/ASCQ and lays out the bytes: fixed format
 * (SPC-4 §4.5.3, response code 70h) by default, descriptor format (SPC-4 §4.5.2, 72h) when the
 * Control mode page's D_SENSE bit is set. It also encodes the sense-key-specific field pointer
 * (SPC-4 §4.5.2.4.2) and the INFORMATION field (SPC-4 §4.5.2.2).
 */
import { assert } from '../base/assert.ts'
import {
  AdditionalSense,
  SenseDescriptorType,
  SenseKey,
  SenseResponseCode,
} from './spec/sense_codes.ts'

interface SenseCode {
  readonly key: SenseKey
  readonly code: AdditionalSense
}

export const senseTable = {
  noSense: { key: SenseKey.noSense, code: AdditionalSense.noAdditionalSenseInformation },
  notReadyInitializingCommandRequired: {
    key: SenseKey.notReady,
    code: AdditionalSense.logicalUnitNotReadyInitializingCommandRequired,
  },
  /** SBC-3 §4.11.2: media access while a SANITIZE runs (with the progress indication). */
  sanitizeInProgress: {
    key: SenseKey.notReady,
    code: AdditionalSense.logicalUnitNotReadySanitizeInProgress,
  },
  /** SBC-3 §4.11.3: a SANITIZE failed or was interrupted; media access until a new one ends. */
  sanitizeFailed: { key: SenseKey.mediumError, code: AdditionalSense.sanitizeCommandFailed },
  /** SPC-4 §6.3.7: a segment of an EXTENDED COPY failed (the segment pointer says where). */
  copyAborted: { key: SenseKey.copyAborted, code: AdditionalSense.noAdditionalSenseInformation },
  copyAbortedUnreachableTarget: {
    key: SenseKey.copyAborted,
    code: AdditionalSense.unreachableCopyTarget,
  },
  /** SPC-4 §6.3.1: an EXTENDED COPY reuses the list identifier of one still in progress. */
  operationInProgress: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.operationInProgress,
  },
  /** SPC-4 §6.3.3: EXTENDED COPY parameter lists beyond the advertised limits or types. */
  tooManyTargetDescriptors: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.tooManyTargetDescriptors,
  },
  tooManySegmentDescriptors: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.tooManySegmentDescriptors,
  },
  unsupportedTargetDescriptorTypeCode: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.unsupportedTargetDescriptorTypeCode,
  },
  unsupportedSegmentDescriptorTypeCode: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.unsupportedSegmentDescriptorTypeCode,
  },
  /** SBC-3 §4.7.3.6: the pool passed its soft threshold (once per crossing). */
  thinProvisioningSoftThresholdReached: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.thinProvisioningSoftThresholdReached,
  },
  /** SBC-3 §5.25: the medium was ejected (START STOP UNIT with LOEJ=1, START=0). */
  mediumNotPresent: { key: SenseKey.notReady, code: AdditionalSense.mediumNotPresent },
  unrecoveredReadError: { key: SenseKey.mediumError, code: AdditionalSense.unrecoveredReadError },
  writeError: { key: SenseKey.mediumError, code: AdditionalSense.writeError },
  internalTargetFailure: {
    key: SenseKey.hardwareError,
    code: AdditionalSense.internalTargetFailure,
  },
  parameterListLengthError: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.parameterListLengthError,
  },
  invalidCommandOperationCode: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.invalidCommandOperationCode,
  },
  lbaOutOfRange: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.logicalBlockAddressOutOfRange,
  },
  invalidFieldInCdb: { key: SenseKey.illegalRequest, code: AdditionalSense.invalidFieldInCdb },
  logicalUnitNotSupported: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.logicalUnitNotSupported,
  },
  invalidFieldInParameterList: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.invalidFieldInParameterList,
  },
  /** SPC-4 §5.9.11.2: a holder's RELEASE names another type or scope. */
  invalidReleaseOfPersistentReservation: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.invalidReleaseOfPersistentReservation,
  },
  savingParametersNotSupported: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.savingParametersNotSupported,
  },
  powerOnResetOccurred: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.powerOnResetOrBusDeviceResetOccurred,
  },
  busDeviceResetFunctionOccurred: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.busDeviceResetFunctionOccurred,
  },
  capacityDataHasChanged: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.capacityDataHasChanged,
  },
  modeParametersChanged: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.modeParametersChanged,
  },
  mediumMayHaveChanged: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.notReadyToReadyChangeMediumMayHaveChanged,
  },
  /** SPC-4 §5.9.11: what another I_T nexus's PR OUT did to this nexus's reservation. */
  reservationsPreempted: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.reservationsPreempted,
  },
  reservationsReleased: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.reservationsReleased,
  },
  registrationsPreempted: {
    key: SenseKey.unitAttention,
    code: AdditionalSense.registrationsPreempted,
  },
  /** SBC-3 §5.10: an eject or load while PREVENT ALLOW MEDIUM REMOVAL holds the medium. */
  mediumRemovalPrevented: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.mediumRemovalPrevented,
  },
  /** FCP-4 §9.4.2 / SAM-5 §5.4.3: the transport's expected length does not fit the command. */
  invalidFieldInInformationUnit: {
    key: SenseKey.illegalRequest,
    code: AdditionalSense.invalidFieldInInformationUnit,
  },
  /** RFC 7143 §11.4.7.2: a Data-Out was lost to a digest error (§7.8.1). */
  protocolServiceCrcError: {
    key: SenseKey.abortedCommand,
    code: AdditionalSense.protocolServiceCrcError,
  },
  writeProtected: { key: SenseKey.dataProtect, code: AdditionalSense.writeProtected },
  spaceAllocationFailedWriteProtect: {
    key: SenseKey.dataProtect,
    code: AdditionalSense.spaceAllocationFailedWriteProtect,
  },
  miscompareDuringVerify: {
    key: SenseKey.miscompare,
    code: AdditionalSense.miscompareDuringVerifyOperation,
  },
} as const satisfies Record<string, SenseCode>

export type SenseReason = keyof typeof senseTable

/** Which byte (and optionally bit) of the CDB or parameter list was wrong. */
export interface FieldPointer {
  /** True for the CDB (C/D = 1), false for the parameter list. */
  readonly inCdb: boolean
  readonly byte: number
  /** 0..7; omitted when the whole byte is wrong (BPV = 0). */
  readonly bit?: number
  /**
   * COPY ABORTED's segment pointer (SPC-4 §4.5.2.4.5): SD=1, `byte` counts from the start of the
   * failed segment descriptor (its number is the COMMAND-SPECIFIC INFORMATION). `inCdb` is false.
   */
  readonly segment?: boolean
}

export interface SenseDetail {
  readonly field?: FieldPointer
  /** The INFORMATION field (e.g. the miscompare offset, SBC-3 §5.33). */
  readonly information?: number
  /** The COMMAND-SPECIFIC INFORMATION field (EXTENDED COPY: the failed segment's number). */
  readonly commandSpecific?: number
  /** The progress indication (SPC-4 §4.5.2.4.3): 0..65535 of 65536, with no field pointer. */
  readonly progress?: number
}

export const fixedSenseBytes = 18
const descriptorHeaderBytes = 8

/** Builds sense data for `reason`, fixed or descriptor format. */
export function buildSense(
  reason: SenseReason,
  descriptorFormat: boolean,
  detail?: SenseDetail,
): Uint8Array {
  const code = senseTable[reason]
  if (descriptorFormat) return buildDescriptorSense(code, detail)
  return buildFixedSense(code, detail)
}

/** The three bytes of the sense-key-specific field pointer (SPC-4 §4.5.2.4.2). */
function fieldPointerBytes(field: FieldPointer): [number, number, number] {
  assert(Number.isInteger(field.byte) && field.byte >= 0 && field.byte <= 0xffff)
  let first = 0x80 // SKSV
  if (field.inCdb) first |= 0x40 // C/D
  if (field.segment === true) first |= 0x20 // SD
  if (field.bit !== undefined) {
    assert(field.bit >= 0 && field.bit <= 7)
    first |= 0x08 | field.bit // BPV and BIT POINTER
  }
  return [first, field.byte >>> 8, field.byte & 0xff]
}

/** The three sense-key-specific bytes: a field pointer or a progress indication. */
function senseKeySpecificBytes(detail: SenseDetail | undefined): [number, number, number] | null {
  if (detail?.field !== undefined) return fieldPointerBytes(detail.field)
  const progress = detail?.progress
  if (progress === undefined) return null
  assert(Number.isInteger(progress) && progress >= 0 && progress <= 0xffff)
  return [0x80, progress >>> 8, progress & 0xff]
}

/** SPC-4 §4.5.3: fixed format, 18 bytes. */
function buildFixedSense(code: SenseCode, detail?: SenseDetail): Uint8Array {
  const sense = new Uint8Array(fixedSenseBytes)
  sense[0] = SenseResponseCode.fixedCurrent
  sense[2] = code.key
  sense[7] = fixedSenseBytes - 8 // ADDITIONAL SENSE LENGTH
  sense[12] = code.code >>> 8
  sense[13] = code.code & 0xff
  const information = detail?.information
  // The fixed INFORMATION field holds 32 bits; a larger value leaves VALID clear.
  if (information !== undefined && information <= 0xffff_ffff) {
    assert(Number.isInteger(information) && information >= 0)
    sense[0] |= 0x80 // VALID
    sense[3] = information >>> 24
    sense[4] = (information >>> 16) & 0xff
    sense[5] = (information >>> 8) & 0xff
    sense[6] = information & 0xff
  }
  const commandSpecific = detail?.commandSpecific
  if (commandSpecific !== undefined) {
    assert(Number.isInteger(commandSpecific) && commandSpecific >= 0)
    new DataView(sense.buffer).setUint32(8, commandSpecific)
  }
  const specific = senseKeySpecificBytes(detail)
  if (specific !== null) sense.set(specific, 15)
  return sense
}

/** SPC-4 §4.5.2: descriptor format with information and sense-key-specific descriptors. */
function buildDescriptorSense(code: SenseCode, detail?: SenseDetail): Uint8Array {
  const information = detail?.information
  const commandSpecific = detail?.commandSpecific
  const specific = senseKeySpecificBytes(detail)
  const length =
    descriptorHeaderBytes +
    (information !== undefined ? 12 : 0) +
    (commandSpecific !== undefined ? 12 : 0) +
    (specific !== null ? 8 : 0)
  const sense = new Uint8Array(length)
  sense[0] = SenseResponseCode.descriptorCurrent
  sense[1] = code.key
  sense[2] = code.code >>> 8
  sense[3] = code.code & 0xff
  sense[7] = length - descriptorHeaderBytes
  let at = descriptorHeaderBytes
  if (information !== undefined) {
    assert(Number.isSafeInteger(information) && information >= 0)
    sense[at] = SenseDescriptorType.information
    sense[at + 1] = 0x0a
    sense[at + 2] = 0x80 // VALID
    const high = Math.floor(information / 0x1_0000_0000)
    const low = information % 0x1_0000_0000
    new DataView(sense.buffer).setUint32(at + 4, high)
    new DataView(sense.buffer).setUint32(at + 8, low)
    at += 12
  }
  if (commandSpecific !== undefined) {
    assert(Number.isSafeInteger(commandSpecific) && commandSpecific >= 0)
    sense[at] = SenseDescriptorType.commandSpecificInformation
    sense[at + 1] = 0x0a
    new DataView(sense.buffer).setUint32(at + 4, Math.floor(commandSpecific / 0x1_0000_0000))
    new DataView(sense.buffer).setUint32(at + 8, commandSpecific % 0x1_0000_0000)
    at += 12
  }
  if (specific !== null) {
    sense[at] = SenseDescriptorType.senseKeySpecific
    sense[at + 1] = 0x06
    sense.set(specific, at + 4)
  }
  return sense
}

/** Decodes the key and ASC/ASCQ of either format (for tests and REQUEST SENSE checks). */
export function parseSense(sense: Uint8Array): { key: number; code: number } | null {
  const responseCode = (sense[0] ?? 0) & 0x7f
  if (responseCode === 0x70 || responseCode === 0x71) {
    if (sense.length < 14) return null
    return { key: sense[2]! & 0x0f, code: (sense[12]! << 8) | sense[13]! }
  }
  if (responseCode === 0x72 || responseCode === 0x73) {
    if (sense.length < 8) return null
    return { key: sense[1]! & 0x0f, code: (sense[2]! << 8) | sense[3]! }
  }
  return null
}
