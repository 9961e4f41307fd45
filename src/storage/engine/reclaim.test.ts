/**
 * The space counters read without a scan: the one-pass `epochSpace` must agree with the
 * per-epoch definitions (`exclusiveBytes`, `referencedBytes`) on any lineage.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { neverKilled } from './constants.ts'
import { Lineage } from './lineage.ts'
import { epochSpace, exclusiveBytes, referencedBytes } from './reclaim.ts'

test('epochSpace agrees with exclusiveBytes and referencedBytes for every live epoch', () => {
  const version = fc.record({
    birth: fc.integer({ min: 1, max: 30 }),
    life: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
    phys: fc.integer({ min: -1, max: 3 }),
  })
  fc.assert(
    fc.property(
      fc.array(version, { maxLength: 60 }),
      fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }),
      fc.boolean(),
      (versions, snapshots, hasHead) => {
        const lineage = new Lineage(1, null, 41, hasHead)
        versions.forEach((spec, chunk) => {
          const killedAt = spec.life === undefined ? neverKilled : spec.birth + spec.life
          lineage.insert(chunk, { ...spec, valid: 1, zero: 0, killedAt, gone: false })
        })
        for (const epoch of snapshots) lineage.addLiveSnapshotEpoch(epoch)
        const space = epochSpace(lineage)
        for (const epoch of lineage.liveEpochs()) {
          assert.equal(space.get(epoch)!.exclusive, exclusiveBytes(lineage, epoch), `excl ${epoch}`)
          assert.equal(
            space.get(epoch)!.referenced,
            referencedBytes(lineage, epoch),
            `ref ${epoch}`,
          )
        }
      },
    ),
  )
})
