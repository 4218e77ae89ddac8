/**
 * Every failure a caller may branch on is a named class with a stable `code`.
 * Messages carry counts, names and versions only, never passphrases, keys or record contents.
 */

/** Every `code` a ParleyStoreError carries: what a caller branches on. */
export type StoreErrorCode =
  | 'InvalidParameter'
  | 'WrongPassphrase'
  | 'CorruptRecord'
  | 'UnknownFormatVersion'
  | 'KdfParameters'
  | 'PassphraseRequired'
  | 'RecordTooLarge'
  | 'ProfileNotFound'
  | 'StoreClosed'
  | 'UnsupportedBackend'
  | 'PowerCut'
  | 'StoreLocked'
  | 'WriteFailed'

/** Base class of every error thrown by @parley/store. */
export class ParleyStoreError extends Error {
  static override readonly name: string = 'ParleyStoreError'
  readonly code: StoreErrorCode
  constructor(code: StoreErrorCode, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** A parameter has the wrong type, length or form. Names the parameter, never its value. */
export class InvalidParameterError extends ParleyStoreError {
  static override readonly name = 'InvalidParameterError'
  constructor(parameter: string, expected: string) {
    super('InvalidParameter', `${parameter}: expected ${expected}`)
  }
}

/** The passphrase does not open the profile (the wrapped data key did not authenticate). */
export class WrongPassphraseError extends ParleyStoreError {
  static override readonly name = 'WrongPassphraseError'
  constructor() {
    super('WrongPassphrase', 'the passphrase does not open this profile')
  }
}

/** A record (or the header) does not decode or authenticate: damaged, truncated, tampered or moved. */
export class CorruptRecordError extends ParleyStoreError {
  static override readonly name = 'CorruptRecordError'
  constructor(what: string, reason: string) {
    super('CorruptRecord', `${what}: ${reason}`)
  }
}

/** The header or a record carries a format version this build does not know (written by a newer Parley?). */
export class UnknownFormatVersionError extends ParleyStoreError {
  static override readonly name = 'UnknownFormatVersionError'
  readonly version: number
  constructor(what: string, version: number) {
    super('UnknownFormatVersion', `${what}: unknown format version ${version}`)
    this.version = version
  }
}

/** The header asks for KDF parameters outside the accepted range (too weak, or costly enough to be an attack). */
export class KdfParametersError extends ParleyStoreError {
  static override readonly name = 'KdfParametersError'
  constructor(reason: string) {
    super('KdfParameters', reason)
  }
}

/** No passphrase source gave a passphrase (no file, no environment variable, no prompt, or an empty answer). */
export class PassphraseRequiredError extends ParleyStoreError {
  static override readonly name = 'PassphraseRequiredError'
  constructor(tried: string) {
    super('PassphraseRequired', `no passphrase given (tried: ${tried})`)
  }
}

/** A key, value or batch exceeds a limit from constants.ts. */
export class RecordTooLargeError extends ParleyStoreError {
  static override readonly name = 'RecordTooLargeError'
  readonly size: number
  readonly limit: number
  constructor(what: string, size: number, limit: number) {
    super('RecordTooLarge', `${what}: ${size} exceeds the limit of ${limit}`)
    this.size = size
    this.limit = limit
  }
}

/** The backend holds no profile and the caller did not ask to create one. */
export class ProfileNotFoundError extends ParleyStoreError {
  static override readonly name = 'ProfileNotFoundError'
  constructor() {
    super('ProfileNotFound', 'no profile in this store (pass { create: true } to make one)')
  }
}

/** The store (or the batch) was used after close() (or after commit()). */
export class StoreClosedError extends ParleyStoreError {
  static override readonly name = 'StoreClosedError'
  constructor(what: string) {
    super('StoreClosed', `${what} is closed`)
  }
}

/** The backend kind is not available in this runtime (LevelDB in a browser, IndexedDB in Node). */
export class UnsupportedBackendError extends ParleyStoreError {
  static override readonly name = 'UnsupportedBackendError'
  constructor(kind: string, runtime: string) {
    super('UnsupportedBackend', `backend '${kind}' is not available in ${runtime}`)
  }
}

/** A PowerCutDatastore was used after cut(), or a write was still waiting for its sync when the power went. */
export class PowerCutError extends ParleyStoreError {
  static override readonly name = 'PowerCutError'
  constructor() {
    super('PowerCut', 'the power was cut: this write was never acknowledged')
  }
}

/**
 * An earlier backend write failed (disk full, I/O error): this store refuses every write after it until it is opened
 * again. Writes queued behind a failed one may build on state that never reached the disk, so none of them lands.
 * Reads still work and show what is on disk.
 */
export class WriteFailedError extends ParleyStoreError {
  static override readonly name = 'WriteFailedError'
  constructor() {
    super('WriteFailed', 'an earlier write failed: the store refuses writes until it is opened again')
  }
}

/** Another process has the LevelDB directory open (LevelDB allows one at a time). */
export class StoreLockedError extends ParleyStoreError {
  static override readonly name = 'StoreLockedError'
  constructor() {
    super('StoreLocked', 'the store is open in another process')
  }
}

/**
 * True when `err` is an error of @parley/store — with the given `code` when one is passed: the one way to branch on
 * a failure (never on a message).
 *
 * @example if (isStoreError(err, 'WrongPassphrase')) askAgain()
 */
export function isStoreError(err: unknown, code?: StoreErrorCode): err is ParleyStoreError {
  return err instanceof ParleyStoreError && (code === undefined || err.code === code)
}
