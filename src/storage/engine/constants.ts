/**
 * The engine's geometry and limits, named once (docs/engine.md §2 "Limits"). Changing a geometry
 * constant changes the on-disk format; the limits are defaults a pool may be opened with.
 */

/** Allocation unit of the data file: a volume's address space is mapped in chunks of this size. */
export const chunkBytes = 64 * 1024
/** Checksum and validity unit inside a chunk (engine.md §5.2: 16 sub-blocks per chunk). */
export const subBlockBytes = 4096
export const subBlocksPerChunk = chunkBytes / subBlockBytes
/** A mask with every sub-block of a chunk set. */
export const fullMask = (1 << subBlocksPerChunk) - 1
/**
 * Slots (64 KiB each) the data file may have: 2^28 keeps a checksum's index (slot × 16 +
 * sub-block) below 2^32, the in-memory tags addressable, and the file at 16 TiB, ext4's largest.
 * A slot in use holds at least one sub-block, so the pool's capacity / 4 KiB is the other cap.
 * (`phys` itself is an f64 in the journal and the checkpoint: 2^53.)
 */
export const slotsMax = 2 ** 28
/** Checksum-region size in chunks (64 MiB): the unit of the dirty-region log (engine.md §5.9). */
export const regionChunks = 1024
/** The epoch stored as "never killed": larger than any epoch a lineage can reach. */
export const neverKilled = 0xffff_ffff

export interface EngineLimits {
  /** Snapshots one volume may have (including those being deleted). */
  snapshotsPerVolume: number
  /** Snapshots the whole pool may hold. */
  snapshotsPerPool: number
}

export const defaultLimits: EngineLimits = {
  snapshotsPerVolume: 4096,
  snapshotsPerPool: 131_072,
}

/**
 * A commit happens at least this often while anything is pending. dm-thin uses 1 s; a shorter
 * interval bounds how much dirty data a snapshot taken under load has to flush first.
 */
export const commitIntervalMs = 250
/** The journal is folded into a checkpoint once it grows past this. */
export const checkpointJournalBytes = 32 * 1024 * 1024
/**
 * Regions stay dirty (their checksums recomputed after a crash) until a checkpoint finds that no
 * write reached them since the one before (a write-intent bitmap clears bits the same lazy way,
 * so a region written all the time is not marked again after every checkpoint). A checkpoint
 * runs at least this often while any region is dirty, so recovery never re-reads more than about
 * two minutes' worth of written regions.
 */
export const checkpointIntervalMs = 60_000
/** Chunks whose head view one lineage caches (~200 bytes each); the cache is reset when full. */
export const headSourcesMax = 65_536
/**
 * How long one tick (every ~10 ms) may spend on background reclamation while hosts do I/O. A
 * command that arrives during a slice waits for it, and about (slice + command) / tick of all
 * commands do, so the slice is kept to a fraction of one command's latency (docs/engine.md §2
 * "delete"): ~25 versions (1.5 MiB of chunks) per tick, ~150 MiB/s under a saturating load.
 * It grows while the backlog grows (reclaim.ts `budgetMs`), so garbage cannot outrun it.
 */
export const reclaimBusyBudgetMs = 0.05
/**
 * The same while the pool is quiet (no read or write for `busyQuietMs`), or while what waits to
 * be freed is over half of the free space (reclaim.ts `budgetMs`): reclaim at speed.
 */
export const reclaimIdleBudgetMs = 5
/** Versions examined between two clock reads in the reclaim job (~2 µs each). */
export const reclaimBatch = 8
/** A freed chunk is given back to the filesystem only after staying free this long. */
export const punchDelayMs = 10_000
/**
 * Past this fraction of the capacity physically held, free chunks are punched at once instead of
 * after `punchDelayMs`: their space then serves writes that need new sub-blocks.
 */
export const punchEagerFraction = 0.9
/** Freed chunks are returned to the filesystem (hole punching) in runs of at most this many. */
export const punchRunChunksMax = 256
/**
 * While hosts do I/O, hole punching yields to them: each fallocate(PUNCH_HOLE) holds the data
 * file's inode lock, and every write waits for it (a run of 256 sparse chunks took 17-21 ms here,
 * and foreground writes overlapping a batch saw p99 of 0.2-0.4 s). Under load a punch is one run
 * of at most this many chunks…
 */
export const punchBusyRunChunksMax = 16
/**
 * …and punching holds the lock at most this fraction of the time: after a punch that took d ms,
 * the next one waits d × (1 / fraction − 1). Freed chunks are reusable at once whether punched
 * or not; only the filesystem's free space lags, and it catches up as soon as the pool is quiet
 * (or at once past `punchEagerFraction`).
 */
export const punchBusyDuty = 0.005
/** The pool counts as busy until this long after the last read or write started. */
export const busyQuietMs = 100
/**
 * Runs punched by one child process (storage/positional_io.ts `punchHoles`). After random
 * overwrites freed slots are scattered, runs of one slot: one process per run managed ~80 runs/s
 * (~5 MiB/s), and each spawn forks the daemon.
 */
export const punchBatchRunsMax = 128
