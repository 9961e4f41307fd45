/**
 * GET/PUT /api/v1/pool/settings through fastify's inject(): the soft threshold is validated,
 * persisted in DATA/settings/pool.json, applied to the unit directory, and read back after a
 * restart; and `basalt pool set --soft-threshold` parses what it sends.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import { parseSoftThreshold } from '../cli/pool_settings_commands.ts'
import { MemoryEngine } from '../control/memory_engine.ts'
import { PoolSettingsFile } from '../control/pool_settings.ts'
import { DataDir } from '../control/store.ts'
import { logicalUnitFactory } from '../control/targets.ts'
import { UnitDirectory } from '../control/unit_directory.ts'
import { VolumeRegistry } from '../control/volumes.ts'
import { buildApi } from './server.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-pool-settings-'))
after(() => rmSync(root, { recursive: true, force: true }))

async function open() {
  const dataDir = await DataDir.open(root)
  const clock = new ManualClock()
  const directory = new UnitDirectory()
  const poolSettings = await PoolSettingsFile.open(dataDir, directory)
  const registry = await VolumeRegistry.open({
    dataDir,
    iqnBase: 'iqn.2026-11.org.basalt',
    clock,
    logger: silentLogger,
    unitFactory: logicalUnitFactory(clock, null, { directory, sanitize: null }),
    engine: new MemoryEngine(clock),
  })
  const app = buildApi({
    registry,
    authenticate: (presented) => dataDir.tokenMatches(presented),
    logger: silentLogger,
    version: '0.1.0-test',
    poolSettings,
  })
  const close = async () => {
    await app.close()
    await registry.close()
    await dataDir.release()
  }
  return { app, directory, token: dataDir.token, close }
}

test('pool settings: set, validate, persist across a restart [SBC-3 §4.7.3.6]', async () => {
  const first = await open()
  const headers = { authorization: `Bearer ${first.token}` }
  const shown = await first.app.inject({ method: 'GET', url: '/api/v1/pool/settings', headers })
  assert.deepEqual(shown.json(), { softThresholdPercent: null })
  const set = await first.app.inject({
    method: 'PUT',
    url: '/api/v1/pool/settings',
    headers,
    payload: { softThresholdPercent: 80 },
  })
  assert.equal(set.statusCode, 200)
  assert.deepEqual(set.json(), { softThresholdPercent: 80 })
  assert.equal(first.directory.softThresholdPercent, 80)
  for (const wrong of [0, 101, 50.5, '80']) {
    const refused = await first.app.inject({
      method: 'PUT',
      url: '/api/v1/pool/settings',
      headers,
      payload: { softThresholdPercent: wrong },
    })
    assert.equal(refused.statusCode, 400, `refuses ${wrong}`)
  }
  await first.close()
  const second = await open()
  assert.equal(second.directory.softThresholdPercent, 80, 'read back after a restart')
  await second.close()
})

test('basalt pool set --soft-threshold: percent or off', () => {
  assert.equal(parseSoftThreshold('80'), 80)
  assert.equal(parseSoftThreshold('80%'), 80)
  assert.equal(parseSoftThreshold('off'), null)
  for (const wrong of ['0', '101', '-5', 'eighty', ''])
    assert.throws(() => parseSoftThreshold(wrong))
})
