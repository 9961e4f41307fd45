/**
 * SANITIZE (SBC-3 §5.29, opcode 48h): OVERWRITE (01h), BLOCK ERASE (02h), CRYPTOGRAPHIC ERASE
 * (03h) and EXIT FAILURE MODE (1Fh). CRYPTOGRAPHIC ERASE is offered only by a unit whose data are
 * encrypted (control/ attaches its crypto eraser: sanitize_state.ts); on any other unit its
 * service action is refused like any unknown one (INVALID FIELD IN CDB) and VPD B1h says
 * WACEREQ=00b.
 *
 * A sanitize is the unit's, not the command's: it runs to its end even when the command is
 * aborted, a reset happens or the session goes (SBC-3 §4.11.1: only a power loss stops it), and
 * only on the addressed unit's device. Meanwhile sanitize_state.ts refuses other commands with
 * SANITIZE IN PROGRESS and the progress indication. With IMMED the command returns GOOD once the
 * parameters are checked and the sanitize has begun (SBC-3 §5.29.1).
 *   OVERWRITE: every block, `count` passes, each block filled with the initialization pattern
 *     repeated (inverted on every other pass with INVERT), in slices under an exclusive hold of
 *     the range lock, paced by the unit's overwrite bandwidth when control/ sets one.
 *   BLOCK ERASE: the thin volume deallocates every block (`device.unmap`); reads then return
 *     zeros (LBPRZ=1, WABEREQ=01b). A unit that is not thin does not support it.
 *   CRYPTOGRAPHIC ERASE (SBC-4 §4.11.4.4): with every block held (the range lock, exclusive),
 *     the unit's key is replaced and the old one destroyed: from then on no block written before
 *     can be decrypted. Then every block is deallocated as by BLOCK ERASE, so reads succeed and
 *     return zeros (WACEREQ=01b) and the space is freed.
 * Before any block changes, the journal records the sanitize as incomplete; it is cleared when
 * the sanitize completes. A restart in between leaves the unit in the sanitize failed state.
 */
import { readU16 } from '../../base/bytes.ts'
import { isSanError } from '../../base/errors.ts'
import { type Command, goodResult } from '../command.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import type { ScsiResult } from '../port.ts'
import { blockLimits, blocksOf } from './block_limits.ts'
import { type SanitizeState, sanitizeCommandReleased, sanitizeStateOf } from './sanitize_state.ts'

/** SBC-3 §5.29.1 table 59: SERVICE ACTION. */
export const SanitizeAction = {
  overwrite: 0x01,
  blockErase: 0x02,
  cryptographicErase: 0x03,
  exitFailureMode: 0x1f,
} as const

export const sanitizeBits = { immediate: 0x80, ause: 0x20 } as const

/** What one overwrite write covers. */
const overwriteSliceBytes = 1024 * 1024

export interface OverwritePlan {
  readonly passes: number
  readonly invert: boolean
  readonly pattern: Uint8Array
}

/** SBC-3 §5.29.3: the OVERWRITE parameter list; a reason names the field at fault. */
export function parseOverwrite(
  list: Uint8Array,
  blockBytes: number,
): OverwritePlan | { byte: number; bit?: number; inCdb: boolean } {
  // PARAMETER LIST LENGTH: 4 header bytes and 1..blockBytes bytes of pattern.
  if (list.length <= 4 || list.length > blockBytes + 4) return { byte: 7, inCdb: true }
  const passes = list[0]! & 0x1f
  if (passes === 0) return { byte: 0, bit: 4, inCdb: false }
  if ((list[0]! & 0x60) !== 0) return { byte: 0, bit: 6, inCdb: false } // TEST: vendor specific
  const patternBytes = readU16(list, 2)
  if (patternBytes === 0 || patternBytes > blockBytes || patternBytes > list.length - 4)
    return { byte: 2, inCdb: false }
  return { passes, invert: (list[0]! & 0x80) !== 0, pattern: list.slice(4, 4 + patternBytes) }
}

