/**
 * The symmetric half of the Double Ratchet: the two KDFs (chain step, root step), receiving chains, and the store of
 * skipped message keys with its bounds (MAX_SKIP per jump, MAX_RECEIVING_CHAINS chains, MAX_SKIPPED_KEYS keys, and
 * MAX_SKIPPED_KEY_AGE_MS). Pure functions over immutable values, like ratchet.ts, which uses them.
 */
import type { CryptoBackend } from './backend/types.ts'
import { equalBytes } from './codec.ts'
import {
  CHAIN_STEP_CONSTANT,
  INFO_ROOT_RATCHET,
  MAX_RECEIVING_CHAINS,
  MAX_SKIP,
  MAX_SKIPPED_KEY_AGE_MS,
  MAX_SKIPPED_KEYS
} from './constants.ts'
import { MessageGapTooLargeError } from './errors.ts'
import type { RatchetState } from './ratchet.ts'

/** Message keys kept for messages that have not arrived yet, grouped by the header key of their chain. */
export interface SkippedChain {
  readonly headerKey: Uint8Array
  /** message number -> key and the time it was stored (for expiry). */
  readonly keys: ReadonlyMap<number, SkippedKey>
}

export interface SkippedKey {
  readonly messageKey: Uint8Array
  readonly storedAt: number
}

export interface ReceivingChain {
  readonly ratchetKey: Uint8Array
  readonly chainKey: Uint8Array
  readonly headerKey: Uint8Array
  readonly index: number
}

const CHAIN_STEP_INPUT = new Uint8Array([CHAIN_STEP_CONSTANT])
const INFO_ROOT = new TextEncoder().encode(INFO_ROOT_RATCHET)

/**
 * KDF_CK: HMAC-SHA-512(chain key, 0x01) split into the message key (first 32 bytes) and the next chain key (last 32).
 * One PRF call instead of Signal's two HMAC-SHA-256 calls with inputs 0x01 and 0x02: the halves of one PRF output
 * are independent, and a symmetric step costs one native call.
 */
export async function chainStep(backend: CryptoBackend, chainKey: Uint8Array): Promise<[Uint8Array, Uint8Array]> {
  const out = await backend.hmacSha512(chainKey, CHAIN_STEP_INPUT)
  // Separate copies: the message key's bytes must not live on inside the next chain key's buffer.
  return [out.slice(0, 32), out.slice(32, 64)]
}

/** KDF_RK_HE: HKDF(salt = root key, ikm = DH output) -> root key, chain key, next header key. */
export async function rootStep(
  backend: CryptoBackend,
  rootKey: Uint8Array,
  dhOutput: Uint8Array
): Promise<[Uint8Array, Uint8Array, Uint8Array]> {
  const okm = await backend.hkdfSha256(dhOutput, rootKey, INFO_ROOT, 96)
  return [okm.slice(0, 32), okm.slice(32, 64), okm.slice(64, 96)]
}

/** Removes skipped keys older than MAX_SKIPPED_KEY_AGE_MS (and empty chains). Returns the same state if none. */
export function expireSkipped(state: RatchetState, now: number): RatchetState {
  const cutoff = now - MAX_SKIPPED_KEY_AGE_MS
  let changed = false
  const skipped: SkippedChain[] = []
  for (const chain of state.skipped) {
    let keys: Map<number, SkippedKey> | undefined
    for (const [n, k] of chain.keys) {
      if (k.storedAt <= cutoff) {
        keys ??= new Map(chain.keys)
        keys.delete(n)
      }
    }
    if (keys === undefined) skipped.push(chain)
    else {
      changed = true
      if (keys.size > 0) skipped.push({ headerKey: chain.headerKey, keys })
    }
  }
  return changed ? { ...state, skipped } : state
}

export function countSkipped(skipped: readonly SkippedChain[]): number {
  let n = 0
  for (const c of skipped) n += c.keys.size
  return n
}

/**
 * Derives and stores the keys of `receive` up to (not including) `until`, enforcing MAX_SKIP, the chain cap and the
 * global key cap (oldest evicted first).
 */
export async function skipTo(
  backend: CryptoBackend,
  skipped: readonly SkippedChain[],
  receive: ReceivingChain,
  until: number,
  now: number
): Promise<{ skipped: readonly SkippedChain[]; receive: ReceivingChain }> {
  if (until <= receive.index) return { skipped, receive }
  const gap = until - receive.index
  if (gap > MAX_SKIP) throw new MessageGapTooLargeError(gap, MAX_SKIP)
  let chainKey = receive.chainKey
  const existing = skipped.find((c) => equalBytes(c.headerKey, receive.headerKey))
  const keys = new Map(existing?.keys)
  for (let i = receive.index; i < until; i++) {
    const [mk, next] = await chainStep(backend, chainKey)
    keys.set(i, { messageKey: mk, storedAt: now })
    chainKey = next
  }
  let chains = skipped.filter((c) => c !== existing)
  chains.push({ headerKey: receive.headerKey, keys })
  while (chains.length > MAX_RECEIVING_CHAINS) chains = chains.slice(1)
  let total = countSkipped(chains)
  while (total > MAX_SKIPPED_KEYS) {
    const oldest = chains[0]!
    const excess = total - MAX_SKIPPED_KEYS
    if (oldest.keys.size <= excess) {
      chains = chains.slice(1)
      total -= oldest.keys.size
    } else {
      const trimmed = new Map(oldest.keys)
      let dropped = 0
      for (const n of oldest.keys.keys()) {
        if (dropped === excess) break
        trimmed.delete(n)
        dropped++
      }
      chains = [{ headerKey: oldest.headerKey, keys: trimmed }, ...chains.slice(1)]
      total -= dropped
    }
  }
  return { skipped: chains, receive: { ...receive, chainKey, index: until } }
}
