/**
 * Every live session of a portal (RFC 7143 §4.2, §6.3.5): TSIH allocation, joining connections to
 * sessions, session reinstatement (a leading login with an ISID and InitiatorName already in use
 * replaces the old session) and connection reinstatement (a login with a CID already in use
 * replaces that connection), and the session and connection bounds.
 */
import type { Logger } from '../../base/log.ts'
import type { ExportedTarget } from '../catalog.ts'
import type { IscsiLimits } from '../limits.ts'
import type { LoginResult } from '../login/login.ts'
import { LoginStatus } from '../spec/login_status.ts'
import { Session, type SessionLink, type SessionPeers } from './session.ts'

export type Establishment =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly status: number; readonly detail: string }

const tsihMax = 0xffff

export class SessionRegistry implements SessionPeers {
  readonly #sessions = new Map<number, Session>()
  #nextTsih = 1

  constructor(
    private readonly limits: IscsiLimits,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.#sessions.size
  }

  all(): readonly Session[] {
    return [...this.#sessions.values()]
  }

  /** §11.12.1: a non-zero TSIH names an existing session of the same initiator and ISID. */
  sessionExists(initiatorName: string, isid: Uint8Array, tsih: number): boolean {
    const session = this.#sessions.get(tsih)
    return session !== undefined && matches(session, initiatorName, isid)
  }

  /** Creates or joins the session a completed login names, and binds `link` to it. */
  establish(result: LoginResult, link: SessionLink): Establishment {
    if (result.tsih !== 0) return this.#join(result, link)
    for (const old of this.#sessions.values()) {
      // §6.3.5 session reinstatement: same initiator, ISID and target, TSIH 0.
      if (
        matches(old, result.initiatorName, result.isid) &&
        old.identity.target === result.target
      ) {
        old.close('session reinstatement')
      }
    }
    if (this.#sessions.size >= this.limits.sessionsMax) {
      return { ok: false, status: LoginStatus.outOfResources, detail: 'too many sessions' }
    }
    const tsih = this.#allocateTsih()
    const session = new Session(
      {
        tsih,
        isid: result.isid,
        initiatorName: result.initiatorName,
        initiatorAlias: result.initiatorAlias,
        target: result.target,
        parameters: result.parameters.session,
        initialCmdSN: result.initialCmdSN,
      },
      this.limits,
      this,
      this.logger.child({ tsih }),
    )
    this.#sessions.set(tsih, session)
    session.links.set(link.cid, link)
    return { ok: true, session }
  }

  #join(result: LoginResult, link: SessionLink): Establishment {
    const session = this.#sessions.get(result.tsih)
    if (session === undefined || !matches(session, result.initiatorName, result.isid)) {
      return { ok: false, status: LoginStatus.sessionDoesNotExist, detail: 'session gone' }
    }
    const old = session.links.get(link.cid)
    if (old !== undefined) {
      // §6.3.4 connection reinstatement: the old connection with this CID goes first.
      session.links.delete(link.cid)
      old.drop('connection reinstatement')
    }
    if (session.links.size >= session.identity.parameters.maxConnections) {
      return { ok: false, status: LoginStatus.tooManyConnections, detail: 'MaxConnections reached' }
    }
    session.links.set(link.cid, link)
    return { ok: true, session }
  }

  #allocateTsih(): number {
    for (let tries = 0; tries < tsihMax; tries++) {
      const tsih = this.#nextTsih
      this.#nextTsih = tsih === tsihMax ? 1 : tsih + 1
      if (!this.#sessions.has(tsih)) return tsih
    }
    throw new Error('no free TSIH') // unreachable: sessionsMax is far below 65535
  }

  sessionsOfTarget(target: ExportedTarget): readonly Session[] {
    const sessions: Session[] = []
    for (const session of this.#sessions.values()) {
      if (session.identity.target === target) sessions.push(session)
    }
    return sessions
  }

  sessionClosed(session: Session): void {
    if (this.#sessions.get(session.tsih) === session) this.#sessions.delete(session.tsih)
  }
}

function matches(session: Session, initiatorName: string, isid: Uint8Array): boolean {
  if (session.identity.initiatorName !== initiatorName) return false
  const own = session.identity.isid
  for (let i = 0; i < 6; i++) if (own[i] !== isid[i]) return false
  return true
}
