/**
 * The kit of the calls' Chromium tests: the harness page per participant, signals routed through this process in
 * order (with every signal kept, so a test can replay one), and a coturn TURN server started inside the namespace.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { chromiumLaunchOptions, NETNS_RELAY_HOST } from '@parley/test-kit'
import type { Browser, Page } from 'playwright-core'
import { chromium } from 'playwright-core'

/** Chromium with real host candidates (not mDNS names) and a fake camera and microphone (a test pattern and a beep). */
export function launchCallBrowser(): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions({ hostCandidates: true, fakeMedia: true }))
}

export interface Signal {
  readonly from: string
  readonly to: string
  readonly b64: string
}

/** Participants' pages and the signal router between them. */
export class CallNet {
  readonly pages = new Map<string, Page>()
  readonly signals: Signal[] = []
  readonly #chains = new Map<string, Promise<unknown>>()
  readonly browser: Browser
  readonly url: string

  constructor(browser: Browser, url: string) {
    this.browser = browser
    this.url = url
  }

  /**
   * Where a page's outgoing signals go: by default straight to the other page (in order); a test may send them through
   * real messengers instead and call `deliver` when they arrive.
   */
  route: (s: Signal) => Promise<boolean> = (s) => this.deliver(s)
  /** Where the baseline's (bare RTCPeerConnection) signals go (bench:calls). */
  bareRoute: (s: Signal) => Promise<boolean> = async () => false

  /** A new participant: its page, started with `options`; returns its identity (hex, random unless given). */
  async join(options: Record<string, unknown> = {}, identity?: string): Promise<{ id: string; page: Page }> {
    const id = identity ?? randomBytes(32).toString('hex')
    const context = await this.browser.newContext()
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error(`[page ${id.slice(0, 6)}]`, e.message))
    page.on('crash', () => console.error(`[page ${id.slice(0, 6)}] crashed`))
    await page.exposeFunction('parleySend', (to: string, b64: string) => {
      const s = { from: id, to, b64 }
      this.signals.push(s)
      return this.route(s)
    })
    await page.exposeFunction('bareSend', (to: string, json: string) => this.bareRoute({ from: id, to, b64: json }))
    await page.goto(this.url)
    await page.waitForFunction(() => window.harness !== undefined)
    await page.evaluate(([self, o]) => window.harness.start({ self, ...o }), [id, options] as const)
    this.pages.set(id, page)
    return { id, page }
  }

  /** Hands a signal to its page, in order per receiving page (as the session stream does). */
  deliver(s: Signal): Promise<boolean> {
    const page = this.pages.get(s.to)
    if (page === undefined) return Promise.resolve(false)
    const prev = this.#chains.get(s.to) ?? Promise.resolve()
    const next = prev.then(() => page.evaluate(([f, b]) => window.harness.receive(f, b), [s.from, s.b64] as const))
    this.#chains.set(
      s.to,
      next.catch(() => {})
    )
    return next.then(
      () => true,
      () => false
    )
  }

  /** Re-delivers a signal seen before (a replay by someone who recorded it). */
  replay(s: Signal): Promise<boolean> {
    return this.deliver(s)
  }

  async close(): Promise<void> {
    for (const p of this.pages.values()) await p.evaluate(() => window.harness.close()).catch(() => {})
    for (const p of this.pages.values())
      await p
        .context()
        .close()
        .catch(() => {})
  }
}

/** A coturn TURN server inside the namespace: long-term credentials, UDP on NETNS_RELAY_HOST. */
export async function startCoturn(): Promise<{ iceServers: RTCIceServer[]; stop: () => Promise<void> }> {
  const user = 'parley'
  const credential = randomBytes(12).toString('hex')
  const port = 3478 + Math.floor(Math.random() * 1000)
  const proc: ChildProcess = spawn(
    'turnserver',
    [
      '-n',
      '--log-file=stdout',
      `--listening-ip=${NETNS_RELAY_HOST}`,
      `--relay-ip=${NETNS_RELAY_HOST}`,
      `--listening-port=${port}`,
      '--lt-cred-mech',
      `--user=${user}:${credential}`,
      '--realm=parley.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--min-port=49152',
      '--max-port=49300',
      '--allow-loopback-peers'
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let log = ''
  // A missing binary is an 'error' event (apt-get install -y coturn), reported below as "did not start".
  proc.on('error', (e) => {
    log += `${e.message}\n`
  })
  proc.stderr!.on('data', (d) => {
    log += d
  })
  proc.stdout!.resume()
  // Ready when it answers a STUN binding request on its port (its log is block-buffered on a pipe).
  const end = Date.now() + 15_000
  while (!(await stunAnswers(NETNS_RELAY_HOST, port))) {
    if (proc.exitCode !== null || proc.pid === undefined || Date.now() > end) {
      proc.kill('SIGKILL')
      throw new Error(`coturn did not start: ${log.slice(-500)}`)
    }
  }
  return {
    iceServers: [{ urls: `turn:${NETNS_RELAY_HOST}:${port}?transport=udp`, username: user, credential }],
    stop: async () => {
      proc.kill('SIGTERM')
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)))
    }
  }
}

/** Sends one STUN binding request (RFC 5389) and waits up to 300 ms for any answer. */
function stunAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4')
    const request = Buffer.alloc(20)
    request.writeUInt16BE(0x0001, 0)
    request.writeUInt32BE(0x2112a442, 4)
    randomBytes(12).copy(request, 8)
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.close()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), 300)
    socket.once('message', () => done(true))
    socket.once('error', () => done(false))
    socket.send(request, port, host)
  })
}
