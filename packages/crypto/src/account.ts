/**
 * The local device's key material: identity, device certificate, signed and last-resort prekeys (current and
 * retired-within-grace), one-time prekeys, the last-resort replay caches and the bundle sequence number.
 * Pure functions over an immutable AccountState; the session manager persists it through the store.
 */
import type { CryptoBackend, RawKeyPair } from './backend/types.ts'
import { MLKEM1024_PUBLIC_KEY_BYTES, MLKEM1024_SEED_BYTES } from './backend/types.ts'
import { type Bundle, type PrekeyBundle, type SignedOneTimePrekey, signBundle, signOneTimePrekey } from './bundle.ts'
import { Reader, Writer } from './codec.ts'
import {
  MAX_HANDED_OUT_PREKEYS,
  MAX_ONE_TIME_PREKEYS,
  MAX_REPLAY_CACHE_ENTRIES,
  PREKEY_GRACE_MS,
  STATE_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS
} from './constants.ts'
import { InvalidParameterError, MalformedError, UnknownStateVersionError } from './errors.ts'
import {
  certifyDevice,
  type DeviceCertificate,
  decodeCertificate,
  encodeCertificate,
  type IdentityKeyPair,
  type LocalDevice
} from './identity.ts'

/** A signed (X25519) or last-resort (ML-KEM-1024) prekey kept by the device. */
export interface LocalPrekey {
  readonly id: number
  readonly keyPair: RawKeyPair
  readonly createdAt: number
  /** Set when a newer one replaced it; deleted PREKEY_GRACE_MS later. */
  readonly retiredAt?: number
}

/** A last-resort KEM prekey and the first messages already used with it: hex(base key || KEM ciphertext hash). */
export interface LocalLastResortPrekey extends LocalPrekey {
  readonly replayCache: readonly string[]
}

/** A one-time prekey with its signature, and whether it was already given to someone. */
export interface LocalOneTimePrekey {
  readonly kind: 'x25519' | 'kem'
  readonly id: number
  readonly keyPair: RawKeyPair
  readonly signature: Uint8Array
  readonly handedOut: boolean
}

export interface AccountState {
  readonly identity: IdentityKeyPair
  readonly device: LocalDevice
  /** Newest first. */
  readonly signedPrekeys: readonly LocalPrekey[]
  /** Newest first. */
  readonly lastResortPrekeys: readonly LocalLastResortPrekey[]
  readonly oneTimePrekeys: readonly LocalOneTimePrekey[]
  readonly nextPrekeyId: number
  readonly bundleSequence: number
}

export interface CreateAccountOptions {
  identity: IdentityKeyPair
  /** The device's network key bytes (its libp2p public key). */
  deviceKey: Uint8Array
  now: number
  /** How long the device certificate is valid. */
  certificateLifetimeMs: number
}

/** A fresh account with a certified device, a signed prekey and a last-resort KEM prekey (no one-time prekeys yet). */
export async function createAccount(backend: CryptoBackend, options: CreateAccountOptions): Promise<AccountState> {
  const device = await certifyDevice(backend, options.identity, {
    deviceKey: options.deviceKey,
    issuedAt: options.now,
    expiresAt: options.now + options.certificateLifetimeMs
  })
  let state: AccountState = {
    identity: options.identity,
    device,
    signedPrekeys: [],
    lastResortPrekeys: [],
    oneTimePrekeys: [],
    nextPrekeyId: 1,
    bundleSequence: 0
  }
  state = await rotateSignedPrekey(backend, state, options.now)
  state = await rotateLastResortPrekey(backend, state, options.now)
  return state
}

/** Makes a new signed prekey current; the previous one stays for PREKEY_GRACE_MS. */
export async function rotateSignedPrekey(
  backend: CryptoBackend,
  state: AccountState,
  now: number
): Promise<AccountState> {
  const keyPair = await backend.x25519KeyPair()
  const fresh: LocalPrekey = { id: state.nextPrekeyId, keyPair, createdAt: now }
  const retired = state.signedPrekeys.map((p) => (p.retiredAt === undefined ? { ...p, retiredAt: now } : p))
  return { ...state, signedPrekeys: [fresh, ...retired], nextPrekeyId: state.nextPrekeyId + 1 }
}

