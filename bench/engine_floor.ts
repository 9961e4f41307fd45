/**
 * The engine bench's "kernel floor" step: what the machine charges, with no engine in the way,
 * for the two write patterns the first-pass row compares (docs/benchmarks.md, session 11). It
 * builds bench/probes/writeback.c with gcc and runs it in the pool's directory (same filesystem)
 * twice: overwrites of dirty pages (the steady state before a snapshot) and writes into holes
 * (a redirected write into a fresh slot), each with an fdatasync every 250 ms as the pool's
 * commits do while records that map new data are pending. Informative rows, no target: they
 * say how much of the first pass's gap the filesystem alone accounts for on this machine.
 */
import path from 'node:path'
import { repoRoot, runOk } from '../test/system/harness.ts'
import type { Bench } from './engine_cases.ts'
import { log } from './engine_kit.ts'

interface ProbeResult {
  readonly writerUs: number
  readonly machineUs: number
}

const syncIntervalMs = 250

export async function kernelFloor(b: Bench): Promise<void> {
  const binary = path.join(b.directory, '.writeback-probe')
  const source = path.join(repoRoot, 'bench', 'probes', 'writeback.c')
  try {
    await runOk('gcc', ['-O2', '-pthread', '-o', binary, source])
  } catch (error) {
    log(`kernel floor: gcc failed, step skipped (${String(error).split('\n')[0]})`)
    return
  }
  const probe = async (mode: string): Promise<ProbeResult> => {
    const file = path.join(b.directory, '.writeback-probe.bin')
    const args = [file, mode, String(syncIntervalMs)]
    const { stdout } = await runOk(binary, args, { timeoutMs: 300_000 })
    log(`kernel floor: ${stdout.trim()}`)
    return parseProbe(stdout)
  }
  const overwrite = await probe('cached')
  const hole = await probe('holes')
  b.raw['floor.writeback'] = { syncIntervalMs, overwrite, hole }
  const row = (figure: string, pick: (r: ProbeResult) => number) => {
    const ratio = pick(overwrite) / pick(hole)
    b.rows.push({
      figure: `kernel alone (bench/probes/writeback.c), ${figure}: overwrite / hole, ratio`,
      measured: `${pick(overwrite).toFixed(2)} / ${pick(hole).toFixed(2)} µs (${(ratio * 100).toFixed(0)} %)`,
      target: '(context for the first pass; no target)',
      pass: null,
    })
  }
  row('writer CPU per 4 KiB write', (r) => r.writerUs)
  row(`machine CPU per 4 KiB write, fdatasync every ${syncIntervalMs} ms`, (r) => r.machineUs)
}

/** The probe's line: "... writer cpu A, syncer cpu B, machine busy C (final sync D ms)". */
export function parseProbe(line: string): ProbeResult {
  const writer = /writer cpu\s+([\d.]+)/.exec(line)
  const machine = /machine busy\s+([\d.]+)/.exec(line)
  if (writer === null || machine === null) throw new Error(`unexpected probe output: ${line}`)
  return { writerUs: Number(writer[1]), machineUs: Number(machine[1]) }
}
