/**
 * Raw PDU fuzzer against a running target (RFC 7143 §11 framing, §6 login, §7 error handling):
 * random, truncated, oversized, bit-flipped and out-of-order PDUs before login, during login and
 * in full feature phase, over many connections. Every N cases a fresh initiator must still log
 * in and run TEST UNIT READY + READ. Deterministic for a seed; `--only K` replays case K.
 *
 *   node --import tsx test/fuzz/raw_pdu_fuzzer.ts --host 127.0.0.1 --port 3260 \
 *     --target iqn.2026-11.org.basalt:disk --count 100000 --seed 1
 *
 * Exits 1 if the target stopped serving or a valid exchange hung past --case-timeout-ms.
 */
import { parseArgs } from 'node:util'
import { toHex } from '../../src/base/bytes.ts'
import { serializePdu } from '../../src/iscsi/framer.ts'
import { encodePdu } from '../../src/iscsi/pdu/mod.ts'
import { Opcode } from '../../src/iscsi/spec/opcodes.ts'
import { encodeTextData } from '../../src/iscsi/text/key_value.ts'
import { Initiator, InitiatorTimeoutError } from '../harness/initiator.ts'
import { Prng } from '../harness/prng.ts'
import { concat, hostileBytes } from './raw_pdu_generator.ts'
import type { Mutation } from './raw_pdu_generator.ts'

interface Options {
  host: string
  port: number
  target: string
  lun: number
  count: number
  seed: number
  only: number | null
  checkEvery: number
  caseTimeoutMs: number
  quietMs: number
  timeBudgetMs: number
  initiatorName: string
  verbose: boolean
}

type Phase = 'beforeLogin' | 'duringLogin' | 'fullFeature'
type Ending = 'closedByTarget' | 'quiet'

interface Summary {
  cases: number
  byPhase: Record<Phase, number>
  byMutation: Partial<Record<Mutation, number>>
  endings: Record<Ending, number>
  pdusReceived: number
  rejectsReceived: number
  healthChecks: number
  failures: string[]
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '3260' },
      target: { type: 'string' },
      lun: { type: 'string', default: '0' },
      count: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      only: { type: 'string' },
      'check-every': { type: 'string', default: '100' },
      'case-timeout-ms': { type: 'string', default: '5000' },
      'quiet-ms': { type: 'string', default: '60' },
      'time-budget-s': { type: 'string', default: '600' },
      'initiator-name': { type: 'string', default: 'iqn.2026-11.org.basalt.fuzz:initiator' },
      verbose: { type: 'boolean', default: false },
    },
  })
  if (values.target === undefined) throw new Error('--target IQN is required')
  return {
    host: values.host,
    port: Number(values.port),
    target: values.target,
    lun: Number(values.lun),
    count: Number(values.count),
    seed: Number(values.seed) >>> 0,
    only: values.only === undefined ? null : Number(values.only),
    checkEvery: Math.max(1, Number(values['check-every'])),
    caseTimeoutMs: Number(values['case-timeout-ms']),
    quietMs: Number(values['quiet-ms']),
    timeBudgetMs: Number(values['time-budget-s']) * 1000,
    initiatorName: values['initiator-name'],
    verbose: values.verbose,
  }
}

/** Case K's generator depends only on (seed, K), so any case replays alone. */
function caseRng(seed: number, index: number): Prng {
  return new Prng((seed ^ Math.imul(index + 1, 0x9e37_79b9)) >>> 0).fork()
}

/** Rejects when `promise` outlives `ms`: the mark of a hang. */
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

/** Reads until the target closes, or stays quiet for `quietMs`. */
async function drain(initiator: Initiator, options: Options, summary: Summary): Promise<Ending> {
  for (;;) {
    try {
      const pdu = await initiator.nextPdu(options.quietMs)
      if (pdu === null) return 'closedByTarget'
      summary.pdusReceived++
      if (pdu.opcode === Opcode.reject) summary.rejectsReceived++
    } catch (error) {
      if (error instanceof InitiatorTimeoutError) return 'quiet'
      // An undecodable PDU from the target is a target bug worth reporting.
      throw error
    }
  }
}

/** A valid §11.12 Login Request that starts the security stage and asks to move on. */
function firstLoginRequest(options: Options, prng: Prng): Uint8Array {
  const data = encodeTextData([
    ['InitiatorName', options.initiatorName],
    ['TargetName', options.target],
    ['SessionType', 'Normal'],
    ['AuthMethod', 'None'],
  ])
  const pdu = encodePdu({
    opcode: Opcode.loginRequest,
    immediate: true,
    transit: true,
    continue: false,
    currentStage: 0,
    nextStage: 1,
    versionMax: 0,
    versionMin: 0,
    isid: Uint8Array.of(0x80, ...prng.bytes(3), 0, 0),
    tsih: 0,
    initiatorTaskTag: 1,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    data,
  })
  return concat(serializePdu(pdu, { header: false, data: false }))
}

