/**
 * Who may log in to a volume's export, and how (SURFACE.md `basalt access …`, `basalt chap …`):
 * the initiator ACL and CHAP settings of each volume's target, and CHAP for discovery. Changes
 * are catalog changes, applied one at a time through the registry's queue, and take effect at
 * the next login (iscsi/catalog.ts looks them up then). Secrets are checked here (RFC 7143
 * §12.1.3) and never shown: a `ChapView` has the users only.
 */
import { SanError } from '../base/errors.ts'
import type { ChapRecord } from './catalog_format.ts'
import type { ControlState } from './live.ts'
import { checkChapSecret, checkChapUser, checkInitiatorName } from './names.ts'

export interface AccessView {
  readonly volume: string
  /** Folded initiator names; empty means every initiator may log in. */
  readonly initiators: string[]
}

/** CHAP as shown to people: never the secrets. */
export interface ChapView {
  readonly enabled: boolean
  readonly user: string | null
  readonly mutual: boolean
  readonly mutualUser: string | null
}

export interface ChapRequest {
  readonly user: string
  readonly secret: string
  readonly mutualUser?: string | null | undefined
  readonly mutualSecret?: string | null | undefined
}

export class AccessControl {
  constructor(private readonly state: ControlState) {}

  /** A volume's ACL. */
  show(name: string): AccessView {
    const { record } = this.state.findVolume(name)
    return { volume: record.name, initiators: [...record.initiators] }
  }

  allow(name: string, initiator: string): Promise<AccessView> {
    const folded = checkInitiatorName(initiator)
    return this.#changeAccess(name, (list) => (list.includes(folded) ? list : [...list, folded]))
  }

  /** Removes an initiator from the ACL; removing one that is absent changes nothing. */
  deny(name: string, initiator: string): Promise<AccessView> {
    const folded = checkInitiatorName(initiator)
    return this.#changeAccess(name, (list) => list.filter((entry) => entry !== folded))
  }

  chap(name: string | null): ChapView {
    return chapView(
      name === null ? this.state.document().discoveryChap : this.state.findVolume(name).record.chap,
    )
  }

  /** Sets CHAP for a volume's export, or for discovery when `name` is null. */
  setChap(name: string | null, request: ChapRequest): Promise<ChapView> {
    return this.#changeChap(name, checkChap(request))
  }

  clearChap(name: string | null): Promise<ChapView> {
    return this.#changeChap(name, null)
  }

  #changeAccess(name: string, change: (list: string[]) => string[]): Promise<AccessView> {
    return this.state.exclusive(async () => {
      const volume = this.state.findVolume(name)
      const record = { ...volume.record, initiators: change(volume.record.initiators) }
      await this.state.updateVolume({ ...volume, record })
      this.state.logger.info('access changed', {
        volume: record.name,
        initiators: record.initiators,
      })
      return { volume: record.name, initiators: [...record.initiators] }
    })
  }

  #changeChap(name: string | null, chap: ChapRecord | null): Promise<ChapView> {
    return this.state.exclusive(async () => {
      if (name === null) {
        await this.state.commit({ ...this.state.document(), discoveryChap: chap })
      } else {
        const volume = this.state.findVolume(name)
        const record = { ...volume.record, chap }
        await this.state.updateVolume({ ...volume, record })
      }
      this.state.logger.info('chap changed', { volume: name ?? '(discovery)', enabled: !!chap })
      return chapView(chap)
    })
  }
}

function checkChap(request: ChapRequest): ChapRecord {
  const hasMutualUser = request.mutualUser != null
  if (hasMutualUser !== (request.mutualSecret != null))
    throw new SanError('INVALID_ARGUMENT', 'mutual CHAP needs both a mutual user and secret')
  const record: ChapRecord = {
    user: checkChapUser(request.user),
    secret: checkChapSecret(request.secret, 'CHAP secret'),
    mutualUser: hasMutualUser ? checkChapUser(request.mutualUser!) : null,
    mutualSecret: hasMutualUser ? checkChapSecret(request.mutualSecret!, 'mutual secret') : null,
  }
  // RFC 7143 §12.1.3: a secret used to authenticate initiators must not authenticate targets.
  if (record.mutualSecret !== null && record.mutualSecret === record.secret)
    throw new SanError('INVALID_ARGUMENT', 'the mutual secret must differ from the CHAP secret')
  return record
}

function chapView(record: ChapRecord | null): ChapView {
  return {
    enabled: record !== null,
    user: record?.user ?? null,
    mutual: record?.mutualUser != null,
    mutualUser: record?.mutualUser ?? null,
  }
}
