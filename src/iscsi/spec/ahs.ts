/** Additional Header Segment types (RFC 7143 §11.2.2.2). AHSType's top two bits are reserved. */
export const AhsType = {
  extendedCdb: 1,
  bidirectionalReadDataLength: 2,
} as const
export type AhsType = (typeof AhsType)[keyof typeof AhsType]

/** RFC 7143 §11.2.2.4: the Bidirectional Read Data Length AHS has AHSLength 0x0005. */
export const bidirectionalAhsLength = 5
/** RFC 7143 §11.2.1.5: TotalAHSLength counts 4-byte words in one byte, so at most 1020 bytes. */
export const ahsBytesMax = 255 * 4
