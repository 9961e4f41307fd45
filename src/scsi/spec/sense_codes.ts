/**
 * Sense keys (SPC-4 §4.5.6, table 27) and additional sense codes (SPC-4 §4.5.6, table 28 /
 * Annex D.2). An additional sense code is packed as ASC << 8 | ASCQ, so a pair is one value.
 */
export const SenseKey = {
  noSense: 0x0,
  recoveredError: 0x1,
  notReady: 0x2,
  mediumError: 0x3,
  hardwareError: 0x4,
  illegalRequest: 0x5,
  unitAttention: 0x6,
  dataProtect: 0x7,
  copyAborted: 0xa,
  abortedCommand: 0xb,
  miscompare: 0xe,
} as const
export type SenseKey = (typeof SenseKey)[keyof typeof SenseKey]

/** ASC << 8 | ASCQ. */
export const AdditionalSense = {
  noAdditionalSenseInformation: 0x0000,
  operationInProgress: 0x0016,
  logicalUnitNotReadyInitializingCommandRequired: 0x0402,
  logicalUnitNotReadySanitizeInProgress: 0x041b,
  unreachableCopyTarget: 0x0804,
  writeError: 0x0c00,
  invalidFieldInInformationUnit: 0x0e03,
  unrecoveredReadError: 0x1100,
  parameterListLengthError: 0x1a00,
  miscompareDuringVerifyOperation: 0x1d00,
  invalidCommandOperationCode: 0x2000,
  logicalBlockAddressOutOfRange: 0x2100,
  invalidFieldInCdb: 0x2400,
  logicalUnitNotSupported: 0x2500,
  invalidFieldInParameterList: 0x2600,
  parameterValueInvalid: 0x2602,
  invalidReleaseOfPersistentReservation: 0x2604,
  tooManyTargetDescriptors: 0x2606,
  unsupportedTargetDescriptorTypeCode: 0x2607,
  tooManySegmentDescriptors: 0x2608,
  unsupportedSegmentDescriptorTypeCode: 0x2609,
  writeProtected: 0x2700,
  spaceAllocationFailedWriteProtect: 0x2707,
  notReadyToReadyChangeMediumMayHaveChanged: 0x2800,
  powerOnResetOrBusDeviceResetOccurred: 0x2900,
  busDeviceResetFunctionOccurred: 0x2903,
  modeParametersChanged: 0x2a01,
  reservationsPreempted: 0x2a03,
  reservationsReleased: 0x2a04,
  registrationsPreempted: 0x2a05,
  capacityDataHasChanged: 0x2a09,
  sanitizeCommandFailed: 0x3103,
  thinProvisioningSoftThresholdReached: 0x3807,
  savingParametersNotSupported: 0x3900,
  mediumNotPresent: 0x3a00,
  internalTargetFailure: 0x4400,
  protocolServiceCrcError: 0x4705,
  mediumRemovalPrevented: 0x5302,
} as const
export type AdditionalSense = (typeof AdditionalSense)[keyof typeof AdditionalSense]

/** SPC-4 §4.5.2: RESPONSE CODE values. */
export const SenseResponseCode = {
  fixedCurrent: 0x70,
  descriptorCurrent: 0x72,
} as const

/** SPC-4 §4.5.2.1: sense data descriptor types used here. */
export const SenseDescriptorType = {
  information: 0x00,
  commandSpecificInformation: 0x01,
  senseKeySpecific: 0x02,
} as const
