/** Errors of @parley/relay: named classes with a stable `code`; messages never carry keys or envelope bytes. */
import type { MailboxErrorCode } from '@parley/wire'

/** Every `code` a RelayError carries: the relay's own, and the mailbox service's refusals (MailboxRefusedError). */
export type RelayErrorCode = 'InvalidOption' | 'CorruptKeyFile' | 'DataDirLocked' | MailboxErrorCode

/** Base class of every error thrown by @parley/relay. */
export class RelayError extends Error {
  static override readonly name: string = 'RelayError'
  readonly code: RelayErrorCode
  constructor(code: RelayErrorCode, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** An option has the wrong type or range; names the option. */
export class InvalidRelayOptionError extends RelayError {
  static override readonly name = 'InvalidRelayOptionError'
  readonly option: string
  constructor(option: string, expected: string) {
    super('InvalidOption', `${option}: expected ${expected}`)
    this.option = option
  }
}

/** The data directory's key file exists but cannot be used as a libp2p private key. */
export class CorruptKeyFileError extends RelayError {
  static override readonly name = 'CorruptKeyFileError'
  constructor(path: string) {
    super(
      'CorruptKeyFile',
      `${path} is not a libp2p private key (restore it from a backup, or remove it for a new PeerId)`
    )
  }
}

/** Another process (a relay still running?) holds the data directory's stores. */
export class DataDirLockedError extends RelayError {
  static override readonly name = 'DataDirLockedError'
  constructor(path: string) {
    super('DataDirLocked', `${path} is in use by another process (is a relay already running on this data directory?)`)
  }
}

/**
 * The mailbox service refused a request: `code` is what the client receives (one of @parley/wire's MAILBOX_ERROR_CODES), with
 * `retryAfterMs` for RateLimited. The message is the code alone: it never carries keys, ids or envelope bytes.
 */
export class MailboxRefusedError extends RelayError {
  static override readonly name = 'MailboxRefusedError'
  declare readonly code: MailboxErrorCode
  readonly retryAfterMs: number | undefined
  constructor(code: MailboxErrorCode, retryAfterMs?: number) {
    super(code, code)
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * True when `err` is an error of @parley/relay — with the given `code` when one is passed: the one way to branch on
 * a failure (never on a message).
 *
 * @example if (isRelayError(err, 'DataDirLocked')) exitWith(EXIT_IN_USE)
 */
export function isRelayError(err: unknown, code?: RelayErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code)
}
