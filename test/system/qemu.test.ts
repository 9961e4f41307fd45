/**
 * QEMU and libiscsi initiators against a Basalt daemon: data integrity, image copy, discovery,
 * CHAP and mutual CHAP (the tests live in qemu_interop.ts), and QEMU on a 4 KiB-block volume.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { BasaltDaemon, describeRun, iscsiUrl, MiB, run } from './harness.ts'
import { qemuInteropTests } from './qemu_interop.ts'

qemuInteropTests('Basalt', () => BasaltDaemon.start())

let daemon: BasaltDaemon | undefined
after(async () => {
  await daemon?.stop()
})

// QEMU's iSCSI driver keeps an allocation map when the unit reports an unmap granularity and
// LBPRZ=1, and its large reads then ask GET LBA STATUS for a length that is not a multiple of a
// 4 KiB block: it asserts and aborts. Basalt does not report a one-block granularity
// (spc/vpd.ts); this read of written and never-written megabytes is what used to abort.
test('qemu-io: 1 MiB reads from a 4 KiB-block thin volume [SBC-3 §6.5.3]', async () => {
  daemon = await BasaltDaemon.start()
  const args = ['volume', 'create', 'four-k', '--size', String(64 * MiB), '--block-size', '4096']
  const volume = (await daemon.cli(args)) as { iqn: string; lun: number; blockBytes: number }
  assert.equal(volume.blockBytes, 4096)
  const url = iscsiUrl({ iqn: volume.iqn, lun: volume.lun, portal: daemon.portal })
  const commands = ['write -P 0x7e 0 1M', 'read -P 0x7e 0 1M', 'read -P 0 32M 1M']
  const result = await run('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url], {
    timeoutMs: 60_000,
  })
  assert.equal(result.code, 0, describeRun(result))
  assert.doesNotMatch(result.stdout + result.stderr, /assert|verification failed|error/i)
  assert.match(result.stdout, /read 1048576\/1048576 bytes at offset 33554432/)
})
