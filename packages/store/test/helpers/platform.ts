/**
 * Test helpers shared by the Node and the Chromium runs: the entry point of this runtime (the browser one never
 * loads LevelDB or node:*), fast test options, and a deterministic random source.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import type { Datastore } from 'interface-datastore'
import type { RandomSource } from '../../src/index.ts'

/** True in Node itself; false in a browser, even one whose bundler defines a `process` shim. */
export function isNode(): boolean {
  return (
    typeof process !== 'undefined' &&
    typeof process.versions?.node === 'string' &&
    typeof (globalThis as { window?: unknown }).window === 'undefined'
  )
}

type Entry = typeof import('../../src/index.ts')

/** The package entry this runtime would resolve: `src/index.ts` in Node, `src/index.browser.ts` in a browser. */
export async function loadEntry(): Promise<Entry> {
  if (isNode()) return import('../../src/index.ts')
  return (await import('../../src/index.browser.ts')) as unknown as Entry
}

/** The namespaces every test profile uses. */
export const NS = ['identity', 'contacts', 'history', 'sessions'] as const
export type Ns = (typeof NS)[number]

/** Options for a quick test profile (scrypt N = 2^10). */
export const FAST = { namespaces: NS, unsafeFastKdfForTests: true } as const

/** Deterministic bytes: SHA-256(seed ‖ counter) blocks. For reproducible test profiles only. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0
  const seedBytes = new TextEncoder().encode(seed)
  return (length) => {
    const out = new Uint8Array(length)
    for (let offset = 0; offset < length; offset += 32) {
      const input = new Uint8Array(seedBytes.length + 4)
      input.set(seedBytes)
      new DataView(input.buffer).setUint32(seedBytes.length, counter++)
      out.set(sha256(input).subarray(0, Math.min(32, length - offset)), offset)
    }
    return out
  }
}

/** UTF-8 bytes. */
export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s)
}

/** True if `needle` occurs anywhere in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** Every (key, value) of a datastore, keyed by the datastore key's string. */
export async function dump(store: Datastore): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const { key, value } of store.query({})) out.set(key.toString(), value)
  return out
}
