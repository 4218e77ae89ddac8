/**
 * Browser entry of the ratchet benchmark: bundled by `browser.ts` and loaded into Chromium, where it exposes the
 * same workloads as the Node run, over the WebCrypto backend, as `globalThis.parleyBench`.
 */
import { webCryptoBackend } from '../src/index.browser.ts'
import { type Figures, runOurs } from './workloads.ts'

/** What the page exposes: run every workload for `seconds` each and return the figures. */
export type ParleyBench = (seconds: number) => Promise<Figures>

/** The global the bundle sets; `browser.ts` reads it through the same type. */
export interface ParleyBenchGlobal {
  parleyBench?: ParleyBench
}
// The page needs a name to call from Playwright's evaluate, so this module's only effect is to publish one.
const page = globalThis as ParleyBenchGlobal
page.parleyBench = (seconds) => runOurs(webCryptoBackend, seconds)
