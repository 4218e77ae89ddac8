/**
 * libsignal side of the Double Ratchet benchmark.
 *
 * Measures `@signalapp/libsignal-client` (the Rust implementation behind Signal Desktop, called through its
 * Node bindings) on the same workloads we run against our own ratchet, in the same process, so the two sets of
 * figures can be compared directly.
 *
 * Fairness rule: libsignal is driven through its public async API with Desktop-style stores. Every store below
 * keeps records as serialised bytes and calls `Record.serialize()` / `Record.deserialize()` on every save / load,
 * so the cost of persisting session state on each message is part of libsignal's figures, just as it is part of
 * ours. (Desktop additionally keeps a cache of hydrated session records; we deliberately do not, so both sides pay
 * for persistence on every message.) Messages also cross the "wire" as bytes: the receiver deserialises what the
 * sender serialised.
 *
 * libsignal 0.103 always runs SPQR (its sparse post-quantum ratchet, ML-KEM-768 chunks carried alongside every
 * message) in new sessions and the Node API offers no switch to turn it off, so the figures include it.
 *
 * Run standalone: `pnpm exec node packages/crypto/bench/libsignal-baseline.ts`
 */

import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import {
  Aci,
  type CiphertextMessage,
  CiphertextMessageType,
  type Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  processPreKeyBundle,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt
} from '@signalapp/libsignal-client'

/** Throughput and size figures for libsignal, one per benchmark workload. */
export interface LibsignalFigures {
  /** (a) A encrypts a 100-byte message and B decrypts it, one direction only, on an established session. */
  encryptDecryptPerSec: number
  /** (b) Messages per second when A and B strictly alternate, so every message performs a DH ratchet step. */
  pingPongPerSec: number
  /** (c) Complete PQXDH session setups per second (bundle, first PreKey message, reply, reply decrypted). */
  sessionSetupPerSec: number
  /** Serialised size in bytes of a steady-state (non-PreKey) SignalMessage carrying a 100-byte plaintext. */
  ciphertextBytes100: number
}

const PLAINTEXT_BYTES = 100
const WARMUP_ITERATIONS = 200
/** Minimum warm-up time per workload (ms), as on our side. */
const WARMUP_MS = 1000
const DEFAULT_SECONDS = 2
const DEVICE_ID = 1
// libsignal prekey ids are 24-bit; wrap well below that so long runs never overflow.
const MAX_PREKEY_ID = 0xffffff

// ---------------------------------------------------------------------------------------------------------------
// In-memory stores that behave like Signal Desktop's: bytes at rest, (de)serialise on every call.
// ---------------------------------------------------------------------------------------------------------------

/** Sessions keyed by `ProtocolAddress.toString()` ("name.deviceId"), stored as serialised SessionRecords. */
class BytesSessionStore extends SessionStore {
  readonly #records = new Map<string, Uint8Array<ArrayBuffer>>()

  override async saveSession(address: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.#records.set(address.toString(), record.serialize())
  }

  override async getSession(address: ProtocolAddress): Promise<SessionRecord | null> {
    const bytes = this.#records.get(address.toString())
    return bytes === undefined ? null : SessionRecord.deserialize(bytes)
  }

  override async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((address) => {
      const bytes = this.#records.get(address.toString())
      if (bytes === undefined) throw new Error(`no session for ${address.toString()}`)
      return SessionRecord.deserialize(bytes)
    })
  }

  /** Drops every session, so the session-setup workload starts each iteration from nothing. */
  clear(): void {
    this.#records.clear()
  }
}

/**
 * Our identity key plus trust-on-first-use storage of peers' identity keys. Desktop keeps the private key as
 * bytes and deserialises it on every `getIdentityKey()`; we do the same.
 */
class BytesIdentityKeyStore extends IdentityKeyStore {
  readonly #privateKey: Uint8Array<ArrayBuffer>
  readonly #registrationId: number
  readonly #peers = new Map<string, Uint8Array<ArrayBuffer>>()

  constructor(identity: IdentityKeyPair, registrationId: number) {
    super()
    this.#privateKey = identity.privateKey.serialize()
    this.#registrationId = registrationId
  }

