/**
 * The command-table rows (cdb_table.ts) of the compound and atomic writes (COMPARE AND WRITE,
 * ORWRITE (16), WRITE ATOMIC (16)) and of logical block provisioning (UNMAP, WRITE SAME (10)/(16),
 * GET LBA STATUS). CDB USAGE DATA per SBC-3 §5.2, §5.9, §5.7, §5.28, §5.41-5.42 and SBC-4 §5.48:
 * WRPROTECT/ORPROTECT and ANCHOR are never set in the usage data (no protection information,
 * ANC_SUP=0), so dispatch refuses them with INVALID FIELD IN CDB.
 */
import { type CdbRow, count16, ff4, ff8, groupNumber, lba10, lba16, row } from '../cdb_row.ts'
import { OpCode, ServiceActionIn16 } from '../spec/opcodes.ts'
import { blockLimits } from './block_limits.ts'
import { compareAndWrite } from './compare_and_write.ts'
import { getLbaStatus } from './get_lba_status.ts'
import { orWrite } from './orwrite.ts'
import { unmap } from './unmap.ts'
import { writeAtomic } from './write_atomic.ts'
import { writeSame } from './write_same.ts'

/** Byte 1 of the writes: DPO, FUA, FUA_NV (SBC-3 §5.2, §5.9); WRITE ATOMIC has no FUA_NV. */
const dpoFuaFuaNv = 0x1a
const dpoFua = 0x18
const writing = { mediumAccess: true, writes: true, timeoutSeconds: 30 } as const

export function atomicWriteRows(): CdbRow[] {
  return [
    row({
      ...writing,
      opcode: OpCode.compareAndWrite,
      name: 'COMPARE AND WRITE',
      cdbLength: 16,
      usage: [OpCode.compareAndWrite, dpoFuaFuaNv, ...ff8, 0, 0, 0, 0xff, groupNumber, 0],
      transfer: {
        kind: 'blocks',
        lba: lba16,
        count: { offset: 13, bytes: 1 },
        data: 'compare',
        zero: 'none',
      },
      handler: compareAndWrite,
    }),
    row({
      ...writing,
      opcode: OpCode.orWrite16,
      name: 'ORWRITE(16)',
      cdbLength: 16,
      usage: [OpCode.orWrite16, dpoFuaFuaNv, ...ff8, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba16, count: count16, data: 'out', zero: 'none' },
      handler: orWrite,
    }),
    row({
      ...writing,
      opcode: OpCode.writeAtomic16,
      name: 'WRITE ATOMIC(16)',
      cdbLength: 16,
      usage: [OpCode.writeAtomic16, dpoFua, ...ff8, 0, 0, 0xff, 0xff, groupNumber, 0],
      transfer: {
        kind: 'blocks',
        lba: lba16,
        count: { offset: 12, bytes: 2 },
        data: 'out',
        zero: 'none',
        blocksMaxBytes: blockLimits.atomicTransferBytesMax,
      },
      handler: writeAtomic,
    }),
  ]
}

export function provisioningRows(): CdbRow[] {
  const sameBlock = {
    data: 'sameBlock',
    zero: 'toEnd',
    blocksMaxBytes: blockLimits.writeSameBytesMax,
  } as const
  return [
    row({
      ...writing,
      opcode: OpCode.writeSame10,
      name: 'WRITE SAME(10)',
      cdbLength: 10,
      usage: [OpCode.writeSame10, 0x08, ...ff4, groupNumber, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: lba10, count: { offset: 7, bytes: 2 }, ...sameBlock },
      handler: writeSame,
    }),
    row({
      ...writing,
      opcode: OpCode.writeSame16,
      name: 'WRITE SAME(16)',
      cdbLength: 16,
      usage: [OpCode.writeSame16, 0x09, ...ff8, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba16, count: count16, ...sameBlock },
      handler: writeSame,
    }),
    row({
      ...writing,
      opcode: OpCode.unmap,
      name: 'UNMAP',
      cdbLength: 10,
      usage: [OpCode.unmap, 0, 0, 0, 0, 0, groupNumber, 0xff, 0xff, 0],
      transfer: { kind: 'parameterList', field: { offset: 7, bytes: 2 } },
      handler: unmap,
    }),
    row({
      opcode: OpCode.serviceActionIn16,
      serviceAction: ServiceActionIn16.getLbaStatus,
      name: 'GET LBA STATUS',
      cdbLength: 16,
      usage: [OpCode.serviceActionIn16, 0x12, ...ff8, ...ff4, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 10, bytes: 4 } },
      mediumAccess: true,
      handler: getLbaStatus,
    }),
  ]
}
