/**
 * The responder's side of a first message, against the account: find the prekeys it names, refuse a replay on the
 * last-resort prekey, run PQXDH and compute the account that commits with the new session (one-time prekeys consumed,
 * replay cache grown). Nothing is stored here: the session manager commits the returned account only after the inner
 * ratchet message authenticated, so every refusal leaves the account as it was.
 */
import { concat } from 'uint8arrays'
import { type AccountState, type LocalPrekey, rememberLastResortUse } from './account.ts'
import type { CryptoBackend } from './backend/types.ts'
import { toHex } from './codec.ts'
import { MAX_REPLAY_CACHE_ENTRIES } from './constants.ts'
import { LastResortPrekeyExhaustedError, ReplayedInitialMessageError, UnknownPrekeyError } from './errors.ts'
import type { DeviceCertificate } from './identity.ts'
import { consumeOneTimePrekeys } from './one-time-prekeys.ts'
import { type InitialMessage, respond } from './pqxdh.ts'
import type { PendingResponder } from './ratchet.ts'

/** What accepting a first message yields: the responder's pending ratchet, the session AD and the next account. */
export interface AcceptedInitialMessage {
  readonly pending: PendingResponder
  readonly associatedData: Uint8Array
  readonly account: AccountState
}

/**
 * Runs PQXDH as responder for `msg` (whose sealed part already opened with `signedPrekey`). Typed errors:
 * UnknownPrekey (a one-time or last-resort prekey we no longer have), ReplayedInitialMessage (this first message
 * already started a session on the last-resort prekey), LastResortPrekeyExhausted (that prekey's replay cache is full).
 */
export async function acceptInitialMessage(
  backend: CryptoBackend,
  account: AccountState,
  msg: InitialMessage,
  signedPrekey: LocalPrekey,
  sender: DeviceCertificate,
  unsealed: { dh2: Uint8Array; dh3: Uint8Array }
): Promise<AcceptedInitialMessage> {
  let kemSecretKey: Uint8Array
  let lastResort: { id: number; fingerprint: string } | undefined
  if (msg.kemIsOneTime) {
    const k = account.oneTimePrekeys.find((p) => p.kind === 'kem' && p.id === msg.kemPrekeyId)
    if (k === undefined) throw new UnknownPrekeyError('one-time KEM', msg.kemPrekeyId)
    kemSecretKey = k.keyPair.secretKey
  } else {
    const k = account.lastResortPrekeys.find((p) => p.id === msg.kemPrekeyId)
    if (k === undefined) throw new UnknownPrekeyError('last-resort KEM', msg.kemPrekeyId)
    const fingerprint = toHex(await backend.sha256(concat([msg.baseKey, msg.kemCiphertext])))
    if (k.replayCache.includes(fingerprint)) throw new ReplayedInitialMessageError()
    // A full cache is never trimmed: an evicted fingerprint would let its first message start a second session.
    if (k.replayCache.length >= MAX_REPLAY_CACHE_ENTRIES) {
      throw new LastResortPrekeyExhaustedError(k.id, k.replayCache.length)
    }
    kemSecretKey = k.keyPair.secretKey
    lastResort = { id: k.id, fingerprint }
  }
  let oneTimePrekey: AccountState['oneTimePrekeys'][number] | undefined
  if (msg.oneTimePrekeyId !== undefined) {
    oneTimePrekey = account.oneTimePrekeys.find((p) => p.kind === 'x25519' && p.id === msg.oneTimePrekeyId)
    if (oneTimePrekey === undefined) throw new UnknownPrekeyError('one-time', msg.oneTimePrekeyId)
  }
  const { pending, associatedData } = await respond(
    backend,
    {
      device: account.device,
      signedPrekey: signedPrekey.keyPair,
      kemSecretKey,
      ...(oneTimePrekey !== undefined && { oneTimePrekey: oneTimePrekey.keyPair })
    },
    msg,
    sender,
    unsealed
  )
  let next = consumeOneTimePrekeys(account, [
    ...(msg.kemIsOneTime ? [msg.kemPrekeyId] : []),
    ...(oneTimePrekey !== undefined ? [oneTimePrekey.id] : [])
  ])
  if (lastResort !== undefined) next = rememberLastResortUse(next, lastResort.id, lastResort.fingerprint)
  return { pending, associatedData, account: next }
}
