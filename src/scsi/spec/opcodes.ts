/**
 * Operation codes and service actions for a direct-access block device: SPC-4 Annex D.3.1
 * (commands for all device types) and SBC-3 §5 (direct-access commands). Names follow the
 * standard. Listing a code here does not mean it is implemented: cdb_table.ts decides that.
 */
export const OpCode = {
  testUnitReady: 0x00,
  requestSense: 0x03,
  read6: 0x08,
  write6: 0x0a,
  inquiry: 0x12,
  modeSelect6: 0x15,
  reserve6: 0x16,
  release6: 0x17,
  modeSense6: 0x1a,
  startStopUnit: 0x1b,
  preventAllowMediumRemoval: 0x1e,
  readCapacity10: 0x25,
  read10: 0x28,
  write10: 0x2a,
  writeAndVerify10: 0x2e,
  verify10: 0x2f,
  preFetch10: 0x34,
  synchronizeCache10: 0x35,
  readDefectData10: 0x37,
  writeSame10: 0x41,
  unmap: 0x42,
  sanitize: 0x48,
  modeSelect10: 0x55,
  reserve10: 0x56,
  release10: 0x57,
  modeSense10: 0x5a,
  persistentReserveIn: 0x5e,
  persistentReserveOut: 0x5f,
  extendedCopy: 0x83,
  receiveCopyResults: 0x84,
  read16: 0x88,
  compareAndWrite: 0x89,
  write16: 0x8a,
  orWrite16: 0x8b,
  writeAndVerify16: 0x8e,
  verify16: 0x8f,
  preFetch16: 0x90,
  synchronizeCache16: 0x91,
  writeSame16: 0x93,
  writeAtomic16: 0x9c,
  serviceActionIn16: 0x9e,
  reportLuns: 0xa0,
  maintenanceIn: 0xa3,
  read12: 0xa8,
  write12: 0xaa,
  writeAndVerify12: 0xae,
  verify12: 0xaf,
  readDefectData12: 0xb7,
} as const
export type OpCode = (typeof OpCode)[keyof typeof OpCode]

/** SBC-3 §5.16 / §5.19: service actions of SERVICE ACTION IN(16) (0x9e). */
export const ServiceActionIn16 = {
  readCapacity16: 0x10,
  getLbaStatus: 0x12,
} as const

/** SPC-4 §6.35 / §6.36: service actions of MAINTENANCE IN (0xa3). */
export const MaintenanceIn = {
  reportSupportedOperationCodes: 0x0c,
  reportSupportedTaskManagementFunctions: 0x0d,
  /** SPC-4 §6.36 (ALUA, spc/target_port_groups.ts). */
  reportTargetPortGroups: 0x0a,
} as const
