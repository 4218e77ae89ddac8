// The public API shared by the Node and browser entry points (each adds its default backend).
export {
  type AccountState,
  type CreateAccountOptions,
  createAccount,
  type LocalLastResortPrekey,
  type LocalOneTimePrekey,
  type LocalPrekey,
  lastResortPrekeyNeedsRotation,
  type PrekeyHandOut,
  type PrekeyKind,
  pruneRetiredPrekeys,
  publishBundle,
  rememberLastResortUse,
  renewDeviceCertificateIfDue,
  rotateLastResortPrekey,
  rotateSignedPrekey,
  takePrekeyBundle
} from './account.ts'
export { decodeAccount, encodeAccount } from './account-codec.ts'
export { nobleBackend } from './backend/noble.ts'
export {
  type BackendName,
  type CryptoBackend,
  ED25519_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  type Encapsulation,
  type RawKeyPair,
  X25519_KEY_BYTES
} from './backend/types.ts'
export { webCryptoBackend } from './backend/webcrypto.ts'
export {
  type Bundle,
  decodeBundle,
  decodeOneTimePrekey,
  decodePrekeyBundle,
  encodeBundle,
  encodeOneTimePrekey,
  encodePrekeyBundle,
  negotiateVersion,
  type PrekeyBundle,
  type PublicPrekey,
  type SignedOneTimePrekey,
  signBundle,
  signOneTimePrekey,
  verifyOneTimePrekey,
  verifyPrekeyBundle
} from './bundle.ts'
export { equalBytes, fromHex, toHex } from './codec.ts'
export {
  AD_LABEL,
  CONTEXT_BUNDLE,
  CONTEXT_DEVICE_CERTIFICATE,
  CONTEXT_KEM_PREKEY,
  CONTEXT_ONE_TIME_PREKEY,
  FORMAT_VERSION,
  HEADER_BYTES,
  INFO_DEVICE_SEAL,
  INFO_PQXDH,
  INFO_ROOT_RATCHET,
  INFO_SEALED_SENDER,
  LAST_RESORT_ROTATION_USES,
  MAX_ARCHIVED_SESSIONS,
  MAX_CERTIFICATE_BYTES,
  MAX_DEVICE_KEY_BYTES,
  MAX_HEADER_TRIALS,
  MAX_LAST_RESORT_PREKEYS,
  MAX_ONE_TIME_PREKEYS,
  MAX_PLAINTEXT_BYTES,
  MAX_RECEIVING_CHAINS,
  MAX_RELAY_PREKEY_AGE_MS,
  MAX_RELAY_PREKEYS,
  MAX_REPLAY_CACHE_ENTRIES,
  MAX_REQUESTER_PREKEYS,
  MAX_SKIP,
  MAX_SKIPPED_KEY_AGE_MS,
  MAX_SKIPPED_KEYS,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  MESSAGE_ID_BYTES,
  MESSAGE_TYPE_INITIAL,
  MESSAGE_TYPE_RATCHET,
  MIN_PROTOCOL_VERSION,
  PREKEY_GRACE_MS,
  PROTOCOL_VERSION,
  SAFETY_NUMBER_ITERATIONS,
  STATE_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS
} from './constants.ts'
export { DEVICE_SEAL_OVERHEAD_BYTES, openDeviceSeal, sealToDevice } from './device-seal.ts'
export {
  AeadError,
  type CryptoErrorCode,
  DuplicateMessageError,
  ExpiredError,
  InvalidKeyError,
  InvalidParameterError,
  InvalidSignatureError,
  isCryptoError,
  LastResortPrekeyExhaustedError,
  MalformedError,
  MessageGapTooLargeError,
  NoSessionError,
  ParleyCryptoError,
  RatchetForkError,
  ReplayedInitialMessageError,
  SealedSenderError,
  StaleSessionError,
  UndecryptableBodyError,
  UndecryptableHeaderError,
  UnknownPrekeyError,
  UnknownStateVersionError,
  UnsupportedVersionError,
  UntrustedDeviceError,
  UntrustedIdentityError
} from './errors.ts'
export {
  CONTEXT_GROUP_CREDENTIAL,
  createKeyPackage,
  decodeGroupMetadata,
  decodeKeyPackageSecret,
  EXPORTER_GROUP_TOPIC,
  encodeGroupMetadata,
  encodeKeyPackageSecret,
  GROUP_CIPHERSUITE,
  GROUP_FORMAT_VERSION,
  GROUP_ID_BYTES,
  GROUP_MAX_FORWARD_GENERATIONS,
  GROUP_METADATA_EXTENSION,
  GROUP_RETAINED_EPOCHS,
  GROUP_RETAINED_GENERATIONS,
  GROUP_TOPIC_SECRET_BYTES,
  type GroupChange,
  type GroupCommitted,
  type GroupErrorCode,
  GroupInvalidMessageError,
  GroupLimitError,
  type GroupMember,
  type GroupMetadata,
  GroupNotAuthorisedError,
  GroupNotMemberError,
  type GroupProcessed,
  GroupUntrustedMemberError,
  GroupWrongEpochError,
  KEY_PACKAGE_LIFETIME_MS,
  type KeyPackageSecret,
  MAX_GROUP_ADMINS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_PLAINTEXT_BYTES,
  MAX_GROUP_STATE_BYTES,
  MAX_KEY_PACKAGE_BYTES,
  MAX_MLS_MESSAGE_BYTES,
  type MemberCredential,
  MlsGroup,
  makeMemberCredential,
  mlsMessageEpoch,
  parseMemberCredential,
  verifyKeyPackage,
  verifyMemberCredential
} from './group/index.ts'
export {
  type CertifyDeviceOptions,
  certifyDevice,
  type DeviceCertificate,
  decodeCertificate,
  encodeCertificate,
  generateIdentity,
  type IdentityKeyPair,
  type LocalDevice,
  verifyCertificate
} from './identity.ts'
export { validateEd25519PublicKey, validateX25519PublicKey } from './keys.ts'
export { KeyedMutex } from './mutex.ts'
export {
  availableOneTimePrekeys,
  consumeOneTimePrekeys,
  generateOneTimePrekeys,
  handedOutOneTimePrekeys,
  handOutOneTimePrekeys
} from './one-time-prekeys.ts'
export { type InitialMessage, parseInitialMessage } from './pqxdh.ts'
export {
  createSessionManager,
  deviceAddress,
  MAX_TRIALS_PER_FRAME,
  needsSessionReset,
  SessionManager
} from './protocol.ts'
export type * from './protocol-types.ts'
export { RATCHET_OVERHEAD_BYTES } from './ratchet.ts'
export {
  matchesSafetyQr,
  SAFETY_QR_VERSION,
  type SafetyNumber,
  safetyNumber
} from './safety-number.ts'
export {
  decodeSessionRecord,
  encodeSessionRecord,
  type SessionRecord,
  type SessionState
} from './session.ts'
export type { ProtocolCommitOptions, ProtocolStore, ProtocolTransaction } from './storage/types.ts'
