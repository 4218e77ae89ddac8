/**
 * @parley/messenger — the engine the apps compose: a libp2p node that finds contacts through the DHT and chats end
 * to end encrypted, with a durable outbox, deduplicated delivery and typed events.
 */
export * from './constants.ts'
export * from './errors.ts'
export type { MessengerEvents } from './events.ts'
export { createNodeLibp2p, type Libp2pFactory, type NetworkOptions, type ParleyServices } from './libp2p.ts'
export { createMessenger, Messenger, type MessengerOptions, type SendResult } from './messenger.ts'
export { type ContactRecord, type DeliveryState, type HistoryRecord, NAMESPACES, type Namespace } from './records.ts'
