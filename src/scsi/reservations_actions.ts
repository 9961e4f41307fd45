/**
 * PERSISTENT RESERVE OUT as pure functions of the reservation state (SPC-4 §5.9.5-§5.9.11,
 * §6.16): each service action takes the current PrState and the parsed request and answers the
 * next state with its unit attentions, or RESERVATION CONFLICT, or CHECK CONDITION. Nothing here
 * touches the unit: reservations.ts makes the state current (after saving it, under APTPL), and
 * the handler establishes the unit attentions.
 */

import {
  itNexusKey,
  type PersistentReservation,
  type PrState,
  type Registration,
} from './reservations.ts'
import type { FieldPointer, SenseReason } from './sense.ts'
import {
  isAllRegistrants,
  isPrType,
  PrOutAction,
  PrType,
  prScopeLogicalUnit,
} from './spc/persistent_reserve_spec.ts'
import type { UnitAttention } from './unit_attention.ts'

/** A PR OUT command, CDB and parameter list decoded (spc/persistent_reserve_params.ts). */
export interface PrOutRequest {
  readonly action: PrOutAction
  readonly scope: number
  readonly type: number
  readonly key: bigint
  readonly serviceActionKey: bigint
  readonly aptpl: boolean
  /** REGISTER AND MOVE only. */
  readonly move: {
    readonly unregister: boolean
    readonly relativeTargetPort: number
    readonly initiatorName: string
    readonly isidHex: string
  } | null
}

/** The I_T nexus sending the command. */
export interface Actor {
  readonly key: string
  readonly port: Omit<Registration, 'key'>
}

export interface PrEffect {
  readonly condition: UnitAttention
  readonly nexusKeys: readonly string[]
}

export type PrOutcome =
  | { readonly kind: 'conflict'; readonly state?: undefined }
  | {
      readonly kind: 'refused'
      readonly reason: SenseReason
      readonly field: FieldPointer
      readonly state?: undefined
    }
  | {
      readonly kind: 'done'
      readonly state: PrState
      readonly effects: readonly PrEffect[]
      /**
       * PREEMPT AND ABORT: the I_T nexuses whose tasks are aborted (SPC-4 §5.9.11.5): those whose
       * registrations or reservation were preempted, the sender's own among them when it preempted
       * its own key or an all-registrants reservation (its PR OUT command itself is spared).
       */
      readonly preempted: readonly string[]
    }

const conflict: PrOutcome = { kind: 'conflict' }
const cdbScope: FieldPointer = { inCdb: true, byte: 2, bit: 7 }
const cdbType: FieldPointer = { inCdb: true, byte: 2, bit: 3 }
const serviceActionKeyField: FieldPointer = { inCdb: false, byte: 8 }

/** Is `key` a holder of `reservation` (SPC-4 §5.9.10: every registrant, for -AR types)? */
export function holds(state: PrState, key: string): boolean {
  const reservation = state.reservation
  if (reservation === null) return false
  if (reservation.holder === null) return state.registrations.has(key)
  return reservation.holder === key
}

function done(state: PrState, effects: PrEffect[] = [], preempted: string[] = []): PrOutcome {
  return { kind: 'done', state, effects, preempted }
}

function refused(reason: SenseReason, field: FieldPointer): PrOutcome {
  return { kind: 'refused', reason, field }
}

/** One PR OUT service action (SPC-4 §6.16.2). */
export function applyPrOut(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  switch (request.action) {
    case PrOutAction.register:
      return register(state, actor, request, false)
    case PrOutAction.registerAndIgnoreExistingKey:
      return register(state, actor, request, true)
    case PrOutAction.reserve:
      return reserve(state, actor, request)
    case PrOutAction.release:
      return release(state, actor, request)
    case PrOutAction.clear:
      return clear(state, actor, request)
    case PrOutAction.preempt:
    case PrOutAction.preemptAndAbort:
      return preempt(state, actor, request)
    case PrOutAction.registerAndMove:
      return registerAndMove(state, actor, request)
  }
}

/** SPC-4 §5.9.7: the scope and type of RESERVE, RELEASE, PREEMPT and REGISTER AND MOVE. */
function badScopeOrType(request: PrOutRequest): PrOutcome | null {
  if (request.scope !== prScopeLogicalUnit) return refused('invalidFieldInCdb', cdbScope)
  if (!isPrType(request.type)) return refused('invalidFieldInCdb', cdbType)
  return null
}

