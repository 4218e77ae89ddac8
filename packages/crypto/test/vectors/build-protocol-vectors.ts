/**
 * Builds test/vectors/protocol-v1.json: fixed bytes for every encoding of @parley/crypto and one short
 * conversation, made once from seeds and checked on every backend by test/vectors.test.ts.
 *
 *   pnpm exec node packages/crypto/test/vectors/build-protocol-vectors.ts [--force]
 *
 * Each party runs on `deterministicBackend(nodeBackend, randomSeed)` with a fixed clock, so every key, nonce and
 * signature follows from the seeds, except ML-KEM encapsulation, which draws its randomness inside the native
 * implementation: the initial message (and every ratchet key and message after it) differs on each run. The vectors
 * therefore pin the bytes of one run; the test decrypts and decodes them on every backend and re-creates only the
 * parts that are deterministic (identities, certificates, prekeys, bundles, fresh accounts).
 *
 * It refuses to replace an existing file without --force. Regenerate only on purpose (a new format or state
 * version): the point of the file is that old bytes keep working.
 */
import {
  type AccountState,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  encodeAccount,
  encodeBundle,
  encodeCertificate,
  encodeOneTimePrekey,
  encodePrekeyBundle,
  fromHex,
  generateIdentity,
  generateOneTimePrekeys,
  type IdentityKeyPair,
  type PrekeyBundle,
  safetyNumber,
  takePrekeyBundle,
  toHex
} from '../../src/api.ts'
import { deterministicBackend, MemoryProtocolStore } from '../../src/testing.ts'

/** Everything a party's deterministic set-up depends on (the JSON records each field as hex or a number). */
export interface PartyRecipe {
  /** 32-byte Ed25519 seed of the identity key. */
  readonly identitySeed: Uint8Array
  /** Seed of the party's deterministicBackend: every other key and nonce it makes follows from it. */
  readonly randomSeed: Uint8Array
  /** The device's network key bytes, certified by the identity. */
  readonly deviceKey: Uint8Array
  readonly now: number
  readonly certificateLifetimeMs: number
  /** One-time prekeys of each kind (X25519 first, then ML-KEM). */
  readonly oneTimePrekeys: number
}

/** A party as set up from its recipe, before any session. */
export interface BuiltParty {
  /** The seeded backend; its stream has advanced past the set-up, so later draws continue it. */
  readonly backend: CryptoBackend
  readonly identity: IdentityKeyPair
  readonly account: AccountState
}

/**
 * The deterministic set-up of one party: identity from its seed, an account with a certified device, a signed
 * prekey and a last-resort KEM prekey, then the one-time prekeys. The test re-runs this on every backend, so the
 * order of key generation here IS the vector format: change it and the recorded bytes no longer follow.
 */
export async function buildParty(base: CryptoBackend, recipe: PartyRecipe): Promise<BuiltParty> {
  const backend = deterministicBackend(base, recipe.randomSeed)
  const identity = await generateIdentity(backend, recipe.identitySeed)
  let account = await createAccount(backend, {
    identity,
    deviceKey: recipe.deviceKey,
    now: recipe.now,
    certificateLifetimeMs: recipe.certificateLifetimeMs
  })
  account = await generateOneTimePrekeys(backend, account, 'x25519', recipe.oneTimePrekeys)
  account = await generateOneTimePrekeys(backend, account, 'kem', recipe.oneTimePrekeys)
  return { backend, identity, account }
}

/** The hand-out the responder serves: a signed bundle plus one one-time prekey of each kind. */
export async function handOutBundle(
  party: BuiltParty,
  now: number,
  bundleLifetimeMs: number
): Promise<{ account: AccountState; prekeyBundle: PrekeyBundle }> {
  const taken = await takePrekeyBundle(party.backend, party.account, now, bundleLifetimeMs)
  return { account: taken.state, prekeyBundle: taken.prekeyBundle }
}

/** One party in protocol-v1.json; byte strings are lower-case hex. */
export interface VectorParty {
  readonly identitySeed: string
  readonly randomSeed: string
  readonly deviceKey: string
  readonly identityKey: string
  /** deviceAddress(identityKey, deviceKey). */
  readonly address: string
  readonly certificate: string
}

/** One message in protocol-v1.json. */
export interface VectorMessage {
  readonly messageId: string
  readonly plaintext: string
  readonly ciphertext: string
}