  override async getIdentityKey(): Promise<PrivateKey> {
    return PrivateKey.deserialize(this.#privateKey)
  }

  override async getLocalRegistrationId(): Promise<number> {
    return this.#registrationId
  }

  override async saveIdentity(address: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const name = address.toString()
    const previous = this.#peers.get(name)
    this.#peers.set(name, key.serialize())
    return previous === undefined || PublicKey.deserialize(previous).equals(key)
      ? IdentityChange.NewOrUnchanged
      : IdentityChange.ReplacedExisting
  }

  override async isTrustedIdentity(address: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    // Trust on first use, then only the key we saw before (what Desktop does absent a safety-number change).
    const known = this.#peers.get(address.toString())
    return known === undefined || PublicKey.deserialize(known).equals(key)
  }

  override async getIdentity(address: ProtocolAddress): Promise<PublicKey | null> {
    const bytes = this.#peers.get(address.toString())
    return bytes === undefined ? null : PublicKey.deserialize(bytes)
  }
}

/** One-time EC prekeys, as serialised PreKeyRecords; libsignal removes each one once it has been used. */
class BytesPreKeyStore extends PreKeyStore {
  readonly #records = new Map<number, Uint8Array<ArrayBuffer>>()

  override async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.#records.set(id, record.serialize())
  }

  override async getPreKey(id: number): Promise<PreKeyRecord> {
    const bytes = this.#records.get(id)
    if (bytes === undefined) throw new Error(`no prekey ${id}`)
    return PreKeyRecord.deserialize(bytes)
  }

  override async removePreKey(id: number): Promise<void> {
    this.#records.delete(id)
  }
}

/** Signed (medium-term) EC prekeys, as serialised SignedPreKeyRecords. */
class BytesSignedPreKeyStore extends SignedPreKeyStore {
  readonly #records = new Map<number, Uint8Array<ArrayBuffer>>()

  override async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.#records.set(id, record.serialize())
  }

  override async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const bytes = this.#records.get(id)
    if (bytes === undefined) throw new Error(`no signed prekey ${id}`)
    return SignedPreKeyRecord.deserialize(bytes)
  }
}

/**
 * Kyber-1024 prekeys, as serialised KyberPreKeyRecords. All the ones we publish are one-time keys, so "mark used"
 * deletes the record, as Desktop does for non-last-resort keys.
 */
class BytesKyberPreKeyStore extends KyberPreKeyStore {
  readonly #records = new Map<number, Uint8Array<ArrayBuffer>>()

