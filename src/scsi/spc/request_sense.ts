/**
 * REQUEST SENSE (SPC-4 §6.39) and TEST UNIT READY (SPC-4 §6.47). With autosense the only sense
 * worth returning is a pending unit attention (reported and cleared, SAM-5 §5.14: REQUEST SENSE
 * does not fail with it), a SANITIZE in progress or failed (sbc/sanitize_state.ts), the missing
 * medium or the stopped state; otherwise NO SENSE. DESC
 * picks the format.
 * At a LUN with no unit, REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED (SPC-4 §6.39.1).
 */
import { type Command, goodResult } from '../command.ts'
import { reportLunsWellKnownLun } from '../lun.ts'
import type { ScsiResult } from '../port.ts'
import { sanitizeRefusal } from '../sbc/sanitize_state.ts'
import { buildSense, type SenseDetail, type SenseReason } from '../sense.ts'

export function requestSense(command: Command): ScsiResult {
  const descriptorFormat = (command.cdb[1]! & 0x01) !== 0
  const unit = command.unit
  // SBC-3 §4.11.2 / SPC-4 §6.39: during a SANITIZE, its progress (with GOOD status).
  const sanitizing = unit === null ? null : sanitizeRefusal(unit)
  const [reason, detail]: [SenseReason, SenseDetail | undefined] =
    sanitizing === null
      ? [currentReason(command), undefined]
      : [sanitizing.reason, sanitizing.detail]
  return command.dataIn(buildSense(reason, descriptorFormat, detail))
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
