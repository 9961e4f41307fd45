/**
 * REQUEST SENSE (SPC-4 §6.39) and TEST UNIT READY (SPC-4 §6.47). With autosense the only sense
 * worth returning is a pending unit attention (reported and cleared, SAM-5 §5.14: REQUEST SENSE
 * does not fail with it), the missing medium or the stopped state; otherwise NO SENSE. DESC
 * picks the format.
 * At a LUN with no unit, REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED (SPC-4 §6.39.1).
 */
import { type Command, goodResult } from '../command.ts'
import { reportLunsWellKnownLun } from '../lun.ts'
import type { ScsiResult } from '../port.ts'
import { buildSense, type SenseReason } from '../sense.ts'

export function requestSense(command: Command): ScsiResult {
  const descriptorFormat = (command.cdb[1]! & 0x01) !== 0
  return command.dataIn(buildSense(currentReason(command), descriptorFormat))
}

function currentReason(command: Command): SenseReason {
  const unit = command.unit
  if (unit === null) {
    return command.lun === reportLunsWellKnownLun ? 'noSense' : 'logicalUnitNotSupported'
  }
  const attention = unit.attentionsFor(command.nexus).take()
  if (attention !== undefined) return attention
  if (!unit.mediumPresent) return 'mediumNotPresent'
  if (unit.stopped) return 'notReadyInitializingCommandRequired'
  return 'noSense'
}

/** SPC-4 §6.47: the checks (unit attention, stopped) ran in dispatch. */
export function testUnitReady(_command: Command): ScsiResult {
  return goodResult
}
