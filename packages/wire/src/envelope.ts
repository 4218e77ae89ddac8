/**
 * Envelope: one direct message on `/parley/dm/1.0.0` (framed by the transport's length prefix) or one deposit at a
 * mailbox relay. The ciphertext is a @parley/crypto ratchet or initial message whose plaintext is a padded Payload;
 * the message id travels in the clear so the receiver can acknowledge and deduplicate before decrypting.
 *
 * ```proto
 * message Envelope {
 *   uint64 version = 1;     // 1
 *   bytes message_id = 2;   // 16 bytes
 *   bytes ciphertext = 3;   // 1..MAX_ENVELOPE_CIPHERTEXT_BYTES
 *   bytes sealed_sender = 4; // optional, mailbox deposits only: the sender's device address sealed to the
 *                            // recipient device (@parley/crypto sealToDevice), at most MAX_SEALED_SENDER_BYTES
 * }
 * ```
 */
import {
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_CIPHERTEXT_BYTES,
  MAX_SEALED_SENDER_BYTES,
  MESSAGE_ID_BYTES
} from './constants.ts'
import { defineSchema, encodeMessage, fixedBytes } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** A DM frame. */
export interface Envelope {
  readonly version: number
  /** 16 random bytes chosen by the sender: the id acks, receipts and deduplication use. */
  readonly messageId: Uint8Array
  /** A @parley/crypto ratchet or initial message. */
  readonly ciphertext: Uint8Array
  /**
   * Deposits at a mailbox relay carry the sender's device address sealed to the recipient's device (a direct stream
   * names its sender by its connection; a deposit arrives from a throwaway identity).
   */
  readonly sealedSender?: Uint8Array | undefined
}

/** What a sender supplies: the version is always ours. */
export type EnvelopeInit = Omit<Envelope, 'version'> & { readonly version?: number }

/** The Envelope schema. */
export const ENVELOPE_SCHEMA = defineSchema({
  name: 'Envelope',
  maxBytes: MAX_ENVELOPE_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'messageId',
      type: fixedBytes(MESSAGE_ID_BYTES),
      rule: 'required'
    },
    {
      no: 3,
      name: 'ciphertext',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_ENVELOPE_CIPHERTEXT_BYTES },
      rule: 'required'
    },
    {
      no: 4,
      name: 'sealedSender',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_SEALED_SENDER_BYTES },
      rule: 'optional'
    }
  ]
})

/** Encodes an envelope; InvalidParameterError for a wrong id length or an empty or oversized ciphertext. */
export function encodeEnvelope(envelope: EnvelopeInit): Uint8Array {
  checkVersion('Envelope', envelope.version)
  return encodeMessage(ENVELOPE_SCHEMA, {
    version: 1,
    messageId: envelope.messageId,
    ciphertext: envelope.ciphertext,
    sealedSender: envelope.sealedSender
  })
}

/** Decodes an envelope; a typed WireError for anything but a canonical version-1 envelope within the limits. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const raw = decodeVersioned(ENVELOPE_SCHEMA, bytes)
  return raw.sealedSender === undefined
    ? { version: raw.version, messageId: raw.messageId, ciphertext: raw.ciphertext }
    : raw
}
