/**
 * The mailbox protocol's formats: each op carries exactly its fields, responses pair status and fields, registrations
 * and owner signatures verify only for what was signed, and mailbox ids separate identities.
 */
import { defaultBackend, generateIdentity, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeEnvelope,
  decodeMailboxRegistration,
  decodeMailboxRequest,
  decodeMailboxResponse,
  encodeEnvelope,
  encodeMailboxRegistration,
  encodeMailboxRequest,
  encodeMailboxResponse,
  InvalidValueError,
  MAX_MAILBOX_ENVELOPE_BYTES,
  type MailboxRequest,
  mailboxAuthMessage,
  mailboxId,
  OversizeError,
  RecordSignatureError,
  signMailboxAuth,
  signMailboxRegistration,
  verifyMailboxAuth,
  verifyMailboxRegistration,
  WireError
} from '../src/index.ts'
import { encodeMessage, MAILBOX_REQUEST_SCHEMA, MAILBOX_RESPONSE_SCHEMA } from '../src/testing.ts'

const backend = defaultBackend
const key = new Uint8Array(32).fill(5)
const relay = Uint8Array.of(0, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(9))

const requests: MailboxRequest[] = [
  { op: 'register', registration: Uint8Array.of(1) },
  { op: 'deposit', mailbox: key, envelope: Uint8Array.of(1, 2) },
  { op: 'deposit', mailbox: key, envelope: Uint8Array.of(1), depositToken: new Uint8Array(32) },
  { op: 'challenge', mailbox: key },
  { op: 'auth', mailbox: key, challenge: new Uint8Array(32), signature: new Uint8Array(64) },
  { op: 'fetch' },
  { op: 'ack', ids: [1, 2 ** 50] },
  { op: 'put-prekeys', oneTimePrekeys: [Uint8Array.of(1)] },
  { op: 'take-prekeys', mailbox: key }
]