  override async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.#records.set(id, record.serialize())
  }

  override async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const bytes = this.#records.get(id)
    if (bytes === undefined) throw new Error(`no kyber prekey ${id}`)
    return KyberPreKeyRecord.deserialize(bytes)
  }

  override async markKyberPreKeyUsed(id: number, _signedPreKeyId: number, _baseKey: PublicKey): Promise<void> {
    this.#records.delete(id)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parties and protocol steps
// ---------------------------------------------------------------------------------------------------------------

/** One device: its address, long-term identity, signed prekey and the full set of stores. */
interface Party {
  address: ProtocolAddress
  identity: IdentityKeyPair
  registrationId: number
  signedPreKey: SignedPreKeyRecord
  sessions: BytesSessionStore
  identities: BytesIdentityKeyStore
  preKeys: BytesPreKeyStore
  signedPreKeys: BytesSignedPreKeyStore
  kyberPreKeys: BytesKyberPreKeyStore
  /** Next id for a one-time EC prekey and a Kyber prekey (they share a counter for simplicity). */
  nextPreKeyId: number
}

async function createParty(): Promise<Party> {
  const identity = IdentityKeyPair.generate()
  // Registration ids are 14-bit, non-zero in Signal; libsignal copies them into PreKey messages.
  const registrationId = 1 + Math.floor(Math.random() * 16380)
  const signedPreKeyPrivate = PrivateKey.generate()
  const signedPreKeyPublic = signedPreKeyPrivate.getPublicKey()
  const signedPreKey = SignedPreKeyRecord.new(
    1,
    Date.now(),
    signedPreKeyPublic,
    signedPreKeyPrivate,
    identity.privateKey.sign(signedPreKeyPublic.serialize())
  )
  const party: Party = {
    // libsignal wants the address name to be a ServiceId (ACI) string; device ids must be 1..127.
    address: ProtocolAddress.new(Aci.fromUuid(randomUUID()), DEVICE_ID),
    identity,
    registrationId,
    signedPreKey,
    sessions: new BytesSessionStore(),
    identities: new BytesIdentityKeyStore(identity, registrationId),
    preKeys: new BytesPreKeyStore(),
    signedPreKeys: new BytesSignedPreKeyStore(),
    kyberPreKeys: new BytesKyberPreKeyStore(),
    nextPreKeyId: 1
  }
  await party.signedPreKeys.saveSignedPreKey(signedPreKey.id(), signedPreKey)
  return party
}

/**
 * Generates and stores a fresh one-time EC prekey and one-time Kyber-1024 prekey for `party`, and returns the
 * bundle a server would hand out for it.
 */
async function publishBundle(party: Party): Promise<PreKeyBundle> {
  const id = party.nextPreKeyId
  party.nextPreKeyId = id === MAX_PREKEY_ID ? 1 : id + 1

  const preKeyPrivate = PrivateKey.generate()
  const preKeyPublic = preKeyPrivate.getPublicKey()
  await party.preKeys.savePreKey(id, PreKeyRecord.new(id, preKeyPublic, preKeyPrivate))

  // KEMKeyPair.generate() takes no key type: it always makes libsignal's KeyType 0x08 "Kyber1024" key (libcrux's
  // round-3 Kyber-1024, the same sizes and cost as FIPS 203 ML-KEM-1024), which is what Signal's PQXDH uses.
  const kyberKeyPair = KEMKeyPair.generate()
  const kyberPublic = kyberKeyPair.getPublicKey()
  const kyberSignature = party.identity.privateKey.sign(kyberPublic.serialize())
  await party.kyberPreKeys.saveKyberPreKey(id, KyberPreKeyRecord.new(id, Date.now(), kyberKeyPair, kyberSignature))

  return PreKeyBundle.new(
    party.registrationId,
    party.address.deviceId(),
    id,
    preKeyPublic,
    party.signedPreKey.id(),
    party.signedPreKey.publicKey(),
    party.signedPreKey.signature(),
    party.identity.publicKey,
    id,
    kyberPublic,
    kyberSignature
  )
}

function encrypt(from: Party, to: Party, plaintext: Uint8Array<ArrayBuffer>): Promise<CiphertextMessage> {
  return signalEncrypt(plaintext, to.address, from.address, from.sessions, from.identities)
}

/** Decrypts `message` at `to`, deserialising it from bytes first as if it had arrived over the network. */
function decrypt(to: Party, from: Party, message: CiphertextMessage): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = message.serialize()
  if (message.type() === CiphertextMessageType.PreKey) {
    return signalDecryptPreKey(
      PreKeySignalMessage.deserialize(bytes),
      from.address,
      to.address,
      to.sessions,
      to.identities,
      to.preKeys,
      to.signedPreKeys,
      to.kyberPreKeys
    )
  }
  return signalDecrypt(SignalMessage.deserialize(bytes), from.address, to.address, to.sessions, to.identities)
}

/** Sends one message from `from` to `to` and returns what `to` decrypted. */
async function deliver(from: Party, to: Party, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return decrypt(to, from, await encrypt(from, to, plaintext))
}

/**
 * Full session setup from A's side of nothing: B publishes a bundle, A processes it and sends the first
 * (PreKey) message, B decrypts it and replies, A decrypts the reply. Returns both decrypted plaintexts.
 */
async function setUpSession(
  a: Party,
  b: Party,
  plaintext: Uint8Array<ArrayBuffer>
): Promise<{ first: Uint8Array<ArrayBuffer>; reply: Uint8Array<ArrayBuffer> }> {
  const bundle = await publishBundle(b)
  await processPreKeyBundle(bundle, b.address, a.address, a.sessions, a.identities)
  const firstMessage = await encrypt(a, b, plaintext)
  if (firstMessage.type() !== CiphertextMessageType.PreKey) throw new Error('first message is not a PreKey message')
  const first = await decrypt(b, a, firstMessage)
  const reply = await deliver(b, a, plaintext)
  return { first, reply }
}

/** Two parties with a session already past the PreKey stage (B has replied once). */
async function establishedPair(plaintext: Uint8Array<ArrayBuffer>): Promise<{ a: Party; b: Party }> {
  const a = await createParty()
  const b = await createParty()
  const { first, reply } = await setUpSession(a, b, plaintext)
  assertEqual(first, plaintext, 'session setup (first message)')
  assertEqual(reply, plaintext, 'session setup (reply)')
  return { a, b }
}

function assertEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length || !actual.every((byte, i) => byte === expected[i])) {
    throw new Error(`libsignal baseline: ${what} decrypted to something other than the plaintext`)
  }
}

