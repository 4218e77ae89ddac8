/**
 * The kit of the WebRTC tests (`*.netns.test.ts`, vitest project `netns`). They run inside the private network
 * namespace of scripts/netns.ts (`pnpm test:netns`): lo plus a veth pair with 10.99.0.1/24 and 10.99.0.2/24, so
 * Chromium (which never uses loopback for ICE) and node-datachannel gather real host candidates while every packet
 * stays on this machine. Started anywhere else, `assertInNetns()` fails with the command to use: never a skip.
 */
import { renameSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { IceServer } from '@parley/network'
import { createRelay, type Relay, type RelayOptions } from '@parley/relay'
import {
  assertInNetns,
  chromiumLaunchOptions,
  isBuiltFrom,
  NETNS_PEER_HOST,
  NETNS_RELAY_HOST,
  until
} from '@parley/test-kit'
import { type Browser, chromium, type Page } from 'playwright-core'
import type { ConnectionInfo, Harness } from './web-harness/main.ts'

/** The namespace's addresses and its check are @parley/test-kit's: one definition for every netns test. */
export { assertInNetns, NETNS_PEER_HOST, NETNS_RELAY_HOST }

/**
 * Debian's Chromium through playwright-core with the shared flags (@parley/test-kit), plus real host ICE candidates:
 * without them Chromium hides host candidates behind mDNS `.local` names, which a Node peer (node-datachannel) cannot
 * resolve in the namespace.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions({ hostCandidates: true }))
}

// ---------------------------------------------------------------- the harness page (test/web-harness)

const HARNESS = resolve(import.meta.dirname, 'web-harness')
/** Where the harness build goes (gitignored); the relay serves it. */
export const HARNESS_DIST = join(HARNESS, 'dist')
const REPO = resolve(import.meta.dirname, '..')
const HARNESS_SOURCES = ['main.ts', 'record-ice.ts', 'index.html']
  .map((f) => join(HARNESS, f))
  .concat(['crypto', 'wire', 'store', 'network', 'messenger'].map((p) => join(REPO, 'packages', p, 'src')))

/**
 * Builds the harness page with Vite (the browser entries of the Parley packages, as the web app bundles them) unless
 * its build is newer than every source. Builds into a fresh directory and renames it, so a reader never sees half.
 */
export async function buildHarness(): Promise<string> {
  if (isBuiltFrom(join(HARNESS_DIST, 'index.html'), HARNESS_SOURCES)) return HARNESS_DIST
  const { build } = await import('vite')
  const out = `${HARNESS_DIST}.${process.pid}.tmp`
  await build({
    root: HARNESS,
    base: './',
    logLevel: 'warn',
    configFile: false,
    build: { outDir: out, emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 4000 }
  })
  rmSync(HARNESS_DIST, { recursive: true, force: true })
  renameSync(out, HARNESS_DIST)
  return HARNESS_DIST
}

/** A relay on the namespace's first address, serving the harness page over HTTP on loopback. */
export interface NetnsRelay {
  relay: Relay
  /** Its WebSocket address with /p2p/ (what browsers bootstrap from). */
  ws: string
  /** Its TCP address with /p2p/ (what Node peers bootstrap from). */
  tcp: string
  /** The harness page (http://127.0.0.1:…: a secure context, so WebCrypto works). */
  pageUrl: string
  stop(): Promise<void>
}

/**
 * Starts a real relay (createRelay) listening on 10.99.0.1 (TCP and WebSockets) with caps raised for one test host,
 * its HTTP side on 127.0.0.1 serving the harness build. `options` are passed through (iceServers, turnSecret, …).
 */
export async function startNetnsRelay(options: Partial<RelayOptions> = {}): Promise<NetnsRelay> {
  assertInNetns()
  const webDir = await buildHarness()
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-netns-relay-'))
  const relay = await createRelay({
    dataDir,
    listen: [`/ip4/${NETNS_RELAY_HOST}/tcp/0`, `/ip4/${NETNS_RELAY_HOST}/tcp/0/ws`],
    http: { host: '127.0.0.1', port: 0 },
    webDir,
    maxInboundConnectionsPerRange: 1_000,
    maxReservationsPerRange: 1_000,
    inboundConnectionThreshold: 1_000,
    logSink: () => {},
    ...options
  })
  const addresses = relay.multiaddrs.map((a) => a.toString())
  return {
    relay,
    ws: addresses.find((a) => a.includes('/ws/'))!,
    tcp: addresses.find((a) => !a.includes('/ws/'))!,
    pageUrl: `${relay.httpUrl}/index.html`,
    stop: async () => {
      await relay.stop().catch(() => {})
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}

/** One harness page: `call(name, ...args)` runs `window.parley[name](...args)` in the page. */
export interface HarnessPage {
  page: Page
  call<K extends keyof Harness>(name: K, ...args: Parameters<Harness[K]>): Promise<Awaited<ReturnType<Harness[K]>>>
  /** The page's open connections to `peerId` (kind, limits, multiplexer, session streams on each). */
  connections(peerId: string): Promise<ConnectionInfo[]>
}

/** Opens the harness page in a fresh browser context (its own storage) and waits until `window.parley` exists. */
export async function openHarness(browser: Browser, relay: NetnsRelay): Promise<HarnessPage> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(relay.pageUrl)
  await page.waitForFunction(() => 'parley' in window, undefined, { timeout: 30_000 })
  const call = (async (name: string, ...args: unknown[]) =>
    page.evaluate(
      ([n, a]) => (window as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>).parley![n]!(...a),
      [name, args] as const
    )) as HarnessPage['call']
  return { page, call, connections: (peerId) => call('connections', peerId) }
}

/** How long a netns test waits (with `until` from @parley/test-kit) for a reservation, a record or a message, ms. */
export const NETNS_WAIT_MS = 30_000

/** The median of `xs` (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Direct WebRTC dials measured between two browser nodes through one relay (see measureDirectWebRTC). */
export interface DirectWebRTCFigures {
  /** Each dial's time from `dial()` to the open direct WebRTC connection, in ms (warm-up excluded). */
  samples: number[]
  median_ms: number
  /** The warm-up dial (the first WebRTC connection of the pages), not in the median. */
  warmup_ms: number
  /** Timed dials that failed (libp2p's 6 s addressDialTimeout ran out); not in the samples. */
  failures: number
  /** Warm-up dials that failed before one succeeded. */
  warmupFailures: number
}

/**
 * The figure bench:web reports as `direct_webrtc_median_ms`: two pages of the browser preset in one Chromium, each
 * holding a reservation at a local relay (10.99.0.1); page A dials B's `/p2p-circuit/webrtc` address `runs` times
 * (every connection between them closed first), timing dial → open direct connection (circuit, SDP and ICE over it,
 * DTLS, SCTP). Bare libp2p nodes, no messenger, so nothing else dials meanwhile. Must run inside the namespace.
 */
export async function measureDirectWebRTC(
  options: { runs?: number; browser?: Browser; iceServers?: IceServer[] } = {}
): Promise<DirectWebRTCFigures> {
  const runs = options.runs ?? DIRECT_WEBRTC_RUNS
  const relay = await startNetnsRelay()
  const browser = options.browser ?? (await launchChromium())
  try {
    const [a, b] = [await openHarness(browser, relay), await openHarness(browser, relay)]
    const ice = options.iceServers ? { iceServers: options.iceServers } : {}
    await a.call('startNode', { bootstrap: [relay.ws], ...ice })
    const { peerId } = await b.call('startNode', { bootstrap: [relay.ws], ...ice })
    let target: string | undefined
    await until(
      async () => {
        target = (await b.call('nodeAddresses')).find((x) => x.startsWith(`${relay.ws}/p2p-circuit/webrtc`))
        return target !== undefined
      },
      NETNS_WAIT_MS,
      "B's reservation"
    )
    let failures = 0
    const dial = async (): Promise<number | undefined> => {
      try {
        const r = await a.call('timeDirectDial', peerId, target!)
        if (r.kind !== 'direct-webrtc') throw new Error(`the dial opened a ${r.kind} connection, not direct WebRTC`)
        return r.ms
      } catch (e) {
        if ((e as Error).message.includes('not direct WebRTC')) throw e
        failures++
        return undefined
      } finally {
        // Let both ends finish closing before the next dial.
        await new Promise((r) => setTimeout(r, DIRECT_WEBRTC_PAUSE_MS))
      }
    }
    let warmup: number | undefined
    while (warmup === undefined && failures < runs) warmup = await dial()
    // `failures` counts the measured dials only; failed warm-up dials are reported apart.
    const warmupFailures = failures
    failures = 0
    const samples: number[] = []
    for (let i = 0; i < runs; i++) {
      const ms = await dial()
      if (ms !== undefined) samples.push(ms)
    }
    if (warmup === undefined || samples.length < runs / 2)
      throw new Error(
        `direct WebRTC dials failed: ${failures} of ${runs} timed out (and ${warmupFailures} warm-up dials)`
      )
    return { samples, median_ms: median(samples), warmup_ms: warmup, failures, warmupFailures }
  } finally {
    if (options.browser === undefined) await browser.close()
    await relay.stop()
  }
}

/** Dials measureDirectWebRTC times by default (the brief asks for a median over at least 10). */
export const DIRECT_WEBRTC_RUNS = 12
/** Pause between two timed dials (both ends close the previous connection). */
export const DIRECT_WEBRTC_PAUSE_MS = 200
