/**
 * Media keys from the session. Each side puts a fresh CALL_MEDIA_SECRET_BYTES secret into its end-to-end encrypted
 * offer or answer, so the call's secret is only as exposed as the session that carried it: it inherits the session's
 * PQXDH (X25519 + ML-KEM-1024) agreement and the ratchet's forward secrecy. From it, one SFrame base key per sending
 * direction and key epoch; a re-key (a fresh secret from the caller inside a `rekey` signal) starts the next epoch
 * with new key ids. Labels: docs/crypto/kdf-registry.md.
 *
 * ```
 * call_secret_0 = HKDF-SHA-256(ikm = offer_secret ‖ answer_secret, salt = call_id,
 *                              info = "Parley_CallSecret_v1" ‖ caller_identity ‖ callee_identity, 32)
 * call_secret_k = HKDF-SHA-256(ikm = rekey_secret_k, salt = call_secret_(k-1), info = "Parley_CallRekey_v1" ‖ u64(k), 32)
 * base_key(k, sender) = HKDF-SHA-256(ikm = call_secret_k, salt = "",
 *                              info = "Parley_SFrameBaseKey_v1" ‖ sender_identity ‖ u64(k), 16)
 * KID(k, sender) = 2k + (sender is the caller ? 0 : 1)
 * ```
 */
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { CALL_ID_BYTES, CALL_MEDIA_SECRET_BYTES, IDENTITY_KEY_BYTES } from '@parley/wire'
import { MAX_RECEIVE_KEY_EPOCHS, SFRAME_KEY_BYTES } from './constants.ts'
import { InvalidParameterError, InvalidStateError } from './errors.ts'

export const CALL_SECRET_INFO = 'Parley_CallSecret_v1'
export const CALL_REKEY_INFO = 'Parley_CallRekey_v1'
export const SFRAME_BASE_KEY_INFO = 'Parley_SFrameBaseKey_v1'

const enc = new TextEncoder()

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function check(name: string, b: Uint8Array, length: number): void {
  if (!(b instanceof Uint8Array) || b.length !== length) throw new InvalidParameterError(name, `${length} bytes`)
}

/** One SFrame base key and its key id. */
export interface MediaKey {
  readonly kid: bigint
  readonly baseKey: Uint8Array
}

/** What the frame encryptor of one side needs: the key it sends with and the keys it accepts. */
export interface MediaKeys {
  readonly send: MediaKey
  /** Newest first, at most MAX_RECEIVE_KEY_EPOCHS. */
  readonly receive: readonly MediaKey[]
}

/** The key id of epoch `epoch` for the caller's or the callee's sending direction. */
export function keyId(epoch: number, senderIsCaller: boolean): bigint {
  return BigInt(epoch) * 2n + (senderIsCaller ? 0n : 1n)
}

/**
 * The key schedule of one call, on one side. The caller's and the callee's schedules derive the same keys; each side
 * sends with its own direction's key and receives with the other's.
 */
export class CallKeySchedule {
  readonly #callId: Uint8Array
  readonly #caller: Uint8Array
  readonly #callee: Uint8Array
  readonly #selfIsCaller: boolean
  #secret: Uint8Array | undefined
  #epoch = 0
  /** Epochs whose keys we still receive with, newest first. */
  #epochs: Array<{ epoch: number; secret: Uint8Array }> = []
  /** The epoch we send with (the callee moves on receipt of a re-key, the caller on its acknowledgement). */
  #sendEpoch = 0

  constructor(callId: Uint8Array, caller: Uint8Array, callee: Uint8Array, selfIsCaller: boolean) {
    check('callId', callId, CALL_ID_BYTES)
    check('caller', caller, IDENTITY_KEY_BYTES)
    check('callee', callee, IDENTITY_KEY_BYTES)
    this.#callId = callId
    this.#caller = caller
    this.#callee = callee
    this.#selfIsCaller = selfIsCaller
  }

  /** Whether the first secret is in (both sides' contributions). */
  get started(): boolean {
    return this.#secret !== undefined
  }

  /** The newest epoch derived. */
  get epoch(): number {
    return this.#epoch
  }

  /** Epoch 0 from the offer's and the answer's secrets. */
  start(offerSecret: Uint8Array, answerSecret: Uint8Array): void {
    if (this.#secret !== undefined) throw new InvalidStateError('start', 'keyed')
    check('offerSecret', offerSecret, CALL_MEDIA_SECRET_BYTES)
    check('answerSecret', answerSecret, CALL_MEDIA_SECRET_BYTES)
    this.#secret = hkdf(
      sha256,
      concat(offerSecret, answerSecret),
      this.#callId,
      concat(enc.encode(CALL_SECRET_INFO), this.#caller, this.#callee),
      32
    )
    this.#epochs = [{ epoch: 0, secret: this.#secret }]
  }

  /** The next epoch from a re-key secret (epoch must be the current one plus one). Returns the new epoch. */
  rekey(epoch: number, rekeySecret: Uint8Array): number {
    if (this.#secret === undefined) throw new InvalidStateError('rekey', 'unkeyed')
    check('rekeySecret', rekeySecret, CALL_MEDIA_SECRET_BYTES)
    if (epoch !== this.#epoch + 1) throw new InvalidParameterError('epoch', `${this.#epoch + 1}`)
    this.#secret = hkdf(sha256, rekeySecret, this.#secret, concat(enc.encode(CALL_REKEY_INFO), u64(epoch)), 32)
    this.#epoch = epoch
    this.#epochs = [{ epoch, secret: this.#secret }, ...this.#epochs].slice(0, MAX_RECEIVE_KEY_EPOCHS)
    return epoch
  }

  /** The epoch we send with. */
  get sendEpoch(): number {
    return this.#sendEpoch
  }

  /** Start sending with `epoch` (one we derived). */
  sendWith(epoch: number): void {
    if (!this.#epochs.some((e) => e.epoch === epoch)) throw new InvalidParameterError('epoch', 'a derived epoch')
    this.#sendEpoch = epoch
  }

  /** The keys for this side now. */
  keys(): MediaKeys {
    const send = this.#epochs.find((e) => e.epoch === this.#sendEpoch)
    if (send === undefined) throw new InvalidStateError('keys', 'unkeyed')
    const self = this.#selfIsCaller ? this.#caller : this.#callee
    const peer = this.#selfIsCaller ? this.#callee : this.#caller
    return {
      send: { kid: keyId(send.epoch, this.#selfIsCaller), baseKey: baseKey(send.secret, self, send.epoch) },
      receive: this.#epochs.map((e) => ({
        kid: keyId(e.epoch, !this.#selfIsCaller),
        baseKey: baseKey(e.secret, peer, e.epoch)
      }))
    }
  }
}

function baseKey(secret: Uint8Array, sender: Uint8Array, epoch: number): Uint8Array {
  return hkdf(
    sha256,
    secret,
    new Uint8Array(0),
    concat(enc.encode(SFRAME_BASE_KEY_INFO), sender, u64(epoch)),
    SFRAME_KEY_BYTES
  )
}
