/**
 * The target's view of the bytes the fuzzer sent (RFC 7143 §11.2 framing: BHS, AHS, header
 * digest, padded data segment, data digest), so that the fuzzer knows, without asking, whether
 * the target sits at a PDU boundary, how many filler bytes bring it back to one, and whether a
 * DataSegmentLength beyond the target's MaxRecvDataSegmentLength (§13.12) must end the
 * connection. Pure: no socket, no clock.
 */

const bhsBytes = 48
const digestBytes = 4

export interface StreamLimits {
  headerDigest: boolean
  dataDigest: boolean
  /** What the target declared; a larger DataSegmentLength is a protocol error. */
  maxRecvDataSegmentLength: number
}

function padTo4(n: number): number {
  return (n + 3) & ~3
}

export class StreamModel {
  readonly #header = new Uint8Array(bhsBytes)
  #headerFilled = 0
  /** Bytes of the current PDU still to come after its BHS. */
  #remaining = 0
  /** The target has seen a DataSegmentLength it must refuse: it will drop the connection. */
  mustDrop = false
  limits: StreamLimits

  constructor(limits: StreamLimits) {
    this.limits = { ...limits }
  }

  get atBoundary(): boolean {
    return this.#headerFilled === 0 && this.#remaining === 0
  }

  feed(bytes: Uint8Array): void {
    let offset = 0
    while (offset < bytes.length && !this.mustDrop) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, bytes.length - offset)
        this.#remaining -= take
        offset += take
        continue
      }
      const take = Math.min(bhsBytes - this.#headerFilled, bytes.length - offset)
      this.#header.set(bytes.subarray(offset, offset + take), this.#headerFilled)
      this.#headerFilled += take
      offset += take
      if (this.#headerFilled === bhsBytes) this.#startPdu()
    }
  }

  #startPdu(): void {
    const header = this.#header
    this.#headerFilled = 0
    const dataBytes = (header[5]! << 16) | (header[6]! << 8) | header[7]!
    if (dataBytes > this.limits.maxRecvDataSegmentLength) {
      this.mustDrop = true
      return
    }
    const { headerDigest, dataDigest } = this.limits
    this.#remaining =
      header[4]! * 4 +
      (headerDigest ? digestBytes : 0) +
      padTo4(dataBytes) +
      (dataDigest && dataBytes > 0 ? digestBytes : 0)
  }

  /**
   * Zero bytes that complete the PDU in progress, so that the next PDU is read as one; empty at a
   * boundary. A partial BHS completed with zeros may itself announce more bytes, so this walks
   * the model forward on a copy until it reaches a boundary.
   */
  filler(): Uint8Array {
    if (this.atBoundary || this.mustDrop) return new Uint8Array(0)
    const probe = new StreamModel(this.limits)
    probe.#header.set(this.#header)
    probe.#headerFilled = this.#headerFilled
    probe.#remaining = this.#remaining
    let length = 0
    while (!probe.atBoundary && !probe.mustDrop) {
      const step = probe.#remaining > 0 ? probe.#remaining : bhsBytes - probe.#headerFilled
      probe.feed(new Uint8Array(step))
      length += step
    }
    return new Uint8Array(length)
  }
}

/** The wire length of a whole PDU starting at `bytes[0]`, or null without a full BHS. */
export function framedLength(bytes: Uint8Array, limits: StreamLimits): number | null {
  if (bytes.length < bhsBytes) return null
  const dataBytes = (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!
  return (
    bhsBytes +
    bytes[4]! * 4 +
    (limits.headerDigest ? digestBytes : 0) +
    padTo4(dataBytes) +
    (limits.dataDigest && dataBytes > 0 ? digestBytes : 0)
  )
}
