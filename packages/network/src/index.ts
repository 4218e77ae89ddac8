/**
 * @parley/network — what every Parley node stands on: the libp2p presets (Node, browser, courier), the Parley DHT
 * (options, the bounded monotonic record store, lookup, routing-table diversity), the connection policy (per-address-
 * range caps) and the client half of the mailbox protocol. @parley/messenger and @parley/relay both build on it.
 */
export * from './api.ts'
export { createNodeCourier, createNodeLibp2p, tcpFrom } from './libp2p.ts'
