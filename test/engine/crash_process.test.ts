/**
 * Crash harness with a real process (issue 4: "an engine process under a random workload with
 * FUA and SYNCHRONIZE CACHE, killed with SIGKILL at random moments, restarted and checked
 * against what was acknowledged"; docs/engine.md §5.5). Each iteration starts
 * crash_worker.ts on a fresh directory (a `Pool` over `FsPoolMedia`), lets it run for a random
 * while, kills it with SIGKILL, then opens the pool here and checks it against the events the
 * worker printed (crash_model.ts): acknowledged-durable writes present unless overwritten, each
 * sector a value the model allows, completed snapshots exact, recount without drift.
 *
 * A kill loses no page-cache data (that is crash_sim.test.ts's power loss); what it catches is
 * a process that dies between any two of the engine's steps: half-written journal records,
 * metadata written before the data it points to, a commit acknowledged before it was written.
 *
 * `BASALT_CRASH_ITERATIONS` (default 200); `npm run crash:long` runs 1000 (docs/crash-testing.md).
 * Replay one: `BASALT_SEED=123`. The worker is bundled once with esbuild (tsx's own dependency)
 * so that each start costs ~50 ms instead of a TypeScript load.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ManualClock } from '../../src/base/clock.ts'
import { FsPoolMedia } from '../../src/storage/engine/media_fs.ts'
import { Pool } from '../../src/storage/engine/pool.ts'
import { Prng } from '../harness/prng.ts'
import { applyEvent, type CrashEvent, CrashModel } from './crash_model.ts'
import { checkRecount } from './pool_driver.ts'

const root = new URL('../..', import.meta.url).pathname
const iterations = Number(process.env.BASALT_CRASH_ITERATIONS ?? 200)
const firstSeed = Number(process.env.BASALT_CRASH_SEED ?? 7000)
const seeds = process.env.BASALT_SEED
  ? [Number(process.env.BASALT_SEED)]
  : Array.from({ length: iterations }, (_, i) => firstSeed + i)

/** The worker as one ESM file under node_modules/.cache (ignored by git), or tsx's loader. */
async function workerCommand(): Promise<string[]> {
  const source = join(root, 'test/engine/crash_worker.ts')
  try {
    const esbuild = await import('esbuild')
    const directory = join(root, 'node_modules/.cache/basalt')
    mkdirSync(directory, { recursive: true })
    const outfile = join(directory, `crash_worker_${process.pid}.mjs`)
    await esbuild.build({
      entryPoints: [source],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile,
      logLevel: 'error',
    })
    return [outfile]
  } catch {
    return ['--import', 'tsx', source]
  }
}

/**
 * A kill loses nothing the page cache holds, so the pool may live in memory (tmpfs), where
 * fdatasync is free and an iteration takes a fraction of the time; BASALT_CRASH_DIR overrides.
 */
const scratchRoot = process.env.BASALT_CRASH_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir())

type WorkerLine = CrashEvent | { e: 'ready' } | { e: 'bug'; message: string }

/** Runs the worker until a random moment after setup, then SIGKILLs it; returns its lines. */
function runWorker(command: string[], directory: string, seed: number, killAfterMs: number) {
  return new Promise<WorkerLine[]>((resolve, reject) => {
    const child = spawn(process.execPath, [...command, directory, String(seed)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let text = ''
    let stderr = ''
    let armed = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      if (!armed && text.includes('{"e":"ready"}')) {
        armed = true
        setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      // Only whole lines count: the kill may cut the last one.
      const lines = text
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as WorkerLine)
      const bug = lines.find((line) => line.e === 'bug')
      if (bug !== undefined && 'message' in bug) return reject(new Error(`worker: ${bug.message}`))
      if (signal !== 'SIGKILL') return reject(new Error(`worker exited ${code}: ${stderr}`))
      resolve(lines)
    })
  })
}

async function iteration(command: string[], seed: number): Promise<number> {
  const prng = new Prng(seed)
  const directory = mkdtempSync(join(scratchRoot, 'basalt-crash-'))
  try {
    const killAfterMs = prng.chance(0.1) ? 0 : prng.between(1, 250)
    const startMs = performance.now()
    const lines = await runWorker(command, directory, seed, killAfterMs)
    const ranMs = performance.now() - startMs
    const model = new CrashModel()
    for (const line of lines) if (line.e !== 'ready' && line.e !== 'bug') applyEvent(model, line)
    const media = await FsPoolMedia.open(directory)
    const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 1 << 30 })
    checkRecount(pool)
    await model.verify(pool)
    await pool.close()
    if (process.env.BASALT_DEBUG) {
      const checkMs = performance.now() - startMs - ranMs
      console.log(
        `seed ${seed}: kill after ${killAfterMs} ms, ran ${ranMs.toFixed(0)} ms, ` +
          `${lines.length} events, checked in ${checkMs.toFixed(0)} ms`,
      )
    }
    return lines.length
  } catch (error) {
    const message = (error as Error).stack ?? String(error)
    assert.fail(`seed ${seed} (replay: BASALT_SEED=${seed}):\n${message}`)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

test(`SIGKILL crash harness: ${seeds.length} kills of an engine process [engine.md §5.5]`, async () => {
  const command = await workerCommand()
  let events = 0
  const startMs = performance.now()
  for (const seed of seeds) events += await iteration(command, seed)
  const seconds = ((performance.now() - startMs) / 1000).toFixed(1)
  console.log(`crash_process: ${seeds.length} iterations, ${events} events, ${seconds} s`)
  assert.ok(events > seeds.length * 3, 'the workers did work before they died')
  if (command.length === 1) rmSync(command[0]!, { force: true })
})
