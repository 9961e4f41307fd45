/**
 * The sanitize state of a logical unit (SBC-3 §4.11): none, in progress (with its progress), or
 * failed. While a SANITIZE runs, media access is refused with NOT READY, LOGICAL UNIT NOT READY,
 * SANITIZE IN PROGRESS and the progress indication (SBC-3 §4.11.2); after one failed (or was
 * interrupted by a daemon restart), media access is refused with MEDIUM ERROR, SANITIZE COMMAND
 * FAILED until a SANITIZE completes or EXIT FAILURE MODE (SBC-3 §4.11.3). Kept beside the unit
 * (a WeakMap), so the LogicalUnit seam does not grow for it; dispatch asks `sanitizeRefusal`.
 */
import type { LogicalUnit } from '../logical_unit.ts'
import type { SenseDetail, SenseReason } from '../sense.ts'

/** Where a unit's sanitize state survives a restart (control/ implements it per volume). */
export interface SanitizeJournal {
  /** The state found at startup: 'running' means a restart interrupted a SANITIZE. */
  readonly initial: 'running' | 'failed' | null
  /** Records the state durably before the caller goes on. */
  record(state: 'running' | 'failed' | null): Promise<void>
}

export interface SanitizeState {
  /** A SANITIZE is running. */
  running: boolean
  /** PROGRESS INDICATION, 0..65535 (of 65536). */
  progress: number
  /** The sanitize failed state (SBC-3 §4.11.3). */
  failed: boolean
  journal: SanitizeJournal | null
}

const states = new WeakMap<LogicalUnit, SanitizeState>()

/** The unit's state; a unit whose journal says a sanitize was interrupted starts failed. */
export function sanitizeStateOf(unit: LogicalUnit): SanitizeState {
  let state = states.get(unit)
  if (state === undefined) {
    state = { running: false, progress: 0, failed: false, journal: null }
    states.set(unit, state)
  }
  return state
}

/** Called once by control/ when it builds the unit. */
export function attachSanitizeJournal(unit: LogicalUnit, journal: SanitizeJournal): void {
  const state = sanitizeStateOf(unit)
  state.journal = journal
  state.failed = journal.initial !== null
}

/** Why a media-access command may not run now, or null. */
export function sanitizeRefusal(
  unit: LogicalUnit,
): { reason: SenseReason; detail?: SenseDetail } | null {
  const state = states.get(unit)
  if (state === undefined) return null
  if (state.running) return { reason: 'sanitizeInProgress', detail: { progress: state.progress } }
  if (state.failed) return { reason: 'sanitizeFailed' }
  return null
}
