/**
 * The SANITIZE journal (scsi/sbc/sanitize_state.ts `SanitizeJournal`): DATA/sanitize/UUID.json
 * exists while a volume's SANITIZE is incomplete (written atomically before the first block
 * changes, removed when the sanitize completes). At start every document is read: a volume with
 * one comes up in the sanitize failed state (SBC-3 §4.11.3), so a restart mid-sanitize never
 * leaves a half-sanitized volume serving reads as if nothing happened; a new SANITIZE, or EXIT
 * FAILURE MODE when the interrupted one had AUSE=1, ends the state. A document that does not
 * validate counts as an incomplete sanitize without AUSE (the safe reading).
 */
import type { Logger } from '../base/log.ts'
import type { SanitizeIncomplete, SanitizeJournal } from '../scsi/sbc/sanitize_state.ts'
import type { DataDir } from './store.ts'

export class SanitizeFiles {
  readonly #loaded: Map<string, SanitizeIncomplete>

  private constructor(
    private readonly dataDir: DataDir,
    loaded: Map<string, SanitizeIncomplete>,
  ) {
    this.#loaded = loaded
  }

  static async open(dataDir: DataDir, logger: Logger): Promise<SanitizeFiles> {
    const loaded = new Map<string, SanitizeIncomplete>()
    for (const [uuid, document] of await dataDir.readDocuments('sanitize')) {
      const ause =
        typeof document === 'object' &&
        document !== null &&
        (document as { ause?: unknown }).ause === true
      logger.warn('volume starts in the sanitize failed state: a SANITIZE did not complete', {
        uuid,
      })
      loaded.set(uuid, { ause })
    }
    return new SanitizeFiles(dataDir, loaded)
  }

  journalFor(uuid: string): SanitizeJournal {
    return {
      initial: this.#loaded.get(uuid) ?? null,
      record: async (state) => {
        if (state === null) await this.dataDir.removeDocument('sanitize', uuid)
        else await this.dataDir.writeDocument('sanitize', uuid, { ause: state.ause })
        if (state === null) this.#loaded.delete(uuid)
        else this.#loaded.set(uuid, state)
      },
    }
  }

  async remove(uuid: string): Promise<void> {
    await this.dataDir.removeDocument('sanitize', uuid)
    this.#loaded.delete(uuid)
  }
}
