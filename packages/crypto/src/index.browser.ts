/**
 * @parley/crypto for browsers: the same API, WebCrypto by default (ML-KEM from @noble where the browser lacks it).
 */
import { webCryptoBackend } from './backend/webcrypto.ts'

export * from './api.ts'
/** The preferred backend on this platform. */
export const defaultBackend = webCryptoBackend
