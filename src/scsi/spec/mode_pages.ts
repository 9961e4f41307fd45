/** SPC-4 §7.5 and SBC-3 §6.4: mode page codes and the page-control field. */
export const ModePage = {
  readWriteErrorRecovery: 0x01,
  caching: 0x08,
  control: 0x0a,
  informationalExceptionsControl: 0x1c,
  allPages: 0x3f,
} as const

/** SPC-4 §7.5.1 table 435: subpage codes used here. */
export const ModeSubpage = {
  none: 0x00,
  controlExtension: 0x01,
  all: 0xff,
} as const

/** SPC-4 §6.11 table 98: PAGE CONTROL (PC) of MODE SENSE. */
export const PageControl = {
  current: 0,
  changeable: 1,
  default: 2,
  saved: 3,
} as const
