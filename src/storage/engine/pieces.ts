/**
 * A command's byte range cut at chunk boundaries (docs/engine.md §3 "I/O paths"): each piece is
 * the sub-blocks of one 64 KiB chunk that the command covers, and a planned piece adds the
 * version and slot a write goes to (data_path.ts #plan).
 */
import { assert } from '../../base/assert.ts'
import { chunkBytes, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import type { Version } from './lineage.ts'

export interface Piece {
  readonly chunk: number
  readonly first: number
  readonly count: number
  readonly mask: number
  /** Offset of the piece in the command's (aligned) buffer. */
  readonly at: number
}

export interface PlannedPiece extends Piece {
  readonly version: Version
  readonly phys: number
  /** Sub-blocks of the slot this write backs for the first time (allocator.ts `reserve`). */
  readonly added: number
  /**
   * Whether the piece rewrites sub-blocks its version holds or hides (valid or zero), which a
   * durable mapping may point at: only such a write needs its region's dirty mark on disk first
   * (data_path.ts #markRegionsDirty).
   */
  readonly overwrites: boolean
}

/** A piece with its target version, as one object shape (no spread: this is per write). */
export function plannedPiece(piece: Piece, version: Version, added: number, overwrites: boolean) {
  const { chunk, first, count, mask, at } = piece
  const planned: PlannedPiece = {
    chunk,
    first,
    count,
    mask,
    at,
    version,
    phys: version.phys,
    added,
    overwrites,
  }
  return planned
}

export function piecesOf(offset: number, length: number): Piece[] {
  assert(offset % subBlockBytes === 0 && length % subBlockBytes === 0, 'unaligned pieces')
  const pieces: Piece[] = []
  let at = 0
  while (at < length) {
    const position = offset + at
    const chunk = Math.floor(position / chunkBytes)
    const first = (position % chunkBytes) / subBlockBytes
    const count = Math.min(subBlocksPerChunk - first, (length - at) / subBlockBytes)
    const mask = ((1 << count) - 1) << first
    pieces.push({ chunk, first, count, mask, at })
    at += count * subBlockBytes
  }
  return pieces
}
