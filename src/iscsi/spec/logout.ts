/** Logout Request reason codes (RFC 7143 §11.14.1) and Logout Response codes (§11.15.1). */
export const LogoutReason = {
  closeSession: 0,
  closeConnection: 1,
  removeConnectionForRecovery: 2,
} as const
export type LogoutReason = (typeof LogoutReason)[keyof typeof LogoutReason]

/** RFC 7143 §11.15.1 */
export const LogoutResponseCode = {
  closedSuccessfully: 0,
  cidNotFound: 1,
  connectionRecoveryNotSupported: 2,
  cleanupFailed: 3,
} as const
export type LogoutResponseCode = (typeof LogoutResponseCode)[keyof typeof LogoutResponseCode]
