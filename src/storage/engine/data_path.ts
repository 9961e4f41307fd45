/**
 * Reads, writes and unmaps of one image (docs/engine.md §3 "I/O paths").
 *
 * - Read at (lineage, epoch): per chunk, walk the versions newest → oldest (then the parent
 *   lineage at its fork epoch) until every wanted sub-block is found; what is never found reads
 *   as zeros. Each sub-block read is checked against its checksum.
 * - Write to a head: a chunk whose newest version was born in the current epoch is private and
 *   written in place; otherwise a new chunk is allocated and only the written sub-blocks go
 *   there (redirect-on-write: nothing is read or copied on the write path for 4 KiB-aligned
 *   writes). The map changes when the data has landed, in one synchronous block per chunk.
 * - Unmap: private sub-blocks are dropped, shared ones hidden by a tombstone with a zero mask.
 *
 * Partial sub-blocks (512-byte blocks not aligned to 4 KiB) are read-modify-written under the
 * sub-block lock. Writes in flight are counted per (lineage, epoch) so a snapshot can wait for
 * the writes that started before it.
 *
 * This file orders the I/O; its neighbours own the parts: how an image resolves (chain.ts),
 * a command cut into chunk pieces (pieces.ts), reads checked against checksums
 * (checked_reads.ts), the dirty-region marks a write needs (dirty_regions.ts), and the map's
 * changes with their journal records (map_edits.ts).
 */
import type { ChunkAllocator } from './allocator.ts'
import { chunksWithData, resolveSources, type Sources } from './chain.ts'
import { CheckedReads } from './checked_reads.ts'
import type { Committer } from './commit.ts'
import {
  chunkBytes,
  fullMask,
  headSourcesMax,
  neverKilled,
  regionChunks,
  subBlockBytes,
  subBlocksPerChunk,
} from './constants.ts'
import type { DirtyRegions } from './dirty_regions.ts'
import { InFlight } from './in_flight.ts'
import type { Lineage, Version } from './lineage.ts'
import type { MapEdits } from './map_edits.ts'
import type { PoolFile } from './media.ts'
import { type Piece, type PlannedPiece, piecesOf, plannedPiece } from './pieces.ts'
import type { EngineState } from './state.ts'
import { SubBlockLocks } from './sub_block_locks.ts'
import type { TagStore } from './tags.ts'

interface ReadRun {
  /** Offset in the caller's buffer. */
  readonly at: number
  /** Byte position in the data file, or -1 for zeros. */
  readonly position: number
  length: number
}

const lockKey = (lineage: number, chunk: number) => lineage * 2 ** 32 + chunk

/** The largest unaligned read done at once (readNow); larger ones take the promise path. */
const readNowScratchBytesMax = 1024 * 1024 + 2 * subBlockBytes

export class DataPath {
  readonly locks = new SubBlockLocks()
  readonly #inFlight = new InFlight()
  readonly #checked: CheckedReads
  /** readNow's covering buffer for reads that are not 4 KiB-aligned. */
  #scratch = new Uint8Array(0)
  /** What #slotFor backed for the first time (a field: no object per piece). */
  #lastAdded = 0
  /** Reads and writes started so far: the pool's tick tells a busy pool from an idle one. */
  ioStarted = 0

  constructor(
    private readonly state: EngineState,
    private readonly allocator: ChunkAllocator,
    private readonly committer: Committer,
    private readonly data: PoolFile,
    private readonly tags: TagStore,
    private readonly regions: DirtyRegions,
    private readonly edits: MapEdits,
  ) {
    this.#checked = new CheckedReads(data, tags, (phys) => this.#inFlight.slotWrites(phys))
  }

  /** The sources of the sub-blocks in `mask` of `chunk` as seen at (lineage, epoch). */
  resolve(lineage: Lineage, epoch: number, chunk: number, mask: number, into: Sources): void {
    resolveSources(this.state.lineages, lineage, epoch, chunk, mask, into)
  }

