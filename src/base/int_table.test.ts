import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from './assert.ts'
import { IntCounts, IntTable } from './int_table.ts'

type Operation = { kind: 'upsert' | 'delete'; key: number; value: number }

// Few distinct keys, some colliding in their low or high halves, so that probe runs form, wrap
// around the table's end and get cut by deletes.
const keyArbitrary = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: 0, max: 40 }).map((n) => n * 2 ** 32 + 7),
  fc.integer({ min: 0, max: 40 }).map((n) => 2 ** 53 - 1 - n),
)
const operationArbitrary = fc.record({
  kind: fc.constantFrom<'upsert' | 'delete'>('upsert', 'upsert', 'delete'),
  key: keyArbitrary,
  value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
})

test('IntTable: any sequence of upserts and deletes agrees with a Map', () => {
  fc.assert(
    fc.property(fc.array(operationArbitrary, { maxLength: 400 }), (operations: Operation[]) => {
      const table = new IntTable(2)
      const model = new Map<number, [number, number]>()
      for (const { kind, key, value } of operations) {
        if (kind === 'delete') {
          assert.equal(table.delete(key), model.delete(key))
        } else {
          const slot = table.upsert(key)
          const before = model.get(key) ?? [0, 0]
          assert.deepEqual([table.value(slot, 0), table.value(slot, 1)], before)
          table.setValue(slot, 1, value)
          model.set(key, [before[0], value])
        }
        assert.equal(table.size, model.size)
      }
      for (const [key, [first, second]] of model) {
        const slot = table.find(key)
        assert.ok(slot >= 0, `key ${key} lost`)
        assert.deepEqual([table.value(slot, 0), table.value(slot, 1)], [first, second])
      }
      const seen: number[] = []
      table.forEachKey((key) => seen.push(key))
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [...model.keys()].sort((a, b) => a - b),
      )
    }),
    { numRuns: 300 },
  )
})

test('IntTable: a deleted key is absent, and re-inserting it starts from zeros', () => {
  const table = new IntTable(1)
  table.setValue(table.upsert(5), 0, 42)
  assert.equal(table.delete(5), true)
  assert.equal(table.find(5), -1)
  assert.equal(table.delete(5), false)
  assert.equal(table.value(table.upsert(5), 0), 0)
})

test('IntTable: keys that are not safe non-negative integers are our bug', () => {
  const table = new IntTable(1)
  for (const key of [-1, 1.5, 2 ** 53, Number.NaN])
    assert.throws(() => table.upsert(key), AssertionError, String(key))
})

test('IntCounts: counts go up and down, and a key at zero is gone', () => {
  const counts = new IntCounts()
  assert.equal(counts.add(3, 1), 1)
  assert.equal(counts.add(3, 2), 3)
  assert.equal(counts.add(2 ** 40, 1), 1)
  assert.equal(counts.get(3), 3)
  assert.equal(counts.add(3, -3), 0)
  assert.equal(counts.get(3), 0)
  assert.equal(counts.size, 1)
  assert.throws(() => counts.add(2 ** 40, -2), AssertionError)
})

test('IntCounts: a busy table stops allocating once it has grown', () => {
  // The property the engine relies on: churn at a steady population reuses the same arrays.
  const counts = new IntCounts()
  for (let key = 0; key < 200; key += 1) counts.add(key, 1)
  for (let key = 0; key < 200; key += 1) counts.add(key, -1)
  const before = process.memoryUsage().arrayBuffers
  for (let round = 0; round < 1000; round += 1) {
    for (let key = 0; key < 128; key += 1) counts.add(round * 128 + key, 1)
    for (let key = 0; key < 128; key += 1) counts.add(round * 128 + key, -1)
  }
  assert.equal(counts.size, 0)
  // Nothing else runs during the loop, but a collection may free an older buffer meanwhile.
  const after = process.memoryUsage().arrayBuffers
  assert.ok(after <= before, `array buffers grew by ${after - before} bytes`)
})
