/**
 * Identities and device certificates.
 *
 * A Parley identity is an Ed25519 key pair: the identity public key is what a contact is, and what safety numbers
 * cover. Each device has its own device key (its libp2p key; opaque bytes here) and its own X25519 *agreement key*,
 * the IK of PQXDH. The identity key signs a device certificate binding the device key and the agreement key to it,
 * so the agreement key is authenticated by the identity without ever converting Ed25519 keys to X25519: a lost
 * device is replaced by certifying a new one, and the identity (and safety number) stays the same.
 */
import type { CryptoBackend, RawKeyPair } from './backend/types.ts'
import { expectBytes } from './backend/util.ts'
import { equalBytes, Reader, Writer } from './codec.ts'
import { CONTEXT_DEVICE_CERTIFICATE, FORMAT_VERSION, MAX_CERTIFICATE_BYTES, MAX_DEVICE_KEY_BYTES } from './constants.ts'
import { ExpiredError, MalformedError, UnsupportedVersionError, UntrustedDeviceError } from './errors.ts'
import { signWithContext, validateEd25519PublicKey, validateX25519PublicKey, verifyWithContext } from './keys.ts'

/** The user's long-term Ed25519 identity key pair. */
export interface IdentityKeyPair {
  readonly publicKey: Uint8Array
  /** 32-byte Ed25519 seed. */
  readonly secretKey: Uint8Array
}

/** A device certified by an identity. */
export interface DeviceCertificate {
  readonly version: number
  /** The certifying identity's Ed25519 public key. */
  readonly identityKey: Uint8Array
  /** The device's network key (for Parley: the libp2p public key protobuf). */
  readonly deviceKey: Uint8Array
  /** The device's X25519 agreement key (IK in PQXDH). */
  readonly agreementKey: Uint8Array
  readonly issuedAt: number
  readonly expiresAt: number
  readonly signature: Uint8Array
}

/** What a device keeps about itself. */
export interface LocalDevice {
  readonly certificate: DeviceCertificate
  readonly agreementKeyPair: RawKeyPair
}

/** A new identity, from a 32-byte seed when given (deterministic vectors), else fresh randomness. */
export async function generateIdentity(backend: CryptoBackend, seed?: Uint8Array): Promise<IdentityKeyPair> {
  const pair = await backend.ed25519KeyPair(seed)
  return { publicKey: pair.publicKey, secretKey: pair.secretKey }
}

function certificateBody(c: Omit<DeviceCertificate, 'signature'>): Uint8Array {
  return new Writer(128)
    .u8(c.version)
    .fixed(c.identityKey)
    .bytes(c.deviceKey)
    .fixed(c.agreementKey)
    .u64(c.issuedAt)
    .u64(c.expiresAt)
    .finish()
}

export interface CertifyDeviceOptions {
  /** The device's network key bytes. */
  deviceKey: Uint8Array
  /** 32-byte X25519 secret for the agreement key (deterministic vectors); fresh when absent. */
  agreementSeed?: Uint8Array
  issuedAt: number
  expiresAt: number
}

/** Certifies a device: makes its agreement key and signs the certificate with the identity key. */
export async function certifyDevice(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  options: CertifyDeviceOptions
): Promise<LocalDevice> {
  expectBytes('deviceKey', options.deviceKey)
  if (options.deviceKey.length === 0 || options.deviceKey.length > MAX_DEVICE_KEY_BYTES) {
    throw new MalformedError('deviceKey', `must be 1..${MAX_DEVICE_KEY_BYTES} bytes`)
  }
  const agreementKeyPair = await backend.x25519KeyPair(options.agreementSeed)
  const body = {
    version: FORMAT_VERSION,
    identityKey: identity.publicKey,
    deviceKey: options.deviceKey,
    agreementKey: agreementKeyPair.publicKey,
    issuedAt: options.issuedAt,
    expiresAt: options.expiresAt
  }
  const signature = await signWithContext(
    backend,
    identity.secretKey,
    CONTEXT_DEVICE_CERTIFICATE,
    certificateBody(body)
  )
  return { certificate: { ...body, signature }, agreementKeyPair }
}

const encodedCertificates = new WeakMap<DeviceCertificate, Uint8Array>()

/** The certificate's byte form (memoised: certificates are immutable and encoded into every session record). */
export function encodeCertificate(c: DeviceCertificate): Uint8Array {
  let bytes = encodedCertificates.get(c)
  if (bytes === undefined) {
    bytes = new Writer(200).fixed(certificateBody(c)).fixed(c.signature).finish()
    encodedCertificates.set(c, bytes)
  }
  return bytes
}

/** Parses a certificate (no signature check: see verifyCertificate). */
export function decodeCertificate(bytes: Uint8Array): DeviceCertificate {
  if (bytes.length > MAX_CERTIFICATE_BYTES) throw new MalformedError('device certificate', 'too large')
  const r = new Reader(bytes, 'device certificate')
  const version = r.u8()
  if (version !== FORMAT_VERSION) throw new UnsupportedVersionError('device certificate', version)
  const c: DeviceCertificate = {
    version,
    identityKey: r.fixed(32),
    deviceKey: r.bytes(MAX_DEVICE_KEY_BYTES),
    agreementKey: r.fixed(32),
    issuedAt: r.u64(),
    expiresAt: r.u64(),
    signature: r.fixed(64)
  }
  r.end()
  return c
}

/**
 * Checks that `certificate` is signed by the identity it names (and by `expectedIdentity` when given), that its keys
 * are valid and that it has not expired at `now`. Throws a typed error otherwise.
 */
export async function verifyCertificate(
  backend: CryptoBackend,
  certificate: DeviceCertificate,
  now: number,
  expectedIdentity?: Uint8Array
): Promise<void> {
  validateEd25519PublicKey('identity key', certificate.identityKey)
  if (expectedIdentity !== undefined && !equalBytes(expectedIdentity, certificate.identityKey)) {
    throw new UntrustedDeviceError('device certificate names another identity')
  }
  validateX25519PublicKey('device agreement key', certificate.agreementKey)
  try {
    await verifyWithContext(
      backend,
      certificate.identityKey,
      CONTEXT_DEVICE_CERTIFICATE,
      certificateBody(certificate),
      certificate.signature,
      'device certificate'
    )
  } catch {
    throw new UntrustedDeviceError('device certificate is not signed by its identity')
  }
  if (certificate.expiresAt <= now) throw new ExpiredError('device certificate')
}
