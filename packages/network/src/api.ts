// The public API shared by the Node and browser entry points (the Node entry adds the Node preset).
export { ConnectionPolicy, DEFAULT_RANGE_LIMITS, type RangeLimits } from './connection-policy.ts'
export {
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_DHT_RECORD_BYTES,
  DEFAULT_MAX_DHT_RECORDS,
  DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  DEFAULT_MAX_ROUTING_PEERS_PER_RANGE,
  DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET,
  DIRECT_UPGRADE_TIMEOUT_MS,
  MAX_DIRECT_GET_RESPONSE_BYTES,
  MAX_UPGRADE_REASON_CHARS,
  RELAY_RECONNECT_REPUBLISH_DELAY_MS
} from './constants.ts'
export { depositAtRelays, relayName, takePrekeysAtRelays, withCourier, withMailbox } from './courier.ts'
export { MonotonicRecordDatastore, type RecordStoreOptions, type RecordStoreStats } from './dht-datastore.ts'
export { type FoundRecord, type LookupFallback, lookupRecord } from './dht-lookup.ts'
export {
  type CourierFactory,
  type DhtTimers,
  type Libp2pFactory,
  type NetworkOptions,
  type ParleyServices,
  parleyDht
} from './dht-options.ts'
export {
  ContactNotFoundError,
  DirectUpgradeError,
  InvalidNetworkInputError,
  isNetworkError,
  MailboxError,
  NetworkError,
  type NetworkErrorCode,
  RecordStoreFullError,
  RolledBackRecordError
} from './errors.ts'
export {
  GOSSIP_GOSSIP_THRESHOLD,
  GOSSIP_GRAYLIST_THRESHOLD,
  GOSSIP_HEARTBEAT_MS,
  GOSSIP_INVALID_MESSAGE_DECAY,
  GOSSIP_INVALID_MESSAGE_WEIGHT,
  GOSSIP_MAX_INBOUND_DATA_BYTES,
  GOSSIP_PUBLISH_THRESHOLD,
  type GossipSub,
  GROUP_TOPIC_PREFIX,
  gossip,
  gossipScore,
  groupTopic,
  groupTopicScoreParams,
  scoreGroupTopic,
  unscoreGroupTopic
} from './gossip.ts'
export { bootstrapDialGate, createBrowserCourier, createBrowserLibp2p } from './libp2p-browser.ts'
export { MailboxClient } from './mailbox-client.ts'
export { onRelayReconnect } from './relay-reconnect.ts'
export { DEFAULT_ROUTING_LIMITS, type RoutingLimits, RoutingPolicy } from './routing-policy.ts'
export { isIpRange, sourceRange } from './source-range.ts'
export {
  bestConnection,
  type ConnectionKind,
  connectionKind,
  type IceServer,
  isUnlimited,
  parleyWebRTC,
  upgradeToDirect,
  WEBRTC_LISTEN,
  WEBRTC_MULTIPLEXER,
  WEBRTC_SIGNALLING_PROTOCOL,
  type WebRTCGate,
  webRTCAddressVia
} from './webrtc.ts'
