/**
 * One logical unit: a BlockDevice plus its identity (SPC-4 §7.8.6 device identification, §7.8.16
 * unit serial number), its mode parameters, its started/stopped state (SBC-3 §4.20 / §5.25), its
 * medium (present or ejected, for a removable unit, SBC-3 §5.25), the medium removal prevention
 * held per I_T nexus (SBC-3 §5.10 PREVENT ALLOW MEDIUM REMOVAL), the unit attentions
 * pending per I_T nexus (SAM-5 §5.14) and its reservations (reservations.ts, SPC-4 §5.9).
 *
 * A removable unit (INQUIRY RMB=1) is opt-in per volume. Ejecting its medium is logical only: the
 * data stay untouched, and the next load serves them again.
 *
 * NAA designator choice (VPD 83h): NAA 6, IEEE Registered Extended (SPC-4 §7.8.6.6.5). The
 * 24-bit IEEE COMPANY_ID field holds the fixed value 02BA5Ah, whose first octet has the
 * locally-administered (X) bit set and the multicast bit clear, so it can never equal an
 * IEEE-assigned OUI or CID. The remaining 100 bits (VENDOR SPECIFIC IDENTIFIER and its
 * extension) are the first 25 hex digits of the volume's random, persisted uuid. The designator
 * is therefore unique per volume (100 random bits) and stable across restarts.
 */
import { assert } from '../base/assert.ts'
import type { Clock } from '../base/clock.ts'
import type { BlockDevice } from './block_device.ts'
import { ModeParameters } from './mode_parameters.ts'
import type { Nexus } from './nexus.ts'
import { itNexusKey, type ReservationStore, Reservations } from './reservations.ts'
import { RangeLock } from './sbc/range_lock.ts'
import { type UnitAttention, UnitAttentionQueue } from './unit_attention.ts'

export interface UnitIdentity {
  /** 32 hex digits, random, generated once per volume and persisted by control/ (never changes). */
  readonly uuid: string
  readonly vendorId: string // 'BASALT' (8 chars padded)
  readonly productId: string // e.g. 'Volume' (16 chars padded)
  readonly revision: string // 4 chars
  /** The unit serial number for VPD 0x80 (≤ 32 ASCII chars, derived from uuid by control). */
  readonly serial: string
}

/**
 * The other logical units an EXTENDED COPY may name (SPC-4 §6.3.6.2 identification CSCD
 * descriptors): control/ implements it over every exported unit. Without it, a copy can only
 * name the unit it was sent to.
 */
export interface CopyTargets {
  /** The unit whose VPD 83h NAA designator is `designator`, or null. */
  byNaa(designator: Uint8Array): LogicalUnit | null
}

/** See the file header: not an IEEE assignment, locally administered by construction. */
export const naaCompanyId = 0x02ba5a

export class LogicalUnit {
  readonly device: BlockDevice
  readonly identity: UnitIdentity
  readonly clock: Clock
  readonly modes = new ModeParameters()
  /** Makes compound and atomic writes atomic against other I/O (sbc/range_lock.ts). */
  readonly rangeLock = new RangeLock()
  /** The 16-byte NAA 6 designator (see the file header). */
  readonly naaDesignator: Uint8Array
  /** SBC-3 §4.20: START STOP UNIT with START=0 stops the unit until START=1 (fixed units). */
  stopped = false
  /** SPC-4 §6.6.2 RMB: the medium can be ejected and loaded (START STOP UNIT LOEJ=1). */
  readonly removable: boolean
  /** False once a removable unit's medium was ejected; a fixed unit always has its medium. */
  mediumPresent = true
  /** Persistent (SPC-4 §5.9) and SPC-2 reservations; APTPL state comes from the store. */
  readonly reservations: Reservations
  /** Where EXTENDED COPY resolves other units (null: only this one). */
  readonly copyTargets: CopyTargets | null
  readonly #attentions = new Map<string, UnitAttentionQueue>()
  /** The I_T nexuses that prevent medium removal (SBC-3 §5.10: PREVENT=01b). */
  readonly #preventing = new Set<string>()

  constructor(options: {
    device: BlockDevice
    identity: UnitIdentity
    clock: Clock
    removable?: boolean
    /** Where APTPL registrations and reservations persist (control/reservations.ts). */
    reservationStore?: ReservationStore
    copyTargets?: CopyTargets
  }) {
    const { identity } = options
    assert(/^[0-9a-fA-F]{32}$/.test(identity.uuid), 'uuid must be 32 hex digits')
    assert(identity.serial.length > 0 && identity.serial.length <= 32, 'serial is 1..32 chars')
    assert(/^[\x20-\x7e]*$/.test(identity.serial), 'serial must be printable ASCII')
    this.device = options.device
    this.identity = identity
    this.clock = options.clock
    this.naaDesignator = naaFromUuid(identity.uuid)
    this.removable = options.removable ?? false
    this.reservations = new Reservations(options.reservationStore ?? null)
    this.copyTargets = options.copyTargets ?? null
  }

