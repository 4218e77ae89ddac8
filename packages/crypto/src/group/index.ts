/** Parley's MLS groups (RFC 9420 through ts-mls): the adapter the messenger's group engine uses. */
export {
  CONTEXT_GROUP_CREDENTIAL,
  EXPORTER_GROUP_TOPIC,
  GROUP_CIPHERSUITE,
  GROUP_FORMAT_VERSION,
  GROUP_ID_BYTES,
  GROUP_MAX_FORWARD_GENERATIONS,
  GROUP_METADATA_EXTENSION,
  GROUP_RETAINED_EPOCHS,
  GROUP_RETAINED_GENERATIONS,
  GROUP_TOPIC_SECRET_BYTES,
  KEY_PACKAGE_LIFETIME_MS,
  MAX_GROUP_ADMINS,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_PLAINTEXT_BYTES,
  MAX_GROUP_STATE_BYTES,
  MAX_KEY_PACKAGE_BYTES,
  MAX_MLS_MESSAGE_BYTES
} from './constants.ts'
export {
  type MemberCredential,
  makeMemberCredential,
  parseMemberCredential,
  verifyMemberCredential
} from './credential.ts'
export {
  type GroupErrorCode,
  GroupInvalidMessageError,
  GroupLimitError,
  GroupNotAuthorisedError,
  GroupNotMemberError,
  GroupUntrustedMemberError,
  GroupWrongEpochError
} from './errors.ts'
export {
  type GroupChange,
  type GroupCommitted,
  type GroupMember,
  type GroupProcessed,
  MlsGroup,
  mlsMessageEpoch
} from './group.ts'
export {
  createKeyPackage,
  decodeKeyPackageSecret,
  encodeKeyPackageSecret,
  type KeyPackageSecret,
  verifyKeyPackage
} from './key-package.ts'
export { decodeGroupMetadata, encodeGroupMetadata, type GroupMetadata } from './metadata.ts'