export async function sanitize(command: Command, dataOut: Uint8Array | null): Promise<ScsiResult> {
  const unit = command.lu
  const state = sanitizeStateOf(unit)
  const action = command.cdb[1]! & 0x1f
  const ause = (command.cdb[1]! & sanitizeBits.ause) !== 0
  const list = dataOut ?? new Uint8Array(0)
  // A second SANITIZE that passed dispatch before the first began.
  if (state.running) return command.fail('sanitizeInProgress', { progress: state.progress })
  if (action !== SanitizeAction.overwrite && command.allocationLength !== 0)
    return command.invalidCdbField(7)
  if (action === SanitizeAction.exitFailureMode) {
    // SBC-3 §5.29.4: leaving the failed state is allowed only when the failed one said AUSE=1.
    if (state.failed !== null && !state.failed.ause) return command.invalidCdbField(1)
    state.failed = null
    await state.journal?.record(null)
    return goodResult
  }
  let work: () => Promise<void>
  if (action === SanitizeAction.overwrite) {
    const plan = parseOverwrite(list, unit.device.blockBytes)
    if (!('pattern' in plan)) {
      const reason = plan.inCdb ? 'invalidFieldInCdb' : 'invalidFieldInParameterList'
      return command.fail(reason, { field: plan })
    }
    work = () => overwrite(unit, state, plan)
  } else if (action === SanitizeAction.cryptographicErase) {
    const eraser = state.cryptoErase
    // Dispatch refuses the service action on a unit without an eraser (CdbRow.offered).
    if (eraser === null || !unit.device.thin) return command.invalidCdbField(1, 4)
    work = () => cryptographicErase(unit, state, eraser)
  } else {
    if (!unit.device.thin) return command.invalidCdbField(1, 4)
    work = () => blockErase(unit, state)
  }
  const finished = begin(state, ause, work)
  if ((command.cdb[1]! & sanitizeBits.immediate) !== 0) return goodResult
  const outcome = await Promise.race([finished, sanitizeCommandReleased(state)])
  if (outcome === 'released')
    return command.fail('sanitizeInProgress', { progress: state.progress })
  return outcome ? goodResult : command.fail('sanitizeFailed')
}

/**
 * Starts the sanitize (journal first) and returns its outcome: true when it completed. The work
 * belongs to the unit: nothing the command's fate does stops it, and it never rejects.
 */
function begin(state: SanitizeState, ause: boolean, work: () => Promise<void>): Promise<boolean> {
  state.running = true
  state.progress = 0
  const run = async (): Promise<boolean> => {
    try {
      await state.journal?.record({ ause })
      await work()
    } catch (error) {
      if (!isSanError(error)) throw error
      state.running = false
      state.failed = { ause }
      state.commands = []
      return false
    }
    state.running = false
    state.failed = null
    state.commands = []
    await state.journal?.record(null).catch(() => undefined)
    return true
  }
  return run()
}

async function overwrite(unit: LogicalUnit, state: SanitizeState, plan: OverwritePlan) {
  const device = unit.device
  const blockBytes = device.blockBytes
  const sliceBlocks = Math.min(device.blockCount, blocksOf(overwriteSliceBytes, blockBytes))
  const block = new Uint8Array(blockBytes)
  for (let at = 0; at < blockBytes; at += plan.pattern.length)
    block.set(plan.pattern.subarray(0, blockBytes - at), at)
  const totalBytes = plan.passes * device.blockCount * blockBytes
  const startedMs = unit.clock.monotonicMs()
  let doneBytes = 0
  for (let pass = 0; pass < plan.passes; pass++) {
    const inverted = plan.invert && pass % 2 === 1
    const slice = new Uint8Array(sliceBlocks * blockBytes)
    for (let index = 0; index < sliceBlocks; index++) slice.set(block, index * blockBytes)
    if (inverted)
      for (let index = 0; index < slice.length; index++) slice[index] = ~slice[index]! & 0xff
    for (let lba = 0; lba < device.blockCount; lba += sliceBlocks) {
      const count = Math.min(sliceBlocks, device.blockCount - lba)
      await paced(unit, state, startedMs, doneBytes + count * blockBytes)
      const data = slice.subarray(0, count * blockBytes)
      await unit.rangeLock.withExclusive(lba, count, () => device.write(lba, data, false))
      doneBytes += count * blockBytes
      state.progress = Math.min(0xffff, Math.floor((doneBytes / totalBytes) * 0x10000))
    }
  }
  await device.flush()
}

async function cryptographicErase(
  unit: LogicalUnit,
  state: SanitizeState,
  eraser: () => Promise<void>,
) {
  // Deallocate first, under the old key, then replace it: whenever the erase stops (a crash, a
  // failure, EXIT FAILURE MODE) and whenever a snapshot is taken meanwhile, every block reads as
  // its data or as zeros, never as the old ciphertext decrypted with the new key.
  await blockErase(unit, state)
  await unit.rangeLock.withExclusive(0, unit.device.blockCount, eraser)
}

async function blockErase(unit: LogicalUnit, state: SanitizeState) {
  const device = unit.device
  const sliceBlocks = blocksOf(blockLimits.unmapSliceBytes, device.blockBytes)
  for (let lba = 0; lba < device.blockCount; lba += sliceBlocks) {
    const count = Math.min(sliceBlocks, device.blockCount - lba)
    await unit.rangeLock.withExclusive(lba, count, () => device.unmap(lba, count))
    state.progress = Math.min(0xffff, Math.floor(((lba + count) / device.blockCount) * 0x10000))
  }
  await device.flush()
}

/** Waits for ticks until `untilBytes` are within the overwrite's bandwidth. */
async function paced(
  unit: LogicalUnit,
  state: SanitizeState,
  startedMs: number,
  untilBytes: number,
) {
  const rate = state.bytesPerSecond
  if (rate === null) return
  while (untilBytes > ((unit.clock.monotonicMs() - startedMs) * rate) / 1000) {
    await new Promise<void>((wake) => state.waiters.push(wake))
  }
}
