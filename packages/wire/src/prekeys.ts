/**
 * The prekey exchange on `/parley/prekeys/1.0.0`: a sender asks a device (or a relay serving it) for a prekey bundle
 * with one-time prekeys, and gets the bytes of @parley/crypto's `encodePrekeyBundle` or an error code. The bundle is
 * opaque here: the sender decodes it with `decodePrekeyBundle` and checks it with `verifyPrekeyBundle` against the
 * identity it asked for, because whoever answers is untrusted transport.
 *
 * ```proto
 * message PrekeyRequest {
 *   uint64 version = 1;        // 1
 *   bytes identity_key = 2;    // 32 bytes: whose bundle
 * }
 * message PrekeyResponse {
 *   uint64 version = 1;        // 1
 *   Status status = 2;         // OK = 1, ERROR = 2
 *   bytes prekey_bundle = 3;   // present exactly when OK: 1..MAX_PREKEY_BUNDLE_BYTES
 *   string error_code = 4;     // present exactly when ERROR: an identifier, at most 64 bytes
 * }
 * ```
 */

import { checkErrorCode, checkStatus, ERROR_CODE_TYPE } from './ack.ts'
import {
  IDENTITY_KEY_BYTES,
  MAX_PREKEY_BUNDLE_BYTES,
  MAX_PREKEY_REQUEST_BYTES,
  MAX_PREKEY_RESPONSE_BYTES
} from './constants.ts'
import { InvalidValueError } from './errors.ts'
import { defineSchema, encodeMessage, fixedBytes } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** A request for the bundle of one identity. */
export interface PrekeyRequest {
  readonly version: number
  readonly identityKey: Uint8Array
}

/** The bundle asked for, or why there is none. */
export type PrekeyResponse =
  | { readonly version: number; readonly status: 'ok'; readonly prekeyBundle: Uint8Array }
  | { readonly version: number; readonly status: 'error'; readonly errorCode: string }

/** What a server supplies: the version is always ours. */
export type PrekeyResponseInit =
  | { readonly version?: number; readonly status: 'ok'; readonly prekeyBundle: Uint8Array }
  | { readonly version?: number; readonly status: 'error'; readonly errorCode: string }

/** The PrekeyRequest schema. */
export const PREKEY_REQUEST_SCHEMA = defineSchema({
  name: 'PrekeyRequest',
  maxBytes: MAX_PREKEY_REQUEST_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'identityKey',
      type: fixedBytes(IDENTITY_KEY_BYTES),
      rule: 'required'
    }
  ]
})

/** The PrekeyResponse schema. */
export const PREKEY_RESPONSE_SCHEMA = defineSchema({
  name: 'PrekeyResponse',
  maxBytes: MAX_PREKEY_RESPONSE_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'status', type: { kind: 'enum', values: { ok: 1, error: 2 } }, rule: 'required' },
    {
      no: 3,
      name: 'prekeyBundle',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_PREKEY_BUNDLE_BYTES },
      rule: 'optional'
    },
    { no: 4, name: 'errorCode', type: ERROR_CODE_TYPE, rule: 'optional' }
  ]
})

/** Encodes a request for `identityKey`'s bundle. */
export function encodePrekeyRequest(request: {
  readonly version?: number
  readonly identityKey: Uint8Array
}): Uint8Array {
  checkVersion('PrekeyRequest', request.version)
  return encodeMessage(PREKEY_REQUEST_SCHEMA, { version: 1, identityKey: request.identityKey })
}

/** Decodes a request. */
export function decodePrekeyRequest(bytes: Uint8Array): PrekeyRequest {
  return decodeVersioned(PREKEY_REQUEST_SCHEMA, bytes)
}

/** Encodes a response. */
export function encodePrekeyResponse(response: PrekeyResponseInit): Uint8Array {
  checkVersion('PrekeyResponse', response.version)
  if (response.status === 'error') checkErrorCode('PrekeyResponse.errorCode', response.errorCode)
  return encodeMessage(PREKEY_RESPONSE_SCHEMA, {
    version: 1,
    status: response.status,
    prekeyBundle: response.status === 'ok' ? response.prekeyBundle : undefined,
    errorCode: response.status === 'error' ? response.errorCode : undefined
  })
}

/** Decodes a response: the bundle present exactly with `ok`, the error code exactly with `error`. */
export function decodePrekeyResponse(bytes: Uint8Array): PrekeyResponse {
  const raw = decodeVersioned(PREKEY_RESPONSE_SCHEMA, bytes)
  checkStatus('PrekeyResponse', raw.status, raw.errorCode)
  if (raw.status === 'error') {
    if (raw.prekeyBundle !== undefined)
      throw new InvalidValueError('PrekeyResponse', 'prekeyBundle', 'present with error')
    return { version: raw.version, status: 'error', errorCode: raw.errorCode! }
  }
  if (raw.prekeyBundle === undefined) throw new InvalidValueError('PrekeyResponse', 'prekeyBundle', 'missing with ok')
  return { version: raw.version, status: 'ok', prekeyBundle: raw.prekeyBundle }
}
