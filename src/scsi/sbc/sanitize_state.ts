/**
 * The sanitize state of a logical unit (SBC-3 §4.11): none, in progress (with its progress), or
 * failed. While a SANITIZE runs, every command but INQUIRY, REPORT LUNS and REQUEST SENSE is
 * refused with NOT READY, LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS and the progress
 * indication (SBC-3 §4.11.2); REQUEST SENSE reports the same sense with GOOD status. After one
 * failed, or was interrupted by a daemon restart (the journal says so), media access is refused
 * with MEDIUM ERROR, SANITIZE COMMAND FAILED until a SANITIZE completes, or until EXIT FAILURE
 * MODE when the failed one allowed it (AUSE=1) (SBC-3 §4.11.3, §5.29).
 *
 * Kept beside the unit (a WeakMap), so the LogicalUnit seam does not grow for it. control/
 * attaches a journal (where the state survives a restart) and a pace (the overwrite's bandwidth,
 * measured on the unit's clock and advanced by `tickSanitize` on the daemon's tick), so that a
 * whole-volume overwrite leaves the pool's bandwidth to the other volumes, and, for an encrypted
 * volume, the crypto eraser that SANITIZE CRYPTOGRAPHIC ERASE needs (without one the unit does
 * not offer it).
 */
import type { LogicalUnit } from '../logical_unit.ts'
import type { SenseDetail, SenseReason } from '../sense.ts'

/** A SANITIZE that did not complete; `ause` is its AUSE bit (EXIT FAILURE MODE allowed). */
export interface SanitizeIncomplete {
  readonly ause: boolean
}

/** Where a unit's sanitize state survives a restart (control/ implements it per volume). */
export interface SanitizeJournal {
  /** Found at startup: a SANITIZE that was running or had failed when the daemon stopped. */
  readonly initial: SanitizeIncomplete | null
  /** Records, durably, that a SANITIZE is incomplete (before it starts) or that none is. */
  record(state: SanitizeIncomplete | null): Promise<void>
}

/**
 * Replaces the unit's data key with a new one, durably, and destroys the old one when nothing
 * else uses it (control/keys.ts): when it resolves, no block written before can be read again.
 */
export type CryptoEraser = () => Promise<void>

export interface SanitizeState {
  running: boolean
  /** PROGRESS INDICATION, 0..65535 (of 65536). */
  progress: number
  /** The sanitize failed state (SBC-3 §4.11.3), with the failed command's AUSE. */
  failed: SanitizeIncomplete | null
  journal: SanitizeJournal | null
  /** Overwrite bandwidth in bytes per second; null: as fast as the device goes. */
  bytesPerSecond: number | null
  /** Null: the unit's data are not encrypted, and CRYPTOGRAPHIC ERASE is not offered. */
  cryptoErase: CryptoEraser | null
  /** Resolved on the next `tickSanitize` (the paced overwrite waits on them). */
  waiters: (() => void)[]
  /** SANITIZE commands (IMMED=0) waiting for the end; released early by task management. */
  commands: (() => void)[]
}

const states = new WeakMap<LogicalUnit, SanitizeState>()

export function sanitizeStateOf(unit: LogicalUnit): SanitizeState {
  let state = states.get(unit)
  if (state === undefined) {
    state = {
      running: false,
      progress: 0,
      failed: null,
      journal: null,
      bytesPerSecond: null,
      cryptoErase: null,
      waiters: [],
      commands: [],
    }
    states.set(unit, state)
  }
  return state
}

/**
 * Called once by control/ when it builds the unit: a unit whose journal says a sanitize did not
 * complete starts in the sanitize failed state.
 */
export function attachSanitize(
  unit: LogicalUnit,
  options: { journal?: SanitizeJournal; bytesPerSecond?: number; cryptoErase?: CryptoEraser },
): void {
  const state = sanitizeStateOf(unit)
  state.journal = options.journal ?? null
  state.failed = options.journal?.initial ?? null
  state.bytesPerSecond = options.bytesPerSecond ?? null
  state.cryptoErase = options.cryptoErase ?? null
}

/** Whether the unit offers SANITIZE CRYPTOGRAPHIC ERASE (its data are encrypted). */
export function cryptoEraseOffered(unit: LogicalUnit): boolean {
  return (states.get(unit)?.cryptoErase ?? null) !== null
}

/** Lets a paced overwrite go on (call on the owner's tick). */
export function tickSanitize(unit: LogicalUnit): void {
  const state = states.get(unit)
  if (state === undefined || state.waiters.length === 0) return
  const waiters = state.waiters
  state.waiters = []
  for (const wake of waiters) wake()
}

/**
 * Task management reached the unit (an abort or a reset): the SANITIZE commands waiting for the
 * end answer now, so the abort completes, while the sanitize itself goes on (SBC-3 §4.11.1).
 * While a sanitize runs, no other command on the unit is executing, so the abort was for them.
 */
export function releaseSanitizeCommands(unit: LogicalUnit): void {
  const state = states.get(unit)
  if (state === undefined || state.commands.length === 0) return
  const commands = state.commands
  state.commands = []
  for (const release of commands) release()
}

/** Resolves when task management releases the SANITIZE commands of `state`. */
export function sanitizeCommandReleased(state: SanitizeState): Promise<'released'> {
  return new Promise((release) => state.commands.push(() => release('released')))
}

/**
 * The sense for REQUEST SENSE and for a refused command, or null. `mediaAccess` false asks only
 * about a running SANITIZE (every command but the exempt ones is refused while it runs).
 */
export function sanitizeRefusal(
  unit: LogicalUnit,
  mediaAccess = true,
): { reason: SenseReason; detail?: SenseDetail } | null {
  const state = states.get(unit)
  if (state === undefined) return null
  if (state.running) return { reason: 'sanitizeInProgress', detail: { progress: state.progress } }
  if (state.failed !== null && mediaAccess) return { reason: 'sanitizeFailed' }
  return null
}
