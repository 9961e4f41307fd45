/**
 * Every exported logical unit, by its NAA designator (VPD 83h): the `CopyTargets` an EXTENDED
 * COPY resolves its CSCD descriptors through (SPC-4 §6.3.6.2), so a copy can run between any two
 * Basalt units (volumes and exposed snapshots alike) inside the daemon. A unit leaves with its
 * export (volume delete, snapshot unexpose: `ExportedUnits.discard`), so no copy can read or
 * write a unit that is no longer exported. Also what the daemon's tick reaches every unit
 * through:
 *   - the thin-provisioning soft threshold (SBC-3 §4.7.3.6): when the pool's used space reaches
 *     the configured percentage of its capacity, every unit establishes THIN PROVISIONING SOFT
 *     THRESHOLD REACHED for every I_T nexus, once per crossing; the condition re-arms when the
 *     used space falls back below the threshold;
 *   - the paced SANITIZE overwrites (scsi/sbc/sanitize_state.ts `tickSanitize`).
 */
import { assert } from '../base/assert.ts'
import type { CopyTargets, LogicalUnit } from '../scsi/logical_unit.ts'
import { tickSanitize } from '../scsi/sbc/sanitize_state.ts'

/** What the tick needs from the pool (storage/engine Pool.space()). */
export interface PoolSpaceSource {
  space(): { readonly capacityBytes: number; readonly usedBytes: number }
}

export class UnitDirectory implements CopyTargets {
  readonly #units = new Map<string, LogicalUnit>()
  /** The soft threshold, in percent of the pool's capacity; null: none. */
  #softThresholdPercent: number | null = null
  #above = false

  add(unit: LogicalUnit): void {
    this.#units.set(hex(unit.naaDesignator), unit)
  }

  remove(unit: LogicalUnit): void {
    const key = hex(unit.naaDesignator)
    if (this.#units.get(key) === unit) this.#units.delete(key)
  }

  byNaa(designator: Uint8Array): LogicalUnit | null {
    return this.#units.get(hex(designator)) ?? null
  }

  get size(): number {
    return this.#units.size
  }

  get softThresholdPercent(): number | null {
    return this.#softThresholdPercent
  }

  /** Sets (or clears) the soft threshold; the next tick compares the pool against it. */
  setSoftThreshold(percent: number | null): void {
    if (percent !== null) assert(Number.isInteger(percent) && percent >= 1 && percent <= 100)
    this.#softThresholdPercent = percent
    this.#above = false
  }

  /** The daemon's tick: paced sanitizes go on; the pool is compared with the threshold. */
  tick(pool: PoolSpaceSource | null): void {
    for (const unit of this.#units.values()) tickSanitize(unit)
    const percent = this.#softThresholdPercent
    if (pool === null || percent === null) return
    const { capacityBytes, usedBytes } = pool.space()
    if (capacityBytes <= 0) return
    const above = usedBytes * 100 >= capacityBytes * percent
    if (above && !this.#above) {
      for (const unit of this.#units.values()) {
        unit.establishForAll('thinProvisioningSoftThresholdReached', null)
      }
    }
    this.#above = above
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