  /** SBC-3 §5.10: medium removal is prevented while any I_T nexus prevents it. */
  get removalPrevented(): boolean {
    return this.#preventing.size > 0
  }

  /** PREVENT ALLOW MEDIUM REMOVAL on behalf of `nexus`. */
  preventRemoval(nexus: Nexus, prevent: boolean): void {
    if (prevent) this.#preventing.add(nexusKey(nexus))
    else this.#preventing.delete(nexusKey(nexus))
  }

  /** Call after the device grew: raises CAPACITY DATA HAS CHANGED on every nexus. */
  capacityChanged(): void {
    this.establishForAll('capacityDataHasChanged', null)
  }

  /**
   * Call after the contents changed under the hosts (a rollback): raises NOT READY TO READY
   * CHANGE, MEDIUM MAY HAVE CHANGED on every nexus (SPC-4 §4.5.6), so hosts drop cached data.
   */
  contentsReplaced(): void {
    this.establishForAll('mediumMayHaveChanged', null)
  }

  /** The unit attentions pending for `nexus`; a nexus seen for the first time gets POWER ON. */
  attentionsFor(nexus: Nexus): UnitAttentionQueue {
    const key = nexusKey(nexus)
    let queue = this.#attentions.get(key)
    if (queue === undefined) {
      queue = new UnitAttentionQueue()
      queue.establish('powerOnResetOccurred')
      this.#attentions.set(key, queue)
    }
    return queue
  }

  nexusAdded(nexus: Nexus): void {
    const queue = new UnitAttentionQueue()
    queue.establish('powerOnResetOccurred')
    this.#attentions.set(nexusKey(nexus), queue)
  }

  /** SBC-3 §5.10: an I_T nexus loss ends its prevention, and its SPC-2 reservation. */
  nexusRemoved(nexus: Nexus): void {
    this.#attentions.delete(nexusKey(nexus))
    this.#preventing.delete(nexusKey(nexus))
    this.reservations.nexusLost(nexusKey(nexus))
  }

  /** Establishes `condition` for the I_T nexuses named by key (itNexusKey) that are known. */
  establishFor(keys: Iterable<string>, condition: UnitAttention): void {
    for (const key of keys) this.#attentions.get(key)?.establish(condition)
  }

  /** Establishes `condition` for every known nexus except `except`. */
  establishForAll(condition: UnitAttention, except: Nexus | null): void {
    const skip = except === null ? null : nexusKey(except)
    for (const [key, queue] of this.#attentions) {
      if (key !== skip) queue.establish(condition)
    }
  }

  /**
   * SAM-5 §6.3.3: a logical unit reset (also part of a target reset). Every prevention of medium
   * removal ends (SBC-3 §5.10), and the mode parameters return to their default values, there
   * being no saved ones (SPC-4 §7.5: after a logical unit reset the current values are the
   * saved values, or the defaults when saving is not supported). The medium stays as it was.
   * An SPC-2 reservation ends (SPC-2 §5.5.1); persistent reservations stay (SPC-4 §5.9.1).
   */
  reset(): void {
    this.#preventing.clear()
    this.reservations.reset()
    this.modes.restoreDefaults()
    this.establishForAll('busDeviceResetFunctionOccurred', null)
  }
}

/**
 * Per-nexus state is keyed by the port names, not by object identity, so that two Nexus values
 * for the same I_T nexus share it. A session keeps one Nexus object for its life, so the key is
 * built once per object rather than once per command (it showed at 1.5 % of a QD 1 profile).
 */
const nexusKeys = new WeakMap<Nexus, string>()

function nexusKey(nexus: Nexus): string {
  let key = nexusKeys.get(nexus)
  if (key === undefined) {
    key = itNexusKey(nexus.initiatorPort, nexus.targetPort)
    nexusKeys.set(nexus, key)
  }
  return key
}

function naaFromUuid(uuid: string): Uint8Array {
  const digits = `${naaCompanyId.toString(16).padStart(6, '0')}${uuid.slice(0, 25)}`.toLowerCase()
  assert(digits.length === 31)
  return Uint8Array.from(Buffer.from(`6${digits}`, 'hex'))
}
