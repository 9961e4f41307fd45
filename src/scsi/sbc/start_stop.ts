/**
 * START STOP UNIT (SBC-3 §5.25) and PREVENT ALLOW MEDIUM REMOVAL (SBC-3 §5.10).
 *
 * A fixed unit (RMB=0) has no medium to load or eject, so LOEJ is ignored. With POWER CONDITION
 * 0h (START_VALID), START=0 stops the unit (after writing cached data unless NO_FLUSH=1) and
 * START=1 starts it; while stopped, media access gets NOT READY / INITIALIZING COMMAND REQUIRED
 * (checked by dispatch). The power conditions ACTIVE, IDLE, STANDBY, LU_CONTROL, FORCE_IDLE_0 and
 * FORCE_STANDBY_0 are accepted without effect (there is no power condition mode page); other
 * values are reserved.
 *
 * A removable unit (RMB=1, opt-in per volume) answers as libiscsi's StartStopUnit and NoMedia
 * suites expect of one, and as tgt does:
 * - LOEJ=1 with START=0 ejects the medium (logically: the data stay) and with START=1 loads it;
 *   either is refused with ILLEGAL REQUEST / MEDIUM REMOVAL PREVENTED while an I_T nexus
 *   prevents medium removal (libiscsi PreventAllow.Eject refuses the load too).
 * - LOEJ=0: the unit has no spindle to stop, so START only writes cached data (START=0 without
 *   NO_FLUSH) and the unit stays ready (libiscsi StartStopUnit.NoLoej: TEST UNIT READY is GOOD).
 * - A POWER CONDITION other than 0h makes the device server ignore START and LOEJ (SBC-3
 *   §5.25); every value is accepted without effect (libiscsi StartStopUnit.PwrCnd sends 1h-Fh).
 * IMMED makes no difference: the command completes after the state change either way.
 */
import { type Command, goodResult } from '../command.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import type { ScsiResult } from '../port.ts'

/** SBC-3 §5.25 table 95: POWER CONDITION values. */
const PowerCondition = {
  startValid: 0x0,
  active: 0x1,
  idle: 0x2,
  standby: 0x3,
  logicalUnitControl: 0x7,
  forceIdle0: 0xa,
  forceStandby0: 0xb,
} as const

const acceptedPowerConditions: ReadonlySet<number> = new Set(Object.values(PowerCondition))

/** SBC-3 §5.25: byte 4 of the CDB. */
const StartStopBits = { start: 0x01, loadEject: 0x02, noFlush: 0x04 } as const

/** SBC-3 §5.10: the PREVENT field (byte 4 bits 1:0); 10b and 11b are obsolete. */
const Prevent = { allowed: 0x0, prevented: 0x1 } as const

export async function startStopUnit(command: Command): Promise<ScsiResult> {
  const unit = command.lu
  const byte4 = command.cdb[4]!
  const powerCondition = byte4 >>> 4
  if (unit.removable) return startStopRemovable(command, unit, powerCondition)
  if (!acceptedPowerConditions.has(powerCondition)) return command.invalidCdbField(4, 7)
  if (powerCondition !== PowerCondition.startValid) return goodResult
  const start = (byte4 & StartStopBits.start) !== 0
  const noFlush = (byte4 & StartStopBits.noFlush) !== 0
  if (!start && !unit.stopped && !noFlush) await unit.device.flush()
  unit.stopped = !start
  return goodResult
}

async function startStopRemovable(
  command: Command,
  unit: LogicalUnit,
  powerCondition: number,
): Promise<ScsiResult> {
  if (powerCondition !== PowerCondition.startValid) return goodResult
  const byte4 = command.cdb[4]!
  const start = (byte4 & StartStopBits.start) !== 0
  const noFlush = (byte4 & StartStopBits.noFlush) !== 0
  const loadEject = (byte4 & StartStopBits.loadEject) !== 0
  if (loadEject && unit.removalPrevented) return command.fail('mediumRemovalPrevented')
  if (!start && !noFlush && unit.mediumPresent) await unit.device.flush()
  if (loadEject) unit.mediumPresent = start
  return goodResult
}

/**
 * SBC-3 §5.10: PREVENT=01b prevents medium removal for this I_T nexus, 00b allows it again; the
 * unit keeps it until then, an I_T nexus loss or a logical unit reset (logical_unit.ts). A fixed
 * unit accepts the command too (there is nothing it could eject).
 */
export function preventAllowMediumRemoval(command: Command): ScsiResult {
  const prevent = command.cdb[4]! & 0x03
  if (prevent !== Prevent.allowed && prevent !== Prevent.prevented) {
    return command.invalidCdbField(4, 1)
  }
  command.lu.preventRemoval(command.nexus, prevent === Prevent.prevented)
  return goodResult
}
