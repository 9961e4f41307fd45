/**
 * The backstore seam (LIO's `sbc_ops`, SPDK's bdev fn_table): what the SCSI block device needs
 * from storage, owned here by its consumer. `storage/` satisfies it structurally without importing
 * it; `control/` wires the two. Every implementation passes the contract suite in
 * test/contracts/block_device.contract.ts.
 *
 * Addresses are in logical blocks of `blockBytes`. Callers (scsi/) have already checked ranges;
 * an implementation asserts them. Failures of the world are thrown as SanError with code
 * IO_ERROR, NO_SPACE or (for a checksum mismatch) MEDIUM_ERROR-class codes the SCSI layer maps to
 * sense data.
 */
export interface BlockDevice {
  readonly blockBytes: 512 | 4096
  /**
   * Optional: the physical block in bytes, a power-of-two multiple of `blockBytes` (the unit the
   * device really writes, checksums and allocates; a smaller write is a read-modify-write of it).
   * Absent: `blockBytes`. Reported as LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (SBC-3 §5.16).
   */
  readonly physicalBlockBytes?: number
  /** Current size in blocks; may grow online (the SCSI layer then raises CAPACITY CHANGED). */
  readonly blockCount: number
  /** True when unmapped blocks read back as zeros and `unmap` frees space (thin provisioning). */
  readonly thin: boolean
  /** Reads `blockCount` blocks at `lba` into `target` (whose length is blockCount*blockBytes). */
  read(lba: number, target: Uint8Array): Promise<void>
  /**
   * Writes `source` (a whole number of blocks) at `lba`. Resolves when the data is held by the
   * device: a later read returns it. With `fua`, resolves only once it is durable.
   */
  write(lba: number, source: Uint8Array, fua: boolean): Promise<void>
  /** Makes every write that completed before the call durable (SYNCHRONIZE CACHE). */
  flush(): Promise<void>
  /** Deallocates blocks; later reads return zeros. Only called when `thin`. */
  unmap(lba: number, blockCount: number): Promise<void>
  /**
   * Optional: reads at once, on the caller's stack, when the data is at hand (a page-cache hit)
   * and returns true; otherwise returns false having promised nothing about `target`, and the
   * caller uses `read`. With it a QD 1 read completes in the turn its command arrived.
   */
  readNow?(lba: number, target: Uint8Array): boolean
  /**
   * Optional: writes at once, on the caller's stack, when that is cheap now (no FUA: the caller
   * asks only for writes `write(lba, source, false)` would do) and returns true, leaving the
   * device as that resolved write would; otherwise returns false having changed nothing, and the
   * caller uses `write`. With it a QD 1 write completes in the turn its data arrived.
   */
  writeNow?(lba: number, source: Uint8Array): boolean
  /**
   * Optional: the provisioning status from `lba` (SBC-3 §5.7 GET LBA STATUS) as runs of mapped
   * or deallocated blocks, in order, covering at most `blockCount` blocks in at most `runsMax`
   * runs (fewer blocks when the runs ran out). A device without it reports every block mapped.
   */
  provisioning?(lba: number, blockCount: number, runsMax: number): ProvisioningRun[]
}

/** One run of GET LBA STATUS (SBC-3 §5.7.3): `blocks` blocks from `lba`, mapped or not. */
export interface ProvisioningRun {
  readonly lba: number
  readonly blocks: number
  readonly mapped: boolean
}
