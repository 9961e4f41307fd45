/**
 * The journal's record format [engine.md §4]: records encoded one after another into the
 * committer's RecordBuffer (past its first 64 KiB, so it grows) decode back to the same records
 * in order, and a torn or corrupted tail stops the decoder at the last whole record.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeJournal, type JournalRecord, RecordBuffer, recordType } from './journal.ts'

const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const chunk = fc.integer({ min: 0, max: 2 ** 40 })
const record: fc.Arbitrary<JournalRecord> = fc.oneof(
  fc.record({
    type: fc.constant(recordType.mapPut),
    lineage: u32,
    chunk,
    birth: u32,
    phys: fc.integer({ min: -1, max: 2 ** 40 }),
    valid: fc.integer({ min: 0, max: 0xffff }),
    zero: fc.integer({ min: 0, max: 0xffff }),
    killedAt: u32,
  }),
  fc.record({ type: fc.constant(recordType.mapDelete), lineage: u32, chunk, birth: u32 }),
  fc.record({ type: fc.constant(recordType.regionDirty), region: u32 }),
  fc.record({
    type: fc.constant(recordType.tables),
    changes: fc.array(
      fc.record({
        table: fc.constantFrom('volume', 'snapshot', 'view', 'lineage', 'meta' as const),
        key: fc.string(),
        value: fc.oneof(fc.constant(null), fc.record({ id: fc.nat(), name: fc.string() })),
      }),
      { maxLength: 4 },
    ),
  }),
)

test('RecordBuffer records decode back in order, also past its first 64 KiB [engine.md §4]', () => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 40 }), fc.nat(3000), (some, pad) => {
      const buffer = new RecordBuffer()
      const padding: JournalRecord = { type: recordType.mapDelete, lineage: 1, chunk: 2, birth: 3 }
      const all = [...Array.from({ length: pad }, () => padding), ...some]
      for (const [index, each] of all.entries()) buffer.add(each, index + 1)
      assert.equal(buffer.count, all.length)
      const bytes = buffer.take()
      assert.equal(buffer.length, 0, 'take empties the buffer')
      const decoded = decodeJournal(bytes)
      assert.equal(decoded.validBytes, bytes.length)
      // Table rows travel as JSON: compare with the plain-object form of what was added.
      const plain = JSON.parse(JSON.stringify(all)) as JournalRecord[]
      assert.deepEqual(
        decoded.records.map((entry) => entry.record),
        plain,
      )
      assert.deepEqual(
        decoded.records.map((entry) => entry.sequence),
        all.map((_, index) => index + 1),
      )
    }),
    { numRuns: 50 },
  )
})

test('a torn or corrupted last record is cut, the ones before it kept [engine.md §4]', () => {
  const buffer = new RecordBuffer()
  buffer.add({ type: recordType.regionDirty, region: 7 }, 1)
  buffer.add({ type: recordType.mapDelete, lineage: 1, chunk: 5, birth: 2 }, 2)
  const bytes = buffer.take()
  const first = decodeJournal(bytes).records[0]!
  const torn = decodeJournal(bytes.subarray(0, bytes.length - 1))
  assert.deepEqual(torn.records, [first])
  const corrupted = bytes.slice()
  corrupted[corrupted.length - 1]! ^= 1
  assert.deepEqual(decodeJournal(corrupted).records, [first])
  assert.equal(decodeJournal(corrupted).validBytes, 21)
})
