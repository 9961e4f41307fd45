/** SNACK types (RFC 7143 §11.16.1). */
export const SnackType = {
  dataOrR2t: 0,
  status: 1,
  dataAck: 2,
  rData: 3,
} as const
export type SnackType = (typeof SnackType)[keyof typeof SnackType]
