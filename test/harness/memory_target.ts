/**
 * A Basalt iSCSI portal over in-memory logical units, without the daemon: for running libiscsi's
 * tools (iscsi-inq, iscsi-ls, iscsi-test-cu, iscsi-perf) and end-to-end tests against the iSCSI
 * layer alone. Use it in-process (`startMemoryTarget`) or from a shell:
 *
 *   node --import tsx test/harness/memory_target.ts --port 3260 [--size-mib 64] [--luns 1]
 *        [--iqn iqn.2026-01.io.basalt:memory] [--chap user:secret] [--mutual user:secret]
 *
 * It prints "listening HOST:PORT IQN" once ready and runs until SIGINT/SIGTERM.
 */
import { RealClock } from '../../src/base/clock.ts'
import type { Logger } from '../../src/base/log.ts'
import { silentLogger } from '../../src/base/log.ts'
import type { ChapPolicy, ExportedTarget, TargetCatalog } from '../../src/iscsi/catalog.ts'
import type { IscsiLimits } from '../../src/iscsi/limits.ts'
import { Portal } from '../../src/iscsi/portal.ts'
import { LogicalUnit } from '../../src/scsi/logical_unit.ts'
import { UnitGroup } from '../../src/scsi/unit_group.ts'
import { MemoryBlockDevice } from '../../src/storage/memory_device.ts'

export interface MemoryTargetOptions {
  readonly host?: string
  readonly port?: number
  readonly iqn?: string
  readonly sizeMiB?: number
  readonly blockBytes?: 512 | 4096
  readonly lunCount?: number
  readonly chap?: ChapPolicy | null
  readonly discoveryChap?: ChapPolicy | null
  readonly allow?: (initiatorName: string) => boolean
  readonly limits?: Partial<IscsiLimits>
  readonly logger?: Logger
}

export interface MemoryTarget {
  readonly portal: Portal
  readonly host: string
  readonly port: number
  readonly iqn: string
  readonly url: (lun?: number) => string
  close(): Promise<void>
}

export const defaultIqn = 'iqn.2026-01.io.basalt:memory'

export function memoryCatalog(options: MemoryTargetOptions = {}): TargetCatalog {
  const clock = new RealClock()
  const blockBytes = options.blockBytes ?? 512
  const blockCount = ((options.sizeMiB ?? 64) * 1024 * 1024) / blockBytes
  const units = new Map<number, LogicalUnit>()
  for (let lun = 0; lun < (options.lunCount ?? 1); lun++) {
    const uuid = (lun + 1).toString(16).padStart(32, 'a')
    units.set(
      lun,
      new LogicalUnit({
        device: new MemoryBlockDevice(blockBytes, blockCount),
        identity: {
          uuid,
          vendorId: 'BASALT',
          productId: 'Memory',
          revision: '0001',
          serial: uuid.slice(0, 16),
        },
        clock,
      }),
    )
  }
  const target: ExportedTarget = {
    name: options.iqn ?? defaultIqn,
    alias: 'memory',
    portalGroupTag: 1,
    allows: options.allow ?? (() => true),
    chap: options.chap ?? null,
    units: new UnitGroup(units),
  }
  return {
    target: (name) => (name === target.name ? target : null),
    targets: () => [target],
    discoveryChap: () => options.discoveryChap ?? null,
  }
}

export async function startMemoryTarget(options: MemoryTargetOptions = {}): Promise<MemoryTarget> {
  const catalog = memoryCatalog(options)
  const iqn = options.iqn ?? defaultIqn
  const portal = new Portal({
    catalog,
    clock: new RealClock(),
    logger: options.logger ?? silentLogger,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  })
  const bound = await portal.listen(options.host ?? '127.0.0.1', options.port ?? 0)
  return {
    portal,
    host: bound.host,
    port: bound.port,
    iqn,
    url: (lun = 0) => `iscsi://${bound.host}:${bound.port}/${iqn}/${lun}`,
    close: () => portal.close(),
  }
}

function credential(text: string | undefined): { user: string; secret: string } | null {
  if (text === undefined) return null
  const at = text.indexOf(':')
  return at < 0 ? null : { user: text.slice(0, at), secret: text.slice(at + 1) }
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`)
  return index < 0 ? undefined : process.argv[index + 1]
}

const consoleLogger: Logger = {
  debug() {},
  info: (message, fields) => console.error(message, fields ?? ''),
  warn: (message, fields) => console.error(message, fields ?? ''),
  error: (message, fields) => console.error(message, fields ?? ''),
  child: () => consoleLogger,
}

async function main(): Promise<void> {
  const initiator = credential(argument('chap'))
  const chap = initiator === null ? null : { initiator, target: credential(argument('mutual')) }
  const target = await startMemoryTarget({
    host: argument('host') ?? '127.0.0.1',
    port: Number(argument('port') ?? 3260),
    iqn: argument('iqn') ?? defaultIqn,
    sizeMiB: Number(argument('size-mib') ?? 64),
    lunCount: Number(argument('luns') ?? 1),
    chap,
    logger: process.argv.includes('--verbose') ? consoleLogger : silentLogger,
  })
  console.log(`listening ${target.host}:${target.port} ${target.iqn}`)
  const stop = (): void => {
    void target.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  void main()
}