  /** The head's sources for a whole chunk, cached on the lineage (see Lineage.headSources). */
  headSources(lineage: Lineage, chunk: number): Sources {
    let sources = lineage.headSources.get(chunk)
    if (sources === undefined) {
      sources = new Float64Array(subBlocksPerChunk)
      this.resolve(lineage, lineage.cur, chunk, fullMask, sources)
      if (lineage.headSources.size >= headSourcesMax) lineage.headSources.clear()
      lineage.headSources.set(chunk, sources)
    }
    return sources
  }

  /** Reads whole sub-blocks at `offset` (aligned) of the image into `target`. */
  /**
   * The image's bytes at [offset, offset + length) (sub-block aligned) as runs: each is either
   * zeros (`position` -1) or one contiguous stretch of the data file, merged across sub-blocks
   * and chunks (a volume written sequentially reads back with one system call per run).
   */
  #runs(lineage: Lineage, epoch: number, offset: number, length: number): ReadRun[] {
    // Head reads use the lineage's cached views; only an older image needs a scratch resolve.
    const scratch: Sources | null =
      epoch === lineage.cur ? null : new Float64Array(subBlocksPerChunk)
    const runs: ReadRun[] = []
    for (const piece of piecesOf(offset, length)) {
      let sources: Sources
      if (scratch === null) sources = this.headSources(lineage, piece.chunk)
      else {
        this.resolve(lineage, epoch, piece.chunk, piece.mask, scratch)
        sources = scratch
      }
      for (let index = 0; index < piece.count; index += 1) {
        const bit = piece.first + index
        const phys = sources[bit]!
        const position = phys < 0 ? -1 : phys * chunkBytes + bit * subBlockBytes
        const at = piece.at + index * subBlockBytes
        const last = runs.at(-1)
        const follows =
          last !== undefined &&
          last.at + last.length === at &&
          (position < 0 ? last.position < 0 : last.position + last.length === position)
        if (follows) last.length += subBlockBytes
        else runs.push({ at, position, length: subBlockBytes })
      }
    }
    return runs
  }

  /** Reads whole sub-blocks at `offset` (aligned) of the image into `target`. */
  async readAligned(lineage: Lineage, epoch: number, offset: number, target: Uint8Array) {
    const ticket = this.#ioStart()
    try {
      const reads: Promise<void>[] = []
      for (const run of this.#runs(lineage, epoch, offset, target.length)) {
        const slice = target.subarray(run.at, run.at + run.length)
        if (run.position < 0) slice.fill(0)
        else reads.push(this.#checked.read(slice, run.position))
      }
      await Promise.all(reads)
    } finally {
      this.#ioEnd(ticket)
    }
  }

  /**
   * A head read done at once when every run is a page-cache hit (see PoolFile.readNow): true
   * when `target` holds the data; false, with nothing promised about `target`, when the caller
   * must take the promise path (which also reports checksum failures).
   */
  readNow(lineage: Lineage, offset: number, target: Uint8Array): boolean {
    this.ioStarted += 1
    if (this.data.readNow === undefined) return false
    const start = Math.floor(offset / subBlockBytes) * subBlockBytes
    const end = Math.ceil((offset + target.length) / subBlockBytes) * subBlockBytes
    if (start === offset && end === offset + target.length)
      return this.#readNowAligned(lineage, offset, target)
    // A read that is not 4 KiB-aligned (512-byte blocks at any LBA) reads and checks the whole
    // sub-blocks it touches into a scratch buffer, then copies its part: one buffer serves all,
    // since nothing else runs until this returns.
    if (end - start > readNowScratchBytesMax) return false
    if (this.#scratch.length < end - start) this.#scratch = new Uint8Array(readNowScratchBytesMax)
    const covering = this.#scratch.subarray(0, end - start)
    if (!this.#readNowAligned(lineage, start, covering)) return false
    target.set(covering.subarray(offset - start, offset - start + target.length))
    return true
  }

  #readNowAligned(lineage: Lineage, offset: number, target: Uint8Array): boolean {
    const data = this.data
    for (const run of this.#runs(lineage, lineage.cur, offset, target.length)) {
      const slice = target.subarray(run.at, run.at + run.length)
      if (run.position < 0) {
        slice.fill(0)
        continue
      }
      if (!data.readNow!(slice, run.position)) return false
      if (this.#checked.firstMismatch(slice, run.position) >= 0) return false
    }
    return true
  }

  /** Reads a whole chunk and returns the mask of `mask`'s sub-blocks that fail their checksum. */
  verify(phys: number, mask: number): Promise<number> {
    return this.#checked.verify(phys, mask)
  }

  /** Reads any byte range of the image (sub-block padding handled here). */
  async read(lineage: Lineage, epoch: number, offset: number, target: Uint8Array): Promise<void> {
    const start = Math.floor(offset / subBlockBytes) * subBlockBytes
    const end = Math.ceil((offset + target.length) / subBlockBytes) * subBlockBytes
    if (start === offset && end === offset + target.length)
      return this.readAligned(lineage, epoch, offset, target)
    const padded = new Uint8Array(end - start)
    await this.readAligned(lineage, epoch, start, padded)
    target.set(padded.subarray(offset - start, offset - start + target.length))
  }

  /**
   * A head write done at once, as readNow reads: for a 4 KiB-aligned write inside one chunk whose
   * sub-blocks no other write holds, into a region already known dirty on disk, that the data
   * file takes synchronously (PoolFile.writeNow). True when the engine holds the data, exactly as
   * a resolved `write` would leave it; false, with nothing changed, when the caller must take the
   * promise path (which also reports NO_SPACE and I/O errors). Nothing else runs meanwhile, so
   * no snapshot, commit or unmap can fall between the data and its publication.
   */
  writeNow(lineage: Lineage, offset: number, source: Uint8Array): boolean {
    this.ioStarted += 1
    if (this.data.writeNow === undefined || this.committer.failure !== null) return false
    if (offset % subBlockBytes !== 0 || source.length % subBlockBytes !== 0) return false
    const chunk = Math.floor(offset / chunkBytes)
    if (source.length === 0 || Math.floor((offset + source.length - 1) / chunkBytes) !== chunk)
      return false
    const pieces = piecesOf(offset, source.length)
    const piece = pieces[0]!
    // Nothing else runs until this returns, so the write takes no lock and is not counted in
    // InFlight: it only needs its sub-blocks free of writes in flight. (Taking and dropping
    // them cost two Map rehashes per write, and a Map whose table is in old space rehashes into
    // old space: two thirds of the heap a QD 32 write load promoted.)
    if (!this.locks.isFree(lockKey(lineage.id, chunk), piece.mask)) return false
    let planned: PlannedPiece
    try {
      planned = this.#plan(lineage, pieces)[0]!
    } catch {
      return false // NO_SPACE: #plan changed nothing, and the promise path reports it
    }
    const region = Math.floor(planned.phys / regionChunks)
    const position = planned.phys * chunkBytes + planned.first * subBlockBytes
    const marked = this.regions.durable(region)
    if ((!marked && planned.overwrites) || !this.data.writeNow(source, position)) {
      this.#unplan(lineage, planned, 0)
      return false
    }
    this.regions.wrote(region)
    this.tags.record(source, planned.phys, planned.first)
    this.#complete(lineage, planned)
    this.committer.markDataDirty()
    return true
  }

  /** Writes `source` at byte `offset` of the head of `lineage`. */
  async write(lineage: Lineage, offset: number, source: Uint8Array): Promise<void> {
    this.committer.checkHealthy()
    const start = Math.floor(offset / subBlockBytes) * subBlockBytes
    const end = Math.ceil((offset + source.length) / subBlockBytes) * subBlockBytes
    const pieces = piecesOf(start, end - start)
    await this.#lock(lineage, pieces)
    try {
      let buffer = source
      if (start !== offset || end !== offset + source.length) {
        buffer = new Uint8Array(end - start)
        await this.#readEdges(lineage, start, end, offset, source.length, buffer)
        buffer.set(source, offset - start)
      }
      await this.#writeLocked(lineage, pieces, buffer)
    } finally {
      this.#unlock(lineage, pieces)
    }
  }

  async #readEdges(
    lineage: Lineage,
    start: number,
    end: number,
    offset: number,
    length: number,
    buffer: Uint8Array,
  ): Promise<void> {
    const epoch = lineage.cur
    if (offset !== start)
      await this.readAligned(lineage, epoch, start, buffer.subarray(0, subBlockBytes))
    const last = end - subBlockBytes
    if (offset + length !== end && (last !== start || offset === start))
      await this.readAligned(lineage, epoch, last, buffer.subarray(last - start))
  }

  async #lock(lineage: Lineage, pieces: readonly Piece[]): Promise<void> {
    for (const piece of pieces) {
      const wait = this.locks.acquire(lockKey(lineage.id, piece.chunk), piece.mask)
      if (wait !== null) await wait
    }
  }

  #unlock(lineage: Lineage, pieces: readonly Piece[]): void {
    for (const piece of pieces) this.locks.release(lockKey(lineage.id, piece.chunk), piece.mask)
  }

  async #writeLocked(lineage: Lineage, pieces: readonly Piece[], buffer: Uint8Array) {
    this.committer.checkHealthy()
    const planned = this.#plan(lineage, pieces)
    const epoch = lineage.cur
    const ticket = this.#ioStart()
    this.#inFlight.writeStart(lineage.id, epoch)
    for (const piece of planned) this.#inFlight.slotWriteStart(piece.phys)
    try {
      const marking = this.#markRegionsDirty(planned)
      if (marking !== null) await marking
      // One piece (every write within a 64 KiB chunk) needs no Promise.all.
      if (planned.length === 1) await this.#writeRun(planned, 0, 1, buffer)
      else await Promise.all(this.#writeRuns(planned, buffer))
      for (const piece of planned) this.#complete(lineage, piece)
      this.committer.markDataDirty()
    } catch (error) {
      for (const piece of planned) this.#abandon(lineage, piece, 1)
      throw error
    } finally {
      for (const piece of planned) {
        this.#inFlight.slotWriteEnd(piece.phys)
        // Counted by #markRegionsDirty; ended here, so a failed mark leaves no count behind.
        this.regions.writeEnd(Math.floor(piece.phys / regionChunks))
      }
      this.#inFlight.writeEnd(lineage.id, epoch)
      this.#ioEnd(ticket)
    }
  }

  /**
   * Chooses each piece's target version and backs its sub-blocks in the slot, synchronously;
   * all-or-nothing on NO_SPACE, which is decided on what the filesystem would physically hold
   * (allocator.ts): a piece costs the sub-blocks it backs for the first time.
   */
  #plan(lineage: Lineage, pieces: readonly Piece[]): PlannedPiece[] {
    const planned: PlannedPiece[] = []
    try {
      for (const piece of pieces) {
        const list = lineage.chunks.get(piece.chunk)
        const top = list?.[list.length - 1]
        if (top !== undefined && top.birth === lineage.cur) {
          if (top.phys < 0) {
            const phys = this.#slotFor(piece.mask)
            lineage.setPhys(top, phys, this.allocator.backedBytes(phys))
            lineage.changed(piece.chunk)
            // A slot new to the version: what its zero mask hides is elsewhere.
            planned.push(plannedPiece(piece, top, this.#lastAdded, false))
            continue
          }
          const added = this.allocator.reserve(top.phys, piece.mask)
          if (added !== 0) lineage.setHeld(top, this.allocator.backedBytes(top.phys))
          const overwrites = (piece.mask & (top.valid | top.zero)) !== 0
          planned.push(plannedPiece(piece, top, added, overwrites))
          continue
        }
        const phys = this.#slotFor(piece.mask)
        const version: Version = {
          birth: lineage.cur,
          phys,
          valid: 0,
          zero: 0,
          held: this.allocator.backedBytes(phys),
          killedAt: neverKilled,
          gone: false,
        }
        lineage.insert(piece.chunk, version)
        planned.push(plannedPiece(piece, version, this.#lastAdded, false))
      }
    } catch (error) {
      for (const piece of planned) this.#unplan(lineage, piece, 0)
      throw error
    }
    return planned
  }

  /** A slot for a new version, with `mask` backed in it; NO_SPACE leaves nothing changed. */
  #slotFor(mask: number): number {
    const phys = this.allocator.allocate()
    try {
      this.#lastAdded = this.allocator.reserve(phys, mask)
    } catch (error) {
      this.allocator.unallocate(phys)
      throw error
    }
    return phys
  }

  /**
   * Undoes a piece planned by a write that is not issued: its reservation, then its version.
   * `own` is how many of the slot's writes in flight (InFlight.slotWrites) are this write's.
   */
  #unplan(lineage: Lineage, piece: PlannedPiece, own: number): void {
    this.allocator.unreserve(piece.phys, piece.added)
    const { version } = piece
    if (!version.gone && version.phys === piece.phys)
      lineage.setHeld(version, this.allocator.backedBytes(piece.phys))
    this.#abandon(lineage, piece, own)
  }

  /** Undoes a planned piece whose data never landed, if no other write uses it (see #unplan). */
  #abandon(lineage: Lineage, piece: PlannedPiece, own: number): void {
    const { version } = piece
    if (version.gone || version.valid !== 0 || version.zero !== 0) return
    if (version.phys !== piece.phys) return
    if (this.#inFlight.slotWrites(piece.phys) > own) return
    lineage.remove(piece.chunk, version)
    this.allocator.unallocate(piece.phys)
  }

  /**
   * Marks the pieces' regions dirty; returns what the write must wait for, or null (the usual
   * case). Only a piece that rewrites what a durable mapping may point at waits for its mark to
   * be durable: a crash could leave that sub-block's new data beside its old checksum. A
   * sub-block new to its version (a fresh slot, a first pass after a snapshot) is valid in no
   * durable mapping until a commit that syncs its data and checksum first, so its write starts
   * the mark and goes on: waiting there stalled every write in flight for a journal commit, tens
   * of ms behind the data file's writeback, once per 64 MiB of fresh slots.
   */
  #markRegionsDirty(planned: readonly PlannedPiece[]): Promise<unknown> | null {
    let waits: Set<Promise<void>> | null = null
    for (const piece of planned) {
      const marking = this.regions.writeStart(Math.floor(piece.phys / regionChunks))
      if (marking === undefined || !piece.overwrites) continue
      waits ??= new Set()
      waits.add(marking)
    }
    return waits === null ? null : Promise.all(waits)
  }

  /**
   * Pieces that follow each other in the file (a chunk written to its end, the next from its
   * start, at the next physical chunk: a large write into fresh or sequentially laid-out chunks)
   * go out as one system call; a 1 MiB write was sixteen.
   */
  #writeRuns(planned: readonly PlannedPiece[], buffer: Uint8Array): Promise<void>[] {
    const writes: Promise<void>[] = []
    let start = 0
    for (let index = 1; index <= planned.length; index += 1) {
      const before = planned[index - 1]!
      const piece = planned[index]
      const follows =
        piece !== undefined &&
        before.first + before.count === subBlocksPerChunk &&
        piece.first === 0 &&
        piece.phys === before.phys + 1
      if (follows) continue
      writes.push(this.#writeRun(planned, start, index, buffer))
      start = index
    }
    return writes
  }

  /** Writes planned[from, to), which lie one after the other in the file and in `buffer`. */
  async #writeRun(
    planned: readonly PlannedPiece[],
    from: number,
    to: number,
    buffer: Uint8Array,
  ): Promise<void> {
    const first = planned[from]!
    const last = planned[to - 1]!
    const bytes = buffer.subarray(first.at, last.at + last.count * subBlockBytes)
    await this.data.write(bytes, first.phys * chunkBytes + first.first * subBlockBytes)
    for (let index = from; index < to; index += 1) {
      const piece = planned[index]!
      const at = piece.at - first.at
      this.tags.record(
        bytes.subarray(at, at + piece.count * subBlockBytes),
        piece.phys,
        piece.first,
      )
    }
  }

  /** Publishes a landed piece: its sub-blocks become valid, older versions may die. */
  #complete(lineage: Lineage, piece: PlannedPiece): void {
    const { version } = piece
    // Unmapped or freed while the data was in flight: the unmap came later and wins.
    if (version.gone || version.phys !== piece.phys) return
    const valid = version.valid | piece.mask
    const zero = version.zero & ~piece.mask
    if (valid === version.valid && zero === version.zero) return
    version.valid = valid
    version.zero = zero
    lineage.changed(piece.chunk)
    this.edits.put(lineage, piece.chunk, version, true)
    this.edits.killCovered(lineage, piece.chunk)
  }

  /** Unmaps whole sub-blocks at `offset` of the head; partial ones are written with zeros. */
  async unmap(lineage: Lineage, offset: number, length: number): Promise<void> {
    this.committer.checkHealthy()
    const start = Math.ceil(offset / subBlockBytes) * subBlockBytes
    const end = Math.floor((offset + length) / subBlockBytes) * subBlockBytes
    if (start >= end) return this.write(lineage, offset, new Uint8Array(length))
    if (start > offset) await this.write(lineage, offset, new Uint8Array(start - offset))
    if (offset + length > end) await this.write(lineage, end, new Uint8Array(offset + length - end))
    // Only chunks that hold something (here or in a parent) need a change: the cost follows the
    // data, not the range (a 100 GiB UNMAP of a mostly empty volume touches a few chunks).
    const pieces = this.#piecesWithData(lineage, start, end)
    await this.#lock(lineage, pieces)
    try {
      this.committer.checkHealthy()
      for (const piece of pieces) this.#unmapPiece(lineage, piece)
    } finally {
      this.#unlock(lineage, pieces)
    }
  }

  /** The pieces of [start, end) (sub-block aligned) in chunks that have versions on the chain. */
  #piecesWithData(lineage: Lineage, start: number, end: number): Piece[] {
    const first = Math.floor(start / chunkBytes)
    const last = Math.floor((end - 1) / chunkBytes)
    const chunks = this.chunksWithData(lineage, first, last)
    return chunks.map((chunk) => {
      const from = Math.max(start, chunk * chunkBytes)
      const to = Math.min(end, (chunk + 1) * chunkBytes)
      const [piece] = piecesOf(from, to - from)
      return { ...piece!, at: from - start }
    })
  }

  /** Chunks in [first, last] with a version in `lineage` or the lineages it reads through. */
  chunksWithData(lineage: Lineage, first: number, last: number): number[] {
    return chunksWithData(this.state.lineages, lineage, first, last)
  }

  #unmapPiece(lineage: Lineage, piece: Piece): void {
    const list = lineage.chunks.get(piece.chunk)
    const top = list?.[list.length - 1]
    if (top !== undefined && top.birth === lineage.cur) {
      top.valid &= ~piece.mask
      top.zero |= piece.mask
      lineage.changed(piece.chunk)
      // A write to other sub-blocks of this chunk may still be landing in it: keep the chunk.
      const writing = top.phys >= 0 && this.#inFlight.slotWrites(top.phys) > 0
      const alone = list!.length === 1 && lineage.parent === null
      if (top.valid === 0 && alone && !writing) {
        this.edits.free(lineage, piece.chunk, top)
        return
      }
      if (top.valid === 0 && top.phys >= 0 && !writing) {
        this.allocator.free(top.phys, this.committer.ticket)
        lineage.setPhys(top, -1, 0)
        lineage.changed(piece.chunk)
      }
      this.edits.put(lineage, piece.chunk, top)
      this.edits.killCovered(lineage, piece.chunk)
      return
    }
    if (top === undefined && lineage.parent === null) return
    const tombstone: Version = {
      birth: lineage.cur,
      phys: -1,
      valid: 0,
      zero: piece.mask,
      held: 0,
      killedAt: neverKilled,
      gone: false,
    }
    lineage.insert(piece.chunk, tombstone)
    this.edits.put(lineage, piece.chunk, tombstone)
    this.edits.killCovered(lineage, piece.chunk)
  }

  /** Resolves when every write to `lineage` started at an epoch <= `epoch` has finished. */
  drain(lineage: number, epoch: number): Promise<void> {
    return this.#inFlight.drain(lineage, epoch)
  }

  /** The oldest ticket of an I/O still in flight, or +∞. */
  oldestTicketInFlight(): number {
    return this.#inFlight.oldestTicket()
  }

  #ioStart(): number {
    this.ioStarted += 1
    const ticket = this.committer.ticket
    this.#inFlight.ioStart(ticket)
    return ticket
  }

  #ioEnd(ticket: number): void {
    this.#inFlight.ioEnd(ticket)
  }
}
