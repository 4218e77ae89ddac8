/**
 * @parley/wire — every byte format of the messenger on the wire and at rest, protocol ids and size limits.
 * Stateless; decoders refuse malformed, oversized or unknown-version input with typed errors. No libp2p.
 */
export { ACK_SCHEMA, type Ack, type AckInit, decodeAck, ERROR_CODE_PATTERN, encodeAck } from './ack.ts'
export * from './constants.ts'
export {
  DHT_RECORD_SCHEMA,
  type DhtRecord,
  type DhtRecordFields,
  type DhtRecordValidatorOptions,
  decodeDhtRecord,
  dhtKeyForIdentity,
  dhtRecordSelector,
  dhtRecordValidator,
  encodeDhtRecord,
  identityFromDhtKey,
  selectDhtRecord,
  signDhtRecord,
  validateDhtRecord,
  verifyDhtRecordSignature
} from './dht-record.ts'
export { decodeEnvelope, ENVELOPE_SCHEMA, type Envelope, type EnvelopeInit, encodeEnvelope } from './envelope.ts'
export * from './errors.ts'
export {
  decodeInvite,
  encodeInvite,
  fromBase64url,
  INVITE_SCHEMA,
  type Invite,
  type InviteInit,
  toBase64url
} from './invite.ts'
export * from './mailbox.ts'
export * from './mailbox-auth.ts'
export { isBucketSize, padCiphertext, paddedLength, padPayload, unpad } from './padding.ts'
export {
  decodePaddedPayload,
  decodePayload,
  encodePaddedPayload,
  encodePayload,
  PAYLOAD_SCHEMA,
  type Payload,
  type PayloadHeader,
  type PayloadInit,
  type PayloadKind,
  type Receipt,
  type Resend,
  type Typing
} from './payload.ts'
export {
  decodePrekeyRequest,
  decodePrekeyResponse,
  encodePrekeyRequest,
  encodePrekeyResponse,
  PREKEY_REQUEST_SCHEMA,
  PREKEY_RESPONSE_SCHEMA,
  type PrekeyRequest,
  type PrekeyResponse,
  type PrekeyResponseInit
} from './prekeys.ts'
export {
  type BoolType,
  type BytesType,
  decodeMessage,
  defineSchema,
  type EnumType,
  encodeMessage,
  encodeVarint,
  type FieldSpec,
  type FieldType,
  type Infer,
  type MessageSchema,
  type MessageType,
  readVarint,
  type StringType,
  type UintType,
  type ValueOf
} from './protobuf.ts'
export { type ProtocolIds, protocols } from './protocols.ts'