/** The shape of protocol-v1.json (hex for bytes, numbers for times and counts). */
export interface ProtocolVectors {
  readonly source: string
  readonly version: number
  readonly clock: number
  readonly certificateLifetimeMs: number
  readonly bundleLifetimeMs: number
  readonly oneTimePrekeys: number
  readonly parties: { readonly alice: VectorParty; readonly bob: VectorParty }
  /** Bob's hand-out: the signed bundle, one one-time prekey of each kind, and all three as one prekey bundle. */
  readonly prekeyBundle: {
    readonly bundle: string
    readonly oneTimePrekey: string
    readonly oneTimeKemPrekey: string
    readonly prekeyBundle: string
  }
  readonly accounts: {
    readonly alice: { readonly created: string }
    readonly bob: { readonly created: string; readonly afterHandOut: string; readonly afterDecryptInitial: string }
  }
  readonly messages: { readonly initial: VectorMessage; readonly reply: VectorMessage; readonly steady: VectorMessage }
  /** Each side's record for the other, after each step. */
  readonly sessionRecords: {
    readonly alice: {
      readonly afterStartSession: string
      readonly afterSendInitial: string
      readonly afterDecryptReply: string
      readonly afterSendSteady: string
    }
    readonly bob: {
      readonly afterDecryptInitial: string
      readonly afterSendReply: string
      readonly afterDecryptSteady: string
    }
  }
  readonly safetyNumber: { readonly digits: string; readonly qrPayload: string }
}

/** The fixed parameters of protocol-v1.json. */
export const CLOCK = Date.UTC(2026, 0, 1, 12, 0, 0)
export const CERTIFICATE_LIFETIME_MS = 365 * 24 * 3600 * 1000
export const BUNDLE_LIFETIME_MS = 7 * 24 * 3600 * 1000
export const ONE_TIME_PREKEYS = 2

const utf8 = new TextEncoder()

/** A libp2p-style Ed25519 public-key protobuf (type 1, 32 key bytes) with fixed content: the device key. */
function fakeLibp2pKey(tag: number): Uint8Array {
  return Uint8Array.from([0x08, 0x01, 0x12, 0x20, ...Array.from({ length: 32 }, (_, i) => (tag * 37 + i * 11) & 0xff)])
}

