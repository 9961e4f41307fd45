/**
 * The ATS benchmark's own wire code (bench/ats_caw.ts): the COMPARE AND WRITE CDB and Data-Out
 * layout (SBC-3 §5.2), the sense parsing that tells a MISCOMPARE (and its offset) from other
 * errors (SPC-4 §4.5.2, §4.5.3), the lock block, and the run statistics. Unit level only: the
 * benchmark itself (npm run bench:ats) starts daemons and is not part of CI.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  classify,
  compareAndWriteCdb,
  compareAndWriteData,
  decodeLock,
  encodeLock,
  isUnsupportedOpcode,
  longestGap,
  parseReadCapacity16,
  parseSense,
  percentile,
  read16Cdb,
  readCapacity16Cdb,
} from '../../bench/ats_caw.ts'
import { buildSense } from '../../src/scsi/sense.ts'

test('CompareAndWrite.Cdb: opcode 89h, LBA in bytes 2..9, blocks in byte 13 [SBC-3 §5.2]', () => {
  const cdb = compareAndWriteCdb(0x0102_0304_0506, 1)
  assert.equal(cdb.length, 16)
  assert.deepEqual([...cdb], [0x89, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 1, 0, 0])
  assert.equal(compareAndWriteCdb(7, 255)[13], 255)
  assert.throws(() => compareAndWriteCdb(0, 256), RangeError)
  assert.throws(() => compareAndWriteCdb(-1, 1), RangeError)
})

test('CompareAndWrite.DataOut: verify data first, then write data [SBC-3 §5.2]', () => {
  const verify = new Uint8Array(512).fill(0xaa)
  const write = new Uint8Array(512).fill(0x55)
  const data = compareAndWriteData(verify, write)
  assert.equal(data.length, 1024)
  assert.deepEqual(data.subarray(0, 512), verify)
  assert.deepEqual(data.subarray(512), write)
  assert.throws(() => compareAndWriteData(verify, new Uint8Array(511)), RangeError)
})

test('Read16.Cdb: TRANSFER LENGTH in bytes 10..13 [SBC-3 §5.16]', () => {
  const cdb = read16Cdb(2 ** 33, 0x0102)
  assert.equal(cdb[0], 0x88)
  assert.deepEqual([...cdb.subarray(2, 14)], [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 2])
})

test('ReadCapacity16: service action 10h, block count and length [SBC-3 §5.16.2]', () => {
  const cdb = readCapacity16Cdb()
  assert.deepEqual([cdb[0], cdb[1], cdb[13]], [0x9e, 0x10, 32])
  const data = new Uint8Array(32)
  new DataView(data.buffer).setBigUint64(0, 131_071n)
  new DataView(data.buffer).setUint32(8, 512)
  assert.deepEqual(parseReadCapacity16(data), { blockCount: 131_072, blockBytes: 512 })
})

test('Sense.Fixed: MISCOMPARE with VALID and INFORMATION = offset [SPC-4 §4.5.3]', () => {
  // Hand-built: 70h|VALID, key 0Eh, INFORMATION 5, additional length 10, ASC/ASCQ 1Dh/00h.
  const sense = Uint8Array.of(0xf0, 0, 0x0e, 0, 0, 0, 5, 10, 0, 0, 0, 0, 0x1d, 0, 0, 0, 0, 0)
  assert.deepEqual(parseSense(sense), { key: 0x0e, code: 0x1d00, information: 5 })
  assert.deepEqual(classify(0x02, sense), { kind: 'miscompare', offset: 5 })
  const invalid = sense.slice()
  invalid[0] = 0x70 // VALID clear: the INFORMATION field means nothing
  assert.deepEqual(classify(0x02, invalid), { kind: 'miscompare', offset: null })
})

test('Sense.Descriptor: the information descriptor carries the offset [SPC-4 §4.5.2.2]', () => {
  const sense = new Uint8Array(20)
  sense.set([0x72, 0x0e, 0x1d, 0x00, 0, 0, 0, 12])
  sense.set([0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x03], 8)
  assert.deepEqual(parseSense(sense), { key: 0x0e, code: 0x1d00, information: 0x103 })
  sense[10] = 0 // VALID clear
  assert.equal(parseSense(sense)?.information, null)
})

test('Sense.AgreesWithBasalt: both formats of a miscompare at any offset [SBC-3 §5.2]', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.boolean(), (offset, descriptor) => {
      const sense = buildSense('miscompareDuringVerify', descriptor, { information: offset })
      assert.deepEqual(classify(0x02, sense), { kind: 'miscompare', offset })
    }),
  )
})

test('Classify: unit attention, other errors, statuses other than CHECK CONDITION [SAM-5]', () => {
  const ua = buildSense('powerOnResetOccurred', false)
  assert.equal(classify(0x02, ua).kind, 'unitAttention')
  const medium = buildSense('unrecoveredReadError', false)
  assert.deepEqual(classify(0x02, medium), { kind: 'other', label: 'key 03 asc/ascq 11/00' })
  assert.deepEqual(classify(0x28, new Uint8Array(0)), { kind: 'other', label: 'status 28' })
  assert.equal(classify(0x00, new Uint8Array(0)).kind, 'good')
  assert.equal(classify(0x02, Uint8Array.of(0x70, 0)).kind, 'other')
})

test('Classify.Unsupported: only INVALID COMMAND OPERATION CODE means no CAW [SPC-4]', () => {
  assert.equal(isUnsupportedOpcode(0x02, buildSense('invalidCommandOperationCode', false)), true)
  assert.equal(isUnsupportedOpcode(0x02, buildSense('invalidFieldInCdb', false)), false)
  assert.equal(isUnsupportedOpcode(0x00, new Uint8Array(0)), false)
})

test('LockBlock: generation, owner and slot survive the round trip', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.constantFrom(512, 4096),
      (generation, owner, slot, blockBytes) => {
        const block = encodeLock({ generation, owner, slot }, blockBytes)
        assert.equal(block.length, blockBytes)
        assert.deepEqual(decodeLock(block), { generation, owner, slot })
      },
    ),
  )
  // Two generations differ within the first 8 bytes: a miscompare's offset lands there.
  const a = encodeLock({ generation: 1, owner: 1, slot: 0 }, 512)
  const b = encodeLock({ generation: 2, owner: 1, slot: 0 }, 512)
  assert.equal(
    a.findIndex((byte, index) => byte !== b[index]),
    7,
  )
})

test('Stats: nearest-rank percentile and the longest gap without a success', () => {
  const values = Array.from({ length: 100 }, (_, index) => index + 1)
  assert.equal(percentile(values, 50), 50)
  assert.equal(percentile(values, 99), 99)
  assert.equal(percentile(values, 100), 100)
  assert.equal(percentile([7], 99), 7)
  assert.ok(Number.isNaN(percentile([], 50)))
  assert.equal(longestGap([], 10, 110), 100)
  assert.equal(longestGap([30, 35, 90], 10, 100), 55)
  assert.equal(longestGap([15], 10, 100), 85)
})
