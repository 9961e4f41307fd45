/**
 * A fault-injecting wrapper around any block device, for tests of the layers above storage
 * (STYLE rule 16: every seam has a real, an in-memory and a faulty implementation). A test sets
 * `fault` to decide, per call, whether the world fails it and with which code.
 */
import { SanError, type SanErrorCode } from '../base/errors.ts'

export type DeviceOperation = 'read' | 'write' | 'flush' | 'unmap'

/** The structural shape shared by every block device in storage/. */
export interface InnerDevice {
  readonly blockBytes: 512 | 4096
  readonly blockCount: number
  readonly thin: boolean
  read(lba: number, target: Uint8Array): Promise<void>
  write(lba: number, source: Uint8Array, fua: boolean): Promise<void>
  flush(): Promise<void>
  unmap(lba: number, blockCount: number): Promise<void>
}

/** Returns the code to fail with, or null to let the call through. */
export type FaultRule = (
  operation: DeviceOperation,
  lba: number,
  blockCount: number,
) => SanErrorCode | null

export class FaultyBlockDevice {
  fault: FaultRule = () => null
  /** Calls seen, in order, for assertions about what the layer above did. */
  readonly calls: { operation: DeviceOperation; lba: number; blockCount: number }[] = []

  constructor(readonly inner: InnerDevice) {}

  get blockBytes(): 512 | 4096 {
    return this.inner.blockBytes
  }
  get blockCount(): number {
    return this.inner.blockCount
  }
  get thin(): boolean {
    return this.inner.thin
  }

  /** Fails the next `times` calls of `operation` with `code`, then lets calls through again. */
  failNext(operation: DeviceOperation, code: SanErrorCode, times = 1): void {
    let left = times
    const previous = this.fault
    this.fault = (op, lba, count) => {
      if (op === operation && left > 0) {
        left--
        return code
      }
      return previous(op, lba, count)
    }
  }

  async read(lba: number, target: Uint8Array): Promise<void> {
    this.#gate('read', lba, target.length / this.blockBytes)
    await this.inner.read(lba, target)
  }
  async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    this.#gate('write', lba, source.length / this.blockBytes)
    await this.inner.write(lba, source, fua)
  }
  async flush(): Promise<void> {
    this.#gate('flush', 0, 0)
    await this.inner.flush()
  }
  async unmap(lba: number, blockCount: number): Promise<void> {
    this.#gate('unmap', lba, blockCount)
    await this.inner.unmap(lba, blockCount)
  }

  #gate(operation: DeviceOperation, lba: number, blockCount: number): void {
    this.calls.push({ operation, lba, blockCount })
    const code = this.fault(operation, lba, blockCount)
    if (code !== null) throw new SanError(code, `injected ${operation} fault at lba ${lba}`)
  }
}
