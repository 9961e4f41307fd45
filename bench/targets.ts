/**
 * What every side-by-side benchmark (run.ts, ats.ts) needs: Basalt and tgt started in one temp
 * directory with one volume each, stopped again, and the machine they ran on.
 */
import { cpus, loadavg, release, totalmem } from 'node:os'
import path from 'node:path'
import {
  BasaltDaemon,
  type ExportInfo,
  GiB,
  type TargetUnderTest,
  TgtDaemon,
} from '../test/system/harness.ts'

export type Kind = TargetUnderTest['kind']

export interface Started {
  readonly kind: Kind
  readonly target: TargetUnderTest
  readonly volume: ExportInfo
}

/** `--targets basalt,tgt` as kinds, unknown names dropped. */
export function kindsOf(targets: string): Kind[] {
  return targets.split(',').filter((k): k is Kind => k === 'basalt' || k === 'tgt')
}

/** Starts each target with a volume `volumeName` of `volumeBytes`; all or none. */
export async function startAll(
  kinds: readonly Kind[],
  sharedDir: string,
  volumeName: string,
  volumeBytes: number,
): Promise<Started[]> {
  const started: Started[] = []
  try {
    for (const kind of kinds) {
      const target =
        kind === 'basalt'
          ? await BasaltDaemon.start({ dataDir: path.join(sharedDir, 'basalt-data') })
          : await TgtDaemon.start()
      started.push({ kind, target, volume: await target.createVolume(volumeName, volumeBytes) })
    }
    return started
  } catch (error) {
    await stopAll(started)
    throw error
  }
}

export async function stopAll(started: readonly Started[]): Promise<void> {
  for (const { target } of started) await target.stop()
}

export function machine(): Record<string, string | number> {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    ramGiB: Math.round((totalmem() / GiB) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadAverage: loadavg()
      .map((load) => load.toFixed(2))
      .join(' '),
  }
}
