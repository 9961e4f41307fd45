/**
 * PERSISTENT RESERVE OUT (SPC-4 §6.16): decode the parameter list, run the service action on the
 * unit's reservation state (reservations_actions.ts, made durable first under APTPL by
 * reservations.ts), then establish the unit attentions it causes (SPC-4 §5.9.11) and, for
 * PREEMPT AND ABORT, abort the preempted nexuses' tasks through the transport (§5.9.11.5).
 */
import type { Command } from '../command.ts'
import { goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { keyOf, reservationConflictResult } from '../reservations.ts'
import { type Actor, applyPrOut } from '../reservations_actions.ts'
import { parsePrOut } from './persistent_reserve_params.ts'
import { PrOutAction } from './persistent_reserve_spec.ts'

export async function persistentReserveOut(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  const parsed = parsePrOut(command.cdb, dataOut ?? new Uint8Array(0))
  if (!parsed.ok) {
    return command.fail(parsed.reason, parsed.field === undefined ? undefined : parsed)
  }
  const unit = command.lu
  const nexus = command.nexus
  const actor: Actor = {
    key: keyOf(nexus),
    port: {
      initiatorName: nexus.initiatorName,
      isidHex: nexus.isidHex.toLowerCase(),
      targetPort: nexus.targetPort,
      relativeTargetPort: nexus.relativeTargetPort,
    },
  }
  const outcome = await unit.reservations.change((state) => applyPrOut(state, actor, parsed.value))
  switch (outcome.kind) {
    case 'conflict':
      return reservationConflictResult
    case 'refused':
      return command.fail(outcome.reason, { field: outcome.field })
    case 'done':
      for (const effect of outcome.effects) unit.establishFor(effect.nexusKeys, effect.condition)
      if (parsed.value.action === PrOutAction.preemptAndAbort) {
        // SPC-4 §5.9.11.5 c): the preempted nexuses' tasks on this unit are aborted (SAM-5
        // §5.6), this command excepted; GOOD only once none of them can still touch the medium.
        await command.group.abortTasks?.(outcome.preempted, command.lun, command)
      }
      return goodResult
  }
}
