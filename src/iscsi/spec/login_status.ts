/**
 * Login Response Status-Class and Status-Detail (RFC 7143 §11.13.5), packed into one value:
 * Status-Class << 8 | Status-Detail (STYLE rule 5).
 */
export const LoginStatus = {
  success: 0x0000,
  targetMovedTemporarily: 0x0101,
  targetMovedPermanently: 0x0102,
  initiatorError: 0x0200,
  authenticationFailure: 0x0201,
  authorizationFailure: 0x0202,
  targetNotFound: 0x0203,
  targetRemoved: 0x0204,
  unsupportedVersion: 0x0205,
  tooManyConnections: 0x0206,
  missingParameter: 0x0207,
  cantIncludeInSession: 0x0208,
  sessionTypeNotSupported: 0x0209,
  sessionDoesNotExist: 0x020a,
  invalidDuringLogin: 0x020b,
  targetError: 0x0300,
  serviceUnavailable: 0x0301,
  outOfResources: 0x0302,
} as const
export type LoginStatus = (typeof LoginStatus)[keyof typeof LoginStatus]

/** RFC 7143 §11.13.5: the Status-Class half of a packed status. */
export const LoginStatusClass = {
  success: 0x00,
  redirection: 0x01,
  initiatorError: 0x02,
  targetError: 0x03,
} as const

export function loginStatusClass(status: number): number {
  return status >>> 8
}

export function loginStatusDetail(status: number): number {
  return status & 0xff
}
