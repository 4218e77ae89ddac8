/**
 * Who may do what at a mailbox relay: the owner's signed registration, the signature that opens an owner session
 * (challenge-response bound to one relay), and the mailbox id a relay files an owner under (a hash, so its disk holds
 * no identity key). The protocol and its messages are in mailbox.ts; docs/mailbox.md is the spec.
 */
import { type CryptoBackend, type IdentityKeyPair, validateEd25519PublicKey } from '@parley/crypto'
import {
  CONTEXT_MAILBOX_AUTH,
  CONTEXT_MAILBOX_ID,
  CONTEXT_MAILBOX_REGISTRATION,
  DEPOSIT_TOKEN_HASH_BYTES,
  IDENTITY_KEY_BYTES,
  MAILBOX_CHALLENGE_BYTES,
  MAX_DEPOSIT_TOKENS,
  MAX_MAILBOX_REGISTRATION_BYTES,
  MAX_RELAY_ID_BYTES,
  SIGNATURE_BYTES
} from './constants.ts'
import { withContext } from './context.ts'
import { InvalidParameterError, RecordSignatureError } from './errors.ts'
import { defineSchema, encodeMessage, type FieldSpec, fixedBytes } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

// ---------------------------------------------------------------- registration

export interface MailboxRegistration {
  readonly version: number
  readonly identityKey: Uint8Array
  readonly relay: Uint8Array
  readonly expiresAt: number
  readonly depositTokenHashes: readonly Uint8Array[]
  readonly signature: Uint8Array
}

const REGISTRATION_BODY = [
  VERSION_FIELD,
  {
    no: 2,
    name: 'identityKey',
    type: fixedBytes(IDENTITY_KEY_BYTES),
    rule: 'required'
  },
  { no: 3, name: 'relay', type: { kind: 'bytes', minLength: 1, maxLength: MAX_RELAY_ID_BYTES }, rule: 'required' },
  { no: 4, name: 'expiresAt', type: { kind: 'uint' }, rule: 'required' },
  {
    no: 5,
    name: 'depositTokenHashes',
    type: fixedBytes(DEPOSIT_TOKEN_HASH_BYTES),
    rule: 'repeated',
    maxCount: MAX_DEPOSIT_TOKENS
  }
] as const satisfies readonly FieldSpec[]

export const MAILBOX_REGISTRATION_SCHEMA = defineSchema({
  name: 'MailboxRegistration',
  maxBytes: MAX_MAILBOX_REGISTRATION_BYTES,
  fields: [
    ...REGISTRATION_BODY,
    {
      no: 6,
      name: 'signature',
      type: fixedBytes(SIGNATURE_BYTES),
      rule: 'required'
    }
  ]
})

const REGISTRATION_BODY_SCHEMA = defineSchema({
  name: 'MailboxRegistration',
  maxBytes: MAX_MAILBOX_REGISTRATION_BYTES,
  fields: REGISTRATION_BODY
})

function registrationMessage(r: Omit<MailboxRegistration, 'signature'>): Uint8Array {
  return withContext(
    CONTEXT_MAILBOX_REGISTRATION,
    encodeMessage(REGISTRATION_BODY_SCHEMA, {
      version: 1,
      identityKey: r.identityKey,
      relay: r.relay,
      expiresAt: r.expiresAt,
      depositTokenHashes: r.depositTokenHashes
    })
  )
}

/** Signs a registration of `identity`'s mailbox at the relay whose binary peer id is `relay`. */
export async function signMailboxRegistration(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  fields: { relay: Uint8Array; expiresAt: number; depositTokenHashes?: readonly Uint8Array[] }
): Promise<MailboxRegistration> {
  const unsigned = {
    version: 1,
    identityKey: identity.publicKey,
    relay: fields.relay,
    expiresAt: fields.expiresAt,
    depositTokenHashes: fields.depositTokenHashes ?? []
  }
  // Encode once to check every limit before signing.
  encodeMessage(REGISTRATION_BODY_SCHEMA, unsigned)
  const signature = await backend.ed25519Sign(identity.secretKey, registrationMessage(unsigned))
  return { ...unsigned, signature }
}

export function encodeMailboxRegistration(r: MailboxRegistration): Uint8Array {
  checkVersion('MailboxRegistration', r.version)
  return encodeMessage(MAILBOX_REGISTRATION_SCHEMA, { ...r, version: 1 })
}

export function decodeMailboxRegistration(bytes: Uint8Array): MailboxRegistration {
  return decodeVersioned(MAILBOX_REGISTRATION_SCHEMA, bytes)
}

/** Checks the signature by the identity the registration names; RecordSignatureError otherwise. */
export async function verifyMailboxRegistration(backend: CryptoBackend, r: MailboxRegistration): Promise<void> {
  let ok = false
  try {
    validateEd25519PublicKey('identity key', r.identityKey)
    ok = await backend.ed25519Verify(r.identityKey, registrationMessage(r), r.signature)
  } catch {
    ok = false
  }
  if (!ok) throw new RecordSignatureError()
}

// ---------------------------------------------------------------- owner authentication

/** The key a relay files an identity's mailbox under: SHA-256("Parley/v1/mailbox-id" ‖ 0x00 ‖ identity key). */
export function mailboxId(backend: CryptoBackend, identityKey: Uint8Array): Promise<Uint8Array> {
  if (!(identityKey instanceof Uint8Array) || identityKey.length !== IDENTITY_KEY_BYTES) {
    throw new InvalidParameterError('identityKey', `${IDENTITY_KEY_BYTES} bytes`)
  }
  return backend.sha256(withContext(CONTEXT_MAILBOX_ID, identityKey))
}

/** The bytes an owner signs to open a session at `relay` with `challenge`. */
export function mailboxAuthMessage(relay: Uint8Array, mailbox: Uint8Array, challenge: Uint8Array): Uint8Array {
  if (relay.length < 1 || relay.length > MAX_RELAY_ID_BYTES) throw new InvalidParameterError('relay', 'a peer id')
  if (mailbox.length !== IDENTITY_KEY_BYTES) throw new InvalidParameterError('mailbox', '32 bytes')
  if (challenge.length !== MAILBOX_CHALLENGE_BYTES) throw new InvalidParameterError('challenge', '32 bytes')
  const body = new Uint8Array(1 + relay.length + mailbox.length + challenge.length)
  body[0] = relay.length
  body.set(relay, 1)
  body.set(mailbox, 1 + relay.length)
  body.set(challenge, 1 + relay.length + mailbox.length)
  return withContext(CONTEXT_MAILBOX_AUTH, body)
}

/** The owner's AUTH signature. */
export function signMailboxAuth(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  relay: Uint8Array,
  challenge: Uint8Array
): Promise<Uint8Array> {
  return backend.ed25519Sign(identity.secretKey, mailboxAuthMessage(relay, identity.publicKey, challenge))
}

/** Whether `signature` is the owner of `mailbox` signing `challenge` for `relay`. */
export async function verifyMailboxAuth(
  backend: CryptoBackend,
  relay: Uint8Array,
  mailbox: Uint8Array,
  challenge: Uint8Array,
  signature: Uint8Array
): Promise<boolean> {
  try {
    validateEd25519PublicKey('mailbox', mailbox)
    return await backend.ed25519Verify(mailbox, mailboxAuthMessage(relay, mailbox, challenge), signature)
  } catch {
    return false
  }
}
