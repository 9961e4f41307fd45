/**
 * APTPL persistence for persistent reservations (SPC-4 §5.9.4 "persist through power loss"):
 * the scsi/ ReservationStore seam, one JSON document per volume uuid in DATA/reservations/,
 * written atomically by DataDir before the PR OUT that changed the state completes. All
 * documents are read once at start, so a unit's `load` is synchronous. A document that does not
 * validate is logged and ignored (the volume starts without reservations) rather than stopping
 * the daemon.
 */
import type { Logger } from '../base/log.ts'
import type { PersistedReservations, ReservationStore } from '../scsi/reservations.ts'
import type { DataDir } from './store.ts'

/** Bounds on a document: more registrations than this is not a file we wrote. */
const registrationsMax = 4096

export class ReservationFiles {
  readonly #loaded: Map<string, PersistedReservations>

  private constructor(
    private readonly dataDir: DataDir,
    loaded: Map<string, PersistedReservations>,
  ) {
    this.#loaded = loaded
  }

  static async open(dataDir: DataDir, logger: Logger): Promise<ReservationFiles> {
    const loaded = new Map<string, PersistedReservations>()
    for (const [uuid, document] of await dataDir.readDocuments('reservations')) {
      const valid = validDocument(document)
      if (valid === null) {
        logger.error('persistent reservations ignored: the file does not validate', { uuid })
        continue
      }
      loaded.set(uuid, valid)
    }
    return new ReservationFiles(dataDir, loaded)
  }

  /** The store for volume `uuid`. */
  storeFor(uuid: string): ReservationStore {
    return {
      load: () => this.#loaded.get(uuid) ?? null,
      save: async (state) => {
        if (state === null) await this.dataDir.removeDocument('reservations', uuid)
        else await this.dataDir.writeDocument('reservations', uuid, state)
        if (state === null) this.#loaded.delete(uuid)
        else this.#loaded.set(uuid, state)
      },
    }
  }

  /** A deleted volume's reservations go with it. */
  async remove(uuid: string): Promise<void> {
    await this.dataDir.removeDocument('reservations', uuid)
    this.#loaded.delete(uuid)
  }
}

/** The document's shape, checked field by field; null when anything is off. */
export function validDocument(document: unknown): PersistedReservations | null {
  if (typeof document !== 'object' || document === null) return null
  const value = document as Record<string, unknown>
  if (value.version !== 1) return null
  const generation = value.generation
  if (!Number.isInteger(generation) || (generation as number) < 0) return null
  if ((generation as number) > 0xffff_ffff) return null
  const registrations = value.registrations
  if (!Array.isArray(registrations) || registrations.length > registrationsMax) return null
  if (!registrations.every(validRegistration)) return null
  const reservation = value.reservation
  if (reservation !== null) {
    if (typeof reservation !== 'object' || reservation === undefined) return null
    const { type, holder } = reservation as Record<string, unknown>
    if (!Number.isInteger(type)) return null
    const holderOk =
      holder === null ||
      (Number.isInteger(holder) &&
        (holder as number) >= 0 &&
        (holder as number) < registrations.length)
    if (!holderOk) return null
  }
  return document as PersistedReservations
}

function validRegistration(entry: unknown): boolean {
  if (typeof entry !== 'object' || entry === null) return false
  const r = entry as Record<string, unknown>
  return (
    typeof r.key === 'string' &&
    /^[0-9a-f]{16}$/.test(r.key) &&
    typeof r.initiatorName === 'string' &&
    r.initiatorName.length > 0 &&
    typeof r.isidHex === 'string' &&
    /^[0-9a-f]{12}$/.test(r.isidHex) &&
    typeof r.targetPort === 'string' &&
    Number.isInteger(r.relativeTargetPort)
  )
}
