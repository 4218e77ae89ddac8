/** What both entry points export: types, errors and limits (test backends: `@parley/store/testing`). */
import type { Datastore } from 'interface-datastore'

export {
  DEFAULT_PASSPHRASE_ENV,
  FORMAT_VERSION,
  HEADER_KEY,
  MAX_BATCH_BYTES,
  MAX_BATCH_OPERATIONS,
  MAX_CACHED_RECORD_NAMES,
  MAX_KEY_BYTES,
  MAX_PASSPHRASE_FILE_BYTES,
  MAX_RECORDS_PER_DATA_KEY,
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_P,
  MAX_VALUE_BYTES,
  MIN_SCRYPT_LOG_N,
  NAMESPACE_PATTERN,
  NONCE_BYTES,
  SALT_BYTES,
  SCRYPT_LOG_N,
  SCRYPT_P,
  SCRYPT_R,
  TAG_BYTES
} from './constants.ts'
export {
  CorruptRecordError,
  InvalidParameterError,
  isStoreError,
  KdfParametersError,
  ParleyStoreError,
  PassphraseRequiredError,
  PowerCutError,
  ProfileNotFoundError,
  RecordTooLargeError,
  StoreClosedError,
  type StoreErrorCode,
  StoreLockedError,
  UnknownFormatVersionError,
  UnsupportedBackendError,
  WriteFailedError,
  WrongPassphraseError
} from './errors.ts'
export { type AbortOptions, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './kdf.ts'
export type { Entry, RandomSource } from './keys.ts'
export type { BasePassphraseOptions, PassphrasePrompt } from './passphrase.ts'
export type {
  CommitOptions,
  Durability,
  ProfileBatch,
  ProfileStore,
  ProfileStoreOptions,
  QueryOptions
} from './profile-store.ts'

/** Where a profile lives: in memory (tests), in a LevelDB directory (Node) or in an IndexedDB database (browsers). */
export type StoreLocation = { kind: 'memory' } | { kind: 'level'; path: string } | { kind: 'idb'; name: string }

/** An opened backend: any interface-datastore Datastore that can be closed. */
export type StoreBackend = Datastore & { close(): Promise<void> }
