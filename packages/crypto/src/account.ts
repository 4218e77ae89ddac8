/**
 * The local device's key material: identity, device certificate, signed and last-resort prekeys (current and
 * retired-within-grace), one-time prekeys (one-time-prekeys.ts), the last-resort replay caches and the bundle
 * sequence number. Pure functions over an immutable AccountState; the session manager persists it through the store
 * (encoding in account-codec.ts).
 */
import type { CryptoBackend, RawKeyPair } from './backend/types.ts'
import { type Bundle, type PrekeyBundle, signBundle } from './bundle.ts'
import {
  LAST_RESORT_ROTATION_USES,
  MAX_LAST_RESORT_PREKEYS,
  MAX_REPLAY_CACHE_ENTRIES,
  PREKEY_GRACE_MS,
  SUPPORTED_PROTOCOL_VERSIONS
} from './constants.ts'
import { InvalidParameterError, LastResortPrekeyExhaustedError } from './errors.ts'
import { certifyDevice, type IdentityKeyPair, type LocalDevice } from './identity.ts'
import { expireRelayPrekeys, handOutToRequester } from './one-time-prekeys.ts'

/** A signed (X25519) or last-resort (ML-KEM-1024) prekey kept by the device. */
export interface LocalPrekey {
  readonly id: number
  readonly keyPair: RawKeyPair
  readonly createdAt: number
  /** Set when a newer one replaced it; deleted PREKEY_GRACE_MS later. */
  readonly retiredAt?: number
}

/**
 * A last-resort KEM prekey and the first messages already used with it: hex(SHA-256(base key || KEM ciphertext)).
 * At most MAX_REPLAY_CACHE_ENTRIES; a full cache is never trimmed (see LastResortPrekeyExhaustedError).
 */
export interface LocalLastResortPrekey extends LocalPrekey {
  readonly replayCache: readonly string[]
}

/** The two kinds of one-time prekey: X25519 (the OPK of PQXDH) and ML-KEM-1024 (a one-time PQ prekey). */
export type PrekeyKind = 'x25519' | 'kem'

/**
 * To whom a one-time prekey was handed out: a requester of the prekey protocol (anyone), or one of our mailbox relays
 * (at `at`, ms). Each holder has its own pool and bound (see one-time-prekeys.ts).
 */
export type PrekeyHandOut = { readonly to: 'requester' } | { readonly to: 'relay'; readonly at: number }

