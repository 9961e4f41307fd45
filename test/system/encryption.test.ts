/**
 * Encrypted volumes on a real daemon (docs/api.md, Encrypted volumes): a recognisable pattern
 * written over iSCSI to an encrypted volume never appears in the pool's files on disk, while the
 * same pattern written to a plain volume does (the oracle that the search can find it); the data
 * read back after a daemon restart on the same data directory (the key persisted, mode 0600);
 * SANITIZE CRYPTOGRAPHIC ERASE then makes the volume read zeros, destroys the old key, and the
 * result survives another restart.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import {
  BasaltDaemon,
  type ExportInfo,
  MiB,
  makeTempDir,
  removeDir,
  splitPortal,
} from './harness.ts'

const blockBytes = 4096
const marker = Buffer.from('basalt-encryption-marker:the quick brown fox jumps over the lazy dog;')
const who = { name: 'iqn.2026-11.org.basalt.test:encryption', isid: '80fedcba9876' }

let dataDir: string | undefined
let daemon: BasaltDaemon | undefined
after(async () => {
  await daemon?.stop()
  if (dataDir !== undefined) await removeDir(dataDir)
})

async function session(volume: ExportInfo): Promise<Initiator> {
  const [host, port] = splitPortal(volume.portal)
  const initiator = await Initiator.connect(host, port)
  const isid = Uint8Array.from(Buffer.from(who.isid, 'hex'))
  await initiator.login({ initiatorName: who.name, targetName: volume.iqn, isid })
  for (let attempt = 0; attempt < 5; attempt++) {
    const tur = await initiator.scsi({ lun: volume.lun, cdb: new Uint8Array(6) })
    if (tur.status === 0) return initiator
  }
  assert.fail('unit attentions never cleared')
}

function patterned(blocks: number): Uint8Array {
  const data = Buffer.alloc(blocks * blockBytes)
  for (let at = 0; at + marker.length <= data.length; at += marker.length) marker.copy(data, at)
  return new Uint8Array(data)
}

async function write(initiator: Initiator, lun: number, data: Uint8Array): Promise<void> {
  const blocks = data.length / blockBytes
  const cdb = Uint8Array.of(0x2a, 0, 0, 0, 0, 0, 0, 0, blocks, 0)
  const result = await initiator.scsi({ lun, cdb, dataOut: data })
  assert.equal(result.status, 0, 'WRITE (10)')
  const sync = await initiator.scsi({ lun, cdb: Uint8Array.of(0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0) })
  assert.equal(sync.status, 0, 'SYNCHRONIZE CACHE (10)')
}

async function read(initiator: Initiator, lun: number, blocks: number): Promise<Uint8Array> {
  const cdb = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, blocks, 0)
  const result = await initiator.scsi({ lun, cdb, expectedDataTransferLength: blocks * blockBytes })
  assert.equal(result.status, 0, 'READ (10)')
  return result.dataIn
}

/** How many times the marker occurs in the files under `directory`. */
function markerHits(directory: string): number {
  let hits = 0
  for (const entry of readdirSync(directory, { recursive: true }) as string[]) {
    const file = join(directory, entry)
    if (!statSync(file).isFile()) continue
    const bytes = readFileSync(file)
    for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + 1)) hits += 1
  }
  return hits
}

async function createVolume(name: string, encrypted: boolean): Promise<ExportInfo> {
  assert.ok(daemon)
  const args = ['volume', 'create', name, '--size', String(16 * MiB), '--block-size', '4096']
  const volume = (await daemon.cli(encrypted ? [...args, '--encrypted'] : args)) as {
    iqn: string
    lun: number
    encrypted: boolean
  }
  assert.equal(volume.encrypted, encrypted)
  return { iqn: volume.iqn, lun: volume.lun, portal: daemon.portal }
}

test('an encrypted volume keeps only ciphertext on disk, through restarts and a crypto erase', async () => {
  dataDir = await makeTempDir('encryption')
  daemon = await BasaltDaemon.start({ dataDir })
  const secret = await createVolume('secret', true)
  const data = patterned(8)
  let initiator = await session(secret)
  await write(initiator, secret.lun, data)
  assert.deepEqual(Buffer.from(await read(initiator, secret.lun, 8)), Buffer.from(data))
  await initiator.logout()
  await daemon.stop()
  daemon = undefined
  assert.equal(markerHits(join(dataDir, 'pool')), 0, 'no plaintext in the pool files')
  const keyring = join(dataDir, 'keys', 'keyring.json')
  assert.equal(statSync(keyring).mode & 0o777, 0o600)
  const keysBefore = Object.values(JSON.parse(readFileSync(keyring, 'utf8')).keys)
  assert.equal(keysBefore.length, 1)

  daemon = await BasaltDaemon.start({ dataDir })
  const plain = await createVolume('plain', false)
  const restarted = { ...secret, portal: daemon.portal }
  initiator = await session(restarted)
  assert.deepEqual(Buffer.from(await read(initiator, secret.lun, 8)), Buffer.from(data))
  const plainSession = await session(plain)
  await write(plainSession, plain.lun, data)
  await plainSession.logout()
  // SBC-4 §4.11.4.4: a new key, the old one destroyed, every block deallocated.
  const erase = Uint8Array.of(0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0)
  assert.equal((await initiator.scsi({ lun: secret.lun, cdb: erase })).status, 0, 'SANITIZE')
  assert.ok((await read(initiator, secret.lun, 8)).every((byte) => byte === 0))
  await initiator.logout()
  await daemon.stop()
  daemon = undefined
  assert.ok(markerHits(join(dataDir, 'pool')) > 0, 'the plain volume is found in the clear')
  const keysAfter = Object.values(JSON.parse(readFileSync(keyring, 'utf8')).keys)
  assert.equal(keysAfter.length, 1)
  assert.notDeepEqual(keysAfter, keysBefore, 'the old key is destroyed')

  daemon = await BasaltDaemon.start({ dataDir })
  initiator = await session({ ...secret, portal: daemon.portal })
  assert.ok(
    (await read(initiator, secret.lun, 8)).every((byte) => byte === 0),
    'still zeros',
  )
  await initiator.logout()
})
