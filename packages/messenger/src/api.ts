/**
 * What both entry points of @parley/messenger export (index.ts for Node, index.browser.ts for browsers): the named
 * limits, the errors, the Messenger and its records and events. Each entry adds its own libp2p preset.
 */
export {
  BUNDLE_LIFETIME_MS,
  CERTIFICATE_LIFETIME_MS,
  CONTROL_TTL_MS,
  DEDUP_RETENTION_MS,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_GAP_GRACE_MS,
  DEFAULT_LOOKUP_TIMEOUT,
  DEFAULT_PROTOCOL_PREFIX,
  DEFAULT_REPUBLISH_INTERVAL,
  DIRECT_RETRY_MAX_MS,
  DIRECT_RETRY_MS,
  DIRECT_WAIT_MS,
  MAILBOX_PREKEY_BATCH,
  MAILBOX_RELAY_TARGET,
  MAX_BYTES_PER_REQUEST,
  MAX_CONTROL_QUEUE,
  MAX_DEPOSIT_RELAYS,
  MAX_DIAGNOSTICS_CONTACTS,
  MAX_DIRECT_FAILURES_TRACKED,
  MAX_DM_MESSAGES_PER_MINUTE_PER_PEER,
  MAX_INBOUND_DM_STREAMS_PER_PEER,
  MAX_INBOUND_SESSION_STREAMS_PER_PEER,
  MAX_MESSAGE_REQUESTS,
  MAX_MESSAGES_PER_REQUEST,
  MAX_OUTBOX,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE,
  MAX_REQUEST_BYTES,
  MAX_TEXT_BYTES,
  MAX_UNREACHABLE_REASON_CHARS,
  ONE_TIME_PREKEY_TARGET,
  RECORD_LIFETIME_MS,
  SESSION_WINDOW
} from './constants.ts'
export type {
  ContactConnection,
  ContactDiagnostics,
  Diagnostics,
  RelayDiagnostics
} from './diagnostics.ts'
export {
  ContactNotFoundError,
  IdentityChangedError,
  InvalidInputError,
  isMessengerError,
  MessengerError,
  type MessengerErrorCode,
  NotStartedError,
  OutboxFullError,
  PeerProtocolError,
  UnknownContactError
} from './errors.ts'
export type { MessengerEvents } from './events.ts'
export {
  DEFAULT_GROUP_INVITE_TIMEOUT,
  DEFAULT_GROUP_SYNC_TIMEOUT,
  GROUP_ANTI_ENTROPY_MS,
  GROUP_FORK_SETTLE_MS,
  GROUP_FORK_WINDOW_EPOCHS,
  GROUP_GAP_WAIT_MS,
  GROUP_HISTORY_MAX_AGE_MS,
  GROUP_HISTORY_MAX_ENTRIES,
  GROUP_HISTORY_MAX_ENVELOPES,
  GROUP_IDLE_SYNC_MS,
  GROUP_MAX_DELIVERED_IDS,
  GROUP_MAX_HELD_PER_SENDER,
  GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE,
  GROUP_MAX_PENDING,
  GROUP_MAX_SEEN,
  GROUP_MAX_UNSETTLED,
  GROUP_SELF_UPDATE_CHECK_MS,
  GROUP_SELF_UPDATE_INTERVAL_MS,
  GROUP_SYNC_MAX_PAGES,
  GROUP_SYNC_MAX_REQUESTS_PER_MINUTE,
  GROUP_SYNC_MIN_INTERVAL_MS,
  MAX_GROUPS,
  MAX_PENDING_KEY_PACKAGES
} from './groups/constants.ts'
export { GroupError, type GroupErrorCode, type Groups } from './groups/manager.ts'
export type { DropReason, GroupHistoryEntry, GroupInfo } from './groups/types.ts'
export { Messenger, type MessengerOptions, type SendResult } from './messenger.ts'
export { type ContactRecord, type DeliveryState, type HistoryRecord, NAMESPACES, type Namespace } from './records.ts'
export type { MessageRequest, RequestLimits } from './requests.ts'
export type { CallSignals } from './signals.ts'
