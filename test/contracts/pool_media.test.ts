/**
 * Runs the PoolMedia contract (STYLE rule 16) for every implementation of the engine's disk
 * seam: the real directory (with the filesystem's hole punching, and with every call forced
 * through the threadpool) and the simulated disk (with and without reordered completions).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { FsPoolMedia } from '../../src/storage/engine/media_fs.ts'
import { SimPoolMedia, splitmix32 } from '../../src/storage/engine/media_sim.ts'
import { fileIoPolicy } from '../../src/storage/file_device.ts'
import { poolMediaContract } from './pool_media.contract.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-media-'))
after(() => rmSync(root, { recursive: true, force: true }))
let directories = 0

poolMediaContract('FsPoolMedia', async () => {
  const media = await FsPoolMedia.open(join(root, `pool-${directories++}`, 'nested'))
  return { media, punchesHoles: media.punchHoles }
})
poolMediaContract('FsPoolMedia (threadpool, no holes)', async () => {
  const directory = join(root, `pool-${directories++}`)
  const media = await FsPoolMedia.open(directory, { io: fileIoPolicy(false), punchHoles: false })
  return { media, punchesHoles: false }
})
poolMediaContract('SimPoolMedia', async () => ({
  media: new SimPoolMedia({ rng: splitmix32(directories++) }),
  punchesHoles: true,
}))
poolMediaContract('SimPoolMedia (no hops)', async () => ({
  media: new SimPoolMedia({ hopsMax: 0 }),
  punchesHoles: true,
}))
