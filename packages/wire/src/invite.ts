/**
 * Invite links: `parley://invite/<payload>`, where the payload is the unpadded base64url of an Invite protobuf
 * followed by a checksum: the first INVITE_CHECKSUM_BYTES (4) bytes of SHA-256 over the protobuf. An invite says who
 * to add (the identity key) and where to find them first (addresses, relays); the identity is still checked against
 * the bundle found in the DHT, and users compare safety numbers to rule out a forged invite.
 *
 * ```proto
 * message Invite {
 *   uint64 version = 1;           // 2 (INVITE_VERSION): the payload ends in the checksum
 *   bytes identity_key = 2;       // 32 bytes, a valid Ed25519 point not of small order
 *   repeated bytes addresses = 3; // binary multiaddrs, at most 8, each 1..512 bytes
 *   repeated bytes relays = 4;    // relay multiaddrs or peer ids, at most 8, each 1..512 bytes
 *   string name = 5;              // optional display name, 1..64 UTF-8 bytes, no control, bidi or line-break characters
 * }
 * ```
 *
 * The checksum catches typing and copying mistakes (a changed, dropped or added character), which without it could
 * decode as a valid invite for a different identity. It is not an authenticator: whoever forges an invite computes
 * its checksum too; safety numbers are the defence against that. Version-1 links (no checksum) are refused with
 * OutdatedInviteError rather than accepted unchecked.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { validateEd25519PublicKey } from '@parley/crypto'
import { equals, fromString as uint8ArrayFromString, toString as uint8ArrayToString } from 'uint8arrays'
import {
  IDENTITY_KEY_BYTES,
  INVITE_CHECKSUM_BYTES,
  INVITE_PREFIX,
  INVITE_VERSION,
  MAX_ADDRESS_BYTES,
  MAX_INVITE_ADDRESSES,
  MAX_INVITE_BYTES,
  MAX_INVITE_LENGTH,
  MAX_INVITE_RELAYS,
  MAX_NAME_BYTES
} from './constants.ts'
import {
  InvalidInviteError,
  InvalidParameterError,
  InvalidValueError,
  InviteChecksumError,
  OutdatedInviteError,
  OversizeError,
  UnknownVersionError
} from './errors.ts'
import { decodeMessage, defineSchema, encodeMessage, fixedBytes, readVarint, WIRE_VARINT } from './protobuf.ts'
import { VERSION_FIELD } from './versioned.ts'

/** What an invite link carries. */
export interface Invite {
  readonly version: number
  readonly identityKey: Uint8Array
  readonly addresses: readonly Uint8Array[]
  readonly relays: readonly Uint8Array[]
  /** A display name the inviter suggests (untrusted: shown as a suggestion, never as a verified name). */
  readonly name?: string
}

/** What an inviter supplies: the version is always ours. */
export type InviteInit = Omit<Invite, 'version'> & { readonly version?: number }

/** The Invite schema. */
export const INVITE_SCHEMA = defineSchema({
  name: 'Invite',
  maxBytes: MAX_INVITE_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'identityKey',
      type: fixedBytes(IDENTITY_KEY_BYTES),
      rule: 'required'
    },
    {
      no: 3,
      name: 'addresses',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_ADDRESS_BYTES },
      rule: 'repeated',
      maxCount: MAX_INVITE_ADDRESSES
    },
    {
      no: 4,
      name: 'relays',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_ADDRESS_BYTES },
      rule: 'repeated',
      maxCount: MAX_INVITE_RELAYS
    },
    { no: 5, name: 'name', type: { kind: 'string', minLength: 1, maxLength: MAX_NAME_BYTES }, rule: 'optional' }
  ]
})

