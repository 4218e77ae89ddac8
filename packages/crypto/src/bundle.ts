/**
 * Prekey bundles: what a device publishes (in the DHT) so others can start a session with it while it is offline.
 *
 * The bundle is signed as a whole by the identity key: that one signature covers the signed X25519 prekey and the
 * ML-KEM-1024 last-resort prekey (and the device certificate, sequence number, expiry and versions). One-time
 * prekeys travel separately (handed out once each by the device or its relays), so each carries its own signature.
 * Everything is verified before any DH or KEM, and nothing is stored on failure.
 */
import type { CryptoBackend } from './backend/types.ts'
import { MLKEM1024_PUBLIC_KEY_BYTES } from './backend/types.ts'
import { equalBytes, Reader, Writer } from './codec.ts'
import {
  CONTEXT_BUNDLE,
  CONTEXT_KEM_PREKEY,
  CONTEXT_ONE_TIME_PREKEY,
  FORMAT_VERSION,
  MAX_CERTIFICATE_BYTES,
  MIN_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS
} from './constants.ts'
import { ExpiredError, MalformedError, UnsupportedVersionError, UntrustedIdentityError } from './errors.ts'
import { type DeviceCertificate, decodeCertificate, encodeCertificate, verifyCertificate } from './identity.ts'
import { signWithContext, validateEd25519PublicKey, validateX25519PublicKey, verifyWithContext } from './keys.ts'

/** A public X25519 prekey with its id. */
export interface PublicPrekey {
  readonly id: number
  readonly publicKey: Uint8Array
}

/** A one-time prekey as handed out: X25519 (`kind: 'x25519'`) or ML-KEM-1024 (`kind: 'kem'`), signed on its own. */
export interface SignedOneTimePrekey {
  readonly kind: 'x25519' | 'kem'
  readonly id: number
  readonly publicKey: Uint8Array
  readonly signature: Uint8Array
}

/** The published, identity-signed part. */
export interface Bundle {
  readonly version: number
  /** Protocol versions the device speaks, highest first. */
  readonly protocolVersions: readonly number[]
  readonly identityKey: Uint8Array
  readonly certificate: DeviceCertificate
  /** Newest wins; never goes backwards. */
  readonly sequence: number
  readonly expiresAt: number
  readonly signedPrekey: PublicPrekey
  readonly lastResortKemPrekey: PublicPrekey
  readonly signature: Uint8Array
}

/** A bundle plus the one-time prekeys a sender was handed (each optional). */
export interface PrekeyBundle {
  readonly bundle: Bundle
  readonly oneTimePrekey?: SignedOneTimePrekey
  readonly oneTimeKemPrekey?: SignedOneTimePrekey
}

const MAX_VERSIONS = 16

function bundleBody(b: Omit<Bundle, 'signature'>): Uint8Array {
  const w = new Writer(2048).u8(b.version).u8(b.protocolVersions.length)
  for (const v of b.protocolVersions) w.u8(v)
  return w
    .fixed(b.identityKey)
    .bytes(encodeCertificate(b.certificate))
    .u64(b.sequence)
    .u64(b.expiresAt)
    .u32(b.signedPrekey.id)
    .fixed(b.signedPrekey.publicKey)
    .u32(b.lastResortKemPrekey.id)
    .fixed(b.lastResortKemPrekey.publicKey)
    .finish()
}

/** Signs a bundle body with the identity key. */
export async function signBundle(
  backend: CryptoBackend,
  identitySecretKey: Uint8Array,
  body: Omit<Bundle, 'signature' | 'version'>
): Promise<Bundle> {
  const full = { ...body, version: FORMAT_VERSION }
  const signature = await signWithContext(backend, identitySecretKey, CONTEXT_BUNDLE, bundleBody(full))
  return { ...full, signature }
}

/** The bundle's byte form (the DHT record's payload). */
export function encodeBundle(b: Bundle): Uint8Array {
  return new Writer(2200).fixed(bundleBody(b)).fixed(b.signature).finish()
}

/** Parses a bundle (no signature check: see verifyPrekeyBundle). */
export function decodeBundle(bytes: Uint8Array): Bundle {
  const r = new Reader(bytes, 'bundle')
  const version = r.u8()
  if (version !== FORMAT_VERSION) throw new UnsupportedVersionError('bundle format', version)
  const count = r.u8()
  if (count === 0 || count > MAX_VERSIONS) throw new MalformedError('bundle', 'bad version list')
  const protocolVersions: number[] = []
  for (let i = 0; i < count; i++) protocolVersions.push(r.u8())
  const b: Bundle = {
    version,
    protocolVersions,
    identityKey: r.fixed(32),
    certificate: decodeCertificate(r.bytes(MAX_CERTIFICATE_BYTES)),
    sequence: r.u64(),
    expiresAt: r.u64(),
    signedPrekey: { id: r.u32(), publicKey: r.fixed(32) },
    lastResortKemPrekey: { id: r.u32(), publicKey: r.fixed(MLKEM1024_PUBLIC_KEY_BYTES) },
    signature: r.fixed(64)
  }
  r.end()
  return b
}

function oneTimeBody(p: Omit<SignedOneTimePrekey, 'signature'>): Uint8Array {
  return new Writer(1600)
    .u8(p.kind === 'kem' ? 2 : 1)
    .u32(p.id)
    .fixed(p.publicKey)
    .finish()
}

function oneTimeContext(kind: SignedOneTimePrekey['kind']): string {
  return kind === 'kem' ? CONTEXT_KEM_PREKEY : CONTEXT_ONE_TIME_PREKEY
}

