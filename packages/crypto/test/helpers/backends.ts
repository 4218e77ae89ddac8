import { nobleBackend } from '../../src/backend/noble.ts'
import type { CryptoBackend } from '../../src/backend/types.ts'
import { createWebCryptoBackend, webCryptoBackend } from '../../src/backend/webcrypto.ts'

/** True in Node itself; false in a browser, even one whose bundler defines a `process` shim. */
export function isNode(): boolean {
  return (
    typeof process !== 'undefined' &&
    typeof process.versions?.node === 'string' &&
    typeof (globalThis as { window?: unknown }).window === 'undefined'
  )
}

/**
 * The backends this runtime can run: node:crypto, WebCrypto and noble in Node; WebCrypto and noble in a browser.
 * The node backend is imported only in Node, so the browser run never loads `node:crypto`.
 */
export async function backendsUnderTest(): Promise<CryptoBackend[]> {
  if (!isNode()) return [webCryptoBackend, nobleBackend]
  const { nodeBackend } = await import('../../src/backend/node.ts')
  return [nodeBackend, webCryptoBackend, nobleBackend]
}

/** A backend with a label for test names, for the variants that share a `name`. */
export interface LabelledBackend {
  readonly label: string
  readonly backend: CryptoBackend
}

/**
 * The backends under test plus the WebCrypto backend with its ML-KEM forced onto @noble/post-quantum: Chromium and
 * Node both have WebCrypto ML-KEM, so without this variant the fallback browsers without it take would go untested.
 */
export async function mlKemBackendsUnderTest(): Promise<LabelledBackend[]> {
  const labelled: LabelledBackend[] = (await backendsUnderTest()).map((backend) => ({ label: backend.name, backend }))
  labelled.push({ label: 'webcrypto (noble ML-KEM)', backend: createWebCryptoBackend({ mlKem: 'noble' }) })
  return labelled
}
