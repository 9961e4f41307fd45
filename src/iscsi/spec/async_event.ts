/** Asynchronous Message event codes (RFC 7143 §11.9.1). */
export const AsyncEvent = {
  scsiAsyncEvent: 0,
  logoutRequest: 1,
  connectionDrop: 2,
  sessionDrop: 3,
  negotiationRequest: 4,
  taskTermination: 5,
  /** 248..254 are vendor-unique, 255 is vendor-specific. */
  vendorSpecific: 255,
} as const
export type AsyncEvent = (typeof AsyncEvent)[keyof typeof AsyncEvent]
