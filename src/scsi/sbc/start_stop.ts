/**
 * START STOP UNIT (SBC-3 §5.25). The unit is not removable (RMB=0), so LOEJ has no medium to
 * load or eject and is ignored. With POWER CONDITION 0h (START_VALID), START=0 stops the unit
 * (after writing cached data unless NO_FLUSH=1) and START=1 starts it; while stopped, media
 * access gets NOT READY / INITIALIZING COMMAND REQUIRED (checked by dispatch). The power
 * conditions ACTIVE, IDLE, STANDBY, LU_CONTROL, FORCE_IDLE_0 and FORCE_STANDBY_0 are accepted
 * without effect (there is no power condition mode page); other values are reserved.
 * IMMED makes no difference: the command completes after the state change either way.
 */
import { type Command, goodResult } from '../command.ts'
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

export async function startStopUnit(command: Command): Promise<ScsiResult> {
  const unit = command.lu
  const byte4 = command.cdb[4]!
  const powerCondition = byte4 >>> 4
  if (!acceptedPowerConditions.has(powerCondition)) return command.invalidCdbField(4, 7)
  if (powerCondition !== PowerCondition.startValid) return goodResult
  const start = (byte4 & 0x01) !== 0
  const noFlush = (byte4 & 0x04) !== 0
  if (!start && !unit.stopped && !noFlush) await unit.device.flush()
  unit.stopped = !start
  return goodResult
}
