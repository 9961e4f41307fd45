/** The hostile PDU generator is deterministic per seed, and our own framer survives its output. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { toHex } from '../../src/base/bytes.ts'
import { Framer } from '../../src/iscsi/framer.ts'
import { decodePdu } from '../../src/iscsi/pdu/mod.ts'
import { Prng } from '../harness/prng.ts'
import { hostileBytes } from './raw_pdu_generator.ts'

const hint = { cmdSN: 10, expStatSN: 5 }

test('RawPduGenerator.DeterministicPerSeed', () => {
  const run = (seed: number) => {
    const prng = new Prng(seed)
    return Array.from({ length: 50 }, () =>
      toHex(hostileBytes(prng, hint, { header: false, data: false }).bytes),
    )
  }
  assert.deepEqual(run(3), run(3))
  assert.notDeepEqual(run(3), run(4))
})

test('Framer.SurvivesHostileStreams [RFC7143 §11.2]', () => {
  const prng = new Prng(99)
  const kinds = new Set<string>()
  for (let round = 0; round < 300; round++) {
    const digests = { header: prng.chance(0.5), data: prng.chance(0.5) }
    const framer = new Framer({
      maxRecvDataSegmentLength: 65_536,
      headerDigest: digests.header,
      dataDigest: digests.data,
    })
    for (let i = 0; i < 5; i++) {
      const { mutation, bytes } = hostileBytes(prng, hint, digests)
      kinds.add(mutation)
      for (const event of framer.push(bytes)) {
        if (event.kind === 'frame') decodePdu(event.frame)
      }
      assert.ok(framer.bufferedBytes <= 48 + 1020 + 4 + 65_536 + 3 + 4)
    }
  }
  assert.equal(kinds.size, 7, 'every mutation kind was exercised')
})
