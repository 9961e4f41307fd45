/**
 * The raw-socket fuzzer's run loop against a live target: episodes (episodes_login.ts,
 * episodes_session.ts) on several connections at once until a budget of malformed PDUs or time
 * is spent; meanwhile a bystander session on another target does verified WRITE/READ with a
 * latency bound (other sessions carry on); every `checkEvery` malformed PDUs the workers pause
 * and a fresh session must log in and run TEST UNIT READY + READ; the daemon's RSS (from /proc)
 * must stay under a bound and the process must be alive at the end. Episode K depends only on
 * (seed, K), so `only: K` replays it alone.
 */
import { Prng } from '../harness/prng.ts'
import { memoryOf, sleep } from '../system/harness.ts'
import type { EpisodeContext } from './episodes_login.ts'
import { loginMistake, preLogin } from './episodes_login.ts'
import { discovery, fullFeature, ordering } from './episodes_session.ts'
import type { Tally } from './fuzz_link.ts'
import { count, FuzzLink, newTally } from './fuzz_link.ts'
import type { Endpoint } from './raw_fuzz_checks.ts'
import { Bystander, healthCheck } from './raw_fuzz_checks.ts'

export interface RawFuzzOptions {
  host: string
  port: number
  /** The target the fuzzer attacks (LUN 0). */
  target: string
  /** Another target for the bystander session's verified I/O; random writes never reach it. */
  bystanderTarget: string
  seed: number
  /** Stop after this many malformed PDUs... */
  pdus: number
  /** ...or this much time, whichever comes first. */
  timeBudgetMs: number
  /** Replay one episode. */
  only: number | null
  workers: number
  /** Malformed PDUs between health checks. */
  checkEvery: number
  /** How long any awaited answer may take before it counts as a hang. */
  timeoutMs: number
  /** The daemon's process id, for RSS and liveness; null skips those checks. */
  pid: number | null
  rssMaxBytes: number
  bystanderLatencyMaxMs: number
  initiatorName: string
  /** Stop early after this many findings. */
  findingsMax: number
}

export const defaultOptions = {
  host: '127.0.0.1',
  seed: 1,
  pdus: 100_000,
  timeBudgetMs: 30 * 60_000,
  only: null,
  workers: 6,
  checkEvery: 5_000,
  timeoutMs: 5_000,
  pid: null,
  rssMaxBytes: 256 * 1024 * 1024,
  bystanderLatencyMaxMs: 2_000,
  initiatorName: 'iqn.2026-11.org.basalt.fuzz:raw',
  findingsMax: 20,
} as const

export type EpisodeKind =
  | 'preLogin'
  | 'loginMistake'
  | 'fullFeature'
  | 'digests'
  | 'ordering'
  | 'discovery'
const episodeWeights: readonly EpisodeKind[] = [
  ...Array<EpisodeKind>(2).fill('preLogin'),
  ...Array<EpisodeKind>(3).fill('loginMistake'),
  ...Array<EpisodeKind>(7).fill('fullFeature'),
  ...Array<EpisodeKind>(3).fill('digests'),
  ...Array<EpisodeKind>(2).fill('ordering'),
  'discovery',
]

export interface RawFuzzSummary {
  seed: number
  ok: boolean
  elapsedS: number
  episodes: number
  byKind: Record<string, number>
  pdusSent: number
  fuzzPdus: number
  malformedPdus: number
  malformedPdusPerS: number
  connections: number
  answers: Record<string, number>
  checks: Record<string, number>
  hangs: number
  healthChecks: number
  bystander: { ios: number; latencyMaxMs: number; relogins: number }
  rss: { beforeMiB: number; afterMiB: number; maxSampledMiB: number; hwmMiB: number } | null
  daemonAlive: boolean | null
  supportedOpcodes: number
  findings: string[]
}

/** Episode K's generator depends only on (seed, K). */
export function episodeRng(seed: number, index: number): Prng {
  return new Prng((seed ^ Math.imul(index + 1, 0x9e37_79b9)) >>> 0).fork()
}

export function episodeKind(prng: Prng): EpisodeKind {
  return prng.pick(episodeWeights)
}

/** Rejects when `promise` outlives `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} took more than ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

export async function runEpisode(
  ctx: EpisodeContext,
  tally: Tally,
  seed: number,
  index: number,
): Promise<EpisodeKind> {
  const prng = episodeRng(seed, index)
  const kind = episodeKind(prng)
  const label = `episode ${index} (${kind})`
  let link: FuzzLink
  try {
    link = await FuzzLink.open(ctx.host, ctx.port, tally, label, ctx.timeoutMs)
  } catch (error) {
    tally.findings.push(`${label}: cannot connect: ${String(error)}`)
    return kind
  }
  try {
    const episode = (async () => {
      if (kind === 'preLogin') await preLogin(link, prng)
      else if (kind === 'loginMistake') await loginMistake(ctx, link, prng)
      else if (kind === 'ordering') await ordering(ctx, link, prng)
      else if (kind === 'discovery') await discovery(ctx, link, prng)
      else await fullFeature(ctx, link, prng, kind === 'digests')
    })()
    await within(ctx.timeoutMs * 6, label, episode)
  } catch (error) {
    // A refused valid login, a connection lost mid-login, an episode past its time bound.
    link.finding(`threw ${String(error)}`)
  } finally {
    link.close()
  }
  return kind
}

const MiB = 1024 * 1024

/** RSS bookkeeping: /proc/PID/status of the daemon (Linux). */
class Memory {
  beforeBytes = 0
  maxSampledBytes = 0
  lastBytes = 0
  hwmBytes = 0

  constructor(readonly pid: number | null) {}

