/**
 * `node --import tsx bench/layers.ts [--commands N] [--rounds R] [--device memory|file|engine]
 * [--op read|write] [--blocks B]`: the CPU
 * cost of Basalt's own iSCSI and SCSI layers per command, without sockets or initiator. One
 * sans-IO `Connection` over one logical unit (in memory, test/harness/memory_target.ts, or a
 * 64 MiB FileBlockDevice volume in the temp directory, page-cache hot) logs in, then runs
 * READ(16)s of B 4 KiB blocks (default 1), or 4 KiB WRITE(16)s with their data as immediate
 * data, at queue depth 1, after a login that declares libiscsi's MaxRecvDataSegmentLength: each
 * command's bytes go in through `receive`, and the next
 * is sent once the response has been written to the transport. Prints the process's CPU time
 * (user + system, so that waiting for a busy machine does not count) per command for each round,
 * then the median and the best (the machine is shared; the best is the least disturbed).
 * This is the part of a QD 1 round trip that only our code decides (the file device adds one
 * `pread`); run.ts measures the whole of it against tgt.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ManualClock, RealClock } from '../src/base/clock.ts'
import { silentLogger } from '../src/base/log.ts'
import type { TargetCatalog } from '../src/iscsi/catalog.ts'
import { serializePdu } from '../src/iscsi/framer.ts'
import { resolveLimits } from '../src/iscsi/limits.ts'
import { encodePdu } from '../src/iscsi/pdu/mod.ts'
import type { Pdu, ScsiCommand } from '../src/iscsi/pdu/types.ts'
import { offerFromLimits } from '../src/iscsi/portal.ts'
import { Connection } from '../src/iscsi/session/connection.ts'
import { SessionRegistry } from '../src/iscsi/session/registry.ts'
import { isid, loginRequest } from '../src/iscsi/session/testing.ts'
import { Opcode } from '../src/iscsi/spec/opcodes.ts'
import type { BlockDevice } from '../src/scsi/block_device.ts'
import { LogicalUnit } from '../src/scsi/logical_unit.ts'
import { UnitGroup } from '../src/scsi/unit_group.ts'
import { FsPoolMedia } from '../src/storage/engine/media_fs.ts'
import { Pool } from '../src/storage/engine/pool.ts'
import { FileBlockDevice } from '../src/storage/file_device.ts'
import { defaultIqn, memoryCatalog } from '../test/harness/memory_target.ts'

const blockBytes = 4096
const blockCount = (64 * 1024 * 1024) / blockBytes
const noDigests = { header: false, data: false }

interface Options {
  commands: number
  rounds: number
  device: string
  op: string
  blocks: number
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      commands: { type: 'string', default: '200000' },
      rounds: { type: 'string', default: '7' },
      device: { type: 'string', default: 'memory' },
      op: { type: 'string', default: 'read' },
      blocks: { type: 'string', default: '1' },
    },
  })
  const { commands, rounds, device, op, blocks } = values
  if (op !== 'read' && op !== 'write') throw new Error(`--op read|write, not ${op}`)
  if (op === 'write' && blocks !== '1') throw new Error('--blocks applies to reads')
  return { commands: Number(commands), rounds: Number(rounds), device, op, blocks: Number(blocks) }
}

/** One unit over a file volume, or an engine volume in a pool, written once so reads hit data. */
async function fileCatalog(directory: string, engine: boolean): Promise<TargetCatalog> {
  const file = engine
    ? await (
        await Pool.open({ media: await FsPoolMedia.open(directory), clock: new RealClock() })
      ).createVolume('v', blockBytes, blockCount)
    : await FileBlockDevice.create({
        path: path.join(directory, 'volume'),
        blockBytes,
        blockCount,
        punchHoles: false,
      })
  const chunk = new Uint8Array(1 << 20).fill(0x5a)
  for (let lba = 0; lba < blockCount; lba += chunk.length / blockBytes) {
    await file.write(lba, chunk, false)
  }
  const device: BlockDevice = file
  const uuid = 'b'.repeat(32)
  const identity = { uuid, vendorId: 'BASALT', productId: 'File', revision: '0001', serial: 'x' }
  const unit = new LogicalUnit({ device, identity, clock: new RealClock() })
  const target = {
    name: defaultIqn,
    alias: null,
    portalGroupTag: 1,
    allows: () => true,
    chap: null,
    units: new UnitGroup(new Map([[0, unit]])),
  }
  return { target: () => target, targets: () => [target], discoveryChap: () => null }
}

