/**
 * The space figures kept up to date (epoch_space.ts) against their definitions [engine.md §3]:
 * after every step of a random sequence of version changes (insert, kill, re-point, a write
 * backing more of a version's slot, remove) and
 * live-set changes (snapshots held and released, the head moved or removed), each live epoch's
 * exclusive and referenced bytes, the dead and the held bytes equal what a brute-force pass over
 * the versions finds — and `scanFigures`, the recount's one-pass version, agrees too.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { neverKilled } from './constants.ts'
import { scanFigures } from './epoch_space.ts'
import { Lineage, type Version, versionBytes } from './lineage.ts'

type Step =
  | { op: 'insert'; chunk: number; birth: number; phys: number }
  | { op: 'kill'; pick: number; life: number }
  | { op: 'phys'; pick: number; phys: number }
  | { op: 'held'; pick: number; subBlocks: number }
  | { op: 'remove'; pick: number }
  | { op: 'snapshot'; epoch: number }
  | { op: 'drop'; epoch: number }
  | { op: 'head'; cur: number; hasHead: boolean }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('insert' as const),
    chunk: fc.integer({ min: 0, max: 5 }),
    birth: fc.integer({ min: 1, max: 30 }),
    phys: fc.integer({ min: -1, max: 3 }),
  }),
  fc.record({ op: fc.constant('kill' as const), pick: fc.nat(), life: fc.integer({ max: 20 }) }),
  fc.record({ op: fc.constant('phys' as const), pick: fc.nat(), phys: fc.integer({ min: -1 }) }),
  fc.record({
    op: fc.constant('held' as const),
    pick: fc.nat(),
    subBlocks: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('snapshot' as const), epoch: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ op: fc.constant('drop' as const), epoch: fc.integer({ min: 1, max: 30 }) }),
  fc.record({
    op: fc.constant('head' as const),
    cur: fc.integer({ min: 1, max: 32 }),
    hasHead: fc.boolean(),
  }),
)

function everyVersion(lineage: Lineage): [number, Version][] {
  const all: [number, Version][] = []
  for (const [chunk, list] of lineage.chunks) for (const version of list) all.push([chunk, version])
  return all
}

/** What a slot holds, varied per slot: versions hold 4 KiB to 64 KiB (physical accounting). */
const heldOf = (phys: number) => (phys < 0 ? 0 : ((phys % 16) + 1) * 4096)

function apply(lineage: Lineage, s: Step): void {
  const all = everyVersion(lineage)
  const picked = all.length === 0 ? undefined : all[('pick' in s ? s.pick : 0) % all.length]
  switch (s.op) {
    case 'insert': {
      const list = lineage.chunks.get(s.chunk) ?? []
      if (list.some((version) => version.birth === s.birth)) return
      const version = {
        birth: s.birth,
        phys: s.phys,
        valid: 1,
        zero: 0,
        held: heldOf(s.phys),
        gone: false,
      }
      lineage.insert(s.chunk, { ...version, killedAt: neverKilled })
      return
    }
    case 'kill':
      if (picked !== undefined)
        lineage.setKilled(picked[1], s.life <= 0 ? neverKilled : picked[1].birth + s.life)
      return
    case 'phys':
      if (picked !== undefined) lineage.setPhys(picked[1], s.phys % 5, heldOf(s.phys % 5))
      return
    case 'held':
      if (picked !== undefined && picked[1].phys >= 0)
        lineage.setHeld(picked[1], s.subBlocks * 4096)
      return
    case 'remove':
      if (picked !== undefined) lineage.remove(picked[0], picked[1])
      return
    case 'snapshot':
      lineage.addLiveSnapshotEpoch(s.epoch)
      return
    case 'drop':
      lineage.removeLiveSnapshotEpoch(s.epoch)
      return
    case 'head':
      lineage.setHead(s.cur, s.hasHead)
      return
  }
}

/** The definitions, by brute force over the versions. */
function check(lineage: Lineage): void {
  const live = [
    ...new Set([...lineage.liveSnapshotEpochs, ...(lineage.hasHead ? [lineage.cur] : [])]),
  ]
  live.sort((a, b) => a - b)
  assert.deepEqual(lineage.figures.live, live, 'live epochs')
  const sees = (epoch: number, version: Version) =>
    version.birth <= epoch && epoch < version.killedAt
  let dead = 0
  let held = 0
  const exclusive = new Map(live.map((epoch) => [epoch, 0]))
  const referenced = new Map(live.map((epoch) => [epoch, 0]))
  for (const [, version] of everyVersion(lineage)) {
    const bytes = versionBytes(version)
    held += bytes
    const seers = live.filter((epoch) => sees(epoch, version))
    if (seers.length === 0) dead += bytes
    if (seers.length === 1) exclusive.set(seers[0]!, exclusive.get(seers[0]!)! + bytes)
    for (const epoch of seers) referenced.set(epoch, referenced.get(epoch)! + bytes)
  }
  const { figures } = lineage
  assert.equal(figures.heldBytes, held, 'held')
  assert.equal(figures.deadBytes, dead, 'dead')
  const scanned = scanFigures(lineage.space, live)
  assert.equal(scanned.held, held, 'scanned held')
  assert.equal(scanned.dead, dead, 'scanned dead')
  for (const epoch of live) {
    assert.equal(figures.exclusiveBytes(epoch), exclusive.get(epoch), `exclusive@${epoch}`)
    assert.equal(figures.referencedBytes(epoch), referenced.get(epoch), `referenced@${epoch}`)
    assert.equal(scanned.exclusive.get(epoch), exclusive.get(epoch), `scanned exclusive@${epoch}`)
    assert.equal(scanned.referenced.get(epoch), referenced.get(epoch), `scanned ref@${epoch}`)
  }
}

test('figures kept up to date equal their definitions after every change [engine.md §3]', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 80 }), fc.boolean(), (steps, hasHead) => {
      const lineage = new Lineage(1, null, 31, hasHead)
      check(lineage)
      for (const s of steps) {
        apply(lineage, s)
        check(lineage)
      }
    }),
    { numRuns: 300 },
  )
})

test('figures follow epochs beyond the first tree size (the Fenwick trees grow)', () => {
  const lineage = new Lineage(1, null, 1, true)
  const version = (birth: number): Version => ({
    birth,
    phys: birth,
    valid: 1,
    zero: 0,
    held: 65_536,
    killedAt: neverKilled,
    gone: false,
  })
  for (let epoch = 1; epoch <= 300; epoch += 1) {
    lineage.insert(epoch % 7, version(epoch))
    lineage.addLiveSnapshotEpoch(epoch)
    lineage.setHead(epoch + 1, true)
  }
  check(lineage)
  for (let epoch = 2; epoch <= 300; epoch += 3) lineage.removeLiveSnapshotEpoch(epoch)
  check(lineage)
})
