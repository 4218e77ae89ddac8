/** Typed errors of the web app: each has a `code` the UI branches on. */

export type WebErrorCode = 'BadBackup' | 'BackupTooLarge' | 'BadConfig' | 'ProfileExists' | 'WeakPassphrase'

export class WebError extends Error {
  static override readonly name: string = 'WebError'
  readonly code: WebErrorCode
  constructor(code: WebErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = new.target.name
  }
}

/** A backup file that is not one of ours, of an unknown version, or malformed. */
export class BadBackupError extends WebError {
  static override readonly name = 'BadBackupError'
  constructor(reason: string) {
    super('BadBackup', `not a Parley backup: ${reason}`)
  }
}

/** A backup file larger than MAX_BACKUP_BYTES. */
export class BackupTooLargeError extends WebError {
  static override readonly name = 'BackupTooLargeError'
  readonly size: number
  readonly limit: number
  constructor(size: number, limit: number) {
    super('BackupTooLarge', `backup of ${size} bytes is over the limit of ${limit}`)
    this.size = size
    this.limit = limit
  }
}

/** A relay list or ICE server list that does not parse. */
export class BadConfigError extends WebError {
  static override readonly name = 'BadConfigError'
  constructor(reason: string) {
    super('BadConfig', `bad relay configuration: ${reason}`)
  }
}

/** Restoring over a profile that already exists in this browser. */
export class ProfileExistsError extends WebError {
  static override readonly name = 'ProfileExistsError'
  constructor() {
    super('ProfileExists', 'this browser already holds a profile')
  }
}

/** A new passphrase shorter than MIN_PASSPHRASE_LENGTH. */
export class WeakPassphraseError extends WebError {
  static override readonly name = 'WeakPassphraseError'
  constructor(min: number) {
    super('WeakPassphrase', `use a passphrase of at least ${min} characters`)
  }
}

export function isWebError(e: unknown, code?: WebErrorCode): e is WebError {
  return e instanceof WebError && (code === undefined || e.code === code)
}
