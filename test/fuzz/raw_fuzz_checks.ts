/**
 * The raw fuzzer's checks that the target still serves: a health check (a fresh session logs
 * in and runs TEST UNIT READY + READ CAPACITY(10) + READ(10), SBC-3 §5.16, §5.11) that also
 * learns the supported opcodes from REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35), and the
 * bystander: a session on another target doing verified WRITE(10)/READ(10) pairs all the time,
 * each pair within a latency bound (the "other sessions carry on").
 */

import type { ScsiRequest, ScsiResult } from '../harness/initiator.ts'
import { Initiator } from '../harness/initiator.ts'
import { Prng } from '../harness/prng.ts'
import { sleep } from '../system/harness.ts'
import { senseTriple } from './fuzz_link.ts'
import { parseSupportedOpcodes } from './scsi_cdb_generator.ts'

export interface Endpoint {
  host: string
  port: number
  target: string
  initiatorName: string
  timeoutMs: number
}

const readCapacity10 = Uint8Array.of(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0)
/** START STOP UNIT with START=1 (SBC-3 §5.25): undoes a STOP a fuzzed CDB may have sent. */
const startUnit = Uint8Array.of(0x1b, 0, 0, 0, 0x01, 0)
/** MAINTENANCE IN / REPORT SUPPORTED OPERATION CODES, all commands, 64 KiB. */
const reportSupported = Uint8Array.of(0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0)

/** Runs a command, retrying through UNIT ATTENTION (SAM-5 §5.14) and NOT READY (stopped). */
async function settled(initiator: Initiator, request: ScsiRequest): Promise<ScsiResult> {
  let result = await initiator.scsi(request)
  for (let i = 0; i < 4 && result.status === 2; i++) {
    const key = senseTriple(result.sense)?.[0]
    if (key === 0x2) await initiator.scsi({ cdb: startUnit })
    else if (key !== 0x6) break
    result = await initiator.scsi(request)
  }
  return result
}

async function login(endpoint: Endpoint, suffix: string): Promise<Initiator> {
  const initiator = await Initiator.connect(endpoint.host, endpoint.port, endpoint.timeoutMs)
  try {
    await initiator.login({
      initiatorName: `${endpoint.initiatorName}-${suffix}`,
      targetName: endpoint.target,
      timeoutMs: endpoint.timeoutMs,
    })
    return initiator
  } catch (error) {
    initiator.close()
    throw error
  }
}

/** One health check; returns the supported opcodes when `learn` (else an empty set). */
export async function healthCheck(endpoint: Endpoint, learn: boolean): Promise<Set<number>> {
  const initiator = await login(endpoint, 'health')
  try {
    const ready = await settled(initiator, { cdb: new Uint8Array(6) })
    if (ready.status !== 0) throw new Error(`TEST UNIT READY status ${ready.status}`)
    const capacity = await settled(initiator, {
      cdb: readCapacity10,
      expectedDataTransferLength: 8,
    })
    if (capacity.status !== 0 || capacity.dataIn.length !== 8) throw new Error('READ CAPACITY')
    const view = new DataView(capacity.dataIn.buffer, capacity.dataIn.byteOffset)
    const blockBytes = view.getUint32(4)
    const read10 = Uint8Array.of(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0)
    const read = await settled(initiator, { cdb: read10, expectedDataTransferLength: blockBytes })
    if (read.status !== 0 || read.dataIn.length !== blockBytes) throw new Error('READ(10) failed')
    let supported = new Set<number>()
    if (learn) {
      const rsoc = await settled(initiator, {
        cdb: reportSupported,
        expectedDataTransferLength: 65_535,
      })
      if (rsoc.status === 0) supported = parseSupportedOpcodes(rsoc.dataIn)
    }
    await initiator.logout()
    return supported
  } finally {
    initiator.close()
  }
}

/** Verified I/O on another target for the whole run. */
export class Bystander {
  ios = 0
  latencyMaxMs = 0
  relogins = 0
  readonly findings: string[] = []
  #stopping = false
  #done: Promise<void> = Promise.resolve()
  readonly #prng: Prng

  constructor(
    readonly endpoint: Endpoint,
    readonly latencyBoundMs: number,
    seed: number,
  ) {
    this.#prng = new Prng((seed ^ 0xb5b5_b5b5) >>> 0)
  }

  start(): void {
    this.#done = this.#loop()
  }

  async stop(): Promise<void> {
    this.#stopping = true
    await this.#done
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let initiator: Initiator
      try {
        initiator = await login(this.endpoint, 'bystander')
      } catch (error) {
        this.findings.push(`bystander: login failed: ${String(error)}`)
        await sleep(1_000)
        continue
      }
      try {
        while (!this.#stopping) await this.#pair(initiator)
        await initiator.logout()
      } catch (error) {
        this.findings.push(`bystander: I/O failed after ${this.ios} pairs: ${String(error)}`)
        this.relogins++
        await sleep(200)
      } finally {
        initiator.close()
      }
    }
  }

  /** WRITE(10) 8 blocks of fresh data, READ(10) them back, compare, time both. */
  async #pair(initiator: Initiator): Promise<void> {
    const lba = this.#prng.below(4096)
    const data = this.#prng.bytes(4096)
    const be = [(lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff]
    const startMs = performance.now()
    const timeoutMs = this.endpoint.timeoutMs
    const write = await settled(initiator, {
      cdb: Uint8Array.of(0x2a, 0, ...be, 0, 0, 8, 0),
      dataOut: data,
      timeoutMs,
    })
    if (write.status !== 0) throw new Error(`WRITE(10) status ${write.status}`)
    const read = await settled(initiator, {
      cdb: Uint8Array.of(0x28, 0, ...be, 0, 0, 8, 0),
      expectedDataTransferLength: 4096,
      timeoutMs,
    })
    if (read.status !== 0) throw new Error(`READ(10) status ${read.status}`)
    if (Buffer.compare(read.dataIn, data) !== 0) throw new Error(`data mismatch at LBA ${lba}`)
    const latencyMs = performance.now() - startMs
    this.latencyMaxMs = Math.max(this.latencyMaxMs, latencyMs)
    if (latencyMs > this.latencyBoundMs) {
      this.findings.push(`bystander: WRITE+READ took ${latencyMs.toFixed(0)} ms`)
    }
    this.ios++
    await sleep(5)
  }
}
