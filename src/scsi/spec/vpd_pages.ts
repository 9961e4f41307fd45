/** SPC-4 §7.8 and SBC-3 §6.5: VPD page codes served by a direct-access logical unit. */
export const VpdPage = {
  supportedVpdPages: 0x00,
  unitSerialNumber: 0x80,
  deviceIdentification: 0x83,
  extendedInquiryData: 0x86,
  thirdPartyCopy: 0x8f,
  blockLimits: 0xb0,
  blockDeviceCharacteristics: 0xb1,
  logicalBlockProvisioning: 0xb2,
} as const
export type VpdPage = (typeof VpdPage)[keyof typeof VpdPage]

/** SPC-4 §7.8.6.1 table 459: DESIGNATOR TYPE. */
export const DesignatorType = {
  t10VendorId: 0x1,
  naa: 0x3,
  relativeTargetPort: 0x4,
  targetPortGroup: 0x5,
  scsiNameString: 0x8,
} as const

/** SPC-4 §7.8.6.1 table 458: ASSOCIATION. */
export const DesignatorAssociation = {
  logicalUnit: 0x0,
  targetPort: 0x1,
  targetDevice: 0x2,
} as const

/** SPC-4 §7.8.6.1 table 457: CODE SET. */
export const DesignatorCodeSet = {
  binary: 0x1,
  ascii: 0x2,
  utf8: 0x3,
} as const

/** SPC-4 §6.6.2 table 142: version descriptors claimed in standard INQUIRY data. */
export const VersionDescriptor = {
  sam5: 0x00a0,
  spc4: 0x0460,
  sbc3: 0x04c0,
} as const

/** SPC-4 §6.6.2: PERIPHERAL QUALIFIER and PERIPHERAL DEVICE TYPE values used here. */
export const Peripheral = {
  directAccessBlockDevice: 0x00,
  wellKnownLogicalUnit: 0x1e,
  /** Qualifier 011b, type 1Fh: no logical unit at this LUN. */
  notCapable: 0x7f,
} as const
