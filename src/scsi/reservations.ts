/**
 * The reservation state of one logical unit (SPC-4 §5.9 persistent reservations, SPC-2 §5.5.1
 * RESERVE/RELEASE): registrations per I_T nexus, the persistent reservation, PRgeneration, APTPL,
 * and the SPC-2 reservation. Both sessions of a multipath host reach the same LogicalUnit, so
 * they see one state. PR OUT runs one at a time per unit: the next state is computed from the
 * current one (reservations_actions.ts), made durable first when APTPL asks for it (SPC-4
 * §5.9.4: the ReservationStore seam, implemented by control/), and only then becomes current, so
 * a save that fails leaves the state as it was.
 */
import { assert } from '../base/assert.ts'
import type { Nexus } from './nexus.ts'
import { type ScsiResult, ScsiStatus } from './port.ts'
import { persistentConflict, type ReservationAccess, spc2Conflict } from './reservations_access.ts'
import { isAllRegistrants, isPrType, type PrType } from './spc/persistent_reserve_spec.ts'

/** One registered I_T nexus (SPC-4 §5.9.6). */
export interface Registration {
  readonly key: bigint
  readonly initiatorName: string
  /** 12 hex digits. */
  readonly isidHex: string
  readonly targetPort: string
  readonly relativeTargetPort: number
}

export interface PersistentReservation {
  readonly type: PrType
  /** The holder's nexus key; null for an all-registrants type (every registrant holds it). */
  readonly holder: string | null
}

export interface PrState {
  readonly generation: number
  readonly aptpl: boolean
  /** By I_T nexus key (itNexusKey). */
  readonly registrations: ReadonlyMap<string, Registration>
  readonly reservation: PersistentReservation | null
}

export const emptyPrState: PrState = Object.freeze({
  generation: 0,
  aptpl: false,
  registrations: new Map<string, Registration>(),
  reservation: null,
})

/** The persisted form (APTPL): plain JSON values, keys as 16 hex digits. */
export interface PersistedReservations {
  readonly version: 1
  readonly generation: number
  readonly registrations: readonly {
    readonly key: string
    readonly initiatorName: string
    readonly isidHex: string
    readonly targetPort: string
    readonly relativeTargetPort: number
  }[]
  /** `holder` indexes `registrations`; null for an all-registrants type. */
  readonly reservation: { readonly type: number; readonly holder: number | null } | null
}

/**
 * Where APTPL state lives across restarts (owned here, implemented by control/). `load` is read
 * once when the unit is made; `save(null)` forgets the state (APTPL cleared). A failed save
 * throws a SanError, and the PR OUT that caused it fails with nothing changed.
 */
export interface ReservationStore {
  load(): PersistedReservations | null
  save(state: PersistedReservations | null): Promise<void>
}

/** Per-nexus state is keyed by the port names (as in logical_unit.ts). */
export function itNexusKey(initiatorPort: string, targetPort: string): string {
  return `${initiatorPort}\u0000${targetPort}`
}

export function registrationKey(registration: Registration): string {
  const port = `${registration.initiatorName},i,0x${registration.isidHex}`
  return itNexusKey(port, registration.targetPort)
}

export class Reservations {
  #state: PrState
  /** The I_T nexus holding an SPC-2 reservation (not persistent: SPC-2 §5.5.1). */
  #spc2Holder: string | null = null
  #tail: Promise<unknown> = Promise.resolve()

  constructor(readonly store: ReservationStore | null = null) {
    const persisted = store?.load() ?? null
    this.#state = persisted === null ? emptyPrState : fromPersisted(persisted)
  }

  get state(): PrState {
    return this.#state
  }

  get spc2Holder(): string | null {
    return this.#spc2Holder
  }

