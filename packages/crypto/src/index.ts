/**
 * @parley/crypto — identities, PQXDH and a header-encrypted Double Ratchet with session management.
 * No network, no storage: callers inject a store; the Node entry point uses node:crypto by default.
 */
import { nodeBackend } from './backend/node.ts'

export * from './api.ts'
export { nodeBackend }
/** The preferred backend on this platform. */
export const defaultBackend = nodeBackend