/** A one-time prekey with its signature; `handedOut` is absent while it is available. */
export interface LocalOneTimePrekey {
  readonly kind: PrekeyKind
  readonly id: number
  readonly keyPair: RawKeyPair
  readonly signature: Uint8Array
  readonly handedOut?: PrekeyHandOut
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

/**
 * Makes a new last-resort KEM prekey current (with an empty replay cache); the previous one stays for the grace
 * period. At most MAX_LAST_RESORT_PREKEYS are kept: beyond that the oldest retired one is deleted with its replay
 * cache (a first message naming it then gets UnknownPrekey — never a second session).
 */
export async function rotateLastResortPrekey(
  backend: CryptoBackend,
  state: AccountState,
  now: number
): Promise<AccountState> {
  const keyPair = await backend.mlKem1024KeyPair()
  const fresh: LocalLastResortPrekey = { id: state.nextPrekeyId, keyPair, createdAt: now, replayCache: [] }
  const retired = state.lastResortPrekeys.map((p) => (p.retiredAt === undefined ? { ...p, retiredAt: now } : p))
  const kept = [fresh, ...retired].slice(0, MAX_LAST_RESORT_PREKEYS)
  return { ...state, lastResortPrekeys: kept, nextPrekeyId: state.nextPrekeyId + 1 }
}

/**
 * True when the current last-resort prekey has started LAST_RESORT_ROTATION_USES sessions: rotate it now (and
 * republish the bundle), well before its replay cache fills and it refuses first messages.
 */
export function lastResortPrekeyNeedsRotation(state: AccountState): boolean {
  return (state.lastResortPrekeys[0]?.replayCache.length ?? 0) >= LAST_RESORT_ROTATION_USES
}

/**
 * Deletes retired prekeys (and their replay caches) whose grace period has passed, and relay-held one-time prekeys
 * older than MAX_RELAY_PREKEY_AGE_MS.
 */
export function pruneRetiredPrekeys(state: AccountState, now: number): AccountState {
  const keep = (p: LocalPrekey) => p.retiredAt === undefined || now - p.retiredAt < PREKEY_GRACE_MS
  return expireRelayPrekeys(
    {
      ...state,
      signedPrekeys: state.signedPrekeys.filter(keep),
      lastResortPrekeys: state.lastResortPrekeys.filter(keep)
    },
    now
  )
}

/**
 * Renews the device certificate when less than half of `lifetimeMs` remains at `now` (or it has expired): the identity
 * signs a new certificate for the same device key and the same agreement key, valid from `now` for `lifetimeMs`, so
 * sessions and first messages in flight are unaffected. Republish the bundle (and DHT record) after a renewal: they
 * carry the certificate. Returns the account unchanged (`renewed: false`) otherwise.
 */
export async function renewDeviceCertificateIfDue(
  backend: CryptoBackend,
  state: AccountState,
  now: number,
  lifetimeMs: number
): Promise<{ state: AccountState; renewed: boolean }> {
  if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs <= 0) {
    throw new InvalidParameterError('lifetimeMs', 'a positive integer')
  }
  const current = state.device.certificate
  if (current.expiresAt - now >= lifetimeMs / 2) return { state, renewed: false }
  const renewed = await certifyDevice(backend, state.identity, {
    deviceKey: current.deviceKey,
    agreementSeed: state.device.agreementKeyPair.secretKey,
    issuedAt: now,
    expiresAt: now + lifetimeMs
  })
  // Keep the very key-pair object: the agreement key is unchanged, only the certificate is new.
  const device: LocalDevice = { certificate: renewed.certificate, agreementKeyPair: state.device.agreementKeyPair }
  return { state: { ...state, device }, renewed: true }
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

/**
 * A bundle plus one one-time prekey of each kind when any is left (what the device's prekey protocol serves to any
 * requester). The keys go to the requester pool: however many bundles strangers ask for, relay-held keys stay.
 */
export async function takePrekeyBundle(
  backend: CryptoBackend,
  state: AccountState,
  now: number,
  lifetimeMs: number
): Promise<{ state: AccountState; prekeyBundle: PrekeyBundle }> {
  const published = await publishBundle(backend, state, now, lifetimeMs)
  const x = handOutToRequester(published.state, 'x25519')
  const k = handOutToRequester(x.state, 'kem')
  const prekeyBundle: PrekeyBundle = {
    bundle: published.bundle,
    ...(x.prekey && { oneTimePrekey: x.prekey }),
    ...(k.prekey && { oneTimeKemPrekey: k.prekey })
  }
  return { state: k.state, prekeyBundle }
}

/**
 * Adds a first-message fingerprint to a last-resort prekey's replay cache. The cache is never trimmed: at
 * MAX_REPLAY_CACHE_ENTRIES this throws LastResortPrekeyExhaustedError (the responder checks before it gets here).
 */
export function rememberLastResortUse(state: AccountState, prekeyId: number, fingerprint: string): AccountState {
  return {
    ...state,
    lastResortPrekeys: state.lastResortPrekeys.map((p) => {
      if (p.id !== prekeyId) return p
      if (p.replayCache.length >= MAX_REPLAY_CACHE_ENTRIES) {
        throw new LastResortPrekeyExhaustedError(p.id, p.replayCache.length)
      }
      return { ...p, replayCache: [...p.replayCache, fingerprint] }
    })
  }
}
