/** Errors of @parley/relay: named classes with a stable `code`; messages never carry keys or envelope bytes. */
import type { MailboxErrorCode } from './mailbox-types.ts'

export class RelayError extends Error {
  static override readonly name: string = 'RelayError'
  readonly code: string
  constructor(code: string, message: string) {
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
 * The mailbox service refused a request: `code` is what the client receives (one of MAILBOX_ERROR_CODES), with
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
