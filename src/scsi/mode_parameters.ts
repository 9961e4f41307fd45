/**
 * The mode pages of one logical unit (SPC-4 §7.5, SBC-3 §6.4): their default, changeable and
 * current values, and the strict validation of a MODE SELECT page list against the changeable
 * mask. Saved values are not supported (no non-volatile mode storage).
 *
 * Pages served:
 * - Read-Write Error Recovery 01h (SBC-3 §6.4.9): fixed values.
 * - Caching 08h (SBC-3 §6.4.5): WCE changeable. WCE=0 makes every write force unit access.
 * - Control 0Ah (SPC-4 §7.5.8): D_SENSE and SWP changeable.
 * - Control Extension 0Ah/01h (SPC-4 §7.5.9): fixed values.
 * - Informational Exceptions Control 1Ch (SPC-4 §7.5.14): DEXCPT set, fixed.
 */
import { assert } from '../base/assert.ts'
import type { FieldPointer, SenseReason } from './sense.ts'
import { ModePage, ModeSubpage, PageControl } from './spec/mode_pages.ts'

interface PageDefinition {
  readonly page: number
  readonly subpage: number
  readonly defaults: readonly number[]
  readonly changeable: readonly number[]
}

/** Byte images include the page header (2 bytes, or 4 for the SPF sub_page format). */
const pageDefinitions: readonly PageDefinition[] = [
  {
    page: ModePage.readWriteErrorRecovery,
    subpage: ModeSubpage.none,
    // AWRE and ARRE set: the backing store reallocates on its own.
    defaults: [0x01, 0x0a, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    changeable: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  },
  {
    page: ModePage.caching,
    subpage: ModeSubpage.none,
    defaults: [0x08, 0x12, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    changeable: [0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  },
  {
    page: ModePage.control,
    subpage: ModeSubpage.none,
    // TST 000b, GLTSD=1, QUEUE ALGORITHM MODIFIER 1 (unrestricted), QERR 00b, TAS 0,
    // obsolete bytes 6-7 zero, BUSY TIMEOUT PERIOD FFFFh (unlimited).
    defaults: [0x0a, 0x0a, 0x02, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0],
    changeable: [0, 0, 0x04, 0, 0x08, 0, 0, 0, 0, 0, 0, 0],
  },
  {
    page: ModePage.control,
    subpage: ModeSubpage.controlExtension,
    defaults: [0x4a, 0x01, 0x00, 0x1c, ...new Array<number>(28).fill(0)],
    changeable: new Array<number>(32).fill(0),
  },
  {
    page: ModePage.informationalExceptionsControl,
    subpage: ModeSubpage.none,
    defaults: [0x1c, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    changeable: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  },
]

class ModePageState {
  readonly defaults: Uint8Array
  readonly changeable: Uint8Array
  readonly current: Uint8Array
  constructor(readonly definition: PageDefinition) {
    assert(definition.defaults.length === definition.changeable.length)
    this.defaults = Uint8Array.from(definition.defaults)
    this.changeable = Uint8Array.from(definition.changeable)
    this.current = Uint8Array.from(definition.defaults)
  }
  get page(): number {
    return this.definition.page
  }
  get subpage(): number {
    return this.definition.subpage
  }
  bytes(pageControl: number): Uint8Array {
    if (pageControl === PageControl.changeable) {
      // The header bytes of a changeable-values page still name the page and its length.
      const image = Uint8Array.from(this.changeable)
      image.set(this.defaults.subarray(0, this.headerBytes), 0)
      return image
    }
    return pageControl === PageControl.default ? this.defaults : this.current
  }
  get headerBytes(): number {
    return this.subpage === ModeSubpage.none ? 2 : 4
  }
}

export type ModeSelectOutcome =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly reason: SenseReason; readonly field?: FieldPointer }

export class ModeParameters {
  readonly #pages = pageDefinitions.map((definition) => new ModePageState(definition))
  readonly #caching = this.#find(ModePage.caching, ModeSubpage.none)!
  readonly #control = this.#find(ModePage.control, ModeSubpage.none)!

  /** SBC-3 §6.4.5: write cache enable. */
  get writeCacheEnabled(): boolean {
    return (this.#caching.current[2]! & 0x04) !== 0
  }
  /** SPC-4 §7.5.8: descriptor-format sense data. */
  get descriptorSense(): boolean {
    return (this.#control.current[2]! & 0x04) !== 0
  }
  /** SPC-4 §7.5.8: software write protect. */
  get softwareWriteProtect(): boolean {
    return (this.#control.current[4]! & 0x08) !== 0
  }

  /** SPC-4 §7.5: after a logical unit reset the current values are the defaults again. */
  restoreDefaults(): void {
    for (const state of this.#pages) state.current.set(state.defaults)
  }

  /** Page images selected by MODE SENSE's PAGE CODE and SUBPAGE CODE; null when invalid. */
  collect(page: number, subpage: number, pageControl: number): Uint8Array[] | null {
    assert(pageControl !== PageControl.saved)
    const selected: Uint8Array[] = []
    for (const state of this.#pages) {
      if (matches(state, page, subpage)) selected.push(state.bytes(pageControl))
    }
    return selected.length === 0 ? null : selected
  }

  /**
   * Validates every page of a MODE SELECT parameter list (from `start`, where the pages begin)
   * against the changeable mask, then applies them all or none (SPC-4 §6.9 / §7.5).
   */
  select(list: Uint8Array, start: number): ModeSelectOutcome {
    const updates: [ModePageState, Uint8Array][] = []
    let at = start
    while (at < list.length) {
      const parsed = this.#parsePage(list, at)
      if (!parsed.ok) return parsed
      updates.push([parsed.state, parsed.image])
      at += parsed.image.length
    }
    let changed = false
    for (const [state, image] of updates) {
      for (let index = 0; index < image.length; index++) {
        if (state.current[index] !== image[index]) changed = true
      }
      state.current.set(image)
    }
    return { ok: true, changed }
  }

  #parsePage(
    list: Uint8Array,
    at: number,
  ):
    | { ok: true; state: ModePageState; image: Uint8Array }
    | { ok: false; reason: SenseReason; field?: FieldPointer } {
    const first = list[at]!
    const subpageFormat = (first & 0x40) !== 0
    const headerBytes = subpageFormat ? 4 : 2
    if (at + headerBytes > list.length) return { ok: false, reason: 'parameterListLengthError' }
    const subpage = subpageFormat ? list[at + 1]! : ModeSubpage.none
    const state = this.#find(first & 0x3f, subpage)
    if (state === undefined || subpageFormat !== (state.subpage !== ModeSubpage.none)) {
      return invalidParameter(at, 5)
    }
    const length = subpageFormat ? (list[at + 2]! << 8) | list[at + 3]! : list[at + 1]!
    if (length !== state.current.length - headerBytes) {
      return invalidParameter(at + (subpageFormat ? 2 : 1))
    }
    if (at + headerBytes + length > list.length) {
      return { ok: false, reason: 'parameterListLengthError' }
    }
    const image = Uint8Array.from(list.subarray(at, at + headerBytes + length))
    image[0] = state.current[0]! // the PS bit is reserved in MODE SELECT; keep ours
    for (let index = headerBytes; index < image.length; index++) {
      const wrong = (image[index]! ^ state.current[index]!) & ~state.changeable[index]!
      if (wrong !== 0) return invalidParameter(at + index, 31 - Math.clz32(wrong))
    }
    return { ok: true, state, image }
  }

  #find(page: number, subpage: number): ModePageState | undefined {
    return this.#pages.find((state) => state.page === page && state.subpage === subpage)
  }
}

function matches(state: ModePageState, page: number, subpage: number): boolean {
  if (page === ModePage.allPages) {
    if (subpage === ModeSubpage.all) return true
    return subpage === ModeSubpage.none && state.subpage === ModeSubpage.none
  }
  if (state.page !== page) return false
  return subpage === ModeSubpage.all || state.subpage === subpage
}

function invalidParameter(
  byte: number,
  bit?: number,
): { ok: false; reason: SenseReason; field: FieldPointer } {
  const field: FieldPointer =
    bit === undefined ? { inCdb: false, byte } : { inCdb: false, byte, bit }
  return { ok: false, reason: 'invalidFieldInParameterList', field }
}
