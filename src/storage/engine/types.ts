/**
 * The volume engine's public shapes: what control/ calls (docs/engine.md). A pool holds volumes
 * (thin block devices), their snapshots, the read/write views that expose snapshots, and clones.
 * Volumes and views are `EngineDevice`s, which satisfy scsi/block_device.ts structurally.
 *
 * Identifiers: a volume or a view is named by an id the caller chooses (control/ uses the
 * volume's uuid, which is also its SCSI identity); a snapshot by (volume id, snapshot name).
 */

export interface EngineDevice {
  readonly id: string
  readonly blockBytes: 512 | 4096
  readonly blockCount: number
  readonly thin: true
  read(lba: number, target: Uint8Array): Promise<void>
  write(lba: number, source: Uint8Array, fua: boolean): Promise<void>
  flush(): Promise<void>
  unmap(lba: number, blockCount: number): Promise<void>
  /** At once when cheap now, else false (scsi/block_device.ts, BlockDevice.readNow). */
  readNow?(lba: number, target: Uint8Array): boolean
  /** At once when cheap now, else false (scsi/block_device.ts, BlockDevice.writeNow). */
  writeNow?(lba: number, source: Uint8Array): boolean
  /**
   * Provisioning status from `lba` (SBC-3 §5.7 GET LBA STATUS): runs of blocks that are mapped
   * (hold data) or deallocated (read as zeros), covering at most `blockCount` blocks and at most
   * `runsMax` runs. Granularity is the engine's 4 KiB sub-block.
   */
  provisioning(lba: number, blockCount: number, runsMax: number): ProvisioningRun[]
  /**
   * Called after the device's contents changed under the host (a rollback): the export raises a
   * unit attention so that hosts drop cached data. Set by whoever exports the device.
   */
  onContentsReplaced: (() => void) | null
}

export interface ProvisioningRun {
  readonly lba: number
  readonly blocks: number
  readonly mapped: boolean
}

export interface VolumeSpace {
  readonly id: string
  readonly sizeBytes: number
  /** Pool bytes held by this volume's own history: the head and its snapshots. */
  readonly usedBytes: number
  /** Bytes the live volume references that it does not share with anything older. */
  readonly writtenSinceSnapshotBytes: number
  /** Bytes held only because snapshots still need them. */
  readonly snapshotBytes: number
}

export interface SnapshotInfo {
  readonly volumeId: string
  readonly name: string
  readonly createdAtMs: number
  /** Snapshots taken together by one group snapshot share this id. */
  readonly groupId: string | null
  /** The volume's size when the snapshot was taken (the size of its views and clones). */
  readonly sizeBytes: number
  /** What deleting this snapshot alone would free. */
  readonly exclusiveBytes: number
  /** Pool bytes the snapshot references that something else references too. */
  readonly sharedBytes: number
  /** The id of the read/write view that exposes it, or null. */
  readonly exposedAs: string | null
  /** Volume ids cloned from it. */
  readonly clones: readonly string[]
}

/** Physical figures (docs/engine.md §3): bytes the filesystem holds, in 4 KiB sub-blocks. */
export interface PoolSpace {
  readonly capacityBytes: number
  /** What the data file holds for chunks in use, freed but not yet reusable, or being punched. */
  readonly usedBytes: number
  /** capacity − used: free chunks not yet punched are reusable at once, so they count here. */
  readonly freeBytes: number
  /** Bytes that deleted snapshots still hold and the background job is reclaiming. */
  readonly freeingBytes: number
  readonly metadataBytes: number
  readonly chunkBytes: number
  readonly volumes: number
  readonly snapshots: number
}

/** One changed range; `zero` when the range reads as zeros in the newer image (deallocated). */
export interface DiffExtent {
  readonly offsetBytes: number
  readonly lengthBytes: number
  readonly zero: boolean
}

/** A damaged sub-block found by a scrub or a read. */
export interface Damage {
  /** Volume or snapshot (`VOL@SNAP`, by ids) whose image contains the damaged block. */
  readonly image: string
  readonly offsetBytes: number
  readonly lengthBytes: number
}

export interface RecountReport {
  /** Differences between the maintained counters and a full recount; empty when exact. */
  readonly drift: readonly string[]
  readonly versions: number
  readonly chunks: number
}
