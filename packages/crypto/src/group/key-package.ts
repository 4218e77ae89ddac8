/**
 * Key packages: what an invitee hands (over the pairwise E2EE session) to the admin who adds it. The public part is
 * an MLS KeyPackage whose leaf carries our member credential; the secret part stays with the invitee until the
 * Welcome arrives. Saved secret form:
 *
 *   u8 version | bytes key package (MLS message) | bytes init private | bytes HPKE private | bytes signature private
 */
import {
  decodeMlsMessage,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type KeyPackage,
  type PrivateKeyPackage
} from 'ts-mls'
import { verifyKeyPackage as verifyMlsKeyPackage } from 'ts-mls/keyPackage.js'
import type { CryptoBackend } from '../backend/types.ts'
import { Reader, Writer } from '../codec.ts'
import type { DeviceCertificate, IdentityKeyPair } from '../identity.ts'
import { GROUP_CIPHERSUITE, GROUP_FORMAT_VERSION, KEY_PACKAGE_LIFETIME_MS, MAX_KEY_PACKAGE_BYTES } from './constants.ts'
import { type MemberCredential, makeMemberCredential, verifyMemberCredential } from './credential.ts'
import { GroupInvalidMessageError, GroupUntrustedMemberError } from './errors.ts'
import { groupSuite, parleyCapabilities } from './suite.ts'

/** A key package with its private keys (kept by the invitee). */
export interface KeyPackageSecret {
  readonly publicPackage: KeyPackage
  readonly privatePackage: PrivateKeyPackage
}

/** Makes a key package for `identity`'s device: a fresh MLS signature key, bound by the identity to the device. */
export async function createKeyPackage(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  certificate: DeviceCertificate,
  now = Date.now()
): Promise<{ keyPackage: Uint8Array; secret: KeyPackageSecret }> {
  const cs = await groupSuite(backend)
  const sig = await cs.signature.keygen()
  const credential = await makeMemberCredential(backend, identity, certificate, sig.publicKey)
  const lifetime = {
    notBefore: BigInt(Math.floor(now / 1000) - 60),
    notAfter: BigInt(Math.floor((now + KEY_PACKAGE_LIFETIME_MS) / 1000))
  }
  const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
    credential,
    parleyCapabilities(),
    lifetime,
    [],
    sig,
    cs
  )
  const keyPackage = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: publicPackage })
  return { keyPackage, secret: { publicPackage, privatePackage } }
}

/**
 * Verifies an encoded key package: our ciphersuite, a valid signature by its leaf key, a member credential binding
 * a valid (unexpired at `now`) device certificate. Returns whom it names; the caller then checks that identity is
 * a contact before adding it.
 */
export async function verifyKeyPackage(
  backend: CryptoBackend,
  bytes: Uint8Array,
  now = Date.now()
): Promise<{ keyPackage: KeyPackage; member: MemberCredential }> {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_KEY_PACKAGE_BYTES) {
    throw new GroupInvalidMessageError('key package size')
  }
  let decoded: ReturnType<typeof decodeMlsMessage>
  try {
    decoded = decodeMlsMessage(bytes, 0)
  } catch {
    throw new GroupInvalidMessageError('key package does not decode')
  }
  if (decoded === undefined || decoded[1] !== bytes.length || decoded[0].wireformat !== 'mls_key_package') {
    throw new GroupInvalidMessageError('not a key package')
  }
  const keyPackage = decoded[0].keyPackage
  if (keyPackage.cipherSuite !== GROUP_CIPHERSUITE) throw new GroupInvalidMessageError('key package ciphersuite')
  const cs = await groupSuite(backend)
  if (!(await verifyMlsKeyPackage(keyPackage, cs.signature))) {
    throw new GroupUntrustedMemberError('key package signature')
  }
  const seconds = BigInt(Math.floor(now / 1000))
  const lt = keyPackage.leafNode.lifetime
  if (lt !== undefined && (seconds < lt.notBefore || seconds > lt.notAfter)) {
    throw new GroupUntrustedMemberError('key package expired')
  }
  const member = await verifyMemberCredential(
    backend,
    keyPackage.leafNode.credential,
    keyPackage.leafNode.signaturePublicKey,
    now
  )
  return { keyPackage, member }
}

/** Saves a key package secret. */
export function encodeKeyPackageSecret(s: KeyPackageSecret): Uint8Array {
  const kp = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: s.publicPackage })
  return new Writer(kp.length + 2048)
    .u8(GROUP_FORMAT_VERSION)
    .bytes(kp)
    .bytes(s.privatePackage.initPrivateKey)
    .bytes(s.privatePackage.hpkePrivateKey)
    .bytes(s.privatePackage.signaturePrivateKey)
    .finish()
}

/** Restores a saved key package secret (strict). */
export function decodeKeyPackageSecret(bytes: Uint8Array): KeyPackageSecret {
  const r = new Reader(bytes, 'key package secret')
  if (r.u8() !== GROUP_FORMAT_VERSION) throw new GroupInvalidMessageError('key package secret version')
  const kp = decodeMlsMessage(r.bytes(MAX_KEY_PACKAGE_BYTES), 0)?.[0]
  if (kp?.wireformat !== 'mls_key_package') throw new GroupInvalidMessageError('key package secret')
  const privatePackage = {
    initPrivateKey: r.bytes(4096),
    hpkePrivateKey: r.bytes(4096),
    signaturePrivateKey: r.bytes(4096)
  }
  r.end()
  return { publicPackage: kp.keyPackage, privatePackage }
}
