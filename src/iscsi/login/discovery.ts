/**
 * SendTargets (RFC 7143 §13.3 and Appendix C, target side): the TargetName and TargetAddress
 * records a Text request asks for, in discovery sessions and in normal sessions' full feature
 * phase. Only targets whose ACL admits the initiator are listed; the address is the portal the
 * connection came in on ("host:port,tpgt", IPv6 hosts in brackets, §13.8).
 */
import type { ExportedTarget, TargetCatalog } from '../catalog.ts'

export interface PortalAddress {
  readonly host: string
  readonly port: number
}

export interface SendTargetsContext {
  readonly catalog: TargetCatalog
  readonly initiatorName: string
  /** The address of the portal this connection came in on. */
  readonly portal: PortalAddress
  /** The session's target in a normal session; null in a discovery session. */
  readonly sessionTarget: ExportedTarget | null
}

/** §4.2.7.1: iSCSI names are iqn., eui. or naa. names. */
export function isIscsiName(name: string): boolean {
  return /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(name)
}

/** §13.8: TargetAddress=domainname[:port][,portal-group-tag]. */
export function targetAddress(portal: PortalAddress, portalGroupTag: number): string {
  const host = portal.host.includes(':') ? `[${portal.host}]` : portal.host
  return `${host}:${portal.port},${portalGroupTag}`
}

/**
 * The answer to `SendTargets=<value>`: the records to send, or null when the value is invalid
 * (answered with SendTargets=Reject).
 */
export function sendTargets(value: string, context: SendTargetsContext): [string, string][] | null {
  let chosen: readonly ExportedTarget[]
  if (value === 'All') {
    chosen = context.catalog.targets()
  } else if (value === '') {
    // Appendix C: an empty value in a normal session asks about the session's own target.
    chosen = context.sessionTarget === null ? [] : [context.sessionTarget]
  } else if (isIscsiName(value)) {
    const target = context.catalog.target(value)
    chosen = target === null ? [] : [target]
  } else {
    return null
  }
  const records: [string, string][] = []
  for (const target of chosen) {
    if (!target.allows(context.initiatorName)) continue
    records.push(['TargetName', target.name])
    records.push(['TargetAddress', targetAddress(context.portal, target.portalGroupTag)])
  }
  return records
}
