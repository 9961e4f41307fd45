/**
 * Pool settings that outlive the daemon: the thin-provisioning soft threshold (SBC-3 §4.7.3.6),
 * in DATA/settings/pool.json as `{ "softThresholdPercent": 80 }` (or null: no threshold). Applied
 * to the UnitDirectory, which compares the pool against it on every daemon tick.
 */
import { SanError } from '../base/errors.ts'
import type { DataDir } from './store.ts'
import type { UnitDirectory } from './unit_directory.ts'

export interface PoolSettings {
  readonly softThresholdPercent: number | null
}

export function validSoftThreshold(value: unknown): value is number | null {
  return (
    value === null ||
    (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 100)
  )
}

export class PoolSettingsFile {
  private constructor(
    private readonly dataDir: DataDir,
    private readonly directory: UnitDirectory,
  ) {}

  /** Reads the settings (defaults when absent or invalid) and applies them to `directory`. */
  static async open(dataDir: DataDir, directory: UnitDirectory): Promise<PoolSettingsFile> {
    const document = (await dataDir.readDocuments('settings')).get('pool')
    const percent = (document as { softThresholdPercent?: unknown } | undefined)
      ?.softThresholdPercent
    directory.setSoftThreshold(validSoftThreshold(percent) ? percent : null)
    return new PoolSettingsFile(dataDir, directory)
  }

  get(): PoolSettings {
    return { softThresholdPercent: this.directory.softThresholdPercent }
  }

  /** Persists, then applies, a new soft threshold (percent 1..100, or null for none). */
  async setSoftThreshold(percent: number | null): Promise<PoolSettings> {
    if (!validSoftThreshold(percent)) {
      throw new SanError('INVALID_ARGUMENT', 'the soft threshold is a whole percentage 1..100')
    }
    await this.dataDir.writeDocument('settings', 'pool', { softThresholdPercent: percent })
    this.directory.setSoftThreshold(percent)
    return this.get()
  }
}
