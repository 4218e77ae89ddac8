/**
 * The client side of `/parley/mailbox/1.0.0` (the server is @parley/relay's): one stream to one relay, with typed
 * requests. Owners register, authenticate with a signed challenge, fetch, acknowledge and leave one-time prekeys;
 * senders deposit envelopes and take one-time prekeys — from a throwaway libp2p identity (see `Courier`), so the relay
 * never learns who deposited.
 */
import type { PeerId, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import {
  type CryptoBackend,
  decodeOneTimePrekey,
  encodeOneTimePrekey,
  type IdentityKeyPair,
  type SignedOneTimePrekey
} from '@parley/crypto'
import {
  decodeMailboxResponse,
  encodeMailboxRegistration,
  encodeMailboxRequest,
  MAX_MAILBOX_RESPONSE_BYTES,
  type MailboxItem,
  type MailboxRequest,
  type MailboxResponse,
  signMailboxAuth,
  signMailboxRegistration
} from '@parley/wire'
import { DEFAULT_DIAL_TIMEOUT } from './constants.ts'
import { MailboxError } from './errors.ts'

type Ok = Extract<MailboxResponse, { status: 'ok' }>

/** One mailbox stream to one relay. Requests run one at a time, in order. */
export class MailboxClient {
  readonly #stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #relay: PeerId
  #queue: Promise<unknown> = Promise.resolve()

  constructor(stream: Stream, relay: PeerId) {
    this.#stream = stream
    this.#relay = relay
    this.#lp = lpStream(stream, { maxDataLength: MAX_MAILBOX_RESPONSE_BYTES })
  }

  /** The relay's peer id. */
  get relay(): PeerId {
    return this.#relay
  }

  /** Sends one request and returns the relay's answer; MailboxError when it refused. */
  request(request: MailboxRequest, options: { signal?: AbortSignal } = {}): Promise<Ok> {
    const run = this.#queue.then(async () => {
      const signal = options.signal ?? AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT)
      await this.#lp.write(encodeMailboxRequest(request), { signal })
      const response = decodeMailboxResponse((await this.#lp.read({ signal })).subarray())
      if (response.status === 'error') throw new MailboxError(response.errorCode, response.retryAfterMs)
      return response
    })
    this.#queue = run.catch(() => {})
    return run
  }

  /** Registers (or refreshes) the owner's mailbox at this relay until `expiresAt`. */
  async register(
    backend: CryptoBackend,
    identity: IdentityKeyPair,
    fields: { expiresAt: number; depositTokenHashes?: readonly Uint8Array[] },
    options: { signal?: AbortSignal } = {}
  ): Promise<void> {
    const registration = await signMailboxRegistration(backend, identity, {
      relay: this.#relay.toMultihash().bytes,
      ...fields
    })
    await this.request({ op: 'register', registration: encodeMailboxRegistration(registration) }, options)
  }

  /** Opens an owner session (challenge, then its signature); returns how many one-time prekeys the relay holds. */
  async authenticate(
    backend: CryptoBackend,
    identity: IdentityKeyPair,
    options: { signal?: AbortSignal } = {}
  ): Promise<{ x25519: number; kem: number }> {
    const { challenge } = await this.request({ op: 'challenge', mailbox: identity.publicKey }, options)
    if (challenge === undefined) throw new MailboxError('Malformed')
    const signature = await signMailboxAuth(backend, identity, this.#relay.toMultihash().bytes, challenge)
    const r = await this.request({ op: 'auth', mailbox: identity.publicKey, challenge, signature }, options)
    return { x25519: r.prekeysX25519 ?? 0, kem: r.prekeysKem ?? 0 }
  }

  /** Deposits an opaque envelope for `recipient`'s mailbox; resolves with its id once the relay synced it. */
  async deposit(
    recipient: Uint8Array,
    envelope: Uint8Array,
    options: { signal?: AbortSignal; depositToken?: Uint8Array } = {}
  ): Promise<number> {
    const r = await this.request(
      {
        op: 'deposit',
        mailbox: recipient,
        envelope,
        ...(options.depositToken !== undefined && { depositToken: options.depositToken })
      },
      options
    )
    return r.id ?? 0
  }

  /** The next page of waiting envelopes (owner session only). */
  async fetch(options: { signal?: AbortSignal } = {}): Promise<{ items: readonly MailboxItem[]; more: boolean }> {
    const r = await this.request({ op: 'fetch' }, options)
    return { items: r.items ?? [], more: r.more ?? false }
  }

  /** Deletes fetched envelopes at the relay (owner session only). */
  async ack(ids: readonly number[], options: { signal?: AbortSignal } = {}): Promise<void> {
    if (ids.length > 0) await this.request({ op: 'ack', ids }, options)
  }

  /** Leaves signed one-time prekeys with the relay (owner session only); returns what it holds now. */
  async putPrekeys(
    prekeys: readonly SignedOneTimePrekey[],
    options: { signal?: AbortSignal } = {}
  ): Promise<{ x25519: number; kem: number }> {
    const r = await this.request({ op: 'put-prekeys', oneTimePrekeys: prekeys.map(encodeOneTimePrekey) }, options)
    return { x25519: r.prekeysX25519 ?? 0, kem: r.prekeysKem ?? 0 }
  }

  /** Takes one one-time prekey of each kind the relay still holds for `owner` (each is handed out once). */
  async takePrekeys(owner: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<SignedOneTimePrekey[]> {
    const r = await this.request({ op: 'take-prekeys', mailbox: owner }, options)
    return (r.oneTimePrekeys ?? []).map(decodeOneTimePrekey)
  }

  async close(): Promise<void> {
    await this.#queue
    await this.#stream.close({ signal: AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT) }).catch((e: Error) => {
      this.#stream.abort(e)
    })
  }

  abort(e: Error): void {
    this.#stream.abort(e)
  }
}