/** READ(16) or WRITE(16) of `blocks` blocks at `lba` (SBC-3 §5.16, §5.42). */
function cdb16(opcode: number, lba: number, blocks: number): Uint8Array {
  const cdb = new Uint8Array(16)
  cdb[0] = opcode
  const view = new DataView(cdb.buffer)
  view.setUint32(6, lba)
  view.setUint32(10, blocks)
  return cdb
}

function command(cmdSN: number, lba: number, write: boolean, blocks: number): Uint8Array {
  const data = write ? new Uint8Array(blockBytes).fill(lba & 0xff) : new Uint8Array(0)
  const pdu: ScsiCommand = {
    opcode: Opcode.scsiCommand,
    immediate: false,
    final: true,
    read: !write,
    write,
    taskAttribute: 1,
    lun: new Uint8Array(8),
    initiatorTaskTag: cmdSN,
    expectedDataTransferLength: blocks * blockBytes,
    cmdSN,
    expStatSN: 0,
    cdb: cdb16(write ? 0x8a : 0x88, lba, blocks),
    expectedBidirectionalReadDataLength: null,
    data,
  }
  return Buffer.concat(serializePdu(encodePdu(pdu as Pdu), noDigests))
}

async function main(): Promise<void> {
  const o = options()
  const limits = resolveLimits({ nopInIntervalMs: 0 })
  const directory = mkdtempSync(path.join(tmpdir(), 'basalt-layers-'))
  let written = 0
  let wake: (() => void) | null = null
  const connection = new Connection({
    transport: {
      write: (_pieces, sent) => {
        sent?.() // as the portal does once the socket has the bytes
        written += 1
        const resume = wake
        wake = null
        resume?.()
      },
      close: () => {},
      congested: () => false,
    },
    registry: new SessionRegistry(limits, silentLogger),
    catalog:
      o.device === 'file' || o.device === 'engine'
        ? await fileCatalog(directory, o.device === 'engine')
        : memoryCatalog({ blockBytes, sizeMiB: 64 }),
    clock: new ManualClock(),
    logger: silentLogger,
    limits,
    offer: offerFromLimits(limits),
    local: { host: '127.0.0.1', port: 3260 },
    remote: { host: '127.0.0.1', port: 40000 },
  })
  const keys: [string, string][] = [
    ['InitiatorName', 'iqn.2026-11.org.basalt.bench:layers'],
    ['TargetName', defaultIqn],
    ['SessionType', 'Normal'],
    ['MaxRecvDataSegmentLength', '262144'],
  ]
  const login = serializePdu(encodePdu(loginRequest({ isid, keys }) as Pdu), noDigests)
  connection.receive(Buffer.concat(login))
  if (connection.state !== 'fullFeature') throw new Error(`login failed: ${connection.state}`)
  // Commands are encoded ahead of time: the initiator's cost is not ours to measure.
  const prepared = Array.from({ length: 4096 }, (_, i) => {
    const lba = ((i * 7919) % (blockCount / o.blocks)) * o.blocks
    return command(0, lba, o.op === 'write', o.blocks)
  })
  const results: number[] = []
  let cmdSN = 1
  for (let round = 0; round < o.rounds; round++) {
    const started = process.cpuUsage()
    for (let i = 0; i < o.commands; i++) {
      const bytes = prepared[i & 4095]!
      const view = new DataView(bytes.buffer, bytes.byteOffset)
      view.setUint32(16, cmdSN) // ITT
      view.setUint32(24, cmdSN) // CmdSN
      cmdSN = (cmdSN + 1) >>> 0
      const before = written
      const done = new Promise<void>((resolve) => {
        wake = resolve
      })
      // A fresh buffer per read, as a socket gives (Buffer.from(Uint8Array) would copy byte by byte).
      const received = Buffer.allocUnsafe(bytes.length)
      received.set(bytes)
      connection.receive(received)
      if (written === before) await done
      else wake = null
    }
    const spent = process.cpuUsage(started)
    const us = (spent.user + spent.system) / o.commands
    results.push(us)
    process.stderr.write(`round ${round + 1}: ${us.toFixed(2)} µs/command\n`)
  }
  rmSync(directory, { recursive: true, force: true })
  const sorted = [...results].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  console.log(`µs/command: median ${median.toFixed(2)}, best ${sorted[0]!.toFixed(2)}`)
}

await main()