/** Makes a new last-resort KEM prekey current (with an empty replay cache); the previous one stays for the grace period. */
export async function rotateLastResortPrekey(
  backend: CryptoBackend,
  state: AccountState,
  now: number
): Promise<AccountState> {
  const keyPair = await backend.mlKem1024KeyPair()
  const fresh: LocalLastResortPrekey = { id: state.nextPrekeyId, keyPair, createdAt: now, replayCache: [] }
  const retired = state.lastResortPrekeys.map((p) => (p.retiredAt === undefined ? { ...p, retiredAt: now } : p))
  return { ...state, lastResortPrekeys: [fresh, ...retired], nextPrekeyId: state.nextPrekeyId + 1 }
}

/** Deletes retired prekeys (and their replay caches) whose grace period has passed. */
export function pruneRetiredPrekeys(state: AccountState, now: number): AccountState {
  const keep = (p: LocalPrekey) => p.retiredAt === undefined || now - p.retiredAt < PREKEY_GRACE_MS
  return {
    ...state,
    signedPrekeys: state.signedPrekeys.filter(keep),
    lastResortPrekeys: state.lastResortPrekeys.filter(keep)
  }
}

/** Adds up to `count` one-time prekeys of `kind`, never holding more than MAX_ONE_TIME_PREKEYS of a kind. */
export async function generateOneTimePrekeys(
  backend: CryptoBackend,
  state: AccountState,
  kind: 'x25519' | 'kem',
  count: number
): Promise<AccountState> {
  if (!Number.isInteger(count) || count < 0) throw new InvalidParameterError('count', 'a non-negative integer')
  // Only keys not yet handed out count against the cap: handed-out ones wait for a first message that may never come.
  const have = availableOneTimePrekeys(state, kind)
  const n = Math.max(0, Math.min(count, MAX_ONE_TIME_PREKEYS - have))
  const added: LocalOneTimePrekey[] = []
  let id = state.nextPrekeyId
  for (let i = 0; i < n; i++, id++) {
    const keyPair = kind === 'kem' ? await backend.mlKem1024KeyPair() : await backend.x25519KeyPair()
    const signed = await signOneTimePrekey(backend, state.identity.secretKey, {
      kind,
      id,
      publicKey: keyPair.publicKey
    })
    added.push({ kind, id, keyPair, signature: signed.signature, handedOut: false })
  }
  // Handed-out keys of this kind beyond MAX_HANDED_OUT_PREKEYS are dropped, oldest first (a stranger draining the
  // pool cannot grow the account without bound); a first message naming a dropped one gets UnknownPrekey, and its
  // sender starts over with a fresh bundle.
  let handedOut = state.oneTimePrekeys.filter((p) => p.kind === kind && p.handedOut).length
  const kept = state.oneTimePrekeys.filter((p) => {
    if (p.kind !== kind || !p.handedOut || handedOut <= MAX_HANDED_OUT_PREKEYS) return true
    handedOut--
    return false
  })
  return { ...state, oneTimePrekeys: [...kept, ...added], nextPrekeyId: id }
}

/** How many one-time prekeys of `kind` have not been handed out yet (replenish below a threshold). */
export function availableOneTimePrekeys(state: AccountState, kind: 'x25519' | 'kem'): number {
  return state.oneTimePrekeys.filter((p) => p.kind === kind && !p.handedOut).length
}

