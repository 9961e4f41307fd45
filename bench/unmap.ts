/**
 * `npm run bench:unmap`: UNMAP of a whole thin volume (issue 3, "Speed": a 100 GiB volume in
 * under a second), Basalt and tgt side by side in one run. Each target gets a thin volume of
 * `--gib` GiB (Basalt: an engine volume; tgt: a sparse file with thin_provisioning=1, whose UNMAP
 * punches holes), written by qemu-img over iSCSI with `--data-gib` GiB from LBA 0 in 1 MiB writes
 * plus one 4 KiB write every `--gib`/4096 across the whole volume, so the map to undo spans the
 * address space. Then one qemu-io process (a real initiator, libiscsi underneath, which splits
 * each discard by the target's VPD B0h limits) discards the volume in 1 GiB requests; the figure
 * is the sum of qemu-io's own per-request times, and the process's wall time (with its login) is
 * shown beside it. Reads of zeros at both ends and in the middle check the result, and the data
 * directory's allocated bytes (du) are taken before, right after, and once the target has given
 * the space back (Basalt punches freed slots after a delay; see storage/engine/allocator.ts).
 *
 * Flags: --targets basalt,tgt   --gib 100   --data-gib 4
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import {
  GiB,
  iscsiUrl,
  MiB,
  makeTempDir,
  removeDir,
  run,
  runOk,
  TgtDaemon,
} from '../test/system/harness.ts'
import { kindsOf, machine, type Started, startAll, stopAll } from './targets.ts'

/** A discard request: qemu-io takes less than 2 GiB per request. */
const requestBytes = GiB
/** Scattered writes: one per this many parts of the volume. */
const scatteredWrites = 4096
/** How long to wait for the data directory to shrink after the discard. */
const settleMs = 30_000

interface Result {
  readonly kind: string
  readonly discardSeconds: number
  readonly wallSeconds: number
  readonly requests: number
  readonly duBefore: number
  readonly duAfter: number
  readonly duSettled: number
  readonly settledAfterSeconds: number
  readonly zerosChecked: boolean
}

function options() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: 'basalt,tgt' },
      gib: { type: 'string', default: '100' },
      'data-gib': { type: 'string', default: '4' },
    },
  })
  return {
    kinds: kindsOf(values.targets),
    volumeBytes: Number(values.gib) * GiB,
    dataBytes: Number(values['data-gib']) * GiB,
  }
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

async function allocatedBytes(directory: string): Promise<number> {
  const result = await runOk('du', ['-s', '--block-size=1', directory])
  return Number(result.stdout.split(/\s/)[0])
}

/** Sequential data from LBA 0, then one 4 KiB write per 1/4096 of the volume. */
async function fill(url: string, volumeBytes: number, dataBytes: number): Promise<void> {
  const bench = ['bench', '-f', 'raw', '-w', '-t', 'none', '-d', '16', '--pattern=90']
  await runOk('qemu-img', [...bench, '-s', '1M', '-c', String(dataBytes / MiB), url], {
    timeoutMs: 600_000,
  })
  const stride = Math.floor(volumeBytes / scatteredWrites / 4096) * 4096
  const scattered = ['-s', '4K', '-S', String(stride), '-c', String(scatteredWrites)]
  await runOk('qemu-img', [...bench, ...scattered, url], { timeoutMs: 600_000 })
}

/** qemu-io's "N ops; TIME sec (… and R ops/sec)": one request's time is 1/R. */
function requestSeconds(output: string): number[] {
  return [...output.matchAll(/and ([\d.]+) ops\/sec/g)].map((match) => 1 / Number(match[1]))
}

async function discardAll(url: string, volumeBytes: number) {
  const commands: string[] = []
  for (let offset = 0; offset < volumeBytes; offset += requestBytes) {
    const length = Math.min(requestBytes, volumeBytes - offset)
    commands.push('-c', `discard ${offset} ${length}`)
  }
  const started = performance.now()
  const result = await runOk('qemu-io', ['-f', 'raw', '-d', 'unmap', ...commands, url], {
    timeoutMs: 600_000,
  })
  const wallSeconds = (performance.now() - started) / 1000
  const times = requestSeconds(result.stdout)
  if (times.length !== commands.length / 2) throw new Error(`qemu-io said:\n${result.stdout}`)
  return {
    seconds: times.reduce((sum, time) => sum + time, 0),
    wallSeconds,
    requests: times.length,
  }
}

