/**
 * Every failure a caller may branch on is a named class with a stable `code`.
 * Messages carry counts and ids only, never key material or plaintext.
 */
import type { GroupErrorCode } from './group/errors.ts'

/** Every `code` a ParleyCryptoError carries: what a caller branches on. */
export type CryptoErrorCode =
  | 'InvalidParameter'
  | 'InvalidKey'
  | 'AeadFailure'
  | 'InvalidSignature'
  | 'UntrustedDevice'
  | 'Expired'
  | 'UnsupportedVersion'
  | 'Malformed'
  | 'UnknownStateVersion'
  | 'DuplicateMessage'
  | 'UndecryptableHeader'
  | 'UndecryptableBody'
  | 'MessageGapTooLarge'
  | 'NoSession'
  | 'UnknownPrekey'
  | 'ReplayedInitialMessage'
  | 'LastResortPrekeyExhausted'
  | 'StaleSession'
  | 'UntrustedIdentity'
  | 'SealedSenderFailure'
  | 'RatchetFork'
  | GroupErrorCode

/** Base class of every error thrown by @parley/crypto. */
export class ParleyCryptoError extends Error {
  static override readonly name: string = 'ParleyCryptoError'
  readonly code: CryptoErrorCode
  constructor(code: CryptoErrorCode, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** A parameter has the wrong type or length. Names the parameter, never its value. */
export class InvalidParameterError extends ParleyCryptoError {
  static override readonly name = 'InvalidParameterError'
  constructor(parameter: string, expected: string) {
    super('InvalidParameter', `${parameter}: expected ${expected}`)
  }
}

/** A public key failed validation (wrong length, low order, non-canonical, all-zero DH output). */
export class InvalidKeyError extends ParleyCryptoError {
  static override readonly name = 'InvalidKeyError'
  constructor(what: string, reason: string) {
    super('InvalidKey', `${what}: ${reason}`)
  }
}

/** An AEAD tag did not verify. */
export class AeadError extends ParleyCryptoError {
  static override readonly name = 'AeadError'
  constructor() {
    super('AeadFailure', 'authentication tag did not verify')
  }
}

/** A signature did not verify (bundle, prekey, device certificate, sealed sender). */
export class InvalidSignatureError extends ParleyCryptoError {
  static override readonly name = 'InvalidSignatureError'
  constructor(what: string) {
    super('InvalidSignature', `${what}: signature did not verify`)
  }
}

/** A device certificate is not signed by the identity it names, or names another identity. */
export class UntrustedDeviceError extends ParleyCryptoError {
  static override readonly name = 'UntrustedDeviceError'
  constructor(reason: string) {
    super('UntrustedDevice', reason)
  }
}

/** A bundle, certificate or prekey is past its expiry. */
export class ExpiredError extends ParleyCryptoError {
  static override readonly name = 'ExpiredError'
  constructor(what: string) {
    super('Expired', `${what} has expired`)
  }
}

/** The peer offers no protocol version we accept (downgrade below our minimum, or none in common). */
export class UnsupportedVersionError extends ParleyCryptoError {
  static override readonly name = 'UnsupportedVersionError'
  constructor(what: string, version: number) {
    super('UnsupportedVersion', `${what}: version ${version} is not supported`)
  }
}

/** Bytes that do not decode as the expected format (truncated, trailing bytes, bad tag, over a size limit). */
export class MalformedError extends ParleyCryptoError {
  static override readonly name = 'MalformedError'
  constructor(what: string, reason: string) {
    super('Malformed', `${what}: ${reason}`)
  }
}

/** Persisted state of an unknown version. */
export class UnknownStateVersionError extends ParleyCryptoError {
  static override readonly name = 'UnknownStateVersionError'
  constructor(what: string, version: number) {
    super('UnknownStateVersion', `${what}: unknown state version ${version}`)
  }
}

/** The message was already decrypted (its key is gone). */
export class DuplicateMessageError extends ParleyCryptoError {
  static override readonly name = 'DuplicateMessageError'
  constructor() {
    super('DuplicateMessage', 'message already received')
  }
}

/** No header key we hold opens the header: tampered, for another recipient, or for a session we no longer have. */
export class UndecryptableHeaderError extends ParleyCryptoError {
  static override readonly name = 'UndecryptableHeaderError'
  constructor(trials: number) {
    super('UndecryptableHeader', `no header key opened the header (${trials} trials)`)
  }
}

/** The header opened but the body did not authenticate. */
export class UndecryptableBodyError extends ParleyCryptoError {
  static override readonly name = 'UndecryptableBodyError'
  constructor() {
    super('UndecryptableBody', 'message body did not authenticate')
  }
}

/** The message number jumps further ahead than MAX_SKIP. */
export class MessageGapTooLargeError extends ParleyCryptoError {
  static override readonly name = 'MessageGapTooLargeError'
  constructor(gap: number, max: number) {
    super('MessageGapTooLarge', `message gap ${gap} exceeds the limit of ${max}`)
  }
}

/** We hold no session with this peer (or the message is for one we no longer keep): start a new one. */
export class NoSessionError extends ParleyCryptoError {
  static override readonly name = 'NoSessionError'
  constructor(reason: string) {
    super('NoSession', reason)
  }
}

/** The PreKey message names a one-time prekey we no longer have (consumed, or never issued). */
export class UnknownPrekeyError extends ParleyCryptoError {
  static override readonly name = 'UnknownPrekeyError'
  constructor(kind: string, id: number) {
    super('UnknownPrekey', `${kind} prekey ${id} is unknown or already used`)
  }
}

/** A first message built on the last-resort prekey was seen before (a replay into a second session). */
export class ReplayedInitialMessageError extends ParleyCryptoError {
  static override readonly name = 'ReplayedInitialMessageError'
  constructor() {
    super('ReplayedInitialMessage', 'initial message was already used to start a session')
  }
}

/**
 * The last-resort prekey an initial message names has started MAX_REPLAY_CACHE_ENTRIES sessions already: its replay
 * cache is full, and a full cache is never trimmed (a trimmed entry would let that first message be replayed), so the
 * key takes no more first messages. The sender fetches a fresh bundle; the owner rotates the key (see
 * lastResortPrekeyNeedsRotation), which happens well before this when it replenishes its prekeys.
 */
export class LastResortPrekeyExhaustedError extends ParleyCryptoError {
  static override readonly name = 'LastResortPrekeyExhaustedError'
  constructor(id: number, uses: number) {
    super('LastResortPrekeyExhausted', `last-resort prekey ${id} has started ${uses} sessions: fetch a fresh bundle`)
  }
}

/** The session we would encrypt on was never acknowledged by the peer within the allowed age. */
export class StaleSessionError extends ParleyCryptoError {
  static override readonly name = 'StaleSessionError'
  constructor(ageMs: number) {
    super('StaleSession', `session unacknowledged for ${Math.round(ageMs / 86_400_000)} days: fetch a fresh bundle`)
  }
}

/** The sender named in a sealed initial message is not the identity the caller expected. */
export class UntrustedIdentityError extends ParleyCryptoError {
  static override readonly name = 'UntrustedIdentityError'
  constructor(reason: string) {
    super('UntrustedIdentity', reason)
  }
}

/** The sealed sender part of an initial message did not open: not for us, tampered, or for a retired prekey. */
export class SealedSenderError extends ParleyCryptoError {
  static override readonly name = 'SealedSenderError'
  constructor() {
    super('SealedSenderFailure', 'sealed sender part did not authenticate')
  }
}

/**
 * The header opened under our current receiving header key but names another ratchet key: only the peer holds
 * that header key, so the peer's state forked (it was restored from a backup and re-took a DH step with a new
 * key). The session cannot heal by itself; start a new one (needsSessionReset is true).
 */
export class RatchetForkError extends ParleyCryptoError {
  static override readonly name = 'RatchetForkError'
  constructor() {
    super('RatchetFork', "the peer's ratchet forked (restored state): start a new session")
  }
}

/**
 * True when `err` is an error of @parley/crypto — with the given `code` when one is passed: the one way to branch on
 * a failure (never on a message).
 *
 * @example if (isCryptoError(err, 'UnknownPrekey')) fetchFreshBundle()
 */
export function isCryptoError(err: unknown, code?: CryptoErrorCode): err is ParleyCryptoError {
  return err instanceof ParleyCryptoError && (code === undefined || err.code === code)
}