  /** The reservation gate (SPC-4 §5.9.1, SPC-2 §5.5.1): true → RESERVATION CONFLICT. */
  conflicts(access: ReservationAccess, nexus: Nexus): boolean {
    const reservation = this.#state.reservation
    if (reservation === null && this.#spc2Holder === null) return false
    const key = itNexusKey(nexus.initiatorPort, nexus.targetPort)
    if (this.#spc2Holder !== null && this.#spc2Holder !== key && spc2Conflict(access)) return true
    if (reservation === null) return false
    const registered = this.#state.registrations.has(key)
    const holder = reservation.holder === null ? registered : reservation.holder === key
    return persistentConflict(access, { type: reservation.type, holder, registered })
  }

  /** RESERVE(6)/(10) by `key`'s nexus; a second RESERVE from the holder supersedes the first. */
  reserveSpc2(key: string): boolean {
    if (this.#spc2Holder !== null && this.#spc2Holder !== key) return false
    this.#spc2Holder = key
    return true
  }

  /** RELEASE(6)/(10): only the holder's release does anything (SPC-2 §7.17). */
  releaseSpc2(key: string): void {
    if (this.#spc2Holder === key) this.#spc2Holder = null
  }

  /** SAM-5 §6.3.3 / SPC-2 §5.5.1: a reset releases the SPC-2 reservation; PRs stay. */
  reset(): void {
    this.#spc2Holder = null
  }

  /** An I_T nexus loss releases its SPC-2 reservation; its registrations stay (SPC-4 §5.9.6). */
  nexusLost(key: string): void {
    this.releaseSpc2(key)
  }

  /**
   * Runs one PR OUT: `plan` computes the next state from the current one; when the old or the
   * new state asks for APTPL the store saves it before it becomes current. PR OUTs queue.
   */
  async change<T extends { state?: PrState }>(plan: (state: PrState) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const before = this.#state
      const outcome = plan(before)
      const after = outcome.state
      if (after === undefined || after === before) return outcome
      if (this.store !== null && (before.aptpl || after.aptpl)) {
        await this.store.save(after.aptpl ? toPersisted(after) : null)
      }
      assert(this.#state === before, 'PR OUT ran out of turn')
      this.#state = after
      return outcome
    }
    const result = this.#tail.then(run)
    this.#tail = result.catch(() => undefined)
    return result
  }
}

export function toPersisted(state: PrState): PersistedReservations {
  const entries = [...state.registrations.entries()]
  const registrations = entries.map(([, r]) => ({
    key: r.key.toString(16).padStart(16, '0'),
    initiatorName: r.initiatorName,
    isidHex: r.isidHex,
    targetPort: r.targetPort,
    relativeTargetPort: r.relativeTargetPort,
  }))
  const reservation = state.reservation
  let persistedReservation: PersistedReservations['reservation'] = null
  if (reservation !== null) {
    const holder =
      reservation.holder === null ? null : entries.findIndex(([k]) => k === reservation.holder)
    assert(holder === null || holder >= 0, 'the holder is registered')
    persistedReservation = { type: reservation.type, holder }
  }
  return {
    version: 1,
    generation: state.generation,
    registrations,
    reservation: persistedReservation,
  }
}

/** Rebuilds a state from its persisted form; the caller has validated its shape. */
export function fromPersisted(persisted: PersistedReservations): PrState {
  const registrations = new Map<string, Registration>()
  const keys: string[] = []
  for (const r of persisted.registrations) {
    const registration: Registration = { ...r, key: BigInt(`0x${r.key}`) }
    const key = registrationKey(registration)
    keys.push(key)
    registrations.set(key, registration)
  }
  let reservation: PersistentReservation | null = null
  const saved = persisted.reservation
  if (saved !== null && isPrType(saved.type)) {
    const holder = saved.holder === null ? null : (keys[saved.holder] ?? null)
    // An all-registrants type has no single holder; any other type needs one.
    if ((holder === null) === isAllRegistrants(saved.type)) {
      reservation = { type: saved.type, holder }
    }
  }
  return { generation: persisted.generation, aptpl: true, registrations, reservation }
}

/** SAM-5 §5.3: RESERVATION CONFLICT carries no sense data. */
export const reservationConflictResult: ScsiResult = Object.freeze({
  status: ScsiStatus.reservationConflict,
  dataIn: null,
  sense: null,
})

/** The I_T nexus key of `nexus`. */
export function keyOf(nexus: Nexus): string {
  return itNexusKey(nexus.initiatorPort, nexus.targetPort)
}