/** Sends 1..4 hostile PDUs; sometimes a valid command out of CmdSN order between them. */
function sendHostile(initiator: Initiator, prng: Prng, summary: Summary, verbose: boolean): void {
  const connection = initiator.connection
  for (let i = prng.between(1, 4); i > 0; i--) {
    const hint = { cmdSN: connection.cmdSN, expStatSN: connection.expStatSN }
    const { mutation, bytes } = hostileBytes(prng, hint, connection.digests)
    summary.byMutation[mutation] = (summary.byMutation[mutation] ?? 0) + 1
    if (verbose)
      console.error(`  ${mutation}: ${toHex(bytes.subarray(0, 48))} (${bytes.length} bytes)`)
    // Split the bytes at a random point so the target's framer sees partial PDUs too.
    const split = prng.below(bytes.length + 1)
    initiator.sendRaw(bytes.subarray(0, split))
    initiator.sendRaw(bytes.subarray(split))
  }
}

async function runCase(options: Options, index: number, summary: Summary): Promise<void> {
  const prng = caseRng(options.seed, index)
  const phase = prng.pick<Phase>(['beforeLogin', 'duringLogin', 'fullFeature', 'fullFeature'])
  summary.byPhase[phase]++
  const initiator = await within(
    options.caseTimeoutMs,
    `case ${index}: connect`,
    Initiator.connect(options.host, options.port, options.caseTimeoutMs),
  )
  try {
    if (phase === 'duringLogin') {
      initiator.sendRaw(firstLoginRequest(options, prng))
      await within(
        options.caseTimeoutMs,
        `case ${index}: first login response`,
        initiator.nextPdu(options.caseTimeoutMs),
      )
    } else if (phase === 'fullFeature') {
      await within(
        options.caseTimeoutMs,
        `case ${index}: login`,
        initiator.login({ initiatorName: options.initiatorName, targetName: options.target }),
      )
    }
    if (options.verbose) console.error(`case ${index}: ${phase}`)
    sendHostile(initiator, prng, summary, options.verbose)
    const ending = await within(
      options.caseTimeoutMs,
      `case ${index}: drain`,
      drain(initiator, options, summary),
    )
    summary.endings[ending]++
  } finally {
    initiator.close()
  }
}

/** A fresh initiator must log in and run TEST UNIT READY + READ CAPACITY(10) + READ(10). */
async function healthCheck(options: Options): Promise<void> {
  const initiator = await Initiator.connect(options.host, options.port, options.caseTimeoutMs)
  try {
    await initiator.login({
      initiatorName: `${options.initiatorName}-health`,
      targetName: options.target,
    })
    const lun = options.lun
    let ready = await initiator.scsi({ lun, cdb: new Uint8Array(6) })
    // SAM-5 §5.14: a new nexus may first see UNIT ATTENTION.
    for (let i = 0; i < 3 && ready.status !== 0; i++)
      ready = await initiator.scsi({ lun, cdb: new Uint8Array(6) })
    if (ready.status !== 0) throw new Error(`TEST UNIT READY status 0x${ready.status.toString(16)}`)
    const capacity = await initiator.scsi({
      lun,
      cdb: Uint8Array.of(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0),
      expectedDataTransferLength: 8,
    })
    if (capacity.status !== 0 || capacity.dataIn.length !== 8)
      throw new Error('READ CAPACITY failed')
    const blockBytes = new DataView(capacity.dataIn.buffer, capacity.dataIn.byteOffset).getUint32(4)
    const read = await initiator.scsi({
      lun,
      cdb: Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0),
      expectedDataTransferLength: blockBytes,
    })
    if (read.status !== 0 || read.dataIn.length !== blockBytes) throw new Error('READ(10) failed')
    await initiator.logout()
  } finally {
    initiator.close()
  }
}

async function main(): Promise<number> {
  const options = parseOptions()
  const summary: Summary = {
    cases: 0,
    byPhase: { beforeLogin: 0, duringLogin: 0, fullFeature: 0 },
    byMutation: {},
    endings: { closedByTarget: 0, quiet: 0 },
    pdusReceived: 0,
    rejectsReceived: 0,
    healthChecks: 0,
    failures: [],
  }
  const startMs = performance.now()
  const indices = options.only === null ? [...Array(options.count).keys()] : [options.only]
  let budgetExhausted = false
  for (const index of indices) {
    if (performance.now() - startMs > options.timeBudgetMs) {
      budgetExhausted = true
      break
    }
    try {
      await runCase(options, index, summary)
    } catch (error) {
      summary.failures.push(`case ${index}: ${String(error)}`)
      if (!(await healthy(options, summary))) break
    }
    summary.cases++
    if (options.verbose) console.error(`case ${index} done`)
    if (summary.cases % options.checkEvery === 0 && !(await healthy(options, summary))) break
  }
  if (summary.failures.length === 0) await healthy(options, summary)
  const elapsedS = ((performance.now() - startMs) / 1000).toFixed(1)
  console.log(
    JSON.stringify({ seed: options.seed, elapsedS, budgetExhausted, ...summary }, null, 2),
  )
  if (summary.failures.length > 0) {
    console.error(`FAILED: replay with --seed ${options.seed} --only <case>`)
    return 1
  }
  return 0
}

async function healthy(options: Options, summary: Summary): Promise<boolean> {
  try {
    await within(options.caseTimeoutMs * 2, 'health check', healthCheck(options))
    summary.healthChecks++
    return true
  } catch (error) {
    summary.failures.push(`health check after ${summary.cases} cases: ${String(error)}`)
    return false
  }
}

process.exitCode = await main()