/** Marks up to `count` unused one-time prekeys of `kind` as handed out and returns their public, signed form. */
export function handOutOneTimePrekeys(
  state: AccountState,
  kind: 'x25519' | 'kem',
  count: number
): { state: AccountState; prekeys: SignedOneTimePrekey[] } {
  const prekeys: SignedOneTimePrekey[] = []
  const oneTimePrekeys = state.oneTimePrekeys.map((p) => {
    if (prekeys.length >= count || p.kind !== kind || p.handedOut) return p
    prekeys.push({ kind, id: p.id, publicKey: p.keyPair.publicKey, signature: p.signature })
    return { ...p, handedOut: true }
  })
  return { state: { ...state, oneTimePrekeys }, prekeys }
}

/**
 * Signs a bundle for publication. The sequence number never goes backwards, even after a restore from an old
 * backup: max(last + 1, now).
 */
export async function publishBundle(
  backend: CryptoBackend,
  state: AccountState,
  now: number,
  lifetimeMs: number
): Promise<{ state: AccountState; bundle: Bundle }> {
  const sequence = Math.max(state.bundleSequence + 1, now)
  const spk = state.signedPrekeys[0]
  const lr = state.lastResortPrekeys[0]
  if (spk === undefined || lr === undefined) throw new InvalidParameterError('account', 'current prekeys')
  const bundle = await signBundle(backend, state.identity.secretKey, {
    protocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
    identityKey: state.identity.publicKey,
    certificate: state.device.certificate,
    sequence,
    expiresAt: now + lifetimeMs,
    signedPrekey: { id: spk.id, publicKey: spk.keyPair.publicKey },
    lastResortKemPrekey: { id: lr.id, publicKey: lr.keyPair.publicKey }
  })
  return { state: { ...state, bundleSequence: sequence }, bundle }
}

/** A bundle plus one one-time prekey of each kind when any is left (what the device's prekey protocol serves). */
export async function takePrekeyBundle(
  backend: CryptoBackend,
  state: AccountState,
  now: number,
  lifetimeMs: number
): Promise<{ state: AccountState; prekeyBundle: PrekeyBundle }> {
  const published = await publishBundle(backend, state, now, lifetimeMs)
  const x = handOutOneTimePrekeys(published.state, 'x25519', 1)
  const k = handOutOneTimePrekeys(x.state, 'kem', 1)
  const prekeyBundle: PrekeyBundle = {
    bundle: published.bundle,
    ...(x.prekeys[0] && { oneTimePrekey: x.prekeys[0] }),
    ...(k.prekeys[0] && { oneTimeKemPrekey: k.prekeys[0] })
  }
  return { state: k.state, prekeyBundle }
}

/** Adds a first-message fingerprint to a last-resort prekey's replay cache (bounded; oldest dropped). */
export function rememberLastResortUse(state: AccountState, prekeyId: number, fingerprint: string): AccountState {
  return {
    ...state,
    lastResortPrekeys: state.lastResortPrekeys.map((p) =>
      p.id === prekeyId ? { ...p, replayCache: [...p.replayCache, fingerprint].slice(-MAX_REPLAY_CACHE_ENTRIES) } : p
    )
  }
}

/** Removes consumed one-time prekeys. */
export function consumeOneTimePrekeys(state: AccountState, ids: readonly number[]): AccountState {
  if (ids.length === 0) return state
  return { ...state, oneTimePrekeys: state.oneTimePrekeys.filter((p) => !ids.includes(p.id)) }
}

// ---- persistence ----

const ACCOUNT_MAGIC = 0x50 // 'P'

function writePrekey(w: Writer, p: LocalPrekey): void {
  w.u32(p.id).bytes(p.keyPair.secretKey).bytes(p.keyPair.publicKey).u64(p.createdAt)
  w.optional(p.retiredAt, (w, v) => w.u64(v))
}

function readPrekey(r: Reader, secretBytes: number, publicBytes: number): LocalPrekey {
  const id = r.u32()
  const secretKey = r.bytes(secretBytes)
  const publicKey = r.bytes(publicBytes)
  const createdAt = r.u64()
  const retiredAt = r.optional((r) => r.u64())
  return { id, keyPair: { secretKey, publicKey }, createdAt, ...(retiredAt !== undefined && { retiredAt }) }
}

