/**
 * `basalt pool settings` and `basalt pool set --soft-threshold <percent|off>` (docs/api.md): the
 * thin-provisioning soft threshold, one REST call each (GET/PUT /api/v1/pool/settings).
 */
import type { Command } from 'commander'
import { CliFailure, request } from './client.ts'
import type { Runner } from './main.ts'

interface PoolSettings {
  readonly softThresholdPercent: number | null
}

function settingsText(settings: PoolSettings): string {
  const threshold = settings.softThresholdPercent
  return `soft-threshold: ${threshold === null ? 'off' : `${threshold}%`}\n`
}

/** "80", "80%" or "off"; anything else is refused before the daemon is asked. */
export function parseSoftThreshold(text: string): number | null {
  if (text === 'off') return null
  const match = /^(\d{1,3})%?$/.exec(text)
  const percent = match === null ? Number.NaN : Number(match[1])
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new CliFailure(
      'INVALID_ARGUMENT',
      `--soft-threshold: 1..100 (percent) or off, not ${text}`,
    )
  }
  return percent
}

export function addPoolSettingsCommands(pool: Command, run: Runner): void {
  pool
    .command('settings')
    .description('the pool settings: the thin-provisioning soft threshold')
    .action(
      run(async (connection) => {
        const settings = await request<PoolSettings>(connection, 'GET', '/api/v1/pool/settings')
        return { json: settings, human: settingsText(settings) }
      }),
    )
  pool
    .command('set')
    .description('change pool settings')
    .requiredOption(
      '--soft-threshold <percent>',
      'raise THIN PROVISIONING SOFT THRESHOLD REACHED on every LUN when the pool is this full ' +
        '(1..100, or off)',
    )
    .action(
      run(async (connection, options: { softThreshold: string }) => {
        const body = { softThresholdPercent: parseSoftThreshold(options.softThreshold) }
        const path = '/api/v1/pool/settings'
        const settings = await request<PoolSettings>(connection, 'PUT', path, body)
        return { json: settings, human: settingsText(settings) }
      }),
    )
}
