/**
 * Field offsets and bit masks of the Basic Header Segment common to every PDU (RFC 7143 §11.2.1).
 * Opcode-specific offsets sit beside each codec in ../pdu/. bhs_layout.test.ts pins these values.
 */
export const Bhs = {
  /** Byte 0: bit 7 reserved, bit 6 the I (immediate) bit, bits 0..5 the opcode. */
  opcodeByte: 0,
  /** Byte 1: the F bit and opcode-specific flags. */
  flagsByte: 1,
  /** Byte 4: TotalAHSLength in 4-byte words (§11.2.1.5). */
  totalAhsLength: 4,
  /** Bytes 5..7: DataSegmentLength in bytes, without padding (§11.2.1.6). */
  dataSegmentLength: 5,
  /** Bytes 8..15: the LUN or opcode-specific (§11.2.1.7). */
  lun: 8,
  /** Bytes 16..19 (§11.2.1.8). */
  initiatorTaskTag: 16,
} as const

export const BhsMask = {
  immediate: 0x40,
  opcode: 0x3f,
  final: 0x80,
} as const

/** RFC 7143 §11.2.1.6: DataSegmentLength is a 24-bit field. */
export const dataSegmentBytesMax = 0xff_ffff
/** RFC 7143 §13.1: a header or data digest is a 4-byte CRC32C. */
export const digestBytes = 4
