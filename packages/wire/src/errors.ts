/**
 * Every failure a caller may branch on is a named class with a stable `code`. Decoders throw nothing else: a peer's
 * bytes, however broken, end in a `WireError`. Messages name the format and the field, never key material or text.
 */

/** The codes of MalformedError and its subclasses: bytes that do not decode as the format they claim to be. */
export type MalformedErrorCode =
  | 'Truncated'
  | 'Oversize'
  | 'InvalidVarint'
  | 'UnknownField'
  | 'WrongWireType'
  | 'DuplicateField'
  | 'MissingField'
  | 'NonCanonical'
  | 'InvalidUtf8'
  | 'InvalidValue'

/** Every `code` a WireError carries: what a caller branches on. */
export type WireErrorCode =
  | 'InvalidParameter'
  | MalformedErrorCode
  | 'UnknownVersion'
  | 'BadPadding'
  | 'InvalidInvite'
  | 'InviteChecksum'
  | 'OutdatedInvite'
  | 'RecordKeyMismatch'
  | 'RecordSignature'
  | 'RecordExpired'
  | 'InvalidBundle'
  | 'NoValidRecord'

/** Base class of every error thrown by @parley/wire. */
export class WireError extends Error {
  static override readonly name: string = 'WireError'
  readonly code: WireErrorCode
  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A caller passed a value our encoders refuse (wrong length, over a limit, not a well-formed string). */
export class InvalidParameterError extends WireError {
  static override readonly name = 'InvalidParameterError'
  constructor(parameter: string, expected: string) {
    super('InvalidParameter', `${parameter}: expected ${expected}`)
  }
}

/**
 * Bytes that do not decode as the format they claim to be. The subclasses below say why; catch this one to treat
 * every structural failure alike.
 */
export class MalformedError extends WireError {
  static override readonly name: string = 'MalformedError'
  /** The format being decoded (`Envelope`, `DhtRecord`, …). */
  declare readonly code: MalformedErrorCode
  readonly format: string
  constructor(code: MalformedErrorCode, format: string, reason: string) {
    super(code, `${format}: ${reason}`)
    this.format = format
  }
}

/** The input ends inside a field (a tag, a varint or a length-delimited value). */
export class TruncatedError extends MalformedError {
  static override readonly name = 'TruncatedError'
  constructor(format: string) {
    super('Truncated', format, 'truncated')
  }
}

/** The input, a field or a repeated field is over its named limit. */
export class OversizeError extends MalformedError {
  static override readonly name = 'OversizeError'
  readonly limit: number
  constructor(format: string, what: string, size: number, limit: number) {
    super('Oversize', format, `${what} of ${size} exceeds the limit of ${limit}`)
    this.limit = limit
  }
}

/** A varint longer than 10 bytes, not minimally encoded, or above 2^53 - 1. */
export class InvalidVarintError extends MalformedError {
  static override readonly name = 'InvalidVarintError'
  constructor(format: string, reason: string) {
    super('InvalidVarint', format, reason)
  }
}

/** A field number the schema does not have (including 0 and numbers past 2^29 - 1). */
export class UnknownFieldError extends MalformedError {
  static override readonly name = 'UnknownFieldError'
  readonly field: number
  constructor(format: string, field: number) {
    super('UnknownField', format, `unknown field ${field}`)
    this.field = field
  }
}

/** A known field with a wire type other than its schema's. */
export class WrongWireTypeError extends MalformedError {
  static override readonly name = 'WrongWireTypeError'
  constructor(format: string, field: string, wireType: number) {
    super('WrongWireType', format, `${field}: wire type ${wireType} is not the schema's`)
  }
}

/** A non-repeated field appears twice. */
export class DuplicateFieldError extends MalformedError {
  static override readonly name = 'DuplicateFieldError'
  constructor(format: string, field: string) {
    super('DuplicateField', format, `${field} appears more than once`)
  }
}

/** A required field is absent. */
export class MissingFieldError extends MalformedError {
  static override readonly name = 'MissingFieldError'
  constructor(format: string, field: string) {
    super('MissingField', format, `${field} is missing`)
  }
}

/**
 * Fields out of ascending field-number order. Our encoders write fields in order, and decoders accept only that
 * canonical form, so every value has exactly one byte form (signatures and record comparison rely on it).
 */
export class NonCanonicalError extends MalformedError {
  static override readonly name = 'NonCanonicalError'
  constructor(format: string, reason: string) {
    super('NonCanonical', format, reason)
  }
}

/** A string field is not valid UTF-8. */
export class InvalidUtf8Error extends MalformedError {
  static override readonly name = 'InvalidUtf8Error'
  constructor(format: string, field: string) {
    super('InvalidUtf8', format, `${field} is not valid UTF-8`)
  }
}

/**
 * A field decoded but its value is not allowed: wrong fixed length, a boolean other than 0/1, an unknown enum value,
 * fields that contradict each other (a `text` payload without text).
 */
export class InvalidValueError extends MalformedError {
  static override readonly name = 'InvalidValueError'
  constructor(format: string, field: string, reason: string) {
    super('InvalidValue', format, `${field}: ${reason}`)
  }
}

/** A format version this build does not know. Checked before the rest of the message, whose schema may differ. */
export class UnknownVersionError extends WireError {
  static override readonly name = 'UnknownVersionError'
  readonly format: string
  readonly version: number
  constructor(format: string, version: number) {
    super('UnknownVersion', `${format}: unknown version ${version}`)
    this.format = format
    this.version = version
  }
}

/** Padded bytes whose length is not a bucket size or whose tail is not 0x80 followed by zeros. */
export class BadPaddingError extends WireError {
  static override readonly name = 'BadPaddingError'
  constructor(reason: string) {
    super('BadPadding', `padding: ${reason}`)
  }
}

/** An invite link with the wrong scheme or path, or whose payload is not strict base64url. */
export class InvalidInviteError extends WireError {
  static override readonly name = 'InvalidInviteError'
  constructor(reason: string) {
    super('InvalidInvite', `invite: ${reason}`)
  }
}

/**
 * An invite link whose checksum does not match its payload: mistyped, cut short or damaged on the way. Never an
 * invite for someone else: a changed character must not silently add a different identity.
 */
export class InviteChecksumError extends WireError {
  static override readonly name = 'InviteChecksumError'
  constructor() {
    super('InviteChecksum', 'invite: the checksum does not match (mistyped or cut short): copy the whole link again')
  }
}

/**
 * A version-1 invite link: it has no checksum, so a typo in it cannot be told from an invite for someone else. Refused;
 * the inviter's current Parley makes checksummed (version 2) links.
 */
export class OutdatedInviteError extends WireError {
  static override readonly name = 'OutdatedInviteError'
  constructor() {
    super('OutdatedInvite', 'invite: an old link without a checksum: ask your contact for a new invite link')
  }
}

/** A DHT key that is not `/parley/` followed by a 32-byte identity key, or not the key of the record's identity. */
export class RecordKeyMismatchError extends WireError {
  static override readonly name = 'RecordKeyMismatchError'
  constructor(reason: string) {
    super('RecordKeyMismatch', `dht record: ${reason}`)
  }
}

/** The record's signature does not verify under the identity key it names. */
export class RecordSignatureError extends WireError {
  static override readonly name = 'RecordSignatureError'
  constructor() {
    super('RecordSignature', 'dht record: signature did not verify')
  }
}

/** The record's `expiresAt` is not after `now`. */
export class RecordExpiredError extends WireError {
  static override readonly name = 'RecordExpiredError'
  constructor() {
    super('RecordExpired', 'dht record has expired')
  }
}

/**
 * The bundle inside a record does not verify: malformed, badly signed, signed by another identity, its device not
 * certified by the record's identity, or expired. `reason` is the @parley/crypto error code; `cause` the error.
 */
export class InvalidBundleError extends WireError {
  static override readonly name = 'InvalidBundleError'
  readonly reason: string
  constructor(reason: string, cause: unknown) {
    super('InvalidBundle', `dht record: bundle rejected (${reason})`, { cause })
    this.reason = reason
  }
}

/** None of the records offered to the selector decodes (for the key given). */
export class NoValidRecordError extends WireError {
  static override readonly name = 'NoValidRecordError'
  constructor(count: number) {
    super('NoValidRecord', `dht record: none of ${count} records is usable`)
  }
}

/**
 * True when `err` is an error of @parley/wire — with the given `code` when one is passed: the one way to branch on
 * a failure (never on a message).
 *
 * @example if (isWireError(err, 'InviteChecksum')) askForTheWholeLink()
 */
export function isWireError(err: unknown, code?: WireErrorCode): err is WireError {
  return err instanceof WireError && (code === undefined || err.code === code)
}
