/**
 * How an image resolves through the version map (docs/engine.md §2 "Structures"): an image is a
 * lineage at an epoch, and each of its sub-blocks comes from the newest version born at or
 * before that epoch that holds or hides it, then from the parent lineage at its fork epoch, and
 * reads as zeros when no version on the chain has it. Pure functions of the map: the data path,
 * GET LBA STATUS and diff all read images this way.
 */
import { subBlocksPerChunk } from './constants.ts'
import type { Lineage } from './lineage.ts'

/** Where each sub-block of a chunk comes from: a data-file chunk, or -1 for zeros. */
export type Sources = Float64Array

/** The sources of the sub-blocks in `mask` of `chunk` as seen at (lineage, epoch). */
export function resolveSources(
  lineages: ReadonlyMap<number, Lineage>,
  lineage: Lineage,
  epoch: number,
  chunk: number,
  mask: number,
  into: Sources,
): void {
  into.fill(-1)
  let need = mask
  let level: Lineage | undefined = lineage
  let at = epoch
  while (level !== undefined && need !== 0) {
    const list = level.chunks.get(chunk)
    if (list !== undefined) {
      for (let index = level.newestAtOrBefore(list, at); index >= 0 && need !== 0; index -= 1) {
        const version = list[index]!
        const hit = need & (version.valid | version.zero)
        if (hit === 0) continue
        const data = hit & version.valid
        for (let bit = 0; bit < subBlocksPerChunk; bit += 1)
          if ((data >> bit) & 1) into[bit] = version.phys
        need &= ~hit
      }
    }
    if (level.parent === null) break
    at = level.parent.epoch
    level = lineages.get(level.parent.lineage)
  }
}

/** Chunks in [first, last] with a version in `lineage` or the lineages it reads through. */
export function chunksWithData(
  lineages: ReadonlyMap<number, Lineage>,
  lineage: Lineage,
  first: number,
  last: number,
): number[] {
  const found = new Set<number>()
  let level: Lineage | undefined = lineage
  while (level !== undefined) {
    const map = level.chunks
    if (map.size <= last - first + 1) {
      for (const chunk of map.keys()) if (chunk >= first && chunk <= last) found.add(chunk)
    } else {
      for (let chunk = first; chunk <= last; chunk += 1) if (map.has(chunk)) found.add(chunk)
    }
    level = level.parent === null ? undefined : lineages.get(level.parent.lineage)
  }
  return [...found].sort((a, b) => a - b)
}
