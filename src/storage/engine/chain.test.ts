/**
 * How an image resolves through the version map (chain.ts), and how a command is cut into
 * chunk pieces (pieces.ts): the pure leaves under the data path, on hand-built maps.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chunksWithData, resolveSources } from './chain.ts'
import { chunkBytes, fullMask, neverKilled, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import { Lineage, type Version } from './lineage.ts'
import { piecesOf } from './pieces.ts'

function version(birth: number, phys: number, valid: number, zero = 0): Version {
  return { birth, phys, valid, zero, held: 0, killedAt: neverKilled, gone: false }
}

/** The sources of every sub-block of `chunk` at (lineage, epoch), as a plain array. */
function sources(lineages: Map<number, Lineage>, lineage: Lineage, epoch: number, chunk = 0) {
  const into = new Float64Array(subBlocksPerChunk)
  resolveSources(lineages, lineage, epoch, chunk, fullMask, into)
  return [...into]
}

const bits = (...indexes: number[]) => indexes.reduce((mask, index) => mask | (1 << index), 0)
const zeros = () => new Array<number>(subBlocksPerChunk).fill(-1)

test('resolveSources: newest version at or before the epoch wins, per sub-block', () => {
  const volume = new Lineage(1, null, 5, true)
  const lineages = new Map([[1, volume]])
  volume.insert(0, version(1, 10, bits(0, 1, 2)))
  volume.insert(0, version(3, 20, bits(1)))
  const atOne = zeros()
  atOne[0] = atOne[1] = atOne[2] = 10
  assert.deepEqual(sources(lineages, volume, 1), atOne)
  assert.deepEqual(sources(lineages, volume, 2), atOne, 'epoch 2 sees what epoch 1 wrote')
  const atThree = [...atOne]
  atThree[1] = 20
  assert.deepEqual(sources(lineages, volume, 3), atThree)
  assert.deepEqual(sources(lineages, volume, 0), zeros(), 'before any write: zeros')
})

test('resolveSources: a zero mask hides older data (unmap), and the rest shows through', () => {
  const volume = new Lineage(1, null, 5, true)
  const lineages = new Map([[1, volume]])
  volume.insert(0, version(1, 10, fullMask))
  volume.insert(0, version(2, -1, 0, bits(3, 4)))
  const expected = new Array<number>(subBlocksPerChunk).fill(10)
  expected[3] = expected[4] = -1
  assert.deepEqual(sources(lineages, volume, 2), expected)
  assert.deepEqual(sources(lineages, volume, 1), new Array(subBlocksPerChunk).fill(10))
})

test('resolveSources: a clone reads through its parent at the fork epoch, not later', () => {
  const origin = new Lineage(1, null, 5, true)
  const clone = new Lineage(2, { lineage: 1, epoch: 2 }, 5, true)
  const lineages = new Map([
    [1, origin],
    [2, clone],
  ])
  origin.insert(0, version(1, 10, bits(0, 1)))
  origin.insert(0, version(4, 40, bits(0, 1))) // after the fork: the clone never sees it
  clone.insert(0, version(3, 70, bits(1)))
  const expected = zeros()
  expected[0] = 10
  expected[1] = 70
  assert.deepEqual(sources(lineages, clone, 5), expected)
  expected[1] = 10
  assert.deepEqual(sources(lineages, clone, 2), expected, 'before its own write')
})

test('chunksWithData: chunks with versions on the chain, in a range, sorted, once each', () => {
  const origin = new Lineage(1, null, 5, true)
  const clone = new Lineage(2, { lineage: 1, epoch: 5 }, 1, true)
  const lineages = new Map([
    [1, origin],
    [2, clone],
  ])
  for (const chunk of [9, 2, 500]) origin.insert(chunk, version(1, chunk, bits(0)))
  for (const chunk of [2, 7]) clone.insert(chunk, version(1, 100 + chunk, bits(0)))
  assert.deepEqual(chunksWithData(lineages, clone, 0, 10), [2, 7, 9])
  assert.deepEqual(chunksWithData(lineages, clone, 8, 1_000_000), [9, 500])
  assert.deepEqual(chunksWithData(lineages, origin, 3, 8), [])
})

test('piecesOf: a range cut at chunk boundaries, with masks and buffer offsets', () => {
  const start = chunkBytes - 2 * subBlockBytes
  const pieces = piecesOf(start, chunkBytes + 3 * subBlockBytes)
  assert.deepEqual(pieces, [
    { chunk: 0, first: 14, count: 2, mask: bits(14, 15), at: 0 },
    { chunk: 1, first: 0, count: 16, mask: fullMask, at: 2 * subBlockBytes },
    { chunk: 2, first: 0, count: 1, mask: bits(0), at: 18 * subBlockBytes },
  ])
  assert.deepEqual(piecesOf(5 * chunkBytes, 0), [])
  assert.throws(() => piecesOf(512, subBlockBytes), /unaligned/)
})