/** Serialises the account (secret keys included: the store encrypts it at rest). */
export function encodeAccount(s: AccountState): Uint8Array {
  const w = new Writer(8192).u8(ACCOUNT_MAGIC).u8(STATE_VERSION)
  w.bytes(s.identity.publicKey).bytes(s.identity.secretKey)
  w.bytes(encodeCertificate(s.device.certificate))
    .bytes(s.device.agreementKeyPair.secretKey)
    .bytes(s.device.agreementKeyPair.publicKey)
  w.u32(s.signedPrekeys.length)
  for (const p of s.signedPrekeys) writePrekey(w, p)
  w.u32(s.lastResortPrekeys.length)
  for (const p of s.lastResortPrekeys) {
    writePrekey(w, p)
    w.u32(p.replayCache.length)
    for (const f of p.replayCache) w.bytes(new TextEncoder().encode(f))
  }
  w.u32(s.oneTimePrekeys.length)
  for (const p of s.oneTimePrekeys) {
    w.u8(p.kind === 'kem' ? 2 : 1)
      .u32(p.id)
      .bytes(p.keyPair.secretKey)
      .bytes(p.keyPair.publicKey)
      .fixed(p.signature)
      .bool(p.handedOut)
  }
  w.u32(s.nextPrekeyId).u64(s.bundleSequence)
  return w.finish()
}

/** Restores an account; UnknownStateVersionError for a version this build does not know. */
export function decodeAccount(bytes: Uint8Array): AccountState {
  const r = new Reader(bytes, 'account')
  if (r.u8() !== ACCOUNT_MAGIC) throw new MalformedError('account', 'not an account record')
  const version = r.u8()
  if (version !== STATE_VERSION) throw new UnknownStateVersionError('account', version)
  const identity = { publicKey: r.bytes(32), secretKey: r.bytes(32) }
  const certificate: DeviceCertificate = decodeCertificate(r.bytes(512))
  const agreementKeyPair = { secretKey: r.bytes(32), publicKey: r.bytes(32) }
  const count = (max: number) => {
    const n = r.u32()
    if (n > max) throw new MalformedError('account', 'list too long')
    return n
  }
  const signedPrekeys: LocalPrekey[] = []
  for (let i = count(1000); i > 0; i--) signedPrekeys.push(readPrekey(r, 32, 32))
  const lastResortPrekeys: LocalLastResortPrekey[] = []
  for (let i = count(1000); i > 0; i--) {
    const p = readPrekey(r, MLKEM1024_SEED_BYTES, MLKEM1024_PUBLIC_KEY_BYTES)
    const replayCache: string[] = []
    for (let j = count(MAX_REPLAY_CACHE_ENTRIES); j > 0; j--) replayCache.push(new TextDecoder().decode(r.bytes(128)))
    lastResortPrekeys.push({ ...p, replayCache })
  }
  const oneTimePrekeys: LocalOneTimePrekey[] = []
  for (let i = count(2 * (MAX_ONE_TIME_PREKEYS + MAX_HANDED_OUT_PREKEYS)); i > 0; i--) {
    const k = r.u8()
    if (k !== 1 && k !== 2) throw new MalformedError('account', 'unknown prekey kind')
    const kind = k === 2 ? 'kem' : 'x25519'
    const id = r.u32()
    const secretKey = r.bytes(MLKEM1024_SEED_BYTES)
    const publicKey = r.bytes(MLKEM1024_PUBLIC_KEY_BYTES)
    oneTimePrekeys.push({ kind, id, keyPair: { secretKey, publicKey }, signature: r.fixed(64), handedOut: r.bool() })
  }
  const nextPrekeyId = r.u32()
  const bundleSequence = r.u64()
  r.end()
  return {
    identity,
    device: { certificate, agreementKeyPair },
    signedPrekeys,
    lastResortPrekeys,
    oneTimePrekeys,
    nextPrekeyId,
    bundleSequence
  }
}
