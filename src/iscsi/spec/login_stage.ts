/** Login stages carried in the CSG and NSG fields (RFC 7143 §11.12.3). The value 2 is reserved. */
export const LoginStage = {
  securityNegotiation: 0,
  operationalNegotiation: 1,
  fullFeaturePhase: 3,
} as const
export type LoginStage = (typeof LoginStage)[keyof typeof LoginStage]

/** RFC 7143 §11.12.4: the only version defined; Version-max and Version-min carry it. */
export const iscsiVersion = 0x00
