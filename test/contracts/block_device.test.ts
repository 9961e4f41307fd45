/**
 * Runs the BlockDevice contract (STYLE rule 16) for every implementation in storage/: the
 * in-memory device, the sparse-file device (thin when the filesystem punches holes, and forced
 * thick), the fault wrapper with no faults armed, and the volume engine's volume, view and clone.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { ManualClock } from '../../src/base/clock.ts'
import { SimPoolMedia } from '../../src/storage/engine/media_sim.ts'
import { Pool } from '../../src/storage/engine/pool.ts'
import { FaultyBlockDevice } from '../../src/storage/faulty_device.ts'
import { FileBlockDevice, probeHolePunching } from '../../src/storage/file_device.ts'
import { MemoryBlockDevice } from '../../src/storage/memory_device.ts'
import { blockDeviceContract } from './block_device.contract.ts'

const directory = mkdtempSync(join(tmpdir(), 'basalt-contract-'))
after(() => rmSync(directory, { recursive: true, force: true }))
const canPunch = await probeHolePunching(directory)
let files = 0

function fileDevice(punchHoles: boolean) {
  return async (blockBytes: 512 | 4096, blockCount: number) => {
    const path = join(directory, `volume-${files++}.img`)
    return FileBlockDevice.create({ path, blockBytes, blockCount, punchHoles })
  }
}

blockDeviceContract(
  'MemoryBlockDevice',
  async (blockBytes, blockCount) => new MemoryBlockDevice(blockBytes, blockCount),
)
blockDeviceContract(`FileBlockDevice${canPunch ? ' (thin)' : ''}`, fileDevice(canPunch))
blockDeviceContract('FileBlockDevice (thick)', fileDevice(false))
blockDeviceContract(
  'FaultyBlockDevice (no faults)',
  async (blockBytes, blockCount) =>
    new FaultyBlockDevice(new MemoryBlockDevice(blockBytes, blockCount)),
)

// The volume engine (src/storage/engine/): a volume, a snapshot's read/write view, and a clone,
// each in its own pool on a simulated disk. The view and the clone start from a snapshot of a
// volume written with a pattern and then wiped back to zeros by UNMAP, so they begin all-zero as
// the contract expects while every read still walks into the parent lineage.
async function enginePool(blockBytes: 512 | 4096, blockCount: number) {
  const pool = await Pool.open({ media: new SimPoolMedia(), clock: new ManualClock() })
  const volume = await pool.createVolume('v', blockBytes, blockCount)
  return { pool, volume }
}

function engineDevice(kind: 'volume' | 'view' | 'clone') {
  return async (blockBytes: 512 | 4096, blockCount: number) => {
    const { pool, volume } = await enginePool(blockBytes, blockCount)
    if (kind === 'volume') return Object.assign(volume, { close: () => pool.close() })
    await volume.write(0, new Uint8Array(blockBytes).fill(0x5a), false)
    await pool.createSnapshots([{ volumeId: 'v', name: 'written' }])
    await volume.unmap(0, blockCount)
    await pool.createSnapshots([{ volumeId: 'v', name: 'base' }])
    const device =
      kind === 'view' ? await pool.expose('v', 'base', 'view') : await pool.clone('v', 'base', 'c')
    return Object.assign(device, { close: () => pool.close() })
  }
}

blockDeviceContract('Engine volume', engineDevice('volume'))
blockDeviceContract('Engine snapshot view', engineDevice('view'))
blockDeviceContract('Engine clone', engineDevice('clone'))
