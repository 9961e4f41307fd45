/**
 * QEMU and libiscsi initiators against a Basalt daemon: data integrity, image copy, discovery,
 * CHAP and mutual CHAP (the tests live in qemu_interop.ts).
 */
import { BasaltDaemon } from './harness.ts'
import { qemuInteropTests } from './qemu_interop.ts'

qemuInteropTests('Basalt', () => BasaltDaemon.start())
