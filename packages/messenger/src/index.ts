/**
 * @parley/messenger — the engine the apps compose: a libp2p node that finds contacts through the DHT and chats end
 * to end encrypted, with a durable outbox, deduplicated delivery and typed events.
 */

export {
  type CourierFactory,
  createNodeCourier,
  createNodeLibp2p,
  type DhtTimers,
  type Libp2pFactory,
  MailboxClient,
  MailboxError,
  MonotonicRecordDatastore,
  type NetworkOptions,
  type ParleyServices,
  parleyDht,
  RolledBackRecordError
} from '@parley/network'
export * from './api.ts'

import { createNodeCourier, createNodeLibp2p } from '@parley/network'
import { type Messenger, type MessengerOptions, startMessenger } from './messenger.ts'

/**
 * Creates and starts a messenger over an opened profile, with the Node preset (TCP, WebSockets, circuit relay;
 * kad-dht under /parley/kad/1.0.0) unless `options.libp2p` says otherwise. Creates the identity on first use.
 */
export function createMessenger(options: MessengerOptions): Promise<Messenger> {
  return startMessenger({ libp2p: createNodeLibp2p, courier: createNodeCourier, ...options })
}
