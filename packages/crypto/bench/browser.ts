/**
 * The ratchet workloads over the WebCrypto backend inside a real headless Chromium (Debian's, or PARLEY_CHROMIUM),
 * driven by playwright-core. `browser-entry.ts` is bundled in memory with Vite and served to the page by request
 * interception, so nothing listens on a port.
 *
 * Standalone: `pnpm exec node packages/crypto/bench/browser.ts` prints the figures as JSON (BENCH_SECONDS, default 2).
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromiumLaunchOptions } from '@parley/test-kit'
import { chromium } from 'playwright-core'
import { build } from 'vite'
import type { ParleyBenchGlobal } from './browser-entry.ts'
import type { Figures } from './workloads.ts'

// crypto.subtle exists only in a secure context, which about:blank is not; http://localhost is, by name, and
// Playwright answers the requests itself, so the host never has to resolve or listen.
const ORIGIN = 'http://localhost'
const PAGE = `<!doctype html><meta charset="utf-8"><title>parley bench</title><script src="/bench.js"></script>`

/** Runs `runOurs(webCryptoBackend, seconds)` in headless Chromium and returns its figures. */
export async function runBrowserBench(seconds: number): Promise<Figures> {
  const launch = chromiumLaunchOptions()
  const { executablePath } = launch
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is needed for the browser benchmark and is not at ${executablePath}. ` +
        `Install it with: apt-get install -y chromium (as root), set PARLEY_CHROMIUM to a Chromium binary, ` +
        `or run with BENCH_BROWSER=0 to leave the browser out.`
    )
  }
  const script = await bundleEntry()
  // Three workloads of `seconds` each plus warm-up and setup; twice that and a margin never cuts off a slow but
  // healthy run on a shared machine, yet still ends a hung one.
  const timeoutMs = (6 * seconds + 120) * 1000

  const browser = await chromium.launch({ ...launch, timeout: timeoutMs })
  try {
    const page = await browser.newPage()
    page.setDefaultTimeout(timeoutMs)
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.stack ?? error.message))
    await page.route('**/*', (route) => {
      const url = route.request().url()
      if (url === `${ORIGIN}/`) return route.fulfill({ contentType: 'text/html; charset=utf-8', body: PAGE })
      if (url === `${ORIGIN}/bench.js`)
        return route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: script })
      // Anything else (favicon, a stray fetch) must not reach the network.
      return route.abort()
    })
    await page.goto(`${ORIGIN}/`)

    const figures = page.evaluate(async (s) => {
      const bench = (globalThis as ParleyBenchGlobal).parleyBench
      if (!bench) throw new Error('the bench bundle did not load: globalThis.parleyBench is missing')
      return bench(s)
    }, seconds)
    try {
      return await withTimeout(figures, timeoutMs, `browser benchmark did not finish within ${timeoutMs / 1000} s`)
    } catch (error) {
      if (pageErrors.length === 0) throw error
      throw new Error(`${(error as Error).message}\nuncaught in the page:\n${pageErrors.join('\n')}`, { cause: error })
    }
  } finally {
    await browser.close()
  }
}

/** Bundles `browser-entry.ts` for the browser in memory and returns the script's text. */
async function bundleEntry(): Promise<string> {
  // Vite sets NODE_ENV for its own build when unset; the benchmark process must not inherit that.
  const nodeEnv = process.env.NODE_ENV
  try {
    const result = await build({
      configFile: false,
      root: fileURLToPath(new URL('.', import.meta.url)),
      logLevel: 'warn',
      publicDir: false,
      build: {
        write: false,
        target: 'esnext',
        minify: false,
        reportCompressedSize: false,
        lib: { entry: fileURLToPath(new URL('./browser-entry.ts', import.meta.url)), formats: ['iife'], name: 'parley' }
      }
    })
    const outputs = Array.isArray(result) ? result : [result]
    for (const out of outputs) {
      if (!('output' in out)) continue
      for (const chunk of out.output) if (chunk.type === 'chunk' && chunk.isEntry) return chunk.code
    }
    throw new Error('vite build produced no entry chunk for bench/browser-entry.ts')
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = nodeEnv
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

if (import.meta.main) {
  const seconds = Number(process.env.BENCH_SECONDS ?? 2)
  console.log(JSON.stringify(await runBrowserBench(seconds)))
}