// C0/C1 controls, the bidi embedding, override and isolate characters, and line and paragraph separators: they let a
// name rearrange or break the text shown around it, a known way to spoof who is speaking.
const UNSAFE_NAME = /[\p{Cc}\p{Zl}\p{Zp}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** The tag byte of field 1 (version) as a varint: the first byte of every Invite protobuf. */
const VERSION_TAG = (1 << 3) | WIRE_VARINT

function checksum(body: Uint8Array): Uint8Array {
  return sha256(body).subarray(0, INVITE_CHECKSUM_BYTES)
}

/** Unpadded base64url (RFC 4648 §5) of `bytes`. */
export function toBase64url(bytes: Uint8Array): string {
  return uint8ArrayToString(bytes, 'base64url')
}

/** The base64url alphabet, nothing else (no `=`, no whitespace). */
const BASE64URL = /^[A-Za-z0-9_-]*$/

/**
 * The bytes of a strict unpadded base64url string, or undefined when it is not one. Strict: the decoder accepts
 * exactly the strings the encoder writes (no padding, no whitespace, no other alphabet, unused trailing bits zero),
 * so every byte string has one text form. uint8arrays refuses the other alphabets, impossible lengths and non-zero
 * spare bits but strips trailing `=`, so padding is refused here first.
 */
export function fromBase64url(s: string): Uint8Array | undefined {
  if (!BASE64URL.test(s)) return undefined
  try {
    return uint8ArrayFromString(s, 'base64url')
  } catch {
    return undefined
  }
}

/** The key's reason for refusal (not on the curve, small order) as a wire error naming the parameter. */
function checkIdentityKey(key: Uint8Array, onBad: (reason: string) => never): void {
  try {
    validateEd25519PublicKey('identityKey', key)
  } catch (e) {
    onBad(`not a valid Ed25519 public key (${(e as Error).message.replace(/^identityKey: /, '')})`)
  }
}

/** True when `bytes` is a whole version-1 Invite protobuf (the format before checksums). */
function isVersion1Invite(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== VERSION_TAG || bytes[1] !== 1) return false
  try {
    decodeMessage(INVITE_SCHEMA, bytes)
    return true
  } catch {
    return false
  }
}

/** The invite link for `invite`. */
export function encodeInvite(invite: InviteInit): string {
  if (invite.version !== undefined && invite.version !== INVITE_VERSION) {
    throw new InvalidParameterError('Invite.version', `${INVITE_VERSION} (the only version this build writes)`)
  }
  if (invite.name !== undefined && (typeof invite.name !== 'string' || UNSAFE_NAME.test(invite.name))) {
    throw new InvalidParameterError('Invite.name', 'a name without control, bidi or line-break characters')
  }
  if (invite.identityKey instanceof Uint8Array && invite.identityKey.length === IDENTITY_KEY_BYTES) {
    checkIdentityKey(invite.identityKey, (reason) => {
      throw new InvalidParameterError('Invite.identityKey', reason)
    })
  }
  const body = encodeMessage(INVITE_SCHEMA, {
    version: INVITE_VERSION,
    identityKey: invite.identityKey,
    addresses: invite.addresses,
    relays: invite.relays,
    name: invite.name
  })
  const payload = new Uint8Array(body.length + INVITE_CHECKSUM_BYTES)
  payload.set(body)
  payload.set(checksum(body), body.length)
  return INVITE_PREFIX + toBase64url(payload)
}

/**
 * Parses an invite link. InvalidInviteError for another scheme or path or a payload that is not strict base64url,
 * OversizeError over MAX_INVITE_LENGTH, InviteChecksumError when the checksum does not match (a typo),
 * OutdatedInviteError for a version-1 link (no checksum), UnknownVersionError for a later version, InvalidValueError
 * for an identity key that is not a valid Ed25519 point or is of small order (the all-zero key among them) and for a
 * name with control, bidi or line-break characters, and the protobuf decoder's typed errors for the rest.
 */
export function decodeInvite(link: string): Invite {
  if (typeof link !== 'string') throw new InvalidParameterError('link', 'a string')
  if (link.length > MAX_INVITE_LENGTH) throw new OversizeError('Invite', 'link', link.length, MAX_INVITE_LENGTH)
  if (!link.startsWith(INVITE_PREFIX)) throw new InvalidInviteError(`not a ${INVITE_PREFIX} link`)
  const bytes = fromBase64url(link.slice(INVITE_PREFIX.length))
  if (bytes === undefined) throw new InvalidInviteError('payload is not unpadded base64url')
  if (bytes.length <= INVITE_CHECKSUM_BYTES) throw new InvalidInviteError('payload too short')
  const body = bytes.subarray(0, bytes.length - INVITE_CHECKSUM_BYTES)
  if (!equals(checksum(body), bytes.subarray(body.length))) {
    if (isVersion1Invite(bytes)) throw new OutdatedInviteError()
    throw new InviteChecksumError()
  }
  if (body.length > MAX_INVITE_BYTES) throw new OversizeError('Invite', 'message', body.length, MAX_INVITE_BYTES)
  if (body[0] === VERSION_TAG) {
    const [version] = readVarint(body, 1, 'Invite')
    if (version !== INVITE_VERSION) throw new UnknownVersionError('Invite', version)
  }
  const raw = decodeMessage(INVITE_SCHEMA, body)
  checkIdentityKey(raw.identityKey, (reason) => {
    throw new InvalidValueError('Invite', 'identityKey', reason)
  })
  if (raw.name !== undefined && UNSAFE_NAME.test(raw.name)) {
    throw new InvalidValueError('Invite', 'name', 'control, bidi or line-break characters')
  }
  const { name, ...rest } = raw
  return name === undefined ? rest : { ...rest, name }
}
