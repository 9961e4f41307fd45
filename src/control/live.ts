/**
 * The registry's live state as its use-case modules share it (volumes.ts owns it; snapshots.ts,
 * access.ts and reconcile.ts use it through `ControlState`): the open volumes and exposed
 * snapshots with their logical units, the catalog document, the one-at-a-time mutation queue
 * and the engine.
 */
import type { Clock } from '../base/clock.ts'
import type { Logger } from '../base/log.ts'
import type { BlockDevice } from '../scsi/block_device.ts'
import type { EncryptedBlockDevice } from '../storage/encrypted_device.ts'
import type { FileBlockDevice } from '../storage/file_device.ts'
import type { CatalogDocument, ExposureRecord, VolumeRecord } from './catalog_format.ts'
import type { VolumeEngine } from './engine.ts'
import type { Keyring } from './keys.ts'
import type { ExportedUnits, UnitFactory } from './targets.ts'

export interface LiveVolume {
  readonly record: VolumeRecord
  readonly device: BlockDevice
  readonly exported: ExportedUnits
  /** The sparse file of a format-1 file volume; null for an engine volume. */
  readonly file: FileBlockDevice | null
  /** An encrypted volume's wrapper (it is `device`); null when the volume is not encrypted. */
  readonly encryption: EncryptedBlockDevice | null
}

export interface LiveExposure {
  readonly record: ExposureRecord
  readonly device: BlockDevice
  readonly exported: ExportedUnits
}

export interface ControlState {
  readonly engine: VolumeEngine
  readonly iqnBase: string
  readonly clock: Clock
  readonly logger: Logger
  readonly unitFactory: UnitFactory
  /** The keys of encrypted volumes, their snapshots and clones. */
  readonly keys: Keyring
  /** Live exposures by view id. */
  readonly exposures: Map<string, LiveExposure>
  document(): CatalogDocument
  /** Writes the catalog atomically, then makes it the current document. */
  commit(document: CatalogDocument): Promise<void>
  exclusive<T>(work: () => Promise<T>): Promise<T>
  /** VOLUME_NOT_FOUND when absent; names fold case. */
  findVolume(name: string): LiveVolume
  /** Writes a live volume's changed record to the catalog, then makes it the live one. */
  updateVolume(volume: LiveVolume): Promise<void>
  volumeByUuid(uuid: string): LiveVolume | undefined
  /** Logged-in sessions to a target (folded name). */
  sessionsOn(targetName: string): number
  /** The target name of an exposure (its volume must be live). */
  exposureTarget(record: ExposureRecord): string
  /** Exports an engine view as a snapshot's target (the record is already in the catalog). */
  attachExposure(record: ExposureRecord, device: BlockDevice): LiveExposure
}

/** Whether a record's data live in the engine (absent `backing`: a format-1 file volume). */
export function isEngineVolume(record: VolumeRecord): boolean {
  return record.backing === 'engine'
}
