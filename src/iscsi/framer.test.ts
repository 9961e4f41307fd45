/** The framer (RFC 7143 §11.2, digests §13.1): splits, digests, limits and bounded memory. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { anyPdu } from '../../test/fuzz/pdu_arbitraries.ts'
import { fromHex, toHex } from '../base/bytes.ts'
import { crc32c } from '../base/crc32c.ts'
import type { FramerEvent, FramerLimits } from './framer.ts'
import { Framer, serializePdu } from './framer.ts'
import { decodePdu, encodePdu } from './pdu/mod.ts'
import type { EncodedPdu, Frame } from './pdu/types.ts'
import { Opcode } from './spec/opcodes.ts'

const read10Bhs = fromHex(
  '01c00000000000000000000000000000140000000000040000000014000000182800000000000000' +
    '0200000000000000',
)

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0))
  let offset = 0
  for (const piece of pieces) {
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}

function nopOut(pingData: Uint8Array, itt: number): EncodedPdu {
  return encodePdu({
    opcode: Opcode.nopOut,
    immediate: true,
    lun: new Uint8Array(8),
    initiatorTaskTag: itt,
    targetTransferTag: 0xffff_ffff,
    cmdSN: 1,
    expStatSN: 2,
    pingData,
  })
}

function limits(digests: boolean, maxRecvDataSegmentLength = 8192): FramerLimits {
  return { maxRecvDataSegmentLength, headerDigest: digests, dataDigest: digests }
}

/** Frames as comparable hex strings (BHS|AHS|data), or the event kind otherwise. */
function describe(events: readonly FramerEvent[]): string[] {
  return events.map((event) =>
    event.kind === 'frame'
      ? `${toHex(event.frame.bhs)}|${toHex(event.frame.ahs)}|${toHex(event.frame.data)}`
      : event.kind === 'fatal'
        ? `fatal:${event.reason}`
        : `dataDigestError:${toHex(event.bhs)}`,
  )
}

function wireOf(pdus: readonly Parameters<typeof encodePdu>[0][], digests: boolean): Uint8Array {
  return concat(pdus.flatMap((p) => serializePdu(encodePdu(p), { header: digests, data: digests })))
}

/** Pushes `wire` in chunks of the given sizes (repeated), returning every event. */
function pushInChunks(framer: Framer, wire: Uint8Array, sizes: readonly number[]): FramerEvent[] {
  const events: FramerEvent[] = []
  for (let offset = 0, i = 0; offset < wire.length; i++) {
    const size = sizes[i % sizes.length]!
    events.push(...framer.push(wire.subarray(offset, offset + size)))
    offset += size
  }
  return events
}

test('Crc32c.Rfc3720B4Vectors [RFC7143 §13.1]', () => {
  const le = (value: number) => toHex(Uint8Array.of(value, value >>> 8, value >>> 16, value >>> 24))
  assert.equal(le(crc32c(new Uint8Array(32))), 'aa36918a')
  assert.equal(le(crc32c(new Uint8Array(32).fill(0xff))), '43aba862')
  assert.equal(le(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))), '4e79dd46')
  assert.equal(le(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))), '5cdb3f11')
  assert.equal(le(crc32c(read10Bhs)), '563a96d9')
})

test('SerializePdu.HeaderDigestMatchesRfc3720B4 [RFC7143 §13.1]', () => {
  const pieces = serializePdu(
    { header: read10Bhs, data: new Uint8Array(0) },
    { header: true, data: true },
  )
  assert.equal(pieces.length, 2)
  assert.equal(toHex(pieces[1]!), '563a96d9')
})

test('SerializePdu.PaddingAndDataDigestCoverPadding [RFC7143 §11.2, §13.1]', () => {
  const data = Uint8Array.of(1, 2, 3, 4, 5)
  const wire = concat(serializePdu(nopOut(data, 1), { header: false, data: true }))
  assert.equal(wire.length, 48 + 8 + 4)
  assert.equal(toHex(wire.subarray(48, 56)), '0102030405000000')
  const digest = crc32c(wire.subarray(48, 56))
  assert.equal(
    toHex(wire.subarray(56)),
    toHex(Uint8Array.of(digest, digest >>> 8, digest >>> 16, digest >>> 24)),
  )
})

