/** Errors of @parley/network: named classes with a stable `code`; messages never carry plaintext or keys. */
import type { MailboxErrorCode } from '@parley/wire'

/** Every `code` a NetworkError carries: the package's own, and a relay's refusals (MailboxError). */
export type NetworkErrorCode =
  | 'ContactNotFound'
  | 'RolledBackRecord'
  | 'RecordStoreFull'
  | 'InvalidInput'
  | 'DirectUpgradeFailed'
  | MailboxErrorCode

/** Base class of every error thrown by @parley/network. */
export class NetworkError extends Error {
  static override readonly name: string = 'NetworkError'
  readonly code: NetworkErrorCode
  constructor(code: NetworkErrorCode, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** The identity's record could not be found in the DHT (offline for long, or never published). */
export class ContactNotFoundError extends NetworkError {
  static override readonly name = 'ContactNotFoundError'
  constructor() {
    super('ContactNotFound', "no valid record for the contact's identity in the DHT")
  }
}

/** A replayed record with a lower sequence than the one stored. */
export class RolledBackRecordError extends NetworkError {
  static override readonly name = 'RolledBackRecordError'
  constructor(stored: number, offered: number) {
    super('RolledBackRecord', `record sequence ${offered} is older than the stored ${stored}`)
  }
}

/** The DHT record store is full and nothing in it may be evicted for the new record. */
export class RecordStoreFullError extends NetworkError {
  static override readonly name = 'RecordStoreFullError'
  constructor(records: number, bytes: number) {
    super('RecordStoreFull', `the DHT record store is full (${records} records, ${bytes} bytes)`)
  }
}

/**
 * A relay refused a mailbox request: `code` is the relay's (QuotaExceeded, TooLarge, RateLimited, BadSignature…: one
 * of MAILBOX_ERROR_CODES). A later relay may answer with a code this build does not list; it is passed on as sent.
 */
export class MailboxError extends NetworkError {
  static override readonly name = 'MailboxError'
  declare readonly code: MailboxErrorCode
  /** For RateLimited: when the relay accepts requests again. */
  readonly retryAfterMs: number | undefined
  constructor(code: string, retryAfterMs?: number) {
    super(code as MailboxErrorCode, `the relay refused the request: ${code}`)
    this.retryAfterMs = retryAfterMs
  }
}

/** A parameter has the wrong type, length or size. */
export class InvalidNetworkInputError extends NetworkError {
  static override readonly name = 'InvalidNetworkInputError'
  constructor(parameter: string, expected: string) {
    super('InvalidInput', `${parameter}: expected ${expected}`)
  }
}

/** No direct (WebRTC) connection could replace the relayed one: `reason` is short, for people (no keys, no data). */
export class DirectUpgradeError extends NetworkError {
  static override readonly name = 'DirectUpgradeError'
  readonly reason: string
  constructor(reason: string) {
    super('DirectUpgradeFailed', `no direct connection: ${reason}`)
    this.reason = reason
  }
}

/**
 * True when `err` is an error of @parley/network — with the given `code` when one is passed: the one way to branch
 * on a failure (never on a message).
 *
 * @example if (isNetworkError(err, 'RateLimited')) retryLater(err)
 */
export function isNetworkError(err: unknown, code?: NetworkErrorCode): err is NetworkError {
  return err instanceof NetworkError && (code === undefined || err.code === code)
}
