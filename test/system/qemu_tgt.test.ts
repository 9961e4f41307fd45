/**
 * The interop tests of qemu_interop.ts against Debian's tgt, the reference target: they must pass
 * there, which shows that a failure against Basalt is Basalt's and not the tests'.
 */
import { TgtDaemon } from './harness.ts'
import { qemuInteropTests } from './qemu_interop.ts'

qemuInteropTests('tgt (reference)', () => TgtDaemon.start())