  /** Samples RSS; false when the process is gone. */
  async sample(): Promise<boolean> {
    if (this.pid === null) return true
    try {
      const { rssBytes, hwmBytes } = await memoryOf(this.pid)
      if (this.beforeBytes === 0) this.beforeBytes = rssBytes
      this.lastBytes = rssBytes
      this.hwmBytes = hwmBytes
      this.maxSampledBytes = Math.max(this.maxSampledBytes, rssBytes)
      return true
    } catch {
      return false
    }
  }

  summary(): RawFuzzSummary['rss'] {
    if (this.pid === null) return null
    const mib = (n: number) => Math.round((n / MiB) * 10) / 10
    return {
      beforeMiB: mib(this.beforeBytes),
      afterMiB: mib(this.lastBytes),
      maxSampledMiB: mib(this.maxSampledBytes),
      hwmMiB: mib(this.hwmBytes),
    }
  }
}

interface Run {
  readonly options: RawFuzzOptions
  ctx: EpisodeContext
  readonly tally: Tally
  readonly byKind: Record<string, number>
  readonly memory: Memory
  readonly endpoint: Endpoint
  readonly deadlineMs: number
  healthChecks: number
  nextEpisode: number
}

function spent(run: Run): boolean {
  const { tally, options } = run
  return (
    tally.malformedPdus >= options.pdus ||
    performance.now() > run.deadlineMs ||
    tally.findings.length >= options.findingsMax
  )
}

/** A health check, retried once: a target reset by a just-closed episode may race it. */
async function healthy(run: Run, learn = false): Promise<Set<number>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const supported = await within(
        run.options.timeoutMs * 3,
        'health check',
        healthCheck(run.endpoint, learn),
      )
      run.healthChecks++
      return supported
    } catch (error) {
      if (attempt === 0) {
        count(run.tally.answers, 'healthCheckRetried')
        await sleep(250)
        continue
      }
      run.tally.findings.push(
        `health check after ${run.tally.malformedPdus} malformed PDUs: ${String(error)}`,
      )
      return new Set()
    }
  }
}

/** Workers run episodes until `checkpoint` malformed PDUs; then a health and RSS check. */
async function round(run: Run, checkpoint: number): Promise<void> {
  const worker = async () => {
    while (run.tally.malformedPdus < checkpoint && !spent(run)) {
      const index = run.nextEpisode++
      count(run.byKind, await runEpisode(run.ctx, run.tally, run.options.seed, index))
    }
  }
  await Promise.all(Array.from({ length: run.options.workers }, worker))
  await healthy(run)
  if (!(await run.memory.sample())) run.tally.findings.push('the daemon process is gone')
  else if (run.memory.lastBytes > run.options.rssMaxBytes) {
    const mib = (run.memory.lastBytes / MiB).toFixed(0)
    run.tally.findings.push(
      `daemon RSS ${mib} MiB over the bound after ${run.tally.malformedPdus} malformed PDUs`,
    )
  }
}

export async function runRawFuzz(options: RawFuzzOptions): Promise<RawFuzzSummary> {
  const startMs = performance.now()
  const endpoint = { ...options, timeoutMs: options.timeoutMs }
  const tally = newTally()
  const memory = new Memory(options.pid)
  await memory.sample()
  const run: Run = {
    options,
    ctx: { ...endpoint, supported: new Set() },
    tally,
    byKind: {},
    memory,
    endpoint,
    deadlineMs: startMs + options.timeBudgetMs,
    healthChecks: 0,
    nextEpisode: 0,
  }
  const supported = await healthy(run, true)
  run.ctx = { ...run.ctx, supported }
  const bystander = new Bystander(
    { ...endpoint, target: options.bystanderTarget },
    options.bystanderLatencyMaxMs,
    options.seed,
  )
  bystander.start()
  if (options.only !== null) {
    count(run.byKind, await runEpisode(run.ctx, tally, options.seed, options.only))
    run.nextEpisode = options.only + 1
    await healthy(run)
  } else {
    while (!spent(run)) await round(run, tally.malformedPdus + options.checkEvery)
  }
  await bystander.stop()
  tally.findings.push(...bystander.findings)
  const alive = options.pid === null ? null : await memory.sample()
  if (alive === false) tally.findings.push('the daemon process is gone at the end')
  if (memory.lastBytes > options.rssMaxBytes)
    tally.findings.push(`daemon RSS ${(memory.lastBytes / MiB).toFixed(0)} MiB at the end`)
  return summarize(run, bystander, alive, supported.size, startMs)
}

function summarize(
  run: Run,
  bystander: Bystander,
  alive: boolean | null,
  supportedOpcodes: number,
  startMs: number,
): RawFuzzSummary {
  const { tally } = run
  const elapsedS = (performance.now() - startMs) / 1000
  const sorted = (table: Record<string, number>) =>
    Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)))
  return {
    seed: run.options.seed,
    ok: tally.findings.length === 0 && tally.hangs === 0,
    elapsedS: Math.round(elapsedS * 10) / 10,
    episodes: Object.values(run.byKind).reduce((a, b) => a + b, 0),
    byKind: sorted(run.byKind),
    pdusSent: tally.pdusSent,
    fuzzPdus: tally.fuzzPdus,
    malformedPdus: tally.malformedPdus,
    malformedPdusPerS: Math.round(tally.malformedPdus / elapsedS),
    connections: tally.connections,
    answers: sorted(tally.answers),
    checks: sorted(tally.checks),
    hangs: tally.hangs,
    healthChecks: run.healthChecks,
    bystander: {
      ios: bystander.ios,
      latencyMaxMs: Math.round(bystander.latencyMaxMs),
      relogins: bystander.relogins,
    },
    rss: run.memory.summary(),
    daemonAlive: alive,
    supportedOpcodes,
    findings: tally.findings,
  }
}