/** The actor's registration when its RESERVATION KEY matches; else null (→ CONFLICT). */
function matching(state: PrState, actor: Actor, request: PrOutRequest): Registration | null {
  const mine = state.registrations.get(actor.key)
  return mine !== undefined && mine.key === request.key ? mine : null
}

function others(state: PrState, actor: Actor): string[] {
  return [...state.registrations.keys()].filter((key) => key !== actor.key)
}

/**
 * SPC-4 §5.9.6-5.9.7 REGISTER / REGISTER AND IGNORE EXISTING KEY: register, change the key, or
 * (SERVICE ACTION RESERVATION KEY 0) unregister. Unregistering the holder releases its
 * reservation (§5.9.11.2); for a registrants-only type the others learn it by unit attention.
 */
function register(state: PrState, actor: Actor, request: PrOutRequest, ignore: boolean): PrOutcome {
  const mine = state.registrations.get(actor.key)
  if (mine === undefined) {
    if (!ignore && request.key !== 0n) return conflict
    if (request.serviceActionKey === 0n) return done(state)
    const registrations = new Map(state.registrations)
    registrations.set(actor.key, { ...actor.port, key: request.serviceActionKey })
    return done(next(state, { registrations, aptpl: request.aptpl }))
  }
  if (!ignore && mine.key !== request.key) return conflict
  const registrations = new Map(state.registrations)
  if (request.serviceActionKey !== 0n) {
    registrations.set(actor.key, { ...mine, key: request.serviceActionKey })
    return done(next(state, { registrations, aptpl: request.aptpl }))
  }
  registrations.delete(actor.key)
  const effects: PrEffect[] = []
  let reservation = state.reservation
  if (reservation !== null && reservation.holder === actor.key) {
    reservation = null
    const type = state.reservation!.type
    if (
      type === PrType.writeExclusiveRegistrantsOnly ||
      type === PrType.exclusiveAccessRegistrantsOnly
    )
      effects.push({ condition: 'reservationsReleased', nexusKeys: [...registrations.keys()] })
  }
  // An all-registrants reservation ends with its last registrant (§5.9.11.2).
  if (reservation?.holder === null && registrations.size === 0) reservation = null
  return done(next(state, { registrations, reservation, aptpl: request.aptpl }), effects)
}

/** SPC-4 §5.9.8: a registered I_T nexus takes a reservation, or holds the same one already. */
function reserve(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  const bad = badScopeOrType(request)
  if (bad !== null) return bad
  if (matching(state, actor, request) === null) return conflict
  const type = request.type as PrType
  const current = state.reservation
  if (current !== null)
    return holds(state, actor.key) && current.type === type ? done(state) : conflict
  const reservation: PersistentReservation = {
    type,
    holder: isAllRegistrants(type) ? null : actor.key,
  }
  // §5.9.8: RESERVE does not change PRgeneration.
  return done({ ...state, reservation })
}

/** SPC-4 §5.9.11.2: only a holder releases, with the reservation's own scope and type. */
function release(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  const bad = badScopeOrType(request)
  if (bad !== null) return bad
  if (matching(state, actor, request) === null) return conflict
  const current = state.reservation
  if (current === null || !holds(state, actor.key)) return done(state)
  if (current.type !== request.type) {
    return refused('invalidReleaseOfPersistentReservation', cdbType)
  }
  const effects: PrEffect[] = []
  if (current.type !== PrType.writeExclusive && current.type !== PrType.exclusiveAccess)
    effects.push({ condition: 'reservationsReleased', nexusKeys: others(state, actor) })
  return done({ ...state, reservation: null }, effects)
}

/** SPC-4 §5.9.11.6 CLEAR: every registration and the reservation go; the others are told. */
function clear(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  if (matching(state, actor, request) === null) return conflict
  const effects: PrEffect[] = [
    { condition: 'reservationsPreempted', nexusKeys: others(state, actor) },
  ]
  return done(next(state, { registrations: new Map(), reservation: null }), effects)
}

