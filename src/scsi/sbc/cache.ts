/**
 * SYNCHRONIZE CACHE (10/16) (SBC-3 §5.22-5.23) and PRE-FETCH (10/16) (SBC-3 §5.8-5.9).
 * SYNCHRONIZE CACHE flushes the whole device whatever the range: durability is per device.
 * PRE-FETCH reads nothing ahead (the backing store has its own cache); it answers CONDITION MET
 * when the range would fit in the notional cache below and GOOD otherwise, as SBC-3 specifies.
 */
import { type Command, conditionMetResult, goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'

/** The cache size PRE-FETCH reasons about. */
export const prefetchCacheBytes = 64 * 1024 * 1024

export async function synchronizeCache(command: Command): Promise<ScsiResult> {
  await command.lu.device.flush()
  return goodResult
}

export function preFetch(command: Command): ScsiResult {
  const bytes = command.blocks * command.lu.device.blockBytes
  return bytes <= prefetchCacheBytes ? conditionMetResult : goodResult
}
