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
