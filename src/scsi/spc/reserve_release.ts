/**
 * RESERVE(6)/(10) and RELEASE(6)/(10) (SPC-2 §7.21-7.24, §5.5.1): a logical-unit reservation
 * held by one I_T nexus, not persistent, ended by RELEASE, a reset or the nexus's loss. Third
 * party and element reservations are not supported (their CDB bits are outside the usage data).
 * Beside persistent reservations the SPC-4 §5.9.3 rules for CRH=1 apply: while any I_T nexus is
 * registered, RESERVE succeeds without effect for a persistent reservation holder and conflicts
 * for anyone else, and RELEASE succeeds without effect.
 */
import type { Command } from '../command.ts'
import { goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { keyOf, reservationConflictResult } from '../reservations.ts'
import { holds } from '../reservations_actions.ts'

export function reserve(command: Command): ScsiResult {
  const reservations = command.lu.reservations
  const key = keyOf(command.nexus)
  const state = reservations.state
  if (state.registrations.size > 0) {
    return holds(state, key) ? goodResult : reservationConflictResult
  }
  return reservations.reserveSpc2(key) ? goodResult : reservationConflictResult
}

/** SPC-2 §7.17: a RELEASE from an I_T nexus that holds nothing is GOOD and does nothing. */
export function release(command: Command): ScsiResult {
  const reservations = command.lu.reservations
  if (reservations.state.registrations.size === 0) reservations.releaseSpc2(keyOf(command.nexus))
  return goodResult
}