for (const digests of [false, true]) {
  for (const dataBytes of [0, 3, 5, 8]) {
    const name = `digests=${digests} data=${dataBytes}`
    test(`Framer.TwoPdusSplitAtEveryPoint ${name} [RFC7143 §11.2]`, () => {
      const first = nopOut(
        Uint8Array.from({ length: dataBytes }, (_, i) => i + 1),
        1,
      )
      const second = nopOut(Uint8Array.of(9, 8, 7), 2)
      const d = { header: digests, data: digests }
      const wire = concat([...serializePdu(first, d), ...serializePdu(second, d)])
      const expected = describe(new Framer(limits(digests)).push(wire))
      assert.equal(expected.length, 2)
      for (let split = 0; split <= wire.length; split++) {
        const framer = new Framer(limits(digests))
        const events = [
          ...framer.push(wire.subarray(0, split)),
          ...framer.push(wire.subarray(split)),
        ]
        assert.deepEqual(describe(events), expected, `split at ${split}`)
        assert.equal(framer.bufferedBytes, 0)
      }
      const framer = new Framer(limits(digests))
      const bytewise = [...wire].flatMap((byte) => framer.push(Uint8Array.of(byte)))
      assert.deepEqual(describe(bytewise), expected, 'one byte at a time')
    })
  }
}

test('Framer.ZeroCopyWhenChunkHoldsPdu', () => {
  const wire = concat(
    serializePdu(nopOut(Uint8Array.of(1, 2, 3, 4), 1), { header: false, data: false }),
  )
  const [event] = new Framer(limits(false)).push(wire)
  assert.ok(event?.kind === 'frame')
  assert.equal(event.frame.data.buffer, wire.buffer)
  assert.equal(event.frame.bhs.buffer, wire.buffer)
})

test('Framer.DataSegmentTooLongBeforePayload [RFC7143 §13.12]', () => {
  const wire = concat(serializePdu(nopOut(new Uint8Array(1000), 1), { header: false, data: false }))
  const framer = new Framer(limits(false, 512))
  assert.deepEqual(describe(framer.push(wire.subarray(0, 48))), ['fatal:dataSegmentTooLong'])
  assert.deepEqual(framer.push(wire.subarray(48)), [], 'nothing after fatal')
  assert.equal(framer.bufferedBytes, 0)
})

test('Framer.AhsTooLong', () => {
  const bhs = new Uint8Array(48)
  bhs[0] = Opcode.scsiCommand
  bhs[4] = 200
  const framer = new Framer({ ...limits(false), maxAhsBytes: 64 })
  assert.deepEqual(describe(framer.push(bhs)), ['fatal:ahsTooLong'])
})

test('Framer.HeaderDigestErrorIsFatal [RFC7143 §7.8]', () => {
  const wire = concat(serializePdu(nopOut(Uint8Array.of(1), 1), { header: true, data: true }))
  wire[20] = wire[20]! ^ 0x01
  assert.deepEqual(describe(new Framer(limits(true)).push(wire)), ['fatal:headerDigestError'])
})

test('Framer.DataDigestErrorDiscardsPduAndContinues [RFC7143 §7.8]', () => {
  const d = { header: true, data: true }
  const bad = concat(serializePdu(nopOut(Uint8Array.of(1, 2, 3, 4, 5), 1), d))
  bad[53] = bad[53]! ^ 0xff
  const good = concat(serializePdu(nopOut(Uint8Array.of(6), 2), d))
  const events = new Framer(limits(true)).push(concat([bad, good]))
  assert.equal(events.length, 2)
  assert.ok(events[0]?.kind === 'dataDigestError')
  assert.equal(toHex(events[0].bhs), toHex(bad.subarray(0, 48)))
  assert.ok(events[1]?.kind === 'frame')
  assert.equal(toHex(events[1].frame.data), '06')
})

test('Framer.SetLimitsBetweenPdus', () => {
  const framer = new Framer(limits(false))
  const plain = concat(serializePdu(nopOut(Uint8Array.of(1), 1), { header: false, data: false }))
  const digested = concat(serializePdu(nopOut(Uint8Array.of(2), 2), { header: true, data: true }))
  assert.equal(framer.push(plain).length, 1)
  framer.setLimits({ headerDigest: true, dataDigest: true })
  const events = framer.push(digested)
  assert.ok(events[0]?.kind === 'frame')
  assert.equal(toHex(events[0].frame.data), '02')
})

/**
 * Any PDUs, cut into random chunks, frame back to themselves; with `placing`, the owner places
 * every data segment it is asked about in a buffer of its own, and the frames carry those.
 */
