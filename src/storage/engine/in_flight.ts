/**
 * What the data path has in flight, counted three ways:
 *
 * - I/O per commit ticket: the pool releases freed slots only once no I/O that began before
 *   their release is still running (`oldestTicket`);
 * - writes per slot: a planned version whose data never landed is undone only when no other
 *   write still fills its slot (`slotWrites`);
 * - writes per lineage and epoch: a snapshot, rollback or delete waits for the writes that
 *   began in the epochs it closes (`drain`).
 *
 * The first two change with every I/O, so they are IntCounts, not Maps (base/int_table.ts:
 * rehashing Maps were most of what a 1 MiB write promoted to V8's old space).
 */
import { assert } from '../../base/assert.ts'
import { IntCounts } from '../../base/int_table.ts'

interface Drain {
  count: number
  waiters: (() => void)[]
}

export class InFlight {
  readonly #tickets = new IntCounts()
  readonly #slots = new IntCounts()
  /** Per lineage, per epoch: the writes in flight and who waits for them to end. */
  readonly #drains = new Map<number, Map<number, Drain>>()

  ioStart(ticket: number): void {
    this.#tickets.add(ticket, 1)
  }

  ioEnd(ticket: number): void {
    this.#tickets.add(ticket, -1)
  }

  /** The oldest ticket of an I/O still in flight, or +∞. */
  oldestTicket(): number {
    let oldest = Number.POSITIVE_INFINITY
    this.#tickets.forEachKey((ticket) => {
      oldest = Math.min(oldest, ticket)
    })
    return oldest
  }

  slotWriteStart(phys: number): void {
    this.#slots.add(phys, 1)
  }

  slotWriteEnd(phys: number): void {
    this.#slots.add(phys, -1)
  }

  /** Writes in flight into the slot `phys`. */
  slotWrites(phys: number): number {
    return this.#slots.get(phys)
  }

  writeStart(lineage: number, epoch: number): void {
    let drains = this.#drains.get(lineage)
    if (drains === undefined) {
      drains = new Map()
      this.#drains.set(lineage, drains)
    }
    const drain = drains.get(epoch) ?? { count: 0, waiters: [] }
    drain.count += 1
    drains.set(epoch, drain)
  }

  writeEnd(lineage: number, epoch: number): void {
    const drain = this.#drains.get(lineage)?.get(epoch)
    assert(drain !== undefined, 'a write ended that never started')
    drain.count -= 1
    if (drain.count > 0) return
    const drains = this.#drains.get(lineage)!
    drains.delete(epoch)
    if (drains.size === 0) this.#drains.delete(lineage)
    for (const waiter of drain.waiters) waiter()
  }

  /** Resolves when every write to `lineage` started at an epoch <= `epoch` has finished. */
  drain(lineage: number, epoch: number): Promise<void> {
    const drains = this.#drains.get(lineage)
    if (drains === undefined) return Promise.resolve()
    const pending = [...drains].filter(([at, drain]) => at <= epoch && drain.count > 0)
    return Promise.all(
      pending.map(([, drain]) => new Promise<void>((resolve) => drain.waiters.push(resolve))),
    ).then(() => {})
  }
}
