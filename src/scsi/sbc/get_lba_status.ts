/**
 * GET LBA STATUS (SBC-3 §5.7, SERVICE ACTION IN (16) 12h): the provisioning status of the blocks
 * from STARTING LOGICAL BLOCK ADDRESS, as LBA status descriptors of mapped (0h) or deallocated
 * (1h) extents (SBC-3 §5.7.3, table 41). The first descriptor starts at the starting LBA. The
 * device reports runs (`BlockDevice.provisioning`, 4 KiB granularity on the engine); a device
 * without it reports everything mapped. One command describes at most
 * `lbaStatusScanBytesMax` of address space: the initiator asks again from where it stopped.
 */
import { readU64Safe, writeU32, writeU64 } from '../../base/bytes.ts'
import type { ProvisioningRun } from '../block_device.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { blockLimits, blocksOf } from './block_limits.ts'

const headerBytes = 8
const descriptorBytes = 16

/** SBC-3 §5.7.3 table 41: PROVISIONING STATUS. */
export const ProvisioningStatus = { mapped: 0x0, deallocated: 0x1, anchored: 0x2 } as const

export function getLbaStatus(command: Command): ScsiResult {
  const device = command.lu.device
  const lba = readU64Safe(command.cdb, 2)
  // SBC-3 §5.7.2: a starting LBA past the last one is LOGICAL BLOCK ADDRESS OUT OF RANGE.
  if (lba === null || lba >= device.blockCount) return command.fail('lbaOutOfRange')
  const descriptorsMax = Math.max(
    1,
    Math.min(
      blockLimits.lbaStatusDescriptorsMax,
      Math.floor((command.allocationLength - headerBytes) / descriptorBytes),
    ),
  )
  const scanBlocks = Math.min(
    device.blockCount - lba,
    blocksOf(blockLimits.lbaStatusScanBytesMax, device.blockBytes),
  )
  const runs: readonly ProvisioningRun[] = device.provisioning?.(
    lba,
    scanBlocks,
    descriptorsMax,
  ) ?? [{ lba, blocks: scanBlocks, mapped: true }]
  return command.dataIn(encodeLbaStatus(extendDeallocated(command, runs)))
}

/**
 * A deallocated run that reaches the end of the scan goes on as far as the deallocated blocks
 * do: skipping chunks without data costs the engine next to nothing (a sanitized or fresh
 * volume is then one descriptor, which libiscsi's Sanitize.BlockErase expects), while mapped
 * ranges stay bounded by the scan limit. One run, capped to the 32-bit descriptor field.
 */
function extendDeallocated(
  command: Command,
  runs: readonly ProvisioningRun[],
): readonly ProvisioningRun[] {
  const device = command.lu.device
  const last = runs.at(-1)
  if (last === undefined || last.mapped || device.provisioning === undefined) return runs
  const end = last.lba + last.blocks
  const room = Math.min(device.blockCount - end, 0xffff_ffff - last.blocks)
  if (room <= 0) return runs
  const next = device.provisioning(end, room, 1)[0]
  if (next === undefined || next.mapped) return runs
  return [...runs.slice(0, -1), { ...last, blocks: last.blocks + next.blocks }]
}

/** The parameter data (SBC-3 §5.7.3): PARAMETER DATA LENGTH, then the descriptors. */
export function encodeLbaStatus(runs: readonly ProvisioningRun[]): Uint8Array {
  const data = new Uint8Array(headerBytes + runs.length * descriptorBytes)
  writeU32(data, 0, data.length - 4)
  runs.forEach((run, index) => {
    const at = headerBytes + index * descriptorBytes
    writeU64(data, at, run.lba)
    // NUMBER OF LOGICAL BLOCKS is 32 bits; the scan limit keeps a run below that.
    writeU32(data, at + 8, Math.min(run.blocks, 0xffff_ffff))
    data[at + 12] = run.mapped ? ProvisioningStatus.mapped : ProvisioningStatus.deallocated
  })
  return data
}
