/**
 * @parley/relay — relay services as libraries: createRelay() (circuit relay v2 with limits, DHT server mode,
 * mailbox store-and-forward, metrics, health and static files over HTTP) and the mailbox service on its own.
 */

export * from './constants.ts'
export * from './errors.ts'
export {
  createJsonLogger,
  type JsonLoggerOptions,
  LOG_LEVELS,
  type LogFields,
  type LogLevel,
  type RelayLogger
} from './log.ts'
export { type MailboxServer, openMailboxServer } from './mailbox-server.ts'
export * from './mailbox-types.ts'
export { formatRelayMetrics, type RelaySnapshot } from './metrics.ts'
export { createRelay, type Relay, type RelayOptions, type RelayServices } from './relay.ts'
export { RangeRateLimiter, sourceRange } from './source-range.ts'
