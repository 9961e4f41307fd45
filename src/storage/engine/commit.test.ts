/**
 * Group commit: what each kind of commit syncs. Data before any mapping that points at it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Committer } from './commit.ts'
import { recordType } from './journal.ts'
import { SimPoolMedia } from './media_sim.ts'

async function committer() {
  const media = new SimPoolMedia()
  const files = {
    data: await media.open('data', true),
    journal: await media.open('journal', true),
  }
  const syncs: string[] = []
  const counted = (name: string, file: (typeof files)['data']) => ({
    ...file,
    write: file.write.bind(file),
    sync: async () => {
      syncs.push(name)
      await file.sync()
    },
  })
  const commit = new Committer(
    {
      media,
      data: { ...counted('data', files.data), size: () => files.data.size() } as never,
      tags: { sync: async () => void syncs.push('tags') },
      journal: counted('journal', files.journal) as never,
    },
    0,
    0,
  )
  return { commit, syncs }
}

const mapping = {
  type: recordType.mapPut,
  lineage: 1,
  chunk: 2,
  birth: 1,
  phys: 7,
  valid: 1,
  zero: 0,
  killedAt: 0xffff_ffff,
} as const

test('Committer: a mapping has its data synced first', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty()
  commit.append(mapping)
  await commit.commit()
  assert.deepEqual(syncs, ['data', 'tags', 'journal'])
  assert.equal(commit.pending, false)
})

test('Committer: a change with no data written since the last commit syncs only the journal', async () => {
  const { commit, syncs } = await committer()
  commit.append(mapping)
  await commit.commit()
  assert.deepEqual(syncs, ['journal'])
})

test('Committer: a failure outside the commit stops the pool', async () => {
  const { commit } = await committer()
  commit.fail(new Error('EIO on the region log'))
  assert.throws(() => commit.checkHealthy(), { code: 'POOL_FAILED' })
  await assert.rejects(commit.commit(), { code: 'POOL_FAILED' })
})

test('Committer: a periodic commit syncs the data only for records that publish it', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty() // an in-place overwrite: no record points at it
  commit.append({ type: recordType.mapDelete, lineage: 1, chunk: 2, birth: 1 })
  await commit.commitRecords()
  assert.deepEqual(syncs, ['journal'], 'a free points at no new data')
  assert.equal(commit.pending, true, 'the overwrite still waits for a flush')
  syncs.length = 0
  commit.append(mapping, true)
  await commit.commitRecords()
  assert.deepEqual(syncs, ['data', 'tags', 'journal'], 'a landed write is synced before its map')
  syncs.length = 0
  commit.markDataDirty()
  await commit.commit()
  assert.deepEqual(syncs, ['data', 'tags'], 'a flush syncs what was written')
})

test('Committer: a flush that joins a periodic commit still syncs the data', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty()
  commit.append({ type: recordType.mapDelete, lineage: 1, chunk: 2, birth: 1 })
  const periodic = commit.commitRecords()
  const flush = commit.commit() // arrives while the periodic round runs: rides on the next
  await Promise.all([periodic, flush])
  assert.ok(syncs.includes('data'), `the flush's data is durable: ${syncs.join(', ')}`)
  assert.equal(commit.pending, false)
})

test('Committer: a flush with nothing to sync leaves no wish behind for the next round', async () => {
  const { commit, syncs } = await committer()
  await commit.commit() // nothing pending: returns at once
  commit.markDataDirty()
  commit.append({ type: recordType.mapDelete, lineage: 1, chunk: 2, birth: 1 })
  await commit.commitRecords()
  assert.deepEqual(syncs, ['journal'])
})
