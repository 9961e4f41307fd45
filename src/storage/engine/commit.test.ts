/**
 * Group commit: what each kind of commit syncs. Data before any mapping that points at it; a
 * region's dirty mark alone needs only the journal.
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

const regionMark = { type: recordType.regionDirty, region: 3 } as const
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

test('Committer: a region mark is made durable without syncing the dirty data', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty()
  commit.append(regionMark)
  await commit.commitRecords()
  assert.deepEqual(syncs, ['journal'])
  assert.equal(commit.pending, true, 'the data is still to be synced')
  await commit.commit()
  assert.deepEqual(syncs, ['journal', 'data', 'tags'])
  assert.equal(commit.pending, false)
})

test('Committer: a mapping always has its data synced first, whoever asks', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty()
  commit.append(regionMark)
  commit.append(mapping)
  await commit.commitRecords()
  assert.deepEqual(syncs, ['data', 'tags', 'journal'])
})

test('Committer: a flush that arrives during a records-only round still syncs the data', async () => {
  const { commit, syncs } = await committer()
  commit.markDataDirty()
  commit.append(regionMark)
  const marked = commit.commitRecords() // its round starts now, with only this waiter
  const flushed = commit.commit()
  await Promise.all([marked, flushed])
  assert.deepEqual(syncs, ['journal', 'data', 'tags'])
  assert.equal(commit.pending, false)
})
