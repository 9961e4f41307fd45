import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { MemoryTrimmer } from './memory.ts'

const MiB = 1024 * 1024

function trimmer(rss: { bytes: number }, onRelease: () => void = () => {}) {
  const clock = new ManualClock()
  const releases: number[] = []
  const memory = new MemoryTrimmer({
    release: () => {
      releases.push(clock.monotonicMs())
      onRelease()
      return true
    },
    rssBytes: () => rss.bytes,
    clock,
    growthBytes: 16 * MiB,
    intervalMs: 1_000,
  })
  return { clock, releases, memory }
}

test('MemoryTrimmer trims once RSS grew by the threshold, at most once per interval', () => {
  const rss = { bytes: 100 * MiB }
  const { clock, releases, memory } = trimmer(rss, () => {
    rss.bytes -= 20 * MiB
  })
  rss.bytes = 115 * MiB
  clock.advanceMs(1_000)
  memory.tick()
  assert.deepEqual(releases, [], '15 MiB of growth is not enough')
  rss.bytes = 130 * MiB
  clock.advanceMs(500)
  memory.tick()
  assert.deepEqual(releases, [], 'not before the interval has passed since the last look')
  clock.advanceMs(500)
  memory.tick()
  assert.deepEqual(releases, [2_000])
  assert.equal(memory.trims, 1)
  // The mark is now what the trim left (110 MiB): 16 MiB more is needed for the next one.
  rss.bytes = 125 * MiB
  clock.advanceMs(1_000)
  memory.tick()
  assert.equal(memory.trims, 1)
  rss.bytes = 126 * MiB
  clock.advanceMs(1_000)
  memory.tick()
  assert.equal(memory.trims, 2)
})

test('MemoryTrimmer counts growth from the lowest RSS seen, not from the start', () => {
  const rss = { bytes: 200 * MiB }
  const { clock, releases, memory } = trimmer(rss)
  rss.bytes = 120 * MiB // V8 shrank its heap
  clock.advanceMs(1_000)
  memory.tick()
  rss.bytes = 140 * MiB
  clock.advanceMs(1_000)
  memory.tick()
  assert.deepEqual(releases, [2_000], '20 MiB above the low mark of 120 MiB')
})

test('MemoryTrimmer adds up the time its trims took', () => {
  const rss = { bytes: 100 * MiB }
  const clock = new ManualClock()
  const memory = new MemoryTrimmer({
    release: () => {
      clock.advanceMs(3)
      return true
    },
    rssBytes: () => rss.bytes,
    clock,
    growthBytes: MiB,
    intervalMs: 10,
  })
  for (let round = 1; round <= 3; round += 1) {
    rss.bytes += 2 * MiB
    clock.advanceMs(10)
    memory.tick()
  }
  assert.equal(memory.trims, 3)
  assert.equal(memory.trimMs, 9)
})
