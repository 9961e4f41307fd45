/**
 * What the iSCSI layer needs to know about exports, owned here by its consumer and implemented by
 * control/ (which knows volumes, ACLs and CHAP). Looked up at login time, so changes made through
 * the API apply to the next login without restarting anything.
 */
import type { LogicalUnitGroup } from '../scsi/port.ts'

/** CHAP credentials for one direction (RFC 7143 §12.1.3). */
export interface ChapCredential {
  readonly user: string
  readonly secret: string
}

/** CHAP policy for an export or for discovery: null means no authentication required. */
export interface ChapPolicy {
  /** What the initiator must prove (the target's challenge). */
  readonly initiator: ChapCredential
  /** Mutual CHAP: what the target proves to the initiator, when configured. */
  readonly target: ChapCredential | null
}

export interface ExportedTarget {
  /** The target's iSCSI name (IQN). */
  readonly name: string
  readonly alias: string | null
  /** Target portal group tag (RFC 7143 §13.9). */
  readonly portalGroupTag: number
  /** Whether an initiator (by iSCSI name) may log in and see it. */
  allows(initiatorName: string): boolean
  readonly chap: ChapPolicy | null
  readonly units: LogicalUnitGroup
}

export interface TargetCatalog {
  /** The target by name, or null when none is exported under that name. */
  target(name: string): ExportedTarget | null
  /** Every exported target, for SendTargets (filtered by `allows` at the call site). */
  targets(): readonly ExportedTarget[]
  /** CHAP for discovery sessions; null when discovery is open. */
  discoveryChap(): ChapPolicy | null
}
