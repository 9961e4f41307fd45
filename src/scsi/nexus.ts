/**
 * SAM-5 §4.6: an I_T nexus, named by its initiator and target port identifiers. For iSCSI these
 * are the iSCSI initiator port name "IQN,i,0xISID" and the target port name "IQN,t,0xTPGT"
 * (RFC 7143 §4.2.7). Reservations, unit attentions and sense are kept per nexus.
 */
export interface Nexus {
  readonly initiatorPort: string
  readonly targetPort: string
  /** The initiator's iSCSI name alone (for TransportID in PR, issue 3). */
  readonly initiatorName: string
  /** The 6-byte ISID in hex, part of the initiator port identity. */
  readonly isidHex: string
  /** Relative target port identifier (VPD 0x83). */
  readonly relativeTargetPort: number
}