/**
 * SPC-4 §5.9.11.4-5 PREEMPT (and PREEMPT AND ABORT): remove the registrations holding the
 * SERVICE ACTION RESERVATION KEY and, when that key is the holder's (or 0 under an
 * all-registrants reservation), take the reservation over with the CDB's type.
 */
function preempt(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  const bad = badScopeOrType(request)
  if (bad !== null) return bad
  if (matching(state, actor, request) === null) return conflict
  const current = state.reservation
  const target = request.serviceActionKey
  const allRegistrants = current !== null && current.holder === null
  if (target === 0n && !allRegistrants)
    return refused('invalidFieldInParameterList', serviceActionKeyField)
  const holderKey = current?.holder === null || current === null ? null : current.holder
  const holderRegistration = holderKey === null ? undefined : state.registrations.get(holderKey)
  const takesReservation = allRegistrants ? target === 0n : holderRegistration?.key === target
  const victims = [...state.registrations.entries()]
    .filter(([key, r]) => key !== actor.key && (target === 0n || r.key === target))
    .map(([key]) => key)
  if (victims.length === 0 && !takesReservation) return conflict
  const registrations = new Map(state.registrations)
  for (const key of victims) registrations.delete(key)
  const effects: PrEffect[] = [{ condition: 'registrationsPreempted', nexusKeys: victims }]
  let reservation = current
  if (takesReservation && current !== null) {
    const type = request.type as PrType
    reservation = { type, holder: isAllRegistrants(type) ? null : actor.key }
    // §5.9.11.4: a changed type tells the remaining registrants their reservation was released.
    if (type !== current.type) {
      const remaining = [...registrations.keys()].filter((key) => key !== actor.key)
      effects.push({ condition: 'reservationsReleased', nexusKeys: remaining })
    }
  }
  // §5.9.11.5: the sender's own nexus is associated with what it preempts when it names its own
  // key, or key 0 under an all-registrants reservation that it holds with the others.
  const own =
    state.registrations.get(actor.key)?.key === target || (allRegistrants && target === 0n)
  const preempted = own ? [...victims, actor.key] : victims
  return done(next(state, { registrations, reservation }), effects, preempted)
}

/**
 * SPC-4 §5.9.9 REGISTER AND MOVE: the holder of a (not all-registrants) reservation registers
 * another I_T nexus with the SERVICE ACTION RESERVATION KEY and hands it the reservation.
 */
function registerAndMove(state: PrState, actor: Actor, request: PrOutRequest): PrOutcome {
  const move = request.move
  if (move === null) return refused('invalidFieldInParameterList', { inCdb: false, byte: 24 })
  if (request.scope !== prScopeLogicalUnit) return refused('invalidFieldInCdb', cdbScope)
  if (!isPrType(request.type)) return refused('invalidFieldInCdb', cdbType)
  if (matching(state, actor, request) === null) return conflict
  const current = state.reservation
  if (current === null || current.holder !== actor.key) return conflict
  if (request.serviceActionKey === 0n)
    return refused('invalidFieldInParameterList', serviceActionKeyField)
  if (move.relativeTargetPort !== actor.port.relativeTargetPort)
    return refused('invalidFieldInParameterList', { inCdb: false, byte: 18 })
  const destination: Registration = {
    ...actor.port,
    initiatorName: move.initiatorName,
    isidHex: move.isidHex,
    key: request.serviceActionKey,
  }
  const port = `${destination.initiatorName},i,0x${destination.isidHex}`
  const destinationKey = itNexusKey(port, destination.targetPort)
  if (destinationKey === actor.key)
    return refused('invalidFieldInParameterList', { inCdb: false, byte: 24 })
  const registrations = new Map(state.registrations)
  registrations.set(destinationKey, destination)
  if (move.unregister) registrations.delete(actor.key)
  const type = request.type as PrType
  const reservation: PersistentReservation = { type, holder: destinationKey }
  return done(next(state, { registrations, reservation, aptpl: request.aptpl }))
}

/** A new state with PRgeneration advanced (SPC-4 §6.15.2: every REGISTER, CLEAR, PREEMPT …). */
function next(state: PrState, change: Partial<PrState>): PrState {
  return { ...state, ...change, generation: (state.generation + 1) >>> 0 }
}
