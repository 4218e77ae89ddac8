/**
 * Ack: the transport-level answer on the DM stream to one Envelope. `ok` means the receiver stored the envelope
 * (decrypted or queued), so the sender stops retrying on this path; it says nothing about display, which the E2EE
 * receipts carry. `error` carries a short machine-readable code.
 *
 * ```proto
 * message Ack {
 *   uint64 version = 1;      // 1
 *   bytes message_id = 2;    // 16 bytes: the Envelope's
 *   Status status = 3;       // OK = 1, ERROR = 2
 *   string error_code = 4;   // present exactly when status = ERROR; an identifier, at most 64 bytes
 * }
 * ```
 */
import { MAX_ACK_BYTES, MAX_ERROR_CODE_BYTES, MESSAGE_ID_BYTES } from './constants.ts'
import { InvalidParameterError, InvalidValueError } from './errors.ts'
import { defineSchema, encodeMessage, fixedBytes, type StringType } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** An error code: a letter, then letters, digits, `_`, `.` or `-` (`NoSession`, `TooLarge`). */
export const ERROR_CODE_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/

/** The error-code field type shared by Ack and PrekeyResponse. */
export const ERROR_CODE_TYPE: StringType = { kind: 'string', minLength: 1, maxLength: MAX_ERROR_CODE_BYTES }

/** Checks an error code a caller wants to send. */
export function checkErrorCode(path: string, code: string): void {
  if (typeof code !== 'string' || !ERROR_CODE_PATTERN.test(code)) {
    throw new InvalidParameterError(path, 'an identifier such as NoSession')
  }
}

/** Checks the pairing of `status` and `errorCode` in a decoded message. */
export function checkStatus(format: string, status: 'ok' | 'error', errorCode: string | undefined): void {
  if (status === 'ok' && errorCode !== undefined) throw new InvalidValueError(format, 'errorCode', 'present with ok')
  if (status === 'error') {
    if (errorCode === undefined) throw new InvalidValueError(format, 'errorCode', 'missing with error')
    if (!ERROR_CODE_PATTERN.test(errorCode)) throw new InvalidValueError(format, 'errorCode', 'not an identifier')
  }
}

/** The answer to one envelope. */
/**
 * `held`: stored as a message request — the recipient has not accepted the sender, so the Ack tells the sender the
 * message is stored (stop retrying) and nothing more; it is not a delivery receipt.
 */
export type Ack =
  | { readonly version: number; readonly messageId: Uint8Array; readonly status: 'ok'; readonly held?: true }
  | { readonly version: number; readonly messageId: Uint8Array; readonly status: 'error'; readonly errorCode: string }

/** What a receiver supplies: the version is always ours. */
export type AckInit =
  | { readonly version?: number; readonly messageId: Uint8Array; readonly status: 'ok'; readonly held?: true }
  | { readonly version?: number; readonly messageId: Uint8Array; readonly status: 'error'; readonly errorCode: string }

/** The Ack schema. */
export const ACK_SCHEMA = defineSchema({
  name: 'Ack',
  maxBytes: MAX_ACK_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'messageId',
      type: fixedBytes(MESSAGE_ID_BYTES),
      rule: 'required'
    },
    { no: 3, name: 'status', type: { kind: 'enum', values: { ok: 1, error: 2 } }, rule: 'required' },
    { no: 4, name: 'errorCode', type: ERROR_CODE_TYPE, rule: 'optional' },
    { no: 5, name: 'held', type: { kind: 'bool' }, rule: 'optional' }
  ]
})

/** Encodes an ack. */
export function encodeAck(ack: AckInit): Uint8Array {
  checkVersion('Ack', ack.version)
  if (ack.status === 'error') checkErrorCode('Ack.errorCode', ack.errorCode)
  return encodeMessage(ACK_SCHEMA, {
    version: 1,
    messageId: ack.messageId,
    status: ack.status,
    errorCode: ack.status === 'error' ? ack.errorCode : undefined,
    held: ack.status === 'ok' && ack.held === true ? true : undefined
  })
}

/** Decodes an ack; `errorCode` must be present exactly when `status` is `error`. */
export function decodeAck(bytes: Uint8Array): Ack {
  const raw = decodeVersioned(ACK_SCHEMA, bytes)
  checkStatus('Ack', raw.status, raw.errorCode)
  if (raw.status === 'error') {
    if (raw.held !== undefined) throw new InvalidValueError('Ack', 'held', 'present with error')
    return { version: raw.version, messageId: raw.messageId, status: 'error', errorCode: raw.errorCode! }
  }
  if (raw.held === false) throw new InvalidValueError('Ack', 'held', 'present only when true')
  return { version: raw.version, messageId: raw.messageId, status: 'ok', ...(raw.held === true && { held: true }) }
}
