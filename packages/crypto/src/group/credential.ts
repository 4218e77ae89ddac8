/**
 * The MLS credential of a Parley group member: it binds the member's Parley identity and device certificate to the
 * leaf's MLS signature key. Encoded as the `identity` of an MLS basic credential:
 *
 *   u8 version (GROUP_FORMAT_VERSION) | bytes certificate (encodeCertificate) | fixed 64 binding signature
 *
 * The binding is the identity key's signature, under CONTEXT_GROUP_CREDENTIAL, of the 32-byte MLS signature public key
 * followed by the certificate bytes. A verifier checks the certificate (signed by the identity it names) and the
 * binding, so a leaf's signature key speaks for exactly one Parley identity and device.
 */
import type { AuthenticationService, Credential } from 'ts-mls'
import type { CryptoBackend } from '../backend/types.ts'
import { Reader, toHex, Writer } from '../codec.ts'
import { MAX_CERTIFICATE_BYTES } from '../constants.ts'
import {
  type DeviceCertificate,
  decodeCertificate,
  encodeCertificate,
  type IdentityKeyPair,
  verifyCertificate
} from '../identity.ts'
import { signWithContext, verifyWithContext } from '../keys.ts'
import { CONTEXT_GROUP_CREDENTIAL, GROUP_FORMAT_VERSION, MAX_VERIFIED_CREDENTIALS } from './constants.ts'
import { GroupUntrustedMemberError } from './errors.ts'

/** Who a verified member credential names. */
export interface MemberCredential {
  /** The member's Parley identity key (Ed25519). */
  readonly identityKey: Uint8Array
  /** The member device's certificate, signed by that identity. */
  readonly certificate: DeviceCertificate
}

function bindingMessage(signaturePublicKey: Uint8Array, certificate: Uint8Array): Uint8Array {
  return new Writer(64 + certificate.length).bytes(signaturePublicKey).fixed(certificate).finish()
}

/** Makes the MLS credential binding `identity` and its device `certificate` to `signaturePublicKey`. */
export async function makeMemberCredential(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  certificate: DeviceCertificate,
  signaturePublicKey: Uint8Array
): Promise<Credential> {
  const cert = encodeCertificate(certificate)
  const binding = await signWithContext(
    backend,
    identity.secretKey,
    CONTEXT_GROUP_CREDENTIAL,
    bindingMessage(signaturePublicKey, cert)
  )
  const bytes = new Writer(cert.length + 80).u8(GROUP_FORMAT_VERSION).bytes(cert).fixed(binding).finish()
  return { credentialType: 'basic', identity: bytes }
}

/** Parses a credential without checking it (for display of a leaf already verified when it entered the tree). */
export function parseMemberCredential(credential: Credential): MemberCredential & { binding: Uint8Array } {
  if (credential.credentialType !== 'basic') throw new GroupUntrustedMemberError('not a basic credential')
  try {
    const r = new Reader(credential.identity, 'group credential')
    const version = r.u8()
    if (version !== GROUP_FORMAT_VERSION) throw new GroupUntrustedMemberError(`credential version ${version}`)
    const certificate = decodeCertificate(r.bytes(MAX_CERTIFICATE_BYTES))
    const binding = r.fixed(64)
    r.end()
    return { identityKey: certificate.identityKey, certificate, binding }
  } catch (e) {
    if (e instanceof GroupUntrustedMemberError) throw e
    throw new GroupUntrustedMemberError('credential does not decode')
  }
}

/**
 * Verifies a credential against the leaf's MLS signature key: the certificate is signed by the identity it names and
 * the identity signed the binding. `now` (ms) also checks the certificate's expiry; pass undefined for leaves
 * already in a tree (a certificate that expired after its member joined does not break the group).
 */
export async function verifyMemberCredential(
  backend: CryptoBackend,
  credential: Credential,
  signaturePublicKey: Uint8Array,
  now?: number
): Promise<MemberCredential> {
  const parsed = parseMemberCredential(credential)
  try {
    await verifyCertificate(backend, parsed.certificate, now ?? 0)
  } catch {
    throw new GroupUntrustedMemberError('device certificate does not verify')
  }
  try {
    await verifyWithContext(
      backend,
      parsed.identityKey,
      CONTEXT_GROUP_CREDENTIAL,
      bindingMessage(signaturePublicKey, encodeCertificate(parsed.certificate)),
      parsed.binding,
      'group credential'
    )
  } catch {
    throw new GroupUntrustedMemberError('identity did not bind this signature key')
  }
  return { identityKey: parsed.identityKey, certificate: parsed.certificate }
}

/** Credentials (with their signature key) that verified, remembered so a commit does not re-verify every leaf. */
const verified = new Map<string, true>()

/**
 * The MLS authentication service every Parley group uses: a leaf is valid only with a verifying member credential.
 * Successes are remembered (at most MAX_VERIFIED_CREDENTIALS): ts-mls asks again for every leaf of the tree it
 * validates, and a credential's verdict for one signature key never changes (expiry is checked at add time only).
 */
export function memberAuthenticationService(backend: CryptoBackend): AuthenticationService {
  return {
    async validateCredential(credential, signaturePublicKey) {
      if (credential.credentialType !== 'basic') return false
      const key = `${toHex(signaturePublicKey)}:${toHex(credential.identity)}`
      if (verified.has(key)) return true
      try {
        await verifyMemberCredential(backend, credential, signaturePublicKey)
      } catch {
        return false
      }
      if (verified.size >= MAX_VERIFIED_CREDENTIALS) verified.clear()
      verified.set(key, true)
      return true
    }
  }
}
