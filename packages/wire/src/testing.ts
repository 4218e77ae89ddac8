/**
 * `@parley/wire/testing`: the strict protobuf engine and every format's schema, for tests (fixed vectors, protobufjs
 * compatibility, fuzzing) and tools. Runtime code uses the typed encode/decode functions of the main entry instead.
 */
export { ACK_SCHEMA } from './ack.ts'
export { CALL_SIGNAL_SCHEMA } from './call-signal.ts'
export { DHT_RECORD_SCHEMA } from './dht-record.ts'
export { ENVELOPE_SCHEMA } from './envelope.ts'
export {
  GROUP_APP_SCHEMA,
  GROUP_CONTROL_SCHEMA,
  GROUP_ENVELOPE_SCHEMA,
  GROUP_SYNC_REQUEST_SCHEMA,
  GROUP_SYNC_RESPONSE_SCHEMA,
  GROUP_WELCOME_SCHEMA
} from './group.ts'
export { INVITE_SCHEMA } from './invite.ts'
export { MAILBOX_ITEM_SCHEMA, MAILBOX_REQUEST_SCHEMA, MAILBOX_RESPONSE_SCHEMA } from './mailbox.ts'
export { MAILBOX_REGISTRATION_SCHEMA } from './mailbox-auth.ts'
export { PAYLOAD_SCHEMA } from './payload.ts'
export { PREKEY_REQUEST_SCHEMA, PREKEY_RESPONSE_SCHEMA } from './prekeys.ts'
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
  fixedBytes,
  type Infer,
  type MessageSchema,
  type MessageType,
  readVarint,
  type StringType,
  type UintType,
  type ValueOf
} from './protobuf.ts'
