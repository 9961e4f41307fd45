/**
 * Every bound the iSCSI layer keeps, with units in the names (STYLE rule 14). The portal is built
 * with `defaultLimits` overlaid by the daemon's configuration; sessions and connections read them
 * at login time. Ranges follow RFC 7143 §13 where a limit is also a negotiated key.
 */
import { assert } from '../base/assert.ts'

export interface IscsiLimits {
  /** The CmdSN window (RFC 7143 §4.2.2.1): tasks admitted per session at once. */
  readonly tasksInFlightPerSessionMax: number
  /** MaxRecvDataSegmentLength we declare (§13.12): the largest data segment we accept. */
  readonly maxRecvDataSegmentLength: number
  /** Our MaxBurstLength offer (§13.13); the negotiated value is the minimum of both. */
  readonly maxBurstLength: number
  /** Our FirstBurstLength offer (§13.14). */
  readonly firstBurstLength: number
  /** Our MaxOutstandingR2T offer (§13.17). */
  readonly maxOutstandingR2T: number
  /** Whether we want InitialR2T=Yes (§13.10); No lets initiators send unsolicited data. */
  readonly initialR2T: boolean
  /** Whether we accept ImmediateData (§13.11). */
  readonly immediateData: boolean
  readonly sessionsMax: number
  /** Our MaxConnections offer (§13.2). */
  readonly connectionsPerSessionMax: number
  /** Connections that have not finished login, portal-wide. */
  readonly loginConnectionsMax: number
  /** From accept to Full Feature Phase. */
  readonly loginTimeoutMs: number
  /** Bytes of login or text key=value data accumulated across C-bit PDUs. */
  readonly textBytesMax: number
  /** Idle time on a connection before we send a NOP-In ping (0 disables). */
  readonly nopInIntervalMs: number
  /** How long the initiator has to answer our NOP-In before the connection is dropped. */
  readonly nopInTimeoutMs: number
  /** How long a logout or shutdown waits for in-flight commands. */
  readonly logoutTimeoutMs: number
  /** Data-Out bytes buffered per session for commands not yet executed. */
  readonly dataOutBytesPerSessionMax: number
  /** Output queued on a socket past which we stop reading from it. */
  readonly socketWriteQueueBytesMax: number
  /** The tick of the portal's single timer. */
  readonly tickMs: number
  /**
   * After each socket read the event loop keeps turning, without sleeping, for this long (see
   * `Poller` in portal.ts); 0 lets it sleep at once.
   */
  readonly pollAfterReceiveUs: number
}

export const defaultLimits: IscsiLimits = {
  tasksInFlightPerSessionMax: 128,
  maxRecvDataSegmentLength: 262_144,
  maxBurstLength: 1_048_576,
  firstBurstLength: 262_144,
  maxOutstandingR2T: 4,
  initialR2T: false,
  immediateData: true,
  sessionsMax: 256,
  connectionsPerSessionMax: 1,
  loginConnectionsMax: 64,
  loginTimeoutMs: 15_000,
  textBytesMax: 65_536,
  nopInIntervalMs: 30_000,
  nopInTimeoutMs: 30_000,
  logoutTimeoutMs: 10_000,
  dataOutBytesPerSessionMax: 64 * 1_048_576,
  socketWriteQueueBytesMax: 8 * 1_048_576,
  tickMs: 250,
  pollAfterReceiveUs: 50,
}

/** RFC 7143 §13.12-§13.14: data lengths are 512..2^24-1. */
const dataLengthRange = [512, 2 ** 24 - 1] as const

export function resolveLimits(overrides: Partial<IscsiLimits> = {}): IscsiLimits {
  const limits = { ...defaultLimits, ...overrides }
  for (const key of ['maxRecvDataSegmentLength', 'maxBurstLength', 'firstBurstLength'] as const) {
    const value = limits[key]
    assert(value >= dataLengthRange[0] && value <= dataLengthRange[1], `${key} out of range`)
  }
  assert(limits.firstBurstLength <= limits.maxBurstLength, 'firstBurstLength > maxBurstLength')
  assert(limits.tasksInFlightPerSessionMax >= 1, 'tasksInFlightPerSessionMax < 1')
  assert(limits.maxOutstandingR2T >= 1 && limits.maxOutstandingR2T <= 65_535)
  assert(limits.connectionsPerSessionMax >= 1 && limits.connectionsPerSessionMax <= 65_535)
  assert(limits.tickMs > 0)
  assert(limits.pollAfterReceiveUs >= 0 && limits.pollAfterReceiveUs <= 10_000, 'poll window')
  // Every Data-Out a full window of writes could hold must fit the session's budget, or the
  // window would admit commands we then cannot buffer.
  assert(limits.dataOutBytesPerSessionMax >= limits.maxBurstLength, 'Data-Out budget too small')
  return limits
}
