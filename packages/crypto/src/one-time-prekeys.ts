/**
 * One-time prekeys and their two pools of handed-out keys.
 *
 * A key is handed out once, to one of two kinds of holder, and each kind has its own bound:
 * - a **requester** of the device's prekey protocol (takePrekeyBundle): anyone, at no cost (PeerIds are free). At most
 *   MAX_REQUESTER_PREKEYS per kind are kept; past that the oldest requester keys are forgotten. A stranger who asks
 *   for hundreds of bundles therefore evicts only keys other requesters were given, never a relay's.
 * - one of our **mailbox relays** (handOutOneTimePrekeys): only the owner hands these out, in small batches. They are
 *   never evicted by count: when MAX_RELAY_PREKEYS are outstanding, no more are handed out (senders fall back to the
 *   last-resort prekey). They are forgotten only MAX_RELAY_PREKEY_AGE_MS after hand-out (pruneRetiredPrekeys), so a
 *   contact's first message deposited with a relay-held key still decrypts however many strangers asked for bundles.
 */
import type { AccountState, LocalOneTimePrekey, PrekeyKind } from './account.ts'
import type { CryptoBackend } from './backend/types.ts'
import type { SignedOneTimePrekey } from './bundle.ts'
import { signOneTimePrekey } from './bundle.ts'
import { MAX_ONE_TIME_PREKEYS, MAX_RELAY_PREKEY_AGE_MS, MAX_RELAY_PREKEYS, MAX_REQUESTER_PREKEYS } from './constants.ts'
import { InvalidParameterError } from './errors.ts'

/** Adds up to `count` one-time prekeys of `kind`, never holding more than MAX_ONE_TIME_PREKEYS available of a kind. */
export async function generateOneTimePrekeys(
  backend: CryptoBackend,
  state: AccountState,
  kind: PrekeyKind,
  count: number
): Promise<AccountState> {
  if (!Number.isInteger(count) || count < 0) throw new InvalidParameterError('count', 'a non-negative integer')
  // Only keys not yet handed out count against the cap: handed-out ones wait for a first message that may never come,
  // and have bounds of their own.
  const n = Math.max(0, Math.min(count, MAX_ONE_TIME_PREKEYS - availableOneTimePrekeys(state, kind)))
  const added: LocalOneTimePrekey[] = []
  let id = state.nextPrekeyId
  for (let i = 0; i < n; i++, id++) {
    const keyPair = kind === 'kem' ? await backend.mlKem1024KeyPair() : await backend.x25519KeyPair()
    const signed = await signOneTimePrekey(backend, state.identity.secretKey, {
      kind,
      id,
      publicKey: keyPair.publicKey
    })
    added.push({ kind, id, keyPair, signature: signed.signature })
  }
  return { ...state, oneTimePrekeys: [...state.oneTimePrekeys, ...added], nextPrekeyId: id }
}

/** How many one-time prekeys of `kind` have not been handed out yet (replenish below a threshold). */
export function availableOneTimePrekeys(state: AccountState, kind: PrekeyKind): number {
  return state.oneTimePrekeys.filter((p) => p.kind === kind && p.handedOut === undefined).length
}

/** How many one-time prekeys of `kind` are handed out to `holder` and not yet used (or forgotten). */
export function handedOutOneTimePrekeys(state: AccountState, kind: PrekeyKind, holder: 'requester' | 'relay'): number {
  return state.oneTimePrekeys.filter((p) => p.kind === kind && p.handedOut?.to === holder).length
}

function publicForm(p: LocalOneTimePrekey): SignedOneTimePrekey {
  return { kind: p.kind, id: p.id, publicKey: p.keyPair.publicKey, signature: p.signature }
}

/**
 * Hands up to `count` unused one-time prekeys of `kind` to a mailbox relay of ours and returns their public, signed
 * form. Fewer (possibly none) when fewer are available or the relay pool would pass MAX_RELAY_PREKEYS: relay-held keys
 * are never evicted to make room. `now` stamps the hand-out for MAX_RELAY_PREKEY_AGE_MS (pass the messenger's clock).
 */
export function handOutOneTimePrekeys(
  state: AccountState,
  kind: PrekeyKind,
  count: number,
  now: number = Date.now()
): { state: AccountState; prekeys: SignedOneTimePrekey[] } {
  if (!Number.isInteger(count) || count < 0) throw new InvalidParameterError('count', 'a non-negative integer')
  const room = Math.max(0, MAX_RELAY_PREKEYS - handedOutOneTimePrekeys(state, kind, 'relay'))
  const want = Math.min(count, room)
  const prekeys: SignedOneTimePrekey[] = []
  const oneTimePrekeys = state.oneTimePrekeys.map((p): LocalOneTimePrekey => {
    if (prekeys.length >= want || p.kind !== kind || p.handedOut !== undefined) return p
    prekeys.push(publicForm(p))
    return { ...p, handedOut: { to: 'relay', at: now } }
  })
  return { state: { ...state, oneTimePrekeys }, prekeys }
}

/**
 * Hands one unused one-time prekey of `kind` to a requester of the prekey protocol (undefined when none is left).
 * Requester keys beyond MAX_REQUESTER_PREKEYS are forgotten, lowest id (oldest) first; relay-held keys are untouched.
 */
export function handOutToRequester(
  state: AccountState,
  kind: PrekeyKind
): { state: AccountState; prekey?: SignedOneTimePrekey } {
  const index = state.oneTimePrekeys.findIndex((p) => p.kind === kind && p.handedOut === undefined)
  if (index < 0) return { state }
  const key = state.oneTimePrekeys[index]!
  let oneTimePrekeys = state.oneTimePrekeys.with(index, { ...key, handedOut: { to: 'requester' } })
  const requester = oneTimePrekeys.filter((p) => p.kind === kind && p.handedOut?.to === 'requester')
  if (requester.length > MAX_REQUESTER_PREKEYS) {
    const forget = new Set(
      requester
        .map((p) => p.id)
        .sort((a, b) => a - b)
        .slice(0, requester.length - MAX_REQUESTER_PREKEYS)
    )
    oneTimePrekeys = oneTimePrekeys.filter((p) => p.kind !== kind || !forget.has(p.id))
  }
  return { state: { ...state, oneTimePrekeys }, prekey: publicForm(key) }
}

/** Forgets relay-held one-time prekeys handed out MAX_RELAY_PREKEY_AGE_MS ago or earlier. */
export function expireRelayPrekeys(state: AccountState, now: number): AccountState {
  const expired = (p: LocalOneTimePrekey) =>
    p.handedOut?.to === 'relay' && now - p.handedOut.at >= MAX_RELAY_PREKEY_AGE_MS
  if (!state.oneTimePrekeys.some(expired)) return state
  return { ...state, oneTimePrekeys: state.oneTimePrekeys.filter((p) => !expired(p)) }
}

/** Removes consumed one-time prekeys. */
export function consumeOneTimePrekeys(state: AccountState, ids: readonly number[]): AccountState {
  if (ids.length === 0) return state
  return { ...state, oneTimePrekeys: state.oneTimePrekeys.filter((p) => !ids.includes(p.id)) }
}
