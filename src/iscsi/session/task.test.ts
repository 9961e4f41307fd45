import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { DataOut } from '../pdu/types.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { planDataIn, residualOf, Task, type TaskPlan, type TransferParameters } from './task.ts'

// The plan's writeBytes only feeds the session's residual; Task never reads it.
const execute: TaskPlan = { kind: 'execute', command: { opcodeName: 'WRITE(10)' }, writeBytes: 0 }

function task(bytes: number, transfer: TransferParameters, unsolicited: boolean, edtl = bytes) {
  return new Task(
    null,
    1,
    1,
    new Uint8Array(8),
    false,
    0,
    edtl,
    execute,
    bytes,
    unsolicited,
    transfer,
  )
}

function out(fields: Partial<DataOut> & { data: Uint8Array }): DataOut {
  return {
    opcode: Opcode.dataOut,
    final: false,
    lun: new Uint8Array(8),
    initiatorTaskTag: 1,
    targetTransferTag: reservedTag,
    expStatSN: 0,
    dataSN: 0,
    bufferOffset: 0,
    ...fields,
  }
}

test('Task.R2TsRespectMaxBurstAndMaxOutstanding [RFC7143 §11.8, §13.13, §13.17]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }).map((n) => n * 512),
      fc.integer({ min: 1, max: 8 }).map((n) => n * 512),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 8 }).map((n) => n * 256),
      (bytes, maxBurst, maxOutstanding, pduBytes) => {
        const transfer = {
          maxBurstLength: maxBurst,
          firstBurstLength: 512,
          maxOutstandingR2T: maxOutstanding,
        }
        const t = task(bytes, transfer, false)
        const data = Uint8Array.from({ length: bytes }, (_, i) => i & 0xff)
        let tag = 1
        let r2tSN = 0
        while (!t.dataComplete) {
          const r2ts = t.solicit(transfer, () => tag++)
          assert.ok(t.outstanding.length <= maxOutstanding)
          for (const r2t of r2ts) {
            assert.equal(r2t.r2tSN, r2tSN++)
            assert.ok(r2t.length <= maxBurst && r2t.length > 0)
          }
          const r2t = t.outstanding[0]!
          let dataSN = 0
          for (let at = r2t.bufferOffset; at < r2t.bufferOffset + r2t.length; at += pduBytes) {
            const end = Math.min(at + pduBytes, r2t.bufferOffset + r2t.length)
            const verdict = t.acceptDataOut(
              out({
                targetTransferTag: r2t.targetTransferTag,
                dataSN: dataSN++,
                bufferOffset: at,
                data: data.subarray(at, end),
                final: end === r2t.bufferOffset + r2t.length,
              }),
            )
            assert.equal(verdict.kind, 'accepted')
          }
        }
        assert.deepEqual(t.buffer, data)
        assert.equal(t.inputSN, r2tSN)
      },
    ),
    { numRuns: 60 },
  )
})

test('Task.UnsolicitedBurstChecks [RFC7143 §4.2.5.2, §13.14]', () => {
  const transfer = { maxBurstLength: 4096, firstBurstLength: 1024, maxOutstandingR2T: 1 }
  const t = task(2048, transfer, true)
  assert.equal(t.acceptImmediate(new Uint8Array(512)).kind, 'accepted')
  assert.deepEqual(
    t.solicit(transfer, () => 9),
    [],
    'no R2T while unsolicited data is open',
  )
  assert.equal(
    t.acceptDataOut(out({ bufferOffset: 512, data: new Uint8Array(512), final: true })).kind,
    'accepted',
  )
  const [r2t] = t.solicit(transfer, () => 9)
  assert.deepEqual([r2t!.bufferOffset, r2t!.length], [1024, 1024])
  const beyond = task(2048, transfer, true)
  const verdict = beyond.acceptDataOut(out({ data: new Uint8Array(1536), final: true }))
  assert.equal(verdict.kind, 'sequenceError', 'beyond FirstBurstLength')
  assert.ok(beyond.failed && beyond.dataComplete)
})

test('Task.SequenceErrorsFailAndDrain [RFC7143 §7.4]', () => {
  const transfer = { maxBurstLength: 4096, firstBurstLength: 4096, maxOutstandingR2T: 1 }
  for (const bad of [{ dataSN: 1 }, { bufferOffset: 512 }, { targetTransferTag: 77 }]) {
    const t = task(1024, transfer, false)
    const [r2t] = t.solicit(transfer, () => 5)
    const verdict = t.acceptDataOut(
      out({ targetTransferTag: r2t!.targetTransferTag, data: new Uint8Array(512), ...bad }),
    )
    assert.equal(verdict.kind, 'sequenceError', JSON.stringify(bad))
    assert.ok(t.failed && !t.dataComplete, 'waits for the F bit')
    t.acceptDataOut(
      out({
        targetTransferTag: 5,
        bufferOffset: 512,
        dataSN: 1,
        data: new Uint8Array(512),
        final: true,
      }),
    )
    assert.ok(t.dataComplete)
    assert.equal(t.buffer, null)
  }
})

test('Task.ImmediateDataCoveringEverythingIsNotCopied [zero copy]', () => {
  const data = new Uint8Array(4096)
  const t = task(
    4096,
    { maxBurstLength: 4096, firstBurstLength: 8192, maxOutstandingR2T: 1 },
    false,
  )
  t.acceptImmediate(data)
  assert.ok(t.dataComplete)
  assert.equal(t.buffer, data)
})

test('DataIn.PlanSplitsByMrdslAndBurst [RFC7143 §11.7.1, §13.12, §13.13]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: 512, max: 9000 }),
      fc.integer({ min: 512, max: 40_000 }),
      (total, mrdsl, burst) => {
        const plan = planDataIn(total, mrdsl, burst)
        let offset = 0
        let sequence = 0
        for (const segment of plan) {
          assert.equal(segment.offset, offset)
          assert.ok(segment.length > 0 && segment.length <= mrdsl)
          sequence += segment.length
          assert.ok(sequence <= burst)
          if (segment.final) sequence = 0
          offset += segment.length
        }
        assert.equal(offset, total)
        if (total > 0) assert.ok(plan.at(-1)!.final)
      },
    ),
  )
})

test('Residual.OverflowUnderflow [RFC7143 §11.4.5.1]', () => {
  assert.deepEqual(residualOf(512, 1024), { overflow: true, underflow: false, count: 512 })
  assert.deepEqual(residualOf(10_000, 512), { overflow: false, underflow: true, count: 9488 })
  assert.deepEqual(residualOf(512, 512), { overflow: false, underflow: false, count: 0 })
})
