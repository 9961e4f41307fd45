/**
 * Interoperability with real initiators (QEMU's iSCSI block driver and libiscsi's utilities),
 * written once for any `TargetUnderTest` so that it runs against Basalt and, as a check of the
 * tests themselves, against tgt. Covers data integrity at unaligned offsets (SBC-3 READ/WRITE),
 * whole-image copy, SendTargets discovery (RFC 7143 §12.3) and CHAP (RFC 7143 §12.1.3),
 * one-way and mutual.
 *
 * QEMU's driver takes the initiator's CHAP secret from the URL but ignores libiscsi's
 * LIBISCSI_CHAP_TARGET_* variables, so mutual CHAP is checked with `iscsi-inq` (libiscsi itself).
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  describeRun,
  type ExportInfo,
  iscsiUrl,
  MiB,
  portalUrl,
  randomData,
  randomHex,
  run,
  runOk,
  type TargetUnderTest,
  writeBytes,
} from './harness.ts'

const sector = 512

/** Writes in order; later ones overlap earlier ones on purpose. Offsets avoid 4 KiB alignment. */
const patternWrites: readonly { offset: number; length: number; pattern: number }[] = [
  { offset: 0, length: 1 * MiB, pattern: 0xab },
  { offset: 4096, length: 4096, pattern: 0x11 },
  { offset: 3 * sector, length: 3 * sector, pattern: 0x22 },
  { offset: 1 * MiB - sector, length: 2 * sector, pattern: 0x33 },
  { offset: 8 * MiB + 7 * sector, length: 3 * 65_536 + sector, pattern: 0x44 },
  { offset: 63 * MiB + 5 * sector, length: 5 * MiB + 3 * sector, pattern: 0x55 },
  { offset: 127 * MiB + 11 * sector, length: 128 * 1024 + sector, pattern: 0x66 },
]
const ioVolumeBytes = 128 * MiB

interface Run {
  offset: number
  length: number
  pattern: number
}

/** The expected contents of [0, end) after the writes, as maximal runs of one byte value. */
export function expectedRuns(end: number): Run[] {
  const image = new Uint8Array(end)
  for (const write of patternWrites) {
    image.fill(write.pattern, write.offset, Math.min(end, write.offset + write.length))
  }
  const runs: Run[] = []
  let start = 0
  for (let index = 1; index <= end; index++) {
    if (index < end && image[index] === image[start]) continue
    runs.push({ offset: start, length: index - start, pattern: image[start] ?? 0 })
    start = index
  }
  return runs
}

async function qemuIo(url: string, commands: readonly string[], timeoutMs = 120_000) {
  const args = ['-f', 'raw', ...commands.flatMap((command) => ['-c', command]), url]
  return run('qemu-io', args, { timeoutMs })
}

function assertQemuIoOk(result: Awaited<ReturnType<typeof qemuIo>>): void {
  assert.equal(result.code, 0, describeRun(result))
  assert.doesNotMatch(result.stdout + result.stderr, /verification failed|error|failed/i)
}