/**
 * Runs `operation` WARMUP_ITERATIONS times untimed (JIT, native caches, allocator), then as often as fits in
 * `seconds` of wall clock; returns completed operations per second.
 */
async function measure(seconds: number, operation: () => Promise<unknown>): Promise<number> {
  // Warm up by count AND time, the same rule as our side (workloads.ts): V8 reaches its optimising tiers only after
  // a while, so a count alone would time partly unoptimised code on whichever side warms up faster.
  const warmEnd = performance.now() + WARMUP_MS
  for (let i = 0; i < WARMUP_ITERATIONS || performance.now() < warmEnd; i++) await operation()
  const start = performance.now()
  const deadline = start + seconds * 1000
  let count = 0
  let now = start
  while (now < deadline) {
    await operation()
    count++
    now = performance.now()
  }
  return count / ((now - start) / 1000)
}

// ---------------------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------------------

/**
 * Measures libsignal on the benchmark workloads with Desktop-style serialising in-memory stores and 100-byte
 * plaintexts. Each workload is warmed up for 200 iterations, then run for `seconds` (default 2) of wall clock.
 * Every workload first checks, untimed, that decryption returns the plaintext, and throws if it does not.
 */
export async function runLibsignalBaseline(options?: { seconds?: number }): Promise<LibsignalFigures> {
  const seconds = options?.seconds ?? DEFAULT_SECONDS
  const plaintext = crypto.getRandomValues(new Uint8Array(PLAINTEXT_BYTES))

  // (a) One direction on an established session: symmetric-key ratchet only, no DH step.
  const oneWay = await establishedPair(plaintext)
  assertEqual(await deliver(oneWay.a, oneWay.b, plaintext), plaintext, 'one-way message')
  const steadyState = await encrypt(oneWay.a, oneWay.b, plaintext)
  if (steadyState.type() !== CiphertextMessageType.Whisper) {
    throw new Error('steady-state message is not a SignalMessage')
  }
  // Measured on an early message of the chain: libsignal's counters are protobuf varints, so messages grow by a
  // few bytes once counters pass 127; SPQR's chunk adds about 33 bytes to most messages.
  const ciphertextBytes100 = steadyState.serialize().length
  assertEqual(await decrypt(oneWay.b, oneWay.a, steadyState), plaintext, 'steady-state message')
  const encryptDecryptPerSec = await measure(seconds, () => deliver(oneWay.a, oneWay.b, plaintext))

  // (b) Strict alternation: each message answers the previous one, so each carries a new ratchet key and the
  // receiver does a DH ratchet step. One operation is one message. A received B's reply last, so A sends first.
  const pingPong = await establishedPair(plaintext)
  let turn = 0
  const bounce = (): Promise<Uint8Array<ArrayBuffer>> => {
    const [from, to] = turn++ % 2 === 0 ? [pingPong.a, pingPong.b] : [pingPong.b, pingPong.a]
    return deliver(from, to, plaintext)
  }
  assertEqual(await bounce(), plaintext, 'ping (A to B)')
  assertEqual(await bounce(), plaintext, 'pong (B to A)')
  const pingPongPerSec = await measure(seconds, bounce)

  // (c) Session setup. Timed per setup: B generating and storing a one-time EC prekey and a one-time
  // Kyber-1024 prekey (keygen + signature, as every setup consumes a fresh pair of these), bundle assembly,
  // A's processPreKeyBundle, A's first encrypt (PreKeySignalMessage), B's signalDecryptPreKey, B's reply and
  // A's decryption of it. Not timed: identity keys, registration ids and B's signed prekey, which are
  // long-lived and generated once. Both session stores are emptied before each setup so every setup starts from
  // nothing rather than archiving the previous session into an ever-growing record.
  const alice = await createParty()
  const bob = await createParty()
  const setup = (): Promise<{ first: Uint8Array<ArrayBuffer>; reply: Uint8Array<ArrayBuffer> }> => {
    alice.sessions.clear()
    bob.sessions.clear()
    return setUpSession(alice, bob, plaintext)
  }
  const checked = await setup()
  assertEqual(checked.first, plaintext, 'session setup (first message)')
  assertEqual(checked.reply, plaintext, 'session setup (reply)')
  const sessionSetupPerSec = await measure(seconds, setup)

  return { encryptDecryptPerSec, pingPongPerSec, sessionSetupPerSec, ciphertextBytes100 }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await runLibsignalBaseline()
  console.log(JSON.stringify(figures, null, 2))
}
