/**
 * A volume or a snapshot view as a block device (satisfies scsi/block_device.ts). It holds no
 * state of its own: each call looks up its row, so a rollback (which re-points the volume to a
 * new lineage) or a resize takes effect for the next command without the exporter noticing.
 */
import { assert } from '../../base/assert.ts'
import { SanError } from '../../base/errors.ts'
import type { Committer } from './commit.ts'
import { chunkBytes, fullMask, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import type { DataPath } from './data_path.ts'
import type { Lineage } from './lineage.ts'
import type { EngineState } from './state.ts'
import type { EngineDevice, ProvisioningRun } from './types.ts'

export class PoolDevice implements EngineDevice {
  readonly thin = true as const
  onContentsReplaced: (() => void) | null = null

  constructor(
    readonly id: string,
    private readonly kind: 'volume' | 'view',
    private readonly state: EngineState,
    private readonly dataPath: DataPath,
    private readonly committer: Committer,
  ) {}

  get blockBytes(): 512 | 4096 {
    return this.#geometry().blockBytes
  }

  /** The 4 KiB sub-block (checksum and validity unit): a 512-byte volume is 512e. */
  get physicalBlockBytes(): number {
    return Math.max(subBlockBytes, this.blockBytes)
  }

  get blockCount(): number {
    return this.#geometry().blockCount
  }

  read(lba: number, target: Uint8Array): Promise<void> {
    const lineage = this.#lineage()
    this.#check(lba, target.length)
    return this.dataPath.read(lineage, lineage.cur, lba * this.blockBytes, target)
  }

  /** The synchronous read of scsi/sbc/read_write.ts's fast path: true when `target` is filled. */
  readNow(lba: number, target: Uint8Array): boolean {
    const lineage = this.#lineage()
    this.#check(lba, target.length)
    return this.dataPath.readNow(lineage, lba * this.blockBytes, target)
  }

  /** The synchronous write of scsi/sbc/read_write.ts's fast path (no FUA): true when done. */
  writeNow(lba: number, source: Uint8Array): boolean {
    const lineage = this.#lineage()
    this.#check(lba, source.length)
    return this.dataPath.writeNow(lineage, lba * this.blockBytes, source)
  }

  async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    const lineage = this.#lineage()
    this.#check(lba, source.length)
    await this.dataPath.write(lineage, lba * this.blockBytes, source)
    if (fua) await this.committer.commit()
  }

  flush(): Promise<void> {
    return this.committer.commit()
  }

  unmap(lba: number, blockCount: number): Promise<void> {
    const lineage = this.#lineage()
    this.#check(lba, blockCount * this.blockBytes)
    return this.dataPath.unmap(lineage, lba * this.blockBytes, blockCount * this.blockBytes)
  }

  provisioning(lba: number, blockCount: number, runsMax: number): ProvisioningRun[] {
    const lineage = this.#lineage()
    this.#check(lba, blockCount * this.blockBytes)
    const blockBytes = this.blockBytes
    // Our own objects until returned: a run grows in place (one object per run, not per step).
    const runs: { lba: number; blocks: number; mapped: boolean }[] = []
    const add = (from: number, to: number, mapped: boolean): boolean => {
      const last = runs.at(-1)
      const blocks = (to - from) / blockBytes
      if (last !== undefined && last.mapped === mapped) {
        last.blocks += blocks
        return true
      }
      if (runs.length === runsMax) return false
      runs.push({ lba: from / blockBytes, blocks, mapped })
      return true
    }
    const start = lba * blockBytes
    const end = (lba + blockCount) * blockBytes
    const first = Math.floor(start / chunkBytes)
    const last = Math.floor((end - 1) / chunkBytes)
    // Chunks without data anywhere on the chain are one deallocated stretch: skip them at once.
    const sources = new Float64Array(subBlocksPerChunk)
    let at = start
    for (const chunk of [...this.dataPath.chunksWithData(lineage, first, last), last + 1]) {
      const chunkStart = Math.min(end, chunk * chunkBytes)
      if (chunkStart > at && !add(at, chunkStart, false)) return runs
      at = Math.max(at, chunkStart)
      if (chunk > last) break
      this.dataPath.resolve(lineage, lineage.cur, chunk, fullMask, sources)
      const chunkEnd = Math.min(end, (chunk + 1) * chunkBytes)
      // Sub-blocks of one status are one step: a fully written chunk costs one `add`.
      while (at < chunkEnd) {
        let subBlock = Math.floor((at % chunkBytes) / subBlockBytes)
        const mapped = sources[subBlock]! >= 0
        while (subBlock + 1 < subBlocksPerChunk && sources[subBlock + 1]! >= 0 === mapped) {
          subBlock += 1
        }
        const next = Math.min(chunkEnd, chunk * chunkBytes + (subBlock + 1) * subBlockBytes)
        if (!add(at, next, mapped)) return runs
        at = next
      }
    }
    return runs
  }

  #check(lba: number, bytes: number): void {
    const { blockBytes, blockCount } = this.#geometry()
    assert(bytes % blockBytes === 0, 'transfer is not a whole number of blocks')
    assert(Number.isSafeInteger(lba) && lba >= 0, 'LBA must be a whole block number')
    assert(lba + bytes / blockBytes <= blockCount, 'transfer beyond the device')
  }

  #geometry(): { blockBytes: 512 | 4096; blockCount: number } {
    if (this.kind === 'volume') return this.state.volume(this.id)
    const view = this.#view()
    const snapshot = this.state.snapshots.get(view.snapshot)
    assert(snapshot !== undefined, 'a view outlived its snapshot')
    const volume = this.state.volumes.get(snapshot.volumeId)
    assert(volume !== undefined, 'a view outlived its volume')
    return { blockBytes: volume.blockBytes, blockCount: snapshot.blockCount }
  }

  #view() {
    const view = this.state.views.get(this.id)
    if (view === undefined) throw new SanError('VOLUME_NOT_FOUND', `view ${this.id} was removed`)
    return view
  }

  #lineage(): Lineage {
    const row = this.kind === 'volume' ? this.state.volume(this.id) : this.#view()
    return this.state.lineage(row.lineage)
  }
}
