/**
 * The raw fuzzer's model of the target's framing agrees with the target's own Framer (RFC 7143
 * §11.2) on hostile streams: same PDU boundaries, same refusal of an oversized
 * DataSegmentLength, and the filler it computes brings the Framer back to a boundary, so that
 * the fuzzer's pings are read as pings. Also: random CDBs and the RSOC parser (SPC-4 §6.35).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Framer, serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu } from '../../src/iscsi/pdu/mod.ts'
import { Prng } from '../harness/prng.ts'
import { concat, hostileBytes } from './raw_pdu_generator.ts'
import { cdbLength, parseSupportedOpcodes, randomCommand } from './scsi_cdb_generator.ts'
import { framedLength, StreamModel } from './stream_model.ts'

const maxRecv = 65_536

function pair(header: boolean, data: boolean) {
  const framer = new Framer({
    maxRecvDataSegmentLength: maxRecv,
    headerDigest: header,
    dataDigest: data,
  })
  const model = new StreamModel({
    headerDigest: header,
    dataDigest: data,
    maxRecvDataSegmentLength: maxRecv,
  })
  return { framer, model }
}

test('StreamModel.AgreesWithFramer [RFC7143 §11.2]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.boolean(),
      fc.boolean(),
      (seed, h, d) => {
        const prng = new Prng(seed)
        const { framer, model } = pair(h, d)
        let fatal = false
        for (let i = 0; i < 6 && !fatal; i++) {
          const { bytes } = hostileBytes(prng, { cmdSN: 1, expStatSN: 0 }, { header: h, data: d })
          model.feed(bytes)
          for (const event of framer.push(bytes)) fatal ||= event.kind === 'fatal'
          const framerIdle = framer.bufferedBytes === 0
          // A header digest error is fatal for the framer but invisible to the length model.
          if (!fatal) assert.equal(model.atBoundary, framerIdle)
          if (!fatal) assert.equal(model.mustDrop, false)
        }
      },
    ),
    { numRuns: 300 },
  )
})

test('StreamModel.FillerRestoresBoundary', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.boolean(), (bytes, digests) => {
      const { framer, model } = pair(digests, digests)
      model.feed(bytes)
      const events = [...framer.push(bytes)]
      if (model.mustDrop) {
        assert.ok(events.some((event) => event.kind === 'fatal'))
        return
      }
      const filler = model.filler()
      model.feed(filler)
      assert.ok(model.atBoundary || model.mustDrop)
      const after = [...framer.push(filler)]
      if (!model.mustDrop && ![...events, ...after].some((e) => e.kind === 'fatal'))
        assert.equal(framer.bufferedBytes, 0)
    }),
    { numRuns: 500 },
  )
})

test('StreamModel.OversizedDataSegmentMustDrop [RFC7143 §13.12]', () => {
  const { model } = pair(false, false)
  const nop = concat(
    serializePdu(
      encodePdu({
        opcode: 0x00,
        immediate: true,
        lun: new Uint8Array(8),
        initiatorTaskTag: 1,
        targetTransferTag: 0xffff_ffff,
        cmdSN: 1,
        expStatSN: 0,
        pingData: new Uint8Array(8),
      }),
      { header: false, data: false },
    ),
  )
  assert.equal(framedLength(nop, model.limits), 56)
  nop[5] = 0x10 // DataSegmentLength 0x100008 > 65536
  model.feed(nop.subarray(0, 48))
  assert.equal(model.mustDrop, true)
})

test('RandomCommand.RespectsTheSupportedSet [SPC-4 §4.2.5.1]', () => {
  const supported = new Set([0x00, 0x12, 0x28, 0x2a])
  const prng = new Prng(5)
  let unsupported = 0
  for (let i = 0; i < 500; i++) {
    const command = randomCommand(prng, supported, 8192)
    assert.equal(command.supported, supported.has(command.cdb[0]!))
    if (!command.supported) unsupported++
    assert.ok(command.data.length <= Math.min(8192, command.expectedDataTransferLength))
    assert.ok(!(command.read && command.write))
  }
  assert.ok(unsupported > 100 && unsupported < 400, `${unsupported} unsupported`)
  assert.deepEqual([0x00, 0x28, 0x88, 0xa8, 0xc0].map(cdbLength), [6, 10, 16, 12, 16])
})

test('ParseSupportedOpcodes.WithAndWithoutTimeouts [SPC-4 §6.35.2]', () => {
  const descriptor = (op: number, ctdp: boolean) => [
    ...[op, 0, 0, 0, 0, ctdp ? 0x02 : 0, 0, 10],
    ...(ctdp ? new Array(12).fill(0) : []),
  ]
  const body = [...descriptor(0x28, false), ...descriptor(0x2a, true), ...descriptor(0x12, false)]
  const data = Uint8Array.of(0, 0, 0, body.length, ...body, 0x99, 0x99)
  assert.deepEqual([...parseSupportedOpcodes(data)].sort(), [0x12, 0x28, 0x2a])
})
