/**
 * Changes to the version map and their journal records (docs/engine.md §2 "Structures", §4): a
 * version put (new, grown, shrunk, killed), a version removed with its slot freed once the
 * removal is durable, and the rule that a version every newer one covers dies at the current
 * epoch, and is freed at once when no live image still reads it. The data path, unmap and
 * reclamation all change the map through here, so the map in memory and the journal agree.
 */
import type { ChunkAllocator } from './allocator.ts'
import type { Committer } from './commit.ts'
import { neverKilled } from './constants.ts'
import { recordType } from './journal.ts'
import type { Lineage, Version } from './lineage.ts'

export class MapEdits {
  constructor(
    private readonly committer: Committer,
    private readonly allocator: ChunkAllocator,
  ) {}

  /** Journals a version's mapping; `publishesData`: it maps data that just landed. */
  put(lineage: Lineage, chunk: number, version: Version, publishesData = false): void {
    this.committer.append(
      {
        type: recordType.mapPut,
        lineage: lineage.id,
        chunk,
        birth: version.birth,
        phys: version.phys,
        valid: version.valid,
        zero: version.zero,
        killedAt: version.killedAt,
      },
      publishesData,
    )
  }

  /** Removes a version from the map and frees its chunk once that is durable. */
  free(lineage: Lineage, chunk: number, version: Version): void {
    lineage.remove(chunk, version)
    if (version.phys >= 0) this.allocator.free(version.phys, this.committer.ticket)
    const { birth } = version
    this.committer.append({ type: recordType.mapDelete, lineage: lineage.id, chunk, birth })
  }

  /** Kills (and frees, when no live epoch needs them) versions newer ones now cover. */
  killCovered(lineage: Lineage, chunk: number): void {
    const list = lineage.chunks.get(chunk)
    if (list === undefined || list.length < 2) return
    let covered = 0
    for (let index = list.length - 1; index >= 0; index -= 1) {
      const version = list[index]!
      const mine = version.valid | version.zero
      if (index < list.length - 1 && version.killedAt === neverKilled && (mine & ~covered) === 0) {
        lineage.setKilled(version, lineage.cur)
        if (lineage.alive(version)) this.put(lineage, chunk, version)
        else this.free(lineage, chunk, version)
      }
      covered |= mine
    }
  }
}
