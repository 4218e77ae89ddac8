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
 * This runtime's SubtleCrypto with ML-KEM hidden the way a browser without it shows it: no `encapsulateBits` and
 * `decapsulateBits` (`'methods'`), or the methods present but the algorithm refused with NotSupportedError
 * (`'algorithm'`). Everything else is the runtime's own, so keys it imports work with the real one.
 */
export function subtleWithoutMlKem(how: 'methods' | 'algorithm'): SubtleCrypto {
  const real = globalThis.crypto.subtle
  const refuses = (algorithm: unknown) =>
    typeof algorithm === 'object' && algorithm !== null && /^ML-KEM/i.test(String((algorithm as Algorithm).name))
  const notSupported = () => Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError'))
  return new Proxy(real, {
    get(target, property) {
      if (how === 'methods' && (property === 'encapsulateBits' || property === 'decapsulateBits')) return undefined
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      if (how === 'algorithm' && (property === 'encapsulateBits' || property === 'decapsulateBits')) return notSupported
      if (how === 'algorithm' && (property === 'importKey' || property === 'generateKey')) {
        return (...args: unknown[]) =>
          refuses(args[property === 'importKey' ? 2 : 0]) ? notSupported() : value.apply(target, args)
      }
      return value.bind(target)
    }
  })
}

/**
 * The backends under test plus two WebCrypto variants that take the @noble/post-quantum path whatever this runtime
 * has: one on a WebCrypto without ML-KEM (the fallback chosen by feature detection, as on a browser build without
 * it) and one with the fallback forced by option. Without them, a runtime with native ML-KEM would leave the path
 * other browsers take untested.
 */
export async function mlKemBackendsUnderTest(): Promise<LabelledBackend[]> {
  const labelled: LabelledBackend[] = (await backendsUnderTest()).map((backend) => ({ label: backend.name, backend }))
  labelled.push({
    label: 'webcrypto on a WebCrypto without ML-KEM',
    backend: createWebCryptoBackend({ subtle: subtleWithoutMlKem('methods') })
  })
  labelled.push({ label: 'webcrypto (noble ML-KEM forced)', backend: createWebCryptoBackend({ mlKem: 'noble' }) })
  return labelled
}
