/** Shared test helpers: error assertions, fuzz budgets and vector loading for both vitest projects. */
import { fromHex } from '@parley/crypto'
import { expect } from 'vitest'
import { WireError } from '../src/index.ts'

/** True in Node itself; false in Chromium. */
export function isNode(): boolean {
  return (
    typeof process !== 'undefined' &&
    typeof process.versions?.node === 'string' &&
    typeof (globalThis as { window?: unknown }).window === 'undefined'
  )
}

/** Property runs per decoder: 20 000 in Node as the issue asks; fewer in Chromium, which runs the same properties. */
export const FUZZ_RUNS = isNode() ? 20_000 : 2_000
/** Runs of the slower properties (round trips of large values). */
export const PROPERTY_RUNS = isNode() ? 1_000 : 200

/** Runs `fn`, expects a WireError of class `type` and returns it. */
export function expectWireError<T extends WireError>(fn: () => unknown, type: abstract new (...args: never[]) => T): T {
  let thrown: unknown
  try {
    fn()
  } catch (e) {
    thrown = e
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(type)
  return thrown as T
}

/** Awaits `p`, expects a WireError of class `type` and returns it. */
export async function expectWireRejection<T extends WireError>(
  p: Promise<unknown>,
  type: abstract new (...args: never[]) => T
): Promise<T> {
  const thrown = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(thrown, 'expected a rejection').toBeInstanceOf(type)
  return thrown as T
}

/**
 * Decodes with `decode` and says what happened: 'ok' or 'wire-error'. Anything else (a TypeError, a RangeError, a
 * non-Error) fails the calling property with the value itself.
 */
export function decodeOutcome(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): 'ok' | 'wire-error' {
  try {
    decode(bytes)
    return 'ok'
  } catch (e) {
    if (e instanceof WireError && typeof e.code === 'string' && e.code.length > 0) return 'wire-error'
    throw e
  }
}

/** One fixed vector: the fields it was built from and its bytes. */
export interface Vector {
  readonly fields: Record<string, unknown>
  readonly hex: string
  readonly link?: string
}

// A dynamic import with a variable part, as packages/crypto does: Vite serves the JSON in Node and Chromium alike,
// and tsc -b does not have to list the JSON in the composite project.
const vectorFile = 'wire-v1'
const vectorJson = ((await import(`./vectors/${vectorFile}.json`)) as { default: { vectors: Record<string, Vector> } })
  .default

/** A fixed vector by name (test/vectors/wire-v1.json). */
export function vector(name: string): Vector & { bytes: Uint8Array } {
  const v = vectorJson.vectors[name]
  if (v === undefined) throw new Error(`no vector ${name}`)
  return { ...v, bytes: fromHex(v.hex) }
}

/** Concatenates byte arrays. */
export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)))
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0))
  let o = 0
  for (const a of arrays) {
    out.set(a, o)
    o += a.length
  }
  return out
}
