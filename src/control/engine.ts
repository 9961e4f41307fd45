/**
 * The volume engine as the control plane uses it: the seam between control/ and
 * storage/engine/pool.ts (docs/engine.md), owned here by its consumer (STYLE rule 16). The real
 * implementation is storage/engine's `Pool`, which satisfies this interface structurally; the
 * in-memory one is memory_engine.ts (unit tests of control/, api/ and cli/).
 *
 * Identifiers: a volume's engine id is its catalog record's uuid; an exposed snapshot's view id
 * is the uuid persisted in its exposure record (also its SCSI identity). Snapshots are named by
 * (volume id, name) with the name stored exactly as the user first gave it; control/ folds case.
 * Errors are SanErrors with the codes of base/errors.ts.
 */
import type {
  Damage,
  DiffExtent,
  EngineDevice,
  PoolSpace,
  ProvisioningRun,
  SnapshotInfo,
  VolumeSpace,
} from '../storage/engine/types.ts'

export type {
  Damage,
  DiffExtent,
  EngineDevice,
  PoolSpace,
  ProvisioningRun,
  SnapshotInfo,
  VolumeSpace,
}

export interface SnapshotRequest {
  readonly volumeId: string
  readonly name: string
}

export interface VolumeEngine {
  /** Durable when resolved. */
  createVolume(id: string, blockBytes: 512 | 4096, blockCount: number): Promise<EngineDevice>
  /** A volume or an exposed view; VOLUME_NOT_FOUND otherwise. */
  device(id: string): EngineDevice
  volumeIds(): string[]
  /** Grow only (SIZE_SHRINK). */
  resizeVolume(id: string, blockCount: number): Promise<void>
  /** VOLUME_HAS_DEPENDENTS with snapshots (unless recursive) or clones. */
  deleteVolume(id: string, recursive: boolean): Promise<void>
  /** Several items: one group snapshot, atomic, all or nothing. */
  createSnapshots(items: readonly SnapshotRequest[]): Promise<SnapshotInfo[]>
  /** Live (not deleting) snapshots, oldest first, with accounting. */
  snapshots(volumeId?: string): SnapshotInfo[]
  /** Returns at once; space is reclaimed in the background. */
  deleteSnapshot(volumeId: string, name: string): Promise<void>
  /** The live volume becomes the snapshot's image; calls the device's onContentsReplaced. */
  rollback(volumeId: string, name: string): Promise<void>
  expose(volumeId: string, name: string, viewId: string): Promise<EngineDevice>
  /** Discards the view's writes. */
  unexpose(volumeId: string, name: string): Promise<void>
  clone(volumeId: string, name: string, newVolumeId: string): Promise<EngineDevice>
  /** A clone's origin snapshot, or null. */
  origin(volumeId: string): { volumeId: string; name: string } | null
  /** `to` null: the live volume. */
  diff(volumeId: string, from: string, to: string | null): DiffExtent[]
  volumeSpace(id: string): VolumeSpace
  space(): PoolSpace
  scrub(): Promise<Damage[]>
}