function roundTripProperty(placing: boolean): void {
  fc.assert(
    fc.property(
      fc.array(anyPdu, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 20 }),
      (pdus, digests, sizes) => {
        const places: Uint8Array[] = []
        const place = (_bhs: Uint8Array, dataBytes: number) => {
          const spot = new Uint8Array(dataBytes + 8).subarray(4, 4 + dataBytes)
          places.push(spot)
          return spot
        }
        const framer = new Framer(limits(digests, 0xff_ffff), placing ? place : null)
        const events = pushInChunks(framer, wireOf(pdus, digests), sizes)
        assert.equal(events.length, pdus.length)
        events.forEach((event, i) => {
          assert.ok(event.kind === 'frame')
          const result = decodePdu(event.frame)
          assert.ok(result.ok)
          assert.deepEqual(result.pdu, { ...pdus[i]! })
          if (places.includes(event.frame.data)) assert.equal(event.assembled, null)
        })
      },
    ),
    { numRuns: 300 },
  )
}

test('Framer.RoundTripAnyPduInRandomChunks [RFC7143 §11.2]', () => roundTripProperty(false))

test('Framer.PlacedDataSegmentsArriveWhereTheOwnerSaid [RFC7143 §11.2, §13.1]', () =>
  roundTripProperty(true))

test('Framer.BoundedMemoryOnRandomBytes', () => {
  const max = 4096
  // One PDU at most: BHS + 1020 AHS + 4 + max data + 3 padding + 4.
  const bound = 48 + 1020 + 4 + max + 3 + 4
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
      fc.boolean(),
      (chunks, d) => {
        const framer = new Framer(limits(d, max))
        for (const chunk of chunks) {
          framer.push(chunk)
          assert.ok(framer.bufferedBytes <= bound)
        }
      },
    ),
    { numRuns: 500 },
  )
})

test('Framer.PlacedSegmentWithBadDataDigestIsReported [RFC7143 §13.1]', () => {
  const data = new Uint8Array(4096).fill(0x3c)
  const wire = concat(serializePdu(nopOut(data, 7), { header: true, data: true }))
  wire[wire.length - 1]! ^= 0xff // the data digest's last byte
  const place = new Uint8Array(4096)
  const framer = new Framer(limits(true), () => place)
  const events = [...framer.push(wire.subarray(0, 100)), ...framer.push(wire.subarray(100))]
  assert.deepEqual(
    events.map((event) => event.kind),
    ['dataDigestError'],
  )
  assert.deepEqual(place, data, 'the bytes were placed before the digest was known')
  // The next PDU frames normally.
  const next = concat(serializePdu(nopOut(data, 8), { header: true, data: true }))
  const again = [...framer.push(next.subarray(0, 60)), ...framer.push(next.subarray(60))]
  assert.equal(again[0]?.kind, 'frame')
})

test('Framer.TransientChunksLeaveNothingBehind: every frame survives its chunk being reused', () => {
  // The portal reads each socket into one buffer that the next read overwrites. A Data-Out's
  // owner copies its data before push returns; every other frame must own its bytes.
  fc.assert(
    fc.property(
      fc.array(anyPdu, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
      (pdus, digests, sizes) => {
        const framer = new Framer(limits(digests, 0xff_ffff), null, true)
        const wire = wireOf(pdus, digests)
        const socketBuffer = new Uint8Array(256)
        const decoded: unknown[] = []
        const later: Frame[] = []
        for (let offset = 0, i = 0; offset < wire.length; i++) {
          const size = sizes[i % sizes.length]!
          const chunk = wire.subarray(offset, offset + size)
          socketBuffer.set(chunk)
          for (const event of framer.push(socketBuffer.subarray(0, chunk.length))) {
            assert.ok(event.kind === 'frame')
            const isDataOut = (event.frame.bhs[0]! & 0x3f) === Opcode.dataOut
            // Its owner uses it before push returns: a deep copy stands for that.
            if (isDataOut) decoded.push(structuredClone(decodeOk(event.frame)))
            else {
              decoded.push(later.length)
              later.push(event.frame)
            }
          }
          socketBuffer.fill(0xee) // the next read
          offset += size
        }
        const frames = decoded.map((entry) =>
          typeof entry === 'number' ? decodeOk(later[entry]!) : entry,
        )
        assert.deepEqual(
          frames,
          pdus.map((pdu) => ({ ...pdu })),
        )
      },
    ),
    { numRuns: 300 },
  )
})

function decodeOk(frame: Frame): unknown {
  const result = decodePdu(frame)
  assert.ok(result.ok)
  return result.pdu
}
