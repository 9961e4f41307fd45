/** RFC 7143 §11.2.1.2: the opcode field of the Basic Header Segment. */
export const Opcode = {
  // Initiator opcodes
  nopOut: 0x00,
  scsiCommand: 0x01,
  taskManagementRequest: 0x02,
  loginRequest: 0x03,
  textRequest: 0x04,
  dataOut: 0x05,
  logoutRequest: 0x06,
  snackRequest: 0x10,
  // Target opcodes
  nopIn: 0x20,
  scsiResponse: 0x21,
  taskManagementResponse: 0x22,
  loginResponse: 0x23,
  textResponse: 0x24,
  dataIn: 0x25,
  logoutResponse: 0x26,
  readyToTransfer: 0x31,
  asyncMessage: 0x32,
  reject: 0x3f,
} as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** RFC 7143 §11.2.1: the Basic Header Segment is 48 bytes. */
export const bhsBytes = 48
/** RFC 7143 §11.1: the reserved Initiator Task Tag value (0xffffffff). */
export const reservedTag = 0xffff_ffff
