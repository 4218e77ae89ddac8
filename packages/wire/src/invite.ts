/**
 * Invite links: `parley://invite/<payload>`, where the payload is the unpadded base64url of an Invite protobuf. An
 * invite says who to add (the identity key) and where to find them first (addresses, relays); the identity is still
 * checked against the bundle found in the DHT, and users compare safety numbers to rule out a forged invite.
 *
 * ```proto
 * message Invite {
 *   uint64 version = 1;           // 1
 *   bytes identity_key = 2;       // 32 bytes
 *   repeated bytes addresses = 3; // binary multiaddrs, at most 8, each 1..512 bytes
 *   repeated bytes relays = 4;    // relay multiaddrs or peer ids, at most 8, each 1..512 bytes
 *   string name = 5;              // optional display name, 1..64 UTF-8 bytes, no control or bidi characters
 * }
 * ```
 */
import { fromBase64url, toBase64url } from './base64url.ts'
import {
  IDENTITY_KEY_BYTES,
  INVITE_PREFIX,
  MAX_ADDRESS_BYTES,
  MAX_INVITE_ADDRESSES,
  MAX_INVITE_BYTES,
  MAX_INVITE_LENGTH,
  MAX_INVITE_RELAYS,
  MAX_NAME_BYTES
} from './constants.ts'
import { InvalidInviteError, InvalidParameterError, InvalidValueError, OversizeError } from './errors.ts'
import { defineSchema, encodeMessage } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

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
      type: { kind: 'bytes', length: IDENTITY_KEY_BYTES, maxLength: IDENTITY_KEY_BYTES },
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

// C0/C1 controls and the bidi embedding, override and isolate characters: they let a name rearrange the text shown
// around it, a known way to spoof who is speaking.
const UNSAFE_NAME = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** The invite link for `invite`. */
export function encodeInvite(invite: InviteInit): string {
  checkVersion('Invite', invite.version)
  if (invite.name !== undefined && (typeof invite.name !== 'string' || UNSAFE_NAME.test(invite.name))) {
    throw new InvalidParameterError('Invite.name', 'a name without control or bidi characters')
  }
  const bytes = encodeMessage(INVITE_SCHEMA, {
    version: 1,
    identityKey: invite.identityKey,
    addresses: invite.addresses,
    relays: invite.relays,
    name: invite.name
  })
  return INVITE_PREFIX + toBase64url(bytes)
}

/**
 * Parses an invite link. InvalidInviteError for another scheme or path or a payload that is not strict base64url,
 * OversizeError over MAX_INVITE_LENGTH, and the protobuf decoder's typed errors for the payload itself.
 */
export function decodeInvite(link: string): Invite {
  if (typeof link !== 'string') throw new InvalidParameterError('link', 'a string')
  if (link.length > MAX_INVITE_LENGTH) throw new OversizeError('Invite', 'link', link.length, MAX_INVITE_LENGTH)
  if (!link.startsWith(INVITE_PREFIX)) throw new InvalidInviteError(`not a ${INVITE_PREFIX} link`)
  const bytes = fromBase64url(link.slice(INVITE_PREFIX.length))
  if (bytes === undefined) throw new InvalidInviteError('payload is not unpadded base64url')
  const raw = decodeVersioned(INVITE_SCHEMA, bytes)
  if (raw.name !== undefined && UNSAFE_NAME.test(raw.name)) {
    throw new InvalidValueError('Invite', 'name', 'control or bidi characters')
  }
  const { name, ...rest } = raw
  return name === undefined ? rest : { ...rest, name }
}
