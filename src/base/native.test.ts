import assert from 'node:assert/strict'
import { test } from 'node:test'
import { nativeAddon } from './native.ts'

test('the addon, where built, hands free C-heap pages back and says whether it could', () => {
  if (nativeAddon === undefined) {
    assert.notEqual(process.env.BASALT_NATIVE_REQUIRED, '1', 'native/ was not built')
    return
  }
  // Free some C heap first (Buffers are malloc'd outside V8's heap), then trim it.
  for (let round = 0; round < 64; round += 1) Buffer.alloc(64 * 1024).fill(round)
  const released = nativeAddon.releaseFreeMemory()
  assert.equal(typeof released, 'boolean')
  if (process.platform === 'linux' && process.report?.getReport !== undefined) {
    const header = (process.report.getReport() as { header: { glibcVersionRuntime?: string } })
      .header
    // On glibc the call is malloc_trim; elsewhere it does nothing and says so.
    if (header.glibcVersionRuntime === undefined) assert.equal(released, false)
  }
})
