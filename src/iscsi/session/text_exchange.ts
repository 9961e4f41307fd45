/**
 * Text Request → Text Response in full feature phase (RFC 7143 §11.10, §11.11, §6.1): SendTargets
 * (discovery and normal sessions) and the keys that may be renegotiated in FFP, with C-bit
 * continuation both ways — requests gathered up to a bound, long responses cut to the
 * initiator's MaxRecvDataSegmentLength and fetched with the Target Transfer Tag.
 */

import { type SendTargetsContext, sendTargets } from '../login/discovery.ts'
import type { TextRequest } from '../pdu/types.ts'
import { reservedTag } from '../spec/opcodes.ts'
import { encodeTextData, parseTextData, TextAccumulator } from '../text/key_value.ts'
import { KeyAnswer } from '../text/keys.ts'
import { type NegotiationContext, negotiate, type TargetOffer } from '../text/negotiate.ts'

export interface TextContext {
  readonly sendTargets: SendTargetsContext
  readonly negotiation: NegotiationContext
  readonly offer: TargetOffer
  readonly initiatorMrdsl: number
}

export type TextAnswer =
  | { readonly kind: 'reject'; readonly detail: string }
  | {
      readonly kind: 'reply'
      readonly data: Uint8Array
      readonly final: boolean
      readonly continue: boolean
      readonly targetTransferTag: number
      /** A MaxRecvDataSegmentLength the initiator declared (§13.12 may change in FFP). */
      readonly mrdsl: number | null
    }

export class TextExchange {
  readonly #accumulator: TextAccumulator
  #pending: { itt: number; ttt: number; rest: Uint8Array } | null = null
  /** The TTT we gave an initiator that is still sending a C-bit request. */
  #collecting: number | null = null
  #nextTag = 1

  constructor(textBytesMax: number) {
    this.#accumulator = new TextAccumulator(textBytesMax)
  }

  receive(pdu: TextRequest, context: TextContext): TextAnswer {
    const collecting = this.#collecting !== null && pdu.targetTransferTag === this.#collecting
    if (pdu.targetTransferTag !== reservedTag && !collecting)
      return this.#continueReply(pdu, context)
    // §11.10.4: a request with TTT 0xffffffff starts afresh.
    this.#pending = null
    this.#collecting = null
    if (!collecting) this.#accumulator.reset()
    const appended = this.#accumulator.append(pdu.data)
    if (!appended.ok) {
      this.#accumulator.reset()
      return { kind: 'reject', detail: appended.detail }
    }
    if (pdu.continue) {
      // §11.10.2: an empty answer with F=0 asks for the rest of the request.
      this.#collecting = this.#tag()
      return this.#reply(new Uint8Array(0), false, false, this.#collecting, null)
    }
    const parsed = parseTextData(this.#accumulator.take())
    if (!parsed.ok) return { kind: 'reject', detail: parsed.detail }
    const pairs: (readonly [string, string])[] = []
    let mrdsl: number | null = null
    for (const [name, value] of parsed.pairs) {
      if (name === 'SendTargets') {
        const records = sendTargets(value, context.sendTargets)
        if (records === null) pairs.push([name, KeyAnswer.reject])
        else pairs.push(...records)
        continue
      }
      const outcome = negotiate(name, value, context.offer, context.negotiation)
      if (outcome.kind === 'answer') pairs.push([name, outcome.answer])
      else if (outcome.kind === 'constant') pairs.push([name, outcome.answer])
      else if (outcome.kind === 'security') pairs.push([name, KeyAnswer.reject])
      else if (name === 'MaxRecvDataSegmentLength') mrdsl = Number(outcome.value)
    }
    const data = pairs.length === 0 ? new Uint8Array(0) : encodeTextData(pairs)
    return this.#cut(pdu.initiatorTaskTag, data, mrdsl ?? context.initiatorMrdsl, mrdsl)
  }

  /** §11.11.3: the initiator fetches the rest of a long response with our TTT. */
  #continueReply(pdu: TextRequest, context: TextContext): TextAnswer {
    const pending = this.#pending
    if (
      pending === null ||
      pending.ttt !== pdu.targetTransferTag ||
      pending.itt !== pdu.initiatorTaskTag
    ) {
      return { kind: 'reject', detail: 'Text request with an unknown TTT' }
    }
    this.#pending = null
    return this.#cut(pdu.initiatorTaskTag, pending.rest, context.initiatorMrdsl, null)
  }

  #cut(itt: number, data: Uint8Array, mrdsl: number, declared: number | null): TextAnswer {
    if (data.length <= mrdsl) return this.#reply(data, true, false, reservedTag, declared)
    const tag = this.#tag()
    this.#pending = { itt, ttt: tag, rest: data.subarray(mrdsl) }
    return this.#reply(data.subarray(0, mrdsl), false, true, tag, declared)
  }

  #reply(
    data: Uint8Array,
    final: boolean,
    more: boolean,
    targetTransferTag: number,
    mrdsl: number | null,
  ): TextAnswer {
    return { kind: 'reply', data, final, continue: more, targetTransferTag, mrdsl }
  }

  #tag(): number {
    const tag = this.#nextTag
    this.#nextTag = tag + 1 >= reservedTag ? 1 : tag + 1
    return tag
  }
}