async function main(): Promise<void> {
  const { nodeBackend } = await import('../../src/backend/node.ts')
  const { existsSync, writeFileSync } = await import('node:fs')
  const path = new URL('./protocol-v1.json', import.meta.url)
  // A new run makes new KEM randomness and so new message and record bytes: never replace recorded ones by accident.
  if (existsSync(path) && !process.argv.includes('--force')) {
    console.error(`${path.pathname} exists; pass --force to replace it (only with a new format or state version)`)
    process.exitCode = 1
    return
  }
  const started = performance.now()
  // Seeds are hashes of readable labels, so anyone can tell they were not picked to hide anything.
  const seed = async (label: string) => nodeBackend.sha256(utf8.encode(`parley/test-vectors/protocol-v1/${label}`))
  const recipe = async (name: string, tag: number): Promise<PartyRecipe> => ({
    identitySeed: await seed(`${name}/identity`),
    randomSeed: await seed(`${name}/random`),
    deviceKey: fakeLibp2pKey(tag),
    now: CLOCK,
    certificateLifetimeMs: CERTIFICATE_LIFETIME_MS,
    oneTimePrekeys: ONE_TIME_PREKEYS
  })
  const recipes = { alice: await recipe('alice', 1), bob: await recipe('bob', 2) }
  const alice = await buildParty(nodeBackend, recipes.alice)
  const bob = await buildParty(nodeBackend, recipes.bob)
  const handOut = await handOutBundle(bob, CLOCK, BUNDLE_LIFETIME_MS)
  const prekeyBundle = handOut.prekeyBundle
  if (prekeyBundle.oneTimePrekey === undefined || prekeyBundle.oneTimeKemPrekey === undefined) {
    throw new Error('the hand-out must carry one-time prekeys of both kinds')
  }

  const now = () => CLOCK
  const storeA = new MemoryProtocolStore()
  const storeB = new MemoryProtocolStore()
  storeA.account = encodeAccount(alice.account)
  storeB.account = encodeAccount(handOut.account)
  const a = createSessionManager({ backend: alice.backend, account: alice.account, store: storeA, now })
  const b = createSessionManager({ backend: bob.backend, account: handOut.account, store: storeB, now })
  const recordA = () => toHex(storeA.records.get(b.address)!)
  const recordB = () => toHex(storeB.records.get(a.address)!)

  const messages = {
    initial: { messageId: fromHex('00000000000000000000000000000001'), text: 'Hello Bob: the first message.' },
    reply: { messageId: fromHex('00000000000000000000000000000002'), text: 'Hi Alice: the first reply.' },
    steady: { messageId: fromHex('00000000000000000000000000000003'), text: 'A steady ratchet message.' }
  }
  const bobCreated = toHex(encodeAccount(bob.account))
  const bobAfterHandOut = toHex(encodeAccount(handOut.account))

  await a.startSession(prekeyBundle)
  const afterStartSession = recordA()
  const initial = await a.encrypt(b.address, utf8.encode(messages.initial.text), {
    messageId: messages.initial.messageId
  })
  if (!initial.initial) throw new Error('the first message must be an initial message')
  const afterSendInitial = recordA()

  const got1 = await b.decrypt(initial.ciphertext, { messageId: messages.initial.messageId })
  expectText(got1.plaintext, messages.initial.text)
  const afterDecryptInitial = recordB()
  const bobAfterDecryptInitial = toHex(storeB.account!)
  const reply = await b.encrypt(a.address, utf8.encode(messages.reply.text), { messageId: messages.reply.messageId })
  if (reply.initial) throw new Error('the reply must be a ratchet message')
  const afterSendReply = recordB()

  const got2 = await a.decrypt(reply.ciphertext, { messageId: messages.reply.messageId, address: b.address })
  expectText(got2.plaintext, messages.reply.text)
  const afterDecryptReply = recordA()
  const steady = await a.encrypt(b.address, utf8.encode(messages.steady.text), { messageId: messages.steady.messageId })
  if (steady.initial) throw new Error('after the reply, messages must be ratchet messages')
  const afterSendSteady = recordA()

  const got3 = await b.decrypt(steady.ciphertext, { messageId: messages.steady.messageId, address: a.address })
  expectText(got3.plaintext, messages.steady.text)
  const afterDecryptSteady = recordB()

  const safety = await safetyNumber(nodeBackend, alice.identity.publicKey, bob.identity.publicKey)
  const party = (name: 'alice' | 'bob', built: BuiltParty, address: string): VectorParty => ({
    identitySeed: toHex(recipes[name].identitySeed),
    randomSeed: toHex(recipes[name].randomSeed),
    deviceKey: toHex(recipes[name].deviceKey),
    identityKey: toHex(built.identity.publicKey),
    address,
    certificate: toHex(encodeCertificate(built.account.device.certificate))
  })
  const wire = (m: { messageId: Uint8Array; text: string }, ciphertext: Uint8Array): VectorMessage => ({
    messageId: toHex(m.messageId),
    plaintext: toHex(utf8.encode(m.text)),
    ciphertext: toHex(ciphertext)
  })

  const vectors: ProtocolVectors = {
    source:
      'Built once by packages/crypto/test/vectors/build-protocol-vectors.ts (pnpm exec node that file) on the node ' +
      'backend: each party runs on deterministicBackend(nodeBackend, randomSeed) with the clock fixed at `clock`; ' +
      'identities come from identitySeed. Keys, nonces and Ed25519 signatures follow from the seeds, so parties.*, ' +
      'accounts.*.created, accounts.bob.afterHandOut and prekeyBundle.* are re-created byte for byte on every ' +
      'backend. ML-KEM encapsulation draws its own randomness inside the native implementation, so the messages and ' +
      'session records are bytes of one run: every backend must decrypt and decode them, not re-create them. ' +
      'All byte strings are lower-case hex. Do not regenerate unless a format or state version changes on purpose.',
    version: 1,
    clock: CLOCK,
    certificateLifetimeMs: CERTIFICATE_LIFETIME_MS,
    bundleLifetimeMs: BUNDLE_LIFETIME_MS,
    oneTimePrekeys: ONE_TIME_PREKEYS,
    parties: { alice: party('alice', alice, a.address), bob: party('bob', bob, b.address) },
    prekeyBundle: {
      bundle: toHex(encodeBundle(prekeyBundle.bundle)),
      oneTimePrekey: toHex(encodeOneTimePrekey(prekeyBundle.oneTimePrekey)),
      oneTimeKemPrekey: toHex(encodeOneTimePrekey(prekeyBundle.oneTimeKemPrekey)),
      prekeyBundle: toHex(encodePrekeyBundle(prekeyBundle))
    },
    accounts: {
      alice: { created: toHex(encodeAccount(alice.account)) },
      bob: { created: bobCreated, afterHandOut: bobAfterHandOut, afterDecryptInitial: bobAfterDecryptInitial }
    },
    messages: {
      initial: wire(messages.initial, initial.ciphertext),
      reply: wire(messages.reply, reply.ciphertext),
      steady: wire(messages.steady, steady.ciphertext)
    },
    sessionRecords: {
      alice: { afterStartSession, afterSendInitial, afterDecryptReply, afterSendSteady },
      bob: { afterDecryptInitial, afterSendReply, afterDecryptSteady }
    },
    safetyNumber: { digits: safety.digits, qrPayload: toHex(safety.qrPayload) }
  }
  const json = `${JSON.stringify(vectors, null, 2)}\n`
  writeFileSync(path, json)
  console.log(`wrote ${path.pathname}: ${json.length} bytes in ${Math.round(performance.now() - started)} ms`)
}

function expectText(got: Uint8Array, want: string): void {
  const text = new TextDecoder().decode(got)
  if (text !== want) throw new Error(`decrypted ${JSON.stringify(text)}, expected ${JSON.stringify(want)}`)
}

// Only when run as a script: the test imports buildParty and handOutBundle from this file, in Node and in Chromium.
if (import.meta.main) await main()
