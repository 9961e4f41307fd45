/**
 * The unit directory (unit_directory.ts) as the EXTENDED COPY targets (SPC-4 §6.3.6.2): a unit
 * resolves by its NAA designator while exported and not after it left; a stale unit object never
 * takes out the one that replaced it under the same designator.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeUnit } from '../scsi/testing/initiator.ts'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { UnitDirectory } from './unit_directory.ts'

const volumeUuid = '66666666666666666666666666666666'
const viewUuid = '77777777777777777777777777777777'

test('UnitDirectory: a removed unit no longer resolves; the others do [SPC-4 §6.3.6.2]', () => {
  const directory = new UnitDirectory()
  const volume = makeUnit(new MemoryBlockDevice(512, 64), volumeUuid)
  const view = makeUnit(new MemoryBlockDevice(512, 64), viewUuid)
  directory.add(volume)
  directory.add(view)
  assert.equal(directory.size, 2)
  assert.equal(directory.byNaa(view.naaDesignator), view)
  directory.remove(view)
  assert.equal(directory.byNaa(view.naaDesignator), null, 'gone with its export')
  assert.equal(directory.byNaa(Uint8Array.from(view.naaDesignator)), null, 'by value too')
  assert.equal(directory.byNaa(volume.naaDesignator), volume)
  assert.equal(directory.size, 1)
  directory.remove(view)
  assert.equal(directory.size, 1, 'removing twice changes nothing')
})

test('UnitDirectory: a stale unit with the same designator does not remove its successor', () => {
  const directory = new UnitDirectory()
  const old = makeUnit(new MemoryBlockDevice(512, 64), volumeUuid)
  const successor = makeUnit(new MemoryBlockDevice(512, 64), volumeUuid)
  directory.add(old)
  directory.add(successor)
  directory.remove(old)
  assert.equal(directory.byNaa(successor.naaDesignator), successor)
  directory.remove(successor)
  assert.equal(directory.size, 0)
})
