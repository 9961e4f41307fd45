/**
 * The engine process that crash_process.test.ts kills: opens a `Pool` over `FsPoolMedia` in the
 * directory it is given, runs the crash workload (crash_driver.ts) for ever with FUA writes and
 * flushes, and prints each event (issued, acknowledged) as one JSON line on stdout, written
 * synchronously before the operation starts or right after it is acknowledged, so that the
 * parent knows everything the disk may hold. A line `ready` follows setup.
 *
 * Usage: node crash_worker.js DIRECTORY SEED [fresh|resume]
 */
import { writeSync } from 'node:fs'
import { ManualClock } from '../../src/base/clock.ts'
import { FsPoolMedia } from '../../src/storage/engine/media_fs.ts'
import { Pool } from '../../src/storage/engine/pool.ts'
import { Prng } from '../harness/prng.ts'
import { CrashDriver } from './crash_driver.ts'
import type { CrashEvent } from './crash_model.ts'

function emit(event: CrashEvent | { e: 'ready' } | { e: 'bug'; message: string }): void {
  writeSync(1, `${JSON.stringify(event)}\n`)
}

async function main(): Promise<void> {
  const [directory, seedText] = process.argv.slice(2)
  if (directory === undefined || seedText === undefined) throw new Error('usage: DIR SEED')
  const prng = new Prng(Number(seedText))
  const clock = new ManualClock()
  const media = await FsPoolMedia.open(directory)
  const pool = await Pool.open({ media, clock, capacityBytes: 1 << 30 })
  const driver = new CrashDriver(pool, prng, emit)
  await driver.setup()
  emit({ e: 'ready' })
  for (let step = 0; ; step++) {
    await driver.step()
    clock.advanceMs(prng.between(0, 40))
    pool.tick()
    if (driver.bugs.length > 0) {
      emit({ e: 'bug', message: String((driver.bugs[0] as Error).stack ?? driver.bugs[0]) })
      process.exit(3)
    }
    // Let real I/O complete now and then, so that the workload does not only pile up.
    if (step % 4 === 3) await new Promise((resolve) => setImmediate(resolve))
  }
}

main().catch((error: unknown) => {
  emit({ e: 'bug', message: String((error as Error).stack ?? error) })
  process.exit(2)
})
