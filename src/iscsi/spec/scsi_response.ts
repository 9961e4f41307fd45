/** SCSI Response PDU "Response" field (RFC 7143 §11.4.3). */
export const ScsiResponseCode = {
  commandCompletedAtTarget: 0x00,
  targetFailure: 0x01,
} as const
export type ScsiResponseCode = (typeof ScsiResponseCode)[keyof typeof ScsiResponseCode]
