/**
 * The data path (SBC-3 §5.10-5.15 READ, §5.29-5.34 WRITE, §5.30-5.32 WRITE AND VERIFY,
 * §5.26-5.28 VERIFY). Dispatch has already checked the CDB, the LBA range and the transfer
 * length, so each handler makes exactly one device call per command (two for the verifying
 * writes) and allocates one buffer at most.
 */
import { assert } from '../../base/assert.ts'
import { transferBuffers } from '../../base/buffer_pool.ts'
import { type Command, goodResult } from '../command.ts'
import { type ScsiResult, ScsiStatus } from '../port.ts'
import type { RangeHold, RangeLock } from './range_lock.ts'

/** SBC-3 §5.11: FUA bit of byte 1 in READ/WRITE (10/12/16). */
const fuaBit = 0x08

/**
 * Data-In buffers: reads above 2 KiB borrow one from the transfer pool (base/buffer_pool.ts),
 * which the transport returns once the bytes are sent, so a read makes no garbage. Collected
 * buffers cost twice: a new ArrayBuffer per 4 KiB read was once the largest cost of our layers at
 * QD 1 (bench/layers.ts), and with 16 busy sessions the slabs that replaced them still grew the
 * daemon by 11 MiB/s between full collections (to 288 MiB), where pooled buffers grow it by 2.
 * Tinier reads are carved from a shared slab, never written again once a view of it is handed
 * out. No zero-fill: the device fills every byte before the buffer is handed on.
 */
const slabBytes = 64 * 1024
const slabReadBytesMax = 2 * 1024
let slab = new Uint8Array(0)
let slabUsed = 0

function dataInBuffer(bytes: number): Uint8Array {
  // Larger ones are lent by the transfer pool; the transport returns them once sent.
  if (bytes > slabReadBytesMax) return transferBuffers.acquire(bytes)
  if (slabUsed + bytes > slab.length) {
    slab = Buffer.allocUnsafeSlow(slabBytes)
    slabUsed = 0
  }
  const data = new Uint8Array(slab.buffer, slab.byteOffset + slabUsed, bytes)
  slabUsed += (bytes + 7) & ~7 // keep each view 8-byte aligned
  return data
}

/** Not async, like `write`: at once when the device can, else one hop after the device's. */
export function read(command: Command): ScsiResult | Promise<ScsiResult> {
  const device = command.lu.device
  const bytes = command.blocks * device.blockBytes
  if (bytes === 0) return goodResult
  const data = dataInBuffer(bytes)
  const result: ScsiResult = { status: ScsiStatus.good, dataIn: data, sense: null }
  const lock = command.lu.rangeLock
  // Synchronous reads cannot interleave with anything; with an atomic write in force they wait.
  if (lock.idle && device.readNow?.(command.lba, data) === true) return result
  const hold = lock.shared(command.lba, command.blocks)
  if (hold instanceof Promise) {
    return hold.then((granted) => held(lock, granted, device.read(command.lba, data), result))
  }
  return held(lock, hold, device.read(command.lba, data), result)
}

/**
 * Resolves to `result` once `io` does, ending `hold` either way (sbc/range_lock.ts). One promise
 * hop, like the unlocked path it replaced.
 */
function held(
  lock: RangeLock,
  hold: RangeHold,
  io: Promise<void>,
  result: ScsiResult,
): Promise<ScsiResult> {
  return io.then(
    () => {
      lock.release(hold)
      return result
    },
    (error: unknown) => {
      lock.release(hold)
      throw error
    },
  )
}

/** Not async, like `read`: at once when the device can, else one hop after the device's. */
export function write(
  command: Command,
  dataOut: Uint8Array | null,
): ScsiResult | Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const unit = command.lu
  // WRITE(6) has no FUA bit; with WCE=0 (SBC-3 §6.4.5) every write is forced to the medium.
  const fua =
    !unit.modes.writeCacheEnabled || (command.row.cdbLength > 6 && (command.cdb[1]! & fuaBit) !== 0)
  const lock = unit.rangeLock
  // As for reads: a synchronous write cannot interleave with anything.
  if (!fua && lock.idle && unit.device.writeNow?.(command.lba, dataOut) === true) return goodResult
  const hold = lock.shared(command.lba, command.blocks)
  if (hold instanceof Promise) {
    return hold.then((granted) =>
      held(lock, granted, unit.device.write(command.lba, dataOut, fua), goodResult),
    )
  }
  return held(lock, hold, unit.device.write(command.lba, dataOut, fua), goodResult)
}

/** SBC-3 §5.30: write, then read back (BYTCHK=0 checks readability, 1 compares). */
export async function writeAndVerify(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const device = command.lu.device
  const readBack = Buffer.allocUnsafe(dataOut.length)
  // The verification reads the medium, so the data must be on it first.
  await command.lu.rangeLock.withShared(command.lba, command.blocks, async () => {
    await device.write(command.lba, dataOut, true)
    await device.read(command.lba, readBack)
  })
  if ((command.cdb[1]! & 0x02) === 0) return goodResult
  const offset = firstDifference(readBack, dataOut, 0, dataOut.length)
  if (offset < 0) return goodResult
  return command.fail('miscompareDuringVerify', { information: offset })
}

/**
 * SBC-3 §5.26 (SBC-4 BYTCHK encoding): 00b reads the range to check it is readable; 01b compares
 * it with the Data-Out buffer; 11b compares every block with the single block sent. 10b was
 * refused by dispatch. On a mismatch, INFORMATION holds the offset of the first differing byte.
 */
export async function verify(command: Command, dataOut: Uint8Array | null): Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  const device = command.lu.device
  const blockBytes = device.blockBytes
  const stored = Buffer.allocUnsafe(command.blocks * blockBytes)
  await device.read(command.lba, stored)
  const byteCheck = verifyByteCheck(command.cdb)
  if (byteCheck === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  if (byteCheck === 1) {
    const offset = firstDifference(stored, dataOut, 0, stored.length)
    if (offset < 0) return goodResult
    return command.fail('miscompareDuringVerify', { information: offset })
  }
  assert(byteCheck === 3 && dataOut.length === blockBytes)
  for (let block = 0; block < command.blocks; block++) {
    const base = block * blockBytes
    const offset = firstDifference(stored.subarray(base, base + blockBytes), dataOut, 0, blockBytes)
    if (offset >= 0) return command.fail('miscompareDuringVerify', { information: base + offset })
  }
  return goodResult
}

/** The BYTCHK field of VERIFY (10/12/16): byte 1 bits 2:1. */
export function verifyByteCheck(cdb: Uint8Array): number {
  return (cdb[1]! >>> 1) & 0x03
}

/** The index of the first byte that differs in [start, end), or -1. */
export function firstDifference(
  left: Uint8Array,
  right: Uint8Array,
  start: number,
  end: number,
): number {
  const leftView = Buffer.from(left.buffer, left.byteOffset + start, end - start)
  const rightView = Buffer.from(right.buffer, right.byteOffset + start, end - start)
  if (leftView.equals(rightView)) return -1
  for (let index = 0; index < end - start; index++) {
    if (leftView[index] !== rightView[index]) return start + index
  }
  return -1
}