/** Signs a one-time prekey with the identity key. */
export async function signOneTimePrekey(
  backend: CryptoBackend,
  identitySecretKey: Uint8Array,
  p: Omit<SignedOneTimePrekey, 'signature'>
): Promise<SignedOneTimePrekey> {
  const signature = await signWithContext(backend, identitySecretKey, oneTimeContext(p.kind), oneTimeBody(p))
  return { ...p, signature }
}

/** Byte form of a signed one-time prekey (for hand-out by the device or a relay). */
export function encodeOneTimePrekey(p: SignedOneTimePrekey): Uint8Array {
  return new Writer(1700).fixed(oneTimeBody(p)).fixed(p.signature).finish()
}

/** Parses a signed one-time prekey. */
export function decodeOneTimePrekey(bytes: Uint8Array): SignedOneTimePrekey {
  const r = new Reader(bytes, 'one-time prekey')
  const kindByte = r.u8()
  if (kindByte !== 1 && kindByte !== 2) throw new MalformedError('one-time prekey', 'unknown kind')
  const kind = kindByte === 2 ? 'kem' : 'x25519'
  const p = {
    kind,
    id: r.u32(),
    publicKey: r.fixed(kind === 'kem' ? MLKEM1024_PUBLIC_KEY_BYTES : 32),
    signature: r.fixed(64)
  } as const
  r.end()
  return p
}

/** Byte form of a bundle with its one-time prekeys. */
export function encodePrekeyBundle(pb: PrekeyBundle): Uint8Array {
  const w = new Writer(4000).bytes(encodeBundle(pb.bundle))
  w.optional(pb.oneTimePrekey, (w, p) => w.bytes(encodeOneTimePrekey(p)))
  w.optional(pb.oneTimeKemPrekey, (w, p) => w.bytes(encodeOneTimePrekey(p)))
  return w.finish()
}

/** Parses a bundle with its one-time prekeys. */
export function decodePrekeyBundle(bytes: Uint8Array): PrekeyBundle {
  const r = new Reader(bytes, 'prekey bundle')
  const bundle = decodeBundle(r.bytes(4000))
  const oneTimePrekey = r.optional((r) => decodeOneTimePrekey(r.bytes(200)))
  const oneTimeKemPrekey = r.optional((r) => decodeOneTimePrekey(r.bytes(1700)))
  r.end()
  if (oneTimePrekey !== undefined && oneTimePrekey.kind !== 'x25519')
    throw new MalformedError('prekey bundle', 'wrong one-time kind')
  if (oneTimeKemPrekey !== undefined && oneTimeKemPrekey.kind !== 'kem')
    throw new MalformedError('prekey bundle', 'wrong one-time kind')
  return { bundle, ...(oneTimePrekey && { oneTimePrekey }), ...(oneTimeKemPrekey && { oneTimeKemPrekey }) }
}

/** The highest protocol version both sides speak; UnsupportedVersionError below our minimum or with none in common. */
export function negotiateVersion(theirs: readonly number[]): number {
  let best = -1
  for (const v of theirs) if (SUPPORTED_PROTOCOL_VERSIONS.includes(v) && v > best) best = v
  if (best < MIN_PROTOCOL_VERSION) throw new UnsupportedVersionError('bundle', Math.max(...theirs, 0))
  return best
}

/** Verifies a one-time prekey's signature and key. */
export async function verifyOneTimePrekey(
  backend: CryptoBackend,
  identityKey: Uint8Array,
  p: SignedOneTimePrekey
): Promise<void> {
  if (p.kind === 'x25519') validateX25519PublicKey('one-time prekey', p.publicKey)
  else if (p.publicKey.length !== MLKEM1024_PUBLIC_KEY_BYTES)
    throw new MalformedError('one-time KEM prekey', 'wrong length')
  await verifyWithContext(
    backend,
    identityKey,
    oneTimeContext(p.kind),
    oneTimeBody(p),
    p.signature,
    `one-time ${p.kind} prekey`
  )
}

/**
 * Verifies everything a sender relies on, before any DH or KEM: the identity key, the bundle signature (which covers
 * the signed prekey and the last-resort KEM prekey), the device certificate (signed by the same identity), expiry,
 * public-key validity and each one-time prekey's signature. Returns the negotiated protocol version.
 */
export async function verifyPrekeyBundle(
  backend: CryptoBackend,
  pb: PrekeyBundle,
  now: number,
  expectedIdentity?: Uint8Array
): Promise<number> {
  const b = pb.bundle
  if (b.version !== FORMAT_VERSION) throw new UnsupportedVersionError('bundle format', b.version)
  const version = negotiateVersion(b.protocolVersions)
  validateEd25519PublicKey('identity key', b.identityKey)
  await verifyWithContext(backend, b.identityKey, CONTEXT_BUNDLE, bundleBody(b), b.signature, 'bundle')
  if (expectedIdentity !== undefined && !equalBytes(expectedIdentity, b.identityKey)) {
    throw new UntrustedIdentityError('bundle is signed by another identity')
  }
  await verifyCertificate(backend, b.certificate, now, b.identityKey)
  if (b.expiresAt <= now) throw new ExpiredError('bundle')
  validateX25519PublicKey('signed prekey', b.signedPrekey.publicKey)
  if (b.lastResortKemPrekey.publicKey.length !== MLKEM1024_PUBLIC_KEY_BYTES) {
    throw new MalformedError('last-resort KEM prekey', 'wrong length')
  }
  if (pb.oneTimePrekey !== undefined) await verifyOneTimePrekey(backend, b.identityKey, pb.oneTimePrekey)
  if (pb.oneTimeKemPrekey !== undefined) await verifyOneTimePrekey(backend, b.identityKey, pb.oneTimeKemPrekey)
  return version
}