export function qemuInteropTests(label: string, start: () => Promise<TargetUnderTest>): void {
  describe(`interop with QEMU and libiscsi: ${label}`, () => {
    let target: TargetUnderTest | undefined
    const exports = new Map<string, ExportInfo>()
    const volume = (name: string): ExportInfo => {
      const found = exports.get(name)
      assert.ok(found, `volume ${name} was not created`)
      return found
    }

    before(
      async () => {
        target = await start()
        for (const [name, size] of [
          ['qemu-io', ioVolumeBytes],
          ['qemu-img', 64 * MiB],
          ['chap', 16 * MiB],
          ['mutual', 16 * MiB],
        ] as const) {
          exports.set(name, await target.createVolume(name, size))
        }
      },
      { timeout: 120_000 },
    )

    after(async () => {
      await target?.stop()
    })

    test('SendTargets discovery lists every export [RFC 7143 §12.3]', async () => {
      const result = await runOk('iscsi-ls', [portalUrl(volume('qemu-io').portal)])
      for (const exported of exports.values()) {
        assert.ok(result.stdout.includes(`Target:${exported.iqn} `), result.stdout)
      }
    })

    const patternsTitle = 'qemu-io: patterns written at unaligned offsets read back [SBC-3 §5.15]'
    test(patternsTitle, async () => {
      const url = iscsiUrl(volume('qemu-io'))
      const writes = patternWrites.map((w) => `write -P ${w.pattern} ${w.offset} ${w.length}`)
      assertQemuIoOk(await qemuIo(url, writes))
      const runs = expectedRuns(ioVolumeBytes)
      const zeroGaps = runs.filter((r) => r.pattern === 0).length
      assert.ok(zeroGaps >= 3, 'the writes should leave gaps of zeros between them')
      const reads = runs.map((r) => `read -P ${r.pattern} ${r.offset} ${r.length}`)
      assertQemuIoOk(await qemuIo(url, reads))
      // A read that expects the wrong pattern must fail, or the checks above prove nothing.
      const wrong = await qemuIo(url, [`read -P 0x11 ${1 * MiB - sector} ${sector}`])
      assert.notEqual(wrong.code, 0, describeRun(wrong))
    })

    test('qemu-img: a 64 MiB random image converts in and compares identical', async (t) => {
      const workDir = target?.dataDir ?? '/tmp'
      const image = path.join(workDir, `random-${randomHex(4)}.raw`)
      await writeBytes(image, randomData(64 * MiB))
      const url = iscsiUrl(volume('qemu-img'))
      t.diagnostic(`image ${image}`)
      await runOk('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', image, url], {
        timeoutMs: 300_000,
      })
      const same = await runOk('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', image, url], {
        timeoutMs: 300_000,
      })
      assert.match(same.stdout, /Images are identical/)
      // One changed sector must make the comparison fail.
      const changed = 37 * MiB + 3 * sector
      assertQemuIoOk(await qemuIo(url, [`write -P 0x5a ${changed} ${sector}`]))
      const differs = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', image, url], {
        timeoutMs: 300_000,
      })
      assert.equal(differs.code, 1, describeRun(differs))
      assert.match(differs.stdout, new RegExp(`Content mismatch at offset ${changed}\\b`))
    })

    const chapTitle =
      'CHAP: the right secret logs in, a wrong or missing one does not [RFC 7143 §12.1.3]'
    test(chapTitle, async () => {
      assert.ok(target)
      const chap = { user: 'basalt-host', secret: `s${randomHex(8)}` }
      await target.setChap('chap', chap)
      const exported = volume('chap')
      await runOk('iscsi-inq', [iscsiUrl(exported, chap)])
      const wrong = await run('iscsi-inq', [
        iscsiUrl(exported, { ...chap, secret: 'wrong-secret-1' }),
      ])
      assert.notEqual(wrong.code, 0, describeRun(wrong))
      const none = await run('iscsi-inq', [iscsiUrl(exported)])
      assert.notEqual(none.code, 0, describeRun(none))
      // QEMU logs in with the secret from the URL and reads the volume.
      assertQemuIoOk(await qemuIo(iscsiUrl(exported, chap), ['read -P 0 0 64k']))
    })

    const mutualTitle =
      'mutual CHAP: the target proves its secret, a wrong one is refused [RFC 7143 §12.1.3]'
    test(mutualTitle, async () => {
      assert.ok(target)
      const chap = {
        user: 'basalt-host-2',
        secret: `s${randomHex(8)}`,
        mutualUser: 'basalt-target',
        mutualSecret: `t${randomHex(8)}`,
      }
      await target.setChap('mutual', chap)
      const url = iscsiUrl(volume('mutual'), chap)
      const expectTarget = (secret: string) => ({
        env: {
          LIBISCSI_CHAP_TARGET_USERNAME: chap.mutualUser,
          LIBISCSI_CHAP_TARGET_PASSWORD: secret,
        },
      })
      await runOk('iscsi-inq', [url], expectTarget(chap.mutualSecret))
      const refused = await run('iscsi-inq', [url], expectTarget('not-the-target-secret'))
      assert.notEqual(refused.code, 0, describeRun(refused))
      assert.match(refused.stdout + refused.stderr, /CHAP_R|[Aa]uthentication/)
    })
  })
}
