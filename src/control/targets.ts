/**
 * Exports: the TargetCatalog the iSCSI layer consults at login and for SendTargets
 * (src/iscsi/catalog.ts). Each volume is its own target, `IQN_BASE:volume`, with the volume as
 * LUN 0 (SURFACE.md, Exports). ACLs and CHAP come from the catalog document, read at each lookup,
 * so API changes apply to the next login without restarting anything.
 */
import type { Clock } from '../base/clock.ts'
import type { ChapPolicy, ExportedTarget, TargetCatalog } from '../iscsi/catalog.ts'
import type { BlockDevice } from '../scsi/block_device.ts'
import { LogicalUnit, type UnitIdentity } from '../scsi/logical_unit.ts'
import type { LogicalUnitGroup } from '../scsi/port.ts'
import { UnitGroup } from '../scsi/unit_group.ts'
import type { ChapRecord, VolumeRecord } from './catalog_format.ts'
import { targetName } from './names.ts'

/** RFC 7143 §13.9: every export is reached through the one portal group, tag 1. */
export const portalGroupTag = 1

/** What a volume's export needs from the SCSI layer. */
export interface ExportedUnits {
  readonly units: LogicalUnitGroup
  /** Raises CAPACITY DATA HAS CHANGED after the device grew (SBC-3 §4.9, SPC-4 unit attention). */
  capacityChanged(): void
}

export type UnitFactory = (device: BlockDevice, record: VolumeRecord) => ExportedUnits

/** The identity hosts see (VPD 0x80 serial, VPD 0x83 NAA): from the persisted uuid only. */
export function unitIdentity(record: VolumeRecord): UnitIdentity {
  return {
    uuid: record.uuid,
    vendorId: 'BASALT',
    productId: 'Volume',
    revision: '0001',
    serial: record.uuid,
  }
}

/** The real factory: one LogicalUnit as LUN 0 of a one-unit group. */
export function logicalUnitFactory(clock: Clock): UnitFactory {
  return (device, record) => {
    const removable = record.removable ?? false
    const unit = new LogicalUnit({ device, identity: unitIdentity(record), clock, removable })
    return {
      units: new UnitGroup(new Map([[0, unit]])),
      capacityChanged: () => unit.capacityChanged(),
    }
  }
}

export function chapPolicy(record: ChapRecord | null): ChapPolicy | null {
  if (record === null) return null
  const mutual =
    record.mutualUser !== null && record.mutualSecret !== null
      ? { user: record.mutualUser, secret: record.mutualSecret }
      : null
  return { initiator: { user: record.user, secret: record.secret }, target: mutual }
}

/** The live state the catalog reads from (owned by VolumeRegistry). */
export interface ExportSource {
  readonly iqnBase: string
  exports(): Iterable<{ readonly record: VolumeRecord; readonly exported: ExportedUnits }>
  discoveryChap(): ChapRecord | null
}

export class ExportCatalog implements TargetCatalog {
  constructor(private readonly source: ExportSource) {}

  target(name: string): ExportedTarget | null {
    const folded = name.toLowerCase()
    return this.targets().find((target) => target.name === folded) ?? null
  }

  targets(): readonly ExportedTarget[] {
    return [...this.source.exports()].map(({ record, exported }) =>
      exportedTarget(this.source.iqnBase, record, exported),
    )
  }

  discoveryChap(): ChapPolicy | null {
    return chapPolicy(this.source.discoveryChap())
  }
}

function exportedTarget(
  iqnBase: string,
  record: VolumeRecord,
  exported: ExportedUnits,
): ExportedTarget {
  const initiators = new Set(record.initiators)
  return {
    name: targetName(iqnBase, record.name),
    alias: record.name,
    portalGroupTag,
    // With no ACL entries an export is open to every initiator; names compare folded (RFC 3722).
    allows: (initiatorName) => initiators.size === 0 || initiators.has(initiatorName.toLowerCase()),
    chap: chapPolicy(record.chap),
    units: exported.units,
  }
}
