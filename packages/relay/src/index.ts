/**
 * @parley/relay — relay services as libraries: createRelay() (circuit relay v2 with limits, DHT server mode,
 * mailbox store-and-forward, metrics, health and static files over HTTP) and the mailbox service on its own.
 */

export {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_MAX_DHT_RECORD_BYTES,
  DEFAULT_MAX_DHT_RECORDS,
  DEFAULT_MAX_RESERVATIONS,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  DEFAULT_PROTOCOL_PREFIX,
  DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT_MS,
  DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_RESERVATION_TTL_MS,
  DHT_DIR,
  ECHO_PROTOCOL,
  MAILBOX_DIR,
  MIN_TURN_SECRET_CHARS,
  PRIVATE_KEY_FILE,
  TURN_CREDENTIAL_LIFETIME_MS,
  TURN_USERNAME_RANDOM_BYTES
} from './constants.ts'
export {
  CorruptKeyFileError,
  DataDirLockedError,
  InvalidRelayOptionError,
  isRelayError,
  MailboxRefusedError,
  RelayError,
  type RelayErrorCode
} from './errors.ts'
export { PARLEY_JSON_PATH, type ParleyJson } from './http.ts'
export { type AdvertisedIceServer, advertisedIceServers, isIceUrl, turnCredentials } from './ice.ts'
export {
  createJsonLogger,
  type JsonLoggerOptions,
  LOG_LEVELS,
  type LogFields,
  type LogLevel,
  type RelayLogger
} from './log.ts'
export { type MailboxServer, openMailboxServer } from './mailbox-server.ts'
export {
  DEFAULT_MAILBOX_LIMITS,
  DEFAULT_MAILBOX_MAX_STORED_ENVELOPES,
  DEFAULT_MAILBOX_STORE_MAX_BYTES,
  type MailboxLimits,
  type MailboxServerOptions,
  type MailboxStats,
  type RelayLog,
  type StoreFullOp
} from './mailbox-types.ts'
export { formatRelayMetrics, type RelaySnapshot } from './metrics.ts'
export { createRelay, type Relay, type RelayOptions, type RelayServices } from './relay.ts'
export { RangeRateLimiter } from './source-range.ts'
