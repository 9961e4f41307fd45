/**
 * The engine's disk seam: the few file operations the volume engine needs, so that the same
 * engine runs on the real filesystem (media_fs.ts, the node:fs door) and on a simulated disk
 * that loses unsynced writes, tears them and injects I/O errors (media_sim.ts, for the crash
 * harness of docs/engine.md §7). Every implementation passes test/contracts/pool_media.contract.ts.
 *
 * The durability model is POSIX's: a write is in the file once `write` resolves and survives a
 * crash only after a later `sync` of that file resolved; `replace` is atomic and durable
 * (write a temporary file, sync it, rename it over the old one, sync the directory).
 * Failures are SanErrors: IO_ERROR, or NO_SPACE when the filesystem is full.
 */

export interface PoolFile {
  /** Reads `target.length` bytes at `position`; bytes beyond the end of the file read as 0. */
  read(target: Uint8Array, position: number): Promise<void>
  /**
   * Reads at once on the caller's stack when that is cheap now (a page-cache hit on the real
   * filesystem) and returns true; otherwise returns false having done nothing. Optional.
   */
  readNow?(target: Uint8Array, position: number): boolean
  /** Writes all of `source` at `position`, growing the file if needed. */
  write(source: Uint8Array, position: number): Promise<void>
  /**
   * Writes at once on the caller's stack when that is cheap now (the page cache takes it) and
   * returns true, as a resolved `write` would have; otherwise, or on a failure, returns false (a
   * failure may leave part of `source` written: the caller's `write` then writes it all again
   * and reports the failure). Optional.
   */
  writeNow?(source: Uint8Array, position: number): boolean
  /** Makes every write that resolved before the call durable (fdatasync). */
  sync(): Promise<void>
  /** Current length in bytes. */
  size(): number
  /** Sets the length (shrinking discards; growing reads as zeros). */
  truncate(length: number): Promise<void>
  /** Deallocates a byte range (reads as zeros afterwards); a no-op where unsupported. */
  punchHole(position: number, length: number): Promise<void>
  /** Optional: `punchHole` for several ranges at once (one child process instead of many). */
  punchHoleRuns?(
    ranges: readonly { readonly position: number; readonly length: number }[],
  ): Promise<void>
  /** False when `punchHole` is a no-op here (the bytes stay allocated); absent means it works. */
  readonly punchHoles?: boolean
  /** Bytes the filesystem has allocated for the file (holes excluded), where known. Optional. */
  allocatedBytes?(): number
  close(): Promise<void>
}

export interface PoolMedia {
  /** Opens a file of the pool directory, creating it (empty) when `create` and absent. */
  open(name: string, create: boolean): Promise<PoolFile>
  /** Whole-file read, or null when the file does not exist. */
  readAll(name: string): Promise<Uint8Array | null>
  /** Atomically and durably replaces (or creates) a whole file. */
  replace(name: string, bytes: Uint8Array): Promise<void>
  /** Removes a file (durably: the directory is synced); absent files are ignored. */
  remove(name: string): Promise<void>
  /** The file names in the pool directory. */
  list(): Promise<string[]>
  /** Bytes the filesystem can still give the pool (statfs), for capacity reporting. */
  availableBytes(): Promise<number>
}
