/** Limits of the SCSI layer, advertised in VPD B0h (SBC-3 §6.5.3) and enforced by dispatch. */
export const limits = {
  /** MAXIMUM TRANSFER LENGTH, in bytes (converted to blocks per unit). */
  transferBytesMax: 8 * 1024 * 1024,
  /**
   * OPTIMAL TRANSFER LENGTH, in bytes. (The OPTIMAL TRANSFER LENGTH GRANULARITY is the device's
   * physical block: sbc/capacity.ts `logicalBlocksPerPhysicalBlock`.)
   */
  transferBytesOptimal: 1024 * 1024,
} as const
