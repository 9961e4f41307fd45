/** Reject PDU reason codes (RFC 7143 §11.17.1). */
export const RejectReason = {
  dataDigestError: 0x02,
  snackReject: 0x03,
  protocolError: 0x04,
  commandNotSupported: 0x05,
  immediateCommandReject: 0x06,
  taskInProgress: 0x07,
  invalidDataAck: 0x08,
  invalidPduField: 0x09,
  longOperationReject: 0x0a,
  /** 0x0b was "Negotiation Reset" in RFC 3720; RFC 7143 deprecates it. */
  deprecated: 0x0b,
  waitingForLogout: 0x0c,
} as const
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason]
