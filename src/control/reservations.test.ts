import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { silentLogger } from '../base/log.ts'
import type { PersistedReservations } from '../scsi/reservations.ts'
import { ReservationFiles, validDocument } from './reservations.ts'
import { DataDir } from './store.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-reservations-'))
after(() => rmSync(root, { recursive: true, force: true }))

const uuid = '0123456789abcdef0123456789abcdef'
const state: PersistedReservations = {
  version: 1,
  generation: 4,
  registrations: [
    {
      key: '00000000000000a1',
      initiatorName: 'iqn.2026-11.org.example:host',
      isidHex: '000000000001',
      targetPort: 'iqn.2026-11.org.basalt:vol,t,0x0001',
      relativeTargetPort: 1,
    },
  ],
  reservation: { type: 1, holder: 0 },
}

test('ReservationFiles: saved state is there after reopening; null removes it [SPC-4 §5.9.4]', async () => {
  const path = join(root, 'a')
  let dir = await DataDir.open(path)
  let files = await ReservationFiles.open(dir, silentLogger)
  assert.equal(files.storeFor(uuid).load(), null)
  await files.storeFor(uuid).save(state)
  assert.deepEqual(readdirSync(join(path, 'reservations')), [`${uuid}.json`])
  await dir.release()
  dir = await DataDir.open(path)
  files = await ReservationFiles.open(dir, silentLogger)
  assert.deepEqual(files.storeFor(uuid).load(), state)
  await files.storeFor(uuid).save(null)
  assert.deepEqual(readdirSync(join(path, 'reservations')), [])
  await files.storeFor(uuid).save(state)
  await files.remove(uuid)
  assert.deepEqual(readdirSync(join(path, 'reservations')), [])
  await dir.release()
})

test('ReservationFiles: a damaged file is ignored, not fatal', async () => {
  const path = join(root, 'b')
  let dir = await DataDir.open(path)
  await (await ReservationFiles.open(dir, silentLogger)).storeFor(uuid).save(state)
  await dir.release()
  writeFileSync(join(path, 'reservations', `${uuid}.json`), '{"version":1,')
  dir = await DataDir.open(path)
  const files = await ReservationFiles.open(dir, silentLogger)
  assert.equal(files.storeFor(uuid).load(), null)
  await dir.release()
})

test('validDocument: refuses wrong shapes', () => {
  assert.deepEqual(validDocument(state), state)
  for (const bad of [
    null,
    { ...state, version: 2 },
    { ...state, generation: -1 },
    { ...state, registrations: [{ ...state.registrations[0], key: 'zz' }] },
    { ...state, reservation: { type: 1, holder: 3 } },
    { ...state, registrations: 'x' },
  ])
    assert.equal(validDocument(bad), null)
})