describe('mailbox formats', () => {
  it('every op round-trips with exactly its fields', () => {
    for (const r of requests) expect(decodeMailboxRequest(encodeMailboxRequest(r))).toEqual(r)
  })

  it('a field another op uses, or a missing one, is refused when decoding and when encoding', () => {
    // Built with the raw schema, bypassing the shape check the encoder applies.
    const raw = (fields: Record<string, unknown>) =>
      encodeMessage(MAILBOX_REQUEST_SCHEMA, { version: 1, ids: [], oneTimePrekeys: [], ...fields } as never)
    expect(() => decodeMailboxRequest(raw({ op: 'fetch', mailbox: key }))).toThrow(InvalidValueError)
    expect(() => decodeMailboxRequest(raw({ op: 'deposit', mailbox: key }))).toThrow(InvalidValueError)
    expect(() => decodeMailboxRequest(raw({ op: 'ack' }))).toThrow(InvalidValueError)
    expect(() => decodeMailboxRequest(raw({ op: 'challenge', mailbox: key, envelope: Uint8Array.of(1) }))).toThrow(
      InvalidValueError
    )
    expect(() => encodeMailboxRequest({ op: 'fetch', mailbox: key } as never)).toThrow(InvalidValueError)
  })

  it('responses pair status with their fields', () => {
    const ok = {
      status: 'ok',
      id: 3,
      challenge: new Uint8Array(32),
      more: false,
      prekeysX25519: 1,
      prekeysKem: 2
    } as const
    expect(decodeMailboxResponse(encodeMailboxResponse(ok))).toEqual(ok)
    const err = { status: 'error', errorCode: 'QuotaExceeded' } as const
    expect(decodeMailboxResponse(encodeMailboxResponse(err))).toEqual(err)
    const mixed = encodeMessage(MAILBOX_RESPONSE_SCHEMA, {
      version: 1,
      status: 'error',
      errorCode: 'X',
      id: 4,
      items: [],
      oneTimePrekeys: []
    } as never)
    expect(() => decodeMailboxResponse(mixed)).toThrow(InvalidValueError)
    const okWithRetry = encodeMessage(MAILBOX_RESPONSE_SCHEMA, {
      version: 1,
      status: 'ok',
      retryAfterMs: 4,
      items: [],
      oneTimePrekeys: []
    } as never)
    expect(() => decodeMailboxResponse(okWithRetry)).toThrow(InvalidValueError)
  })

  it('an envelope over the deposit limit is refused by size before parsing', () => {
    const big = encodeMailboxRequest({
      op: 'deposit',
      mailbox: key,
      envelope: new Uint8Array(MAX_MAILBOX_ENVELOPE_BYTES)
    })
    expect(decodeMailboxRequest(big).op).toBe('deposit')
    expect(() =>
      encodeMailboxRequest({ op: 'deposit', mailbox: key, envelope: new Uint8Array(MAX_MAILBOX_ENVELOPE_BYTES + 1) })
    ).toThrow(WireError)
    expect(() => decodeMailboxRequest(new Uint8Array(MAILBOX_REQUEST_SCHEMA.maxBytes + 1))).toThrow(OversizeError)
  })

  it('random bytes decode to a request or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeMailboxRequest(bytes)
        } catch (e) {
          expect(e).toBeInstanceOf(WireError)
        }
        try {
          decodeMailboxResponse(bytes)
        } catch (e) {
          expect(e).toBeInstanceOf(WireError)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it('a registration verifies for what was signed only', async () => {
    const identity = await generateIdentity(backend)
    const reg = await signMailboxRegistration(backend, identity, { relay, expiresAt: 1_900_000_000_000 })
    const decoded = decodeMailboxRegistration(encodeMailboxRegistration(reg))
    await verifyMailboxRegistration(backend, decoded)
    for (const tampered of [
      { ...decoded, expiresAt: decoded.expiresAt + 1 },
      { ...decoded, relay: Uint8Array.of(...relay.subarray(0, -1), 0) },
      { ...decoded, depositTokenHashes: [new Uint8Array(32)] },
      { ...decoded, identityKey: (await generateIdentity(backend)).publicKey }
    ]) {
      await expect(verifyMailboxRegistration(backend, tampered)).rejects.toBeInstanceOf(RecordSignatureError)
    }
  })

  it('an owner signature binds relay, mailbox and challenge', async () => {
    const identity = await generateIdentity(backend)
    const challenge = new Uint8Array(32).fill(1)
    const sig = await signMailboxAuth(backend, identity, relay, challenge)
    expect(await verifyMailboxAuth(backend, relay, identity.publicKey, challenge, sig)).toBe(true)
    expect(await verifyMailboxAuth(backend, relay, identity.publicKey, new Uint8Array(32).fill(2), sig)).toBe(false)
    expect(await verifyMailboxAuth(backend, Uint8Array.of(1, 2), identity.publicKey, challenge, sig)).toBe(false)
    expect(await verifyMailboxAuth(backend, relay, (await generateIdentity(backend)).publicKey, challenge, sig)).toBe(
      false
    )
    expect(await verifyMailboxAuth(backend, relay, new Uint8Array(32), challenge, sig)).toBe(false)
    // The signed bytes start with the context and cannot be mistaken for a registration or a DHT record.
    expect(new TextDecoder().decode(mailboxAuthMessage(relay, identity.publicKey, challenge).subarray(0, 22))).toBe(
      'Parley/v1/mailbox-auth'
    )
  })

  it('mailbox ids are a domain-separated hash of the identity', async () => {
    const a = await mailboxId(backend, new Uint8Array(32).fill(1))
    const b = await mailboxId(backend, new Uint8Array(32).fill(2))
    expect(a).toHaveLength(32)
    expect(toHex(a)).not.toBe(toHex(b))
    expect(toHex(a)).not.toBe(toHex(await backend.sha256(new Uint8Array(32).fill(1))))
  })

  it('an envelope may carry a sealed sender, and decodes the same without one', () => {
    const plain = { messageId: new Uint8Array(16), ciphertext: Uint8Array.of(1) }
    expect(decodeEnvelope(encodeEnvelope(plain))).toEqual({ version: 1, ...plain })
    const sealed = { ...plain, sealedSender: Uint8Array.of(9, 9) }
    expect(decodeEnvelope(encodeEnvelope(sealed))).toEqual({ version: 1, ...sealed })
  })
})
