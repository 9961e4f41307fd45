/**
 * Runs the BlockDevice contract (STYLE rule 16) for every implementation in storage/: the
 * in-memory device, the sparse-file device (thin when the filesystem punches holes, and forced
 * thick), and the fault wrapper with no faults armed.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
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
