/**
 * @parley/network for browsers: the same API as the Node entry without the Node preset (no TCP, mDNS or node:*), so
 * bundlers that pick the `browser` export condition never pull the Node transports in.
 */
export * from './api.ts'
