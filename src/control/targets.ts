/**
 * Exports: the TargetCatalog the iSCSI layer consults at login and for SendTargets
 * (src/iscsi/catalog.ts). Each volume is its own target, `IQN_BASE:volume`, with the volume as
 * LUN 0; an exposed snapshot is `IQN_BASE:volume.snapshot`, LUN 0, with its volume's ACL and
 * CHAP (SURFACE.md, Exports). ACLs and CHAP come from the catalog document, read at each lookup,
 * so API changes apply to the next login without restarting anything.
 */
import type { Clock } from '../base/clock.ts'
import type { ChapPolicy, ExportedTarget, TargetCatalog } from '../iscsi/catalog.ts'
import type { BlockDevice } from '../scsi/block_device.ts'
import { LogicalUnit, type UnitIdentity } from '../scsi/logical_unit.ts'
import type { LogicalUnitGroup } from '../scsi/port.ts'
import { attachSanitize, type CryptoEraser } from '../scsi/sbc/sanitize_state.ts'
import { UnitGroup } from '../scsi/unit_group.ts'
import type { ChapRecord } from './catalog_format.ts'
import type { ReservationFiles } from './reservations.ts'
import type { SanitizeFiles } from './sanitize_journal.ts'
import type { UnitDirectory } from './unit_directory.ts'

/** RFC 7143 §13.9: every export is reached through the one portal group, tag 1. */
export const portalGroupTag = 1

/** What a volume's export needs from the SCSI layer. */
export interface ExportedUnits {
  readonly units: LogicalUnitGroup
  /** Raises CAPACITY DATA HAS CHANGED after the device grew (SBC-3 §4.9, SPC-4 unit attention). */
  capacityChanged(): void
  /** Raises MEDIUM MAY HAVE CHANGED after a rollback replaced the contents (SPC-4 §4.5.6). */
  contentsReplaced(): void
  /** The volume is deleted: forget what outlives it (its APTPL reservations). */
  discard?(): Promise<void>
}

/** What a unit is, for its identity and INQUIRY: a volume or an exposed snapshot. */
export interface UnitSpec {
  /** The persisted uuid (a volume's, or an exposure's view id). */
  readonly uuid: string
  /** For logs and tests: `volume` or `volume@snapshot`. */
  readonly name: string
  readonly kind: 'volume' | 'snapshot'
  readonly removable: boolean
  /** An encrypted volume's: replaces its key (SANITIZE CRYPTOGRAPHIC ERASE is then offered). */
  readonly cryptoErase?: CryptoEraser
}

export type UnitFactory = (device: BlockDevice, spec: UnitSpec) => ExportedUnits

/** The identity hosts see (VPD 0x80 serial, VPD 0x83 NAA): from the persisted uuid only. */
export function unitIdentity(spec: UnitSpec): UnitIdentity {
  return {
    uuid: spec.uuid,
    vendorId: 'BASALT',
    productId: spec.kind === 'volume' ? 'Volume' : 'Snapshot',
    revision: '0001',
    serial: spec.uuid,
  }
}

/**
 * Copy offload and SANITIZE wiring: every unit joins `directory` (EXTENDED COPY targets, the
 * soft threshold, paced sanitizes); a volume's SANITIZE is journaled in `sanitize`.
 */
export interface UnitServices {
  readonly directory: UnitDirectory
  readonly sanitize: SanitizeFiles | null
  /** The SANITIZE OVERWRITE bandwidth per unit (docs/api.md), bytes per second. */
  readonly sanitizeBytesPerSecond?: number
}

/**
 * The real factory: one LogicalUnit as LUN 0 of a one-unit group. A volume's persistent
 * reservations persist through `reservations` when an initiator asks (APTPL); an exposed
 * snapshot's live only as long as the daemon.
 */
export function logicalUnitFactory(
  clock: Clock,
  reservations: ReservationFiles | null = null,
  services: UnitServices | null = null,
): UnitFactory {
  return (device, spec) => {
    const identity = unitIdentity(spec)
    const files = spec.kind === 'volume' ? reservations : null
    const journals = spec.kind === 'volume' ? (services?.sanitize ?? null) : null
    const unit = new LogicalUnit({
      device,
      identity,
      clock,
      removable: spec.removable,
      ...(files === null ? {} : { reservationStore: files.storeFor(spec.uuid) }),
      ...(services === null ? {} : { copyTargets: services.directory }),
    })
    services?.directory.add(unit)
    if (services !== null || spec.cryptoErase !== undefined) {
      attachSanitize(unit, {
        ...(journals === null ? {} : { journal: journals.journalFor(spec.uuid) }),
        ...(services?.sanitizeBytesPerSecond === undefined
          ? {}
          : { bytesPerSecond: services.sanitizeBytesPerSecond }),
        ...(spec.cryptoErase === undefined ? {} : { cryptoErase: spec.cryptoErase }),
      })
    }
    return {
      units: new UnitGroup(new Map([[0, unit]])),
      capacityChanged: () => unit.capacityChanged(),
      contentsReplaced: () => unit.contentsReplaced(),
      discard: async () => {
        services?.directory.remove(unit)
        await files?.remove(spec.uuid)
        await journals?.remove(spec.uuid)
      },
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

/** One target as the registry sees it: a volume's or an exposed snapshot's. */
export interface ExportEntry {
  /** Folded target name. */
  readonly targetName: string
  readonly alias: string
  /** Folded initiator names; empty means open to every initiator. */
  readonly initiators: readonly string[]
  readonly chap: ChapRecord | null
  readonly exported: ExportedUnits
}

/** The live state the catalog reads from (owned by VolumeRegistry). */
export interface ExportSource {
  exports(): Iterable<ExportEntry>
  discoveryChap(): ChapRecord | null
}

export class ExportCatalog implements TargetCatalog {
  constructor(private readonly source: ExportSource) {}

  target(name: string): ExportedTarget | null {
    const folded = name.toLowerCase()
    return this.targets().find((target) => target.name === folded) ?? null
  }

  targets(): readonly ExportedTarget[] {
    return [...this.source.exports()].map(exportedTarget)
  }

  discoveryChap(): ChapPolicy | null {
    return chapPolicy(this.source.discoveryChap())
  }
}

function exportedTarget(entry: ExportEntry): ExportedTarget {
  const initiators = new Set(entry.initiators)
  return {
    name: entry.targetName,
    alias: entry.alias,
    portalGroupTag,
    // With no ACL entries an export is open to every initiator; names compare folded (RFC 3722).
    allows: (initiatorName) => initiators.size === 0 || initiators.has(initiatorName.toLowerCase()),
    chap: chapPolicy(entry.chap),
    units: entry.exported.units,
  }
}
