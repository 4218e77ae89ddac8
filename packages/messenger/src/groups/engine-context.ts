/**
 * What the parts of one member's group engine share (engine.ts builds it once): the owner's init, the clock, the
 * branches, the bounded bookkeeping, and the intake's hooks — hold a message for later, drop one with a reason, run
 * work in the engine's single queue.
 */
import { type CryptoBackend, toHex } from '@parley/crypto'
import type { EnvelopeLog, SeenSet } from './bookkeeping.ts'
import type { Branches } from './branches.ts'
import type { GroupEngineInit } from './engine.ts'
import type { DropReason, GroupVerdict } from './types.ts'

export interface EngineContext {
  readonly init: GroupEngineInit
  readonly now: () => number
  readonly branches: Branches
  readonly seen: SeenSet
  readonly log: EnvelopeLog
  /** Keeps a message that fits no state we hold yet (bounded) and forwards it. */
  hold(h: string, data: Uint8Array, epoch: bigint): GroupVerdict
  /** Drops a message with a typed reason (reject also penalises the publishing peer). */
  drop(action: 'reject' | 'ignore', reason: DropReason, from: string | undefined): GroupVerdict
  /** Runs `fn` after everything queued before it (one engine, one queue). */
  serial<T>(fn: () => Promise<T>): Promise<T>
}

/** The hex SHA-256 of an envelope: its identity for dedup and for fork resolution. */
export async function envelopeHash(backend: CryptoBackend, data: Uint8Array): Promise<string> {
  return toHex(await backend.sha256(data))
}
