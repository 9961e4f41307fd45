/** PDU codecs (RFC 7143 §11): round trips for every PDU, golden bytes, and hostile input. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { anyPdu, pduArbitraries } from '../../../test/fuzz/pdu_arbitraries.ts'
import { fromHex, toHex } from '../../base/bytes.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { decodePdu, encodePdu, senseFromSegment, senseSegment } from './mod.ts'
import type { EncodedPdu, Frame, Pdu } from './types.ts'

function frameOf(encoded: EncodedPdu): Frame {
  return {
    bhs: encoded.header.subarray(0, 48),
    ahs: encoded.header.subarray(48),
    data: encoded.data,
  }
}

function decodeOk(frame: Frame): Pdu {
  const result = decodePdu(frame)
  assert.ok(result.ok, result.ok ? '' : `${result.reason}: ${result.detail}`)
  return result.pdu
}

function bhsFrame(
  hex: string,
  data: Uint8Array = new Uint8Array(0),
  ahs: Uint8Array = new Uint8Array(0),
): Frame {
  return { bhs: fromHex(hex), ahs, data }
}

for (const [name, arbitrary] of Object.entries(pduArbitraries)) {
  test(`Pdu.RoundTrip.${name} [RFC7143 §11]`, () => {
    fc.assert(
      fc.property(arbitrary, (pdu) => {
        const encoded = encodePdu(pdu)
        assert.equal(encoded.header[0]! & 0x3f, pdu.opcode)
        assert.deepEqual(decodeOk(frameOf(encoded)), { ...pdu })
      }),
      { numRuns: 200 },
    )
  })
}

// RFC 3720 Appendix B.4 "iSCSI Read (10) Command PDU" (also used by framer.test.ts for its CRC).
const read10Hex = [
  '01c00000',
  '00000000',
  '00000000',
  '00000000',
  '14000000',
  '00000400',
  '00000014',
  '00000018',
  '28000000',
  '00000000',
  '02000000',
  '00000000',
].join('')

test('Pdu.Golden.Read10CommandFromRfc3720B4 [RFC7143 §11.3]', () => {
  const pdu = decodeOk(bhsFrame(read10Hex))
  assert.equal(pdu.opcode, Opcode.scsiCommand)
  if (pdu.opcode !== Opcode.scsiCommand) return
  assert.equal(pdu.immediate, false)
  assert.equal(pdu.final, true)
  assert.equal(pdu.read, true)
  assert.equal(pdu.write, false)
  assert.equal(pdu.initiatorTaskTag, 0x1400_0000)
  assert.equal(pdu.expectedDataTransferLength, 0x400)
  assert.equal(pdu.cmdSN, 0x14)
  assert.equal(pdu.expStatSN, 0x18)
  assert.equal(toHex(pdu.cdb), '28000000000000000200000000000000')
  assert.equal(toHex(encodePdu(pdu).header), read10Hex)
})

test('Pdu.Golden.LoginRequestSecurityToOperational [RFC7143 §11.12]', () => {
  const data = new TextEncoder().encode('InitiatorName=iqn.x\0')
  const encoded = encodePdu({
    opcode: Opcode.loginRequest,
    immediate: true,
    transit: true,
    continue: false,
    currentStage: 0,
    nextStage: 1,
    versionMax: 0,
    versionMin: 0,
    isid: fromHex('80123456789a'),
    tsih: 0,
    initiatorTaskTag: 1,
    cid: 2,
    cmdSN: 3,
    expStatSN: 4,
    data,
  })
  assert.equal(
    toHex(encoded.header),
    '4381000000000014' +
      '80123456789a0000' +
      '00000001' +
      '00020000' +
      '00000003' +
      '00000004' +
      '00'.repeat(16),
  )
})

test('Pdu.Golden.ScsiCommandExtendedCdbAndBidiAhs [RFC7143 §11.2.2]', () => {
  const cdb = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
  const encoded = encodePdu({
    opcode: Opcode.scsiCommand,
    immediate: false,
    final: true,
    read: true,
    write: true,
    taskAttribute: 1,
    lun: new Uint8Array(8),
    initiatorTaskTag: 7,
    expectedDataTransferLength: 512,
    cmdSN: 1,
    expStatSN: 1,
    cdb,
    expectedBidirectionalReadDataLength: 4096,
    data: new Uint8Array(0),
  })
  // 16 extra CDB bytes: AHSLength 17, type 1, reserved, 16 bytes → 20; bidi AHS 8 → 7 words.
  assert.equal(encoded.header[4], 7)
  assert.equal(toHex(encoded.header.subarray(48, 52)), '00110100')
  assert.equal(toHex(encoded.header.subarray(68, 76)), '0005020000001000')
})

test('Pdu.DecodeNeverThrows.RandomFrames', () => {
  const frame = fc.record({
    bhs: fc.uint8Array({ minLength: 0, maxLength: 60 }),
    ahs: fc.uint8Array({ maxLength: 40 }),
    data: fc.uint8Array({ maxLength: 40 }),
  })
  fc.assert(
    fc.property(frame, (f) => void decodePdu(f)),
    { numRuns: 2000 },
  )
})

test('Pdu.DecodeNeverThrows.ConsistentRandomHeaders', () => {
  const frame = fc
    .tuple(fc.uint8Array({ minLength: 48, maxLength: 48 }), fc.uint8Array({ maxLength: 64 }))
    .map(([bhs, rest]) => {
      bhs[4] = bhs[4]! % 4
      const ahsBytes = Math.min(bhs[4]! * 4, rest.length)
      bhs[4] = (ahsBytes / 4) | 0
      const ahs = rest.subarray(0, bhs[4]! * 4)
      const data = rest.subarray(ahs.length)
      bhs[5] = 0
      bhs[6] = data.length >> 8
      bhs[7] = data.length & 0xff
      return { bhs, ahs, data }
    })
  fc.assert(
    fc.property(frame, (f) => void decodePdu(f)),
    { numRuns: 5000 },
  )
})

test('Pdu.EncodeThenMutateNeverThrows', () => {
  fc.assert(
    fc.property(anyPdu, fc.nat(47), fc.nat(255), (pdu, at, value) => {
      const frame = frameOf(encodePdu(pdu))
      frame.bhs[at] = value
      decodePdu(frame)
    }),
    { numRuns: 2000 },
  )
})

test('Pdu.UnknownOpcode [RFC7143 §11.2.1.2]', () => {
  const result = decodePdu(bhsFrame(`1c${'00'.repeat(47)}`))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'unknownOpcode')
})

test('Pdu.FrameShapeMismatch.DataSegmentLength [RFC7143 §11.2.1.6]', () => {
  const result = decodePdu(bhsFrame(`0080${'00'.repeat(46)}`, new Uint8Array(4)))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'protocolError')
})

test('NopOut.ReservedIttRequiresImmediate [RFC7143 §11.18]', () => {
  const bhs = `0080${'00'.repeat(14)}ffffffff${'00'.repeat(28)}`
  const result = decodePdu(bhsFrame(bhs))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'protocolError')
  assert.equal(decodePdu(bhsFrame(`40${bhs.slice(2)}`)).ok, true)
  const ok = decodeOk(bhsFrame(`40${bhs.slice(2)}`))
  assert.equal(ok.opcode === Opcode.nopOut && ok.initiatorTaskTag, reservedTag)
})

test('ScsiCommand.FinalClearNeedsWrite [RFC7143 §11.3.1]', () => {
  const readNotFinal = `0140${read10Hex.slice(4)}`
  const result = decodePdu(bhsFrame(readNotFinal))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'protocolError')
  assert.equal(decodePdu(bhsFrame(`0120${read10Hex.slice(4)}`)).ok, true)
})

test('ScsiCommand.ImmediateDataNeedsWrite [RFC7143 §11.3.4]', () => {
  const withData = `${read10Hex.slice(0, 10)}000004${read10Hex.slice(16)}`
  assert.equal(decodePdu(bhsFrame(withData, new Uint8Array(4))).ok, false)
})

test('ScsiCommand.ReservedTaskAttribute [RFC7143 §11.3.1.2]', () => {
  const result = decodePdu(bhsFrame(`0185${read10Hex.slice(4)}`))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'invalidPduField')
})

test('ScsiCommand.MalformedAhs [RFC7143 §11.2.2]', () => {
  const withAhs = (ahsHex: string) => {
    const words = ahsHex.length / 8
    const bhs = read10Hex.slice(0, 8) + words.toString(16).padStart(2, '0') + read10Hex.slice(10)
    return decodePdu(bhsFrame(bhs, new Uint8Array(0), fromHex(ahsHex)))
  }
  assert.equal(withAhs('00050200' + '00001000').ok, true)
  assert.equal(withAhs('00040200' + '00001000').ok, false, 'bidi AHS with length 4')
  assert.equal(withAhs('00090200' + '00001000').ok, false, 'AHSLength beyond the AHS')
  assert.equal(withAhs('00050300' + '00001000').ok, false, 'reserved AHS type')
  assert.equal(withAhs('0005020000001000' + '0005020000001000').ok, false, 'repeated bidi AHS')
  const cdb = decodeOk(
    bhsFrame(
      `${read10Hex.slice(0, 8)}02${read10Hex.slice(10)}`,
      new Uint8Array(0),
      fromHex('0005010011223344'),
    ),
  )
  assert.equal(cdb.opcode === Opcode.scsiCommand && toHex(cdb.cdb.subarray(16)), '11223344')
})

test('Pdu.AhsOnlyOnScsiCommand [RFC7143 §11.2.1.5]', () => {
  const nop = `4080000001${'00'.repeat(11)}ffffffff${'00'.repeat(28)}`
  const result = decodePdu(bhsFrame(nop, new Uint8Array(0), new Uint8Array(4)))
  assert.equal(result.ok, false)
})

test('TextRequest.FinalAndContinueExclusive [RFC7143 §11.10.2]', () => {
  const result = decodePdu(bhsFrame(`04c0${'00'.repeat(46)}`))
  assert.equal(result.ok, false)
  if (!result.ok) assert.equal(result.reason, 'protocolError')
})

test('DataIn.StatusNeedsFinal [RFC7143 §11.7.1]', () => {
  assert.equal(decodePdu(bhsFrame(`2501${'00'.repeat(46)}`)).ok, false)
  assert.equal(decodePdu(bhsFrame(`2581${'00'.repeat(46)}`)).ok, true)
})

test('TaskManagementRequest.NoDataSegment [RFC7143 §11.5]', () => {
  const bhs = `0281000000000004${'00'.repeat(40)}`
  assert.equal(decodePdu(bhsFrame(bhs, new Uint8Array(4))).ok, false)
})

test('ScsiResponse.SenseSegment [RFC7143 §11.4.7]', () => {
  const sense = fromHex('700005000000000a00000000240000000000')
  const segment = senseSegment(sense)
  assert.equal(toHex(segment.subarray(0, 2)), '0012')
  assert.deepEqual(senseFromSegment(segment), sense)
  assert.equal(senseSegment(new Uint8Array(0)).length, 0)
  assert.equal(senseFromSegment(new Uint8Array(0)).length, 0)
  assert.equal(
    senseFromSegment(fromHex('00ff0102')).length,
    2,
    'short segment yields what is there',
  )
})