async function readsZeros(url: string, volumeBytes: number): Promise<boolean> {
  const middle = Math.floor(volumeBytes / 2 / MiB) * MiB
  const reads = [`read -P 0 0 1M`, `read -P 0 ${middle} 1M`, `read -P 0 ${volumeBytes - MiB} 1M`]
  const result = await run('qemu-io', ['-f', 'raw', ...reads.flatMap((c) => ['-c', c]), url])
  return result.code === 0 && !/Pattern verification failed/.test(result.stdout)
}

async function settle(directory: string, before: number): Promise<[number, number]> {
  const started = performance.now()
  let bytes = await allocatedBytes(directory)
  while (performance.now() - started < settleMs && bytes > before / 100) {
    await new Promise((wake) => setTimeout(wake, 1000))
    bytes = await allocatedBytes(directory)
  }
  return [bytes, (performance.now() - started) / 1000]
}

async function measure(started: Started, volumeBytes: number, dataBytes: number) {
  const { kind, target, volume } = started
  // tgt's UNMAP (a hole punched in the file) is off unless the LU is thin (tgtadm --params).
  if (target instanceof TgtDaemon) {
    const lu = ['--mode', 'logicalunit', '--op', 'update', '--tid', '1', '--lun', '1']
    await target.adm([...lu, '--params', 'thin_provisioning=1'])
  }
  const url = iscsiUrl(volume)
  log(`${kind}: writing ${dataBytes / GiB} GiB and ${scatteredWrites} scattered blocks`)
  await fill(url, volumeBytes, dataBytes)
  const duBefore = await allocatedBytes(target.dataDir)
  log(`${kind}: discarding ${volumeBytes / GiB} GiB`)
  const discard = await discardAll(url, volumeBytes)
  const duAfter = await allocatedBytes(target.dataDir)
  const [duSettled, settledAfterSeconds] = await settle(target.dataDir, duBefore)
  const zerosChecked = await readsZeros(url, volumeBytes)
  return {
    kind,
    discardSeconds: discard.seconds,
    wallSeconds: discard.wallSeconds,
    requests: discard.requests,
    duBefore,
    duAfter,
    duSettled,
    settledAfterSeconds,
    zerosChecked,
  }
}

function table(results: readonly Result[], volumeBytes: number): string {
  const gib = (bytes: number) => (bytes / GiB).toFixed(2)
  const rows = [
    [
      `UNMAP of the whole ${volumeBytes / GiB} GiB volume: s (target < 1)`,
      (r: Result) => r.discardSeconds.toFixed(3),
    ],
    ['qemu-io wall time, login included: s', (r: Result) => r.wallSeconds.toFixed(3)],
    ['discard requests (1 GiB each)', (r: Result) => String(r.requests)],
    ['data directory before: GiB', (r: Result) => gib(r.duBefore)],
    ['data directory right after: GiB', (r: Result) => gib(r.duAfter)],
    [
      'data directory settled: GiB (after s)',
      (r: Result) => `${gib(r.duSettled)} (${r.settledAfterSeconds.toFixed(0)})`,
    ],
    ['reads return zeros after', (r: Result) => (r.zerosChecked ? 'yes' : '**no**')],
  ] as const
  const lines = [
    `| figure | ${results.map((r) => r.kind).join(' | ')} |`,
    `| --- | ${results.map(() => '---:').join(' | ')} |`,
  ]
  for (const [name, cell] of rows) lines.push(`| ${name} | ${results.map(cell).join(' | ')} |`)
  return lines.join('\n')
}

async function main(): Promise<void> {
  const o = options()
  const date = new Date().toISOString()
  const sharedDir = await makeTempDir('bench-unmap')
  const results: Result[] = []
  try {
    for (const kind of o.kinds) {
      // One target at a time: the other's writeback must not run during the measured discard.
      const started = await startAll([kind], sharedDir, 'unmap', o.volumeBytes)
      try {
        results.push(await measure(started[0]!, o.volumeBytes, o.dataBytes))
      } finally {
        await stopAll(started)
      }
    }
  } finally {
    await removeDir(sharedDir)
  }
  const loadAtEnd = loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')
  process.stdout.write(`${JSON.stringify({ date, ...machine(), loadAtEnd })}\n\n`)
  process.stdout.write(`${table(results, o.volumeBytes)}\n`)
}

await main()
