/**
 * Page helpers for the web app's Playwright tests (and H2's netns variant): build the app once, serve it from a real
 * relay, launch Debian's Chromium, and drive the real UI through its labels and data-testids.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createRelay, type Relay } from '@parley/relay'
import { type ChromiumLaunchInit, chromiumLaunchOptions, isBuiltFrom } from '@parley/test-kit'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

export const WEB_ROOT = resolve(import.meta.dirname, '..')
export const REPO_ROOT = resolve(WEB_ROOT, '../..')
export const DIST = join(WEB_ROOT, 'dist')
/** Screenshots and other artefacts of the UI tests (gitignored). */
export const ARTEFACTS = join(WEB_ROOT, 'test-results')
export const PASSPHRASE = 'correct horse battery staple'
/** A phone-sized viewport: every screen is tested at this size. */
export const PHONE = { width: 390, height: 844 }

const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts']
  .map((p) => join(WEB_ROOT, p))
  .concat(
    ['crypto', 'wire', 'store', 'network', 'messenger', 'calls'].map((p) => join(REPO_ROOT, 'packages', p, 'src'))
  )

const BUILD_LOCK = join(WEB_ROOT, '.build-lock')
/** A build lock older than this was left by a killed process. */
const STALE_BUILD_LOCK_MS = 180_000

const fresh = () => isBuiltFrom(join(DIST, 'index.html'), SOURCES)

/**
 * Builds apps/web unless dist is at least as new as every source. Test files run in parallel processes: one builds
 * (under a directory lock) while the others wait, so nobody copies a half-written dist.
 */
export async function ensureBuilt(): Promise<void> {
  if (fresh()) return
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK)
      break
    } catch {
      const age = Date.now() - (statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now())
      if (age > STALE_BUILD_LOCK_MS) rmSync(BUILD_LOCK, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  try {
    if (fresh()) return
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: WEB_ROOT,
      stdio: 'inherit'
    })
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true })
  }
}

export interface WebRelay {
  /** The running relay (a new object after restart()). */
  relay: Relay
  /** The page's URL (the relay's HTTP server). */
  url: string
  /** The relay's ws:// multiaddr with /p2p/. */
  address: string
  /** Stops the relay (keeping its data: key, mailboxes, DHT records) and starts it again on the same ports. */
  restart(options?: { downMs?: number; whileDown?: () => Promise<void> }): Promise<void>
  stop(): Promise<void>
}

/**
 * A real relay serving a copy of the build (so tests never touch dist) on a free port; the page learns the relay from
 * its `/parley.json` (the relay's own endpoint when it has one, else a static file written into the copy).
 */
export async function startWebRelay(options: { listen?: string[]; host?: string } = {}): Promise<WebRelay> {
  await ensureBuilt()
  const dir = await mkdtemp(join(tmpdir(), 'parley-web-test-'))
  const web = join(dir, 'web')
  cpSync(DIST, web, { recursive: true })
  const host = options.host ?? '127.0.0.1'
  const start = (listen: string[], port: number) =>
    createRelay({ dataDir: join(dir, 'relay'), listen, http: { host, port }, webDir: web, logSink: () => {} })
  const first = await start(options.listen ?? [`/ip4/${host}/tcp/0/ws`], 0)
  const address = first.multiaddrs.map(String).find((a) => a.includes('/ws/p2p/'))
  if (address === undefined) throw new Error('the relay has no WebSocket address')
  const url = `${first.httpUrl}/`
  const own = await fetch(`${url}parley.json`).catch(() => undefined)
  if (own?.ok !== true) writeFileSync(join(web, 'parley.json'), JSON.stringify({ relays: [address], iceServers: [] }))
  const listening = first.multiaddrs.map((a) => a.toString().replace(/\/p2p\/[^/]+$/, ''))
  const httpPort = Number(new URL(url).port)
  const handle: WebRelay = {
    relay: first,
    url,
    address,
    restart: async ({ downMs = 0, whileDown } = {}) => {
      await handle.relay.stop()
      await whileDown?.()
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
      handle.relay = await start(listening, httpPort)
    },
    stop: async () => {
      await handle.relay.stop().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
  return handle
}

/** Debian's Chromium with the flags every test shares (@parley/test-kit), plus what `init` asks for. */
export function launchChromium(init: ChromiumLaunchInit = {}): Promise<Browser> {
  return chromium.launch(chromiumLaunchOptions(init))
}

/** A browser profile (its own IndexedDB, storage and service worker): one Parley user. */
export function newProfile(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: PHONE, permissions: ['clipboard-read', 'clipboard-write'] })
}

/** One tab of the app, driven through its UI. */
export class ParleyPage {
  readonly page: Page

  constructor(page: Page) {
    this.page = page
  }

  static async open(context: BrowserContext, url: string): Promise<ParleyPage> {
    const page = await context.newPage()
    await page.goto(url)
    return new ParleyPage(page)
  }

  /** Onboarding: a new identity with a passphrase (and a name for invites). */
  async createIdentity(name: string, passphrase = PASSPHRASE): Promise<void> {
    const p = this.page
    await p.getByTestId('onboarding-create').waitFor({ timeout: 20_000 })
    await p.getByLabel('Your name (shown to people you invite; optional)').fill(name)
    await p.getByLabel(/^Passphrase \(at least/).fill(passphrase)
    await p.getByLabel('Passphrase again').fill(passphrase)
    await p.getByTestId('ob-submit').click()
    await this.waitReady()
  }

  async unlock(passphrase = PASSPHRASE): Promise<void> {
    const p = this.page
    await p.getByTestId('onboarding-unlock').waitFor({ timeout: 20_000 })
    await p.getByLabel('Passphrase').fill(passphrase)
    await p.getByTestId('ob-submit').click()
    await this.waitReady()
  }

  async waitReady(): Promise<void> {
    await this.page.getByTestId('relay-status').waitFor({ timeout: 60_000 })
  }

  async waitConnected(timeout = 30_000): Promise<void> {
    await this.page.locator('[data-testid="relay-status"][data-state="connected"]').waitFor({ timeout })
  }

  /** Waits until our invite carries a circuit address (a reservation at the relay), then returns the invite link. */
  async inviteLink(timeout = 30_000): Promise<string> {
    await this.goto('contacts')
    await this.page.locator('[data-testid="diag-relay"]').count() // no-op: keeps the page busy-free
    const end = Date.now() + timeout
    for (;;) {
      await this.goto('diagnostics')
      const reserved = await this.page.locator('[data-testid="diag-relay"][data-reservation="true"]').count()
      if (reserved > 0) break
      if (Date.now() > end) throw new Error('no reservation at the relay')
      await this.page.waitForTimeout(300)
    }
    await this.goto('contacts')
    return this.page.getByTestId('my-invite').inputValue()
  }

  /** Opens one of the main screens by its navigation link (keyboard-reachable links, as a user would). */
  async goto(screen: 'chats' | 'contacts' | 'requests' | 'settings' | 'diagnostics'): Promise<void> {
    await this.page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: new RegExp(`^${screen}$`, 'i') })
      .click()
    await this.page.locator(`#${screen === 'diagnostics' ? 'diag' : screen}-title`).waitFor()
  }

  /** Opens an invite link in this tab (as when it is clicked) and adds the contact. */
  async openInvite(link: string, name?: string): Promise<void> {
    await this.page.goto(link)
    await this.page.getByTestId('add-input').waitFor()
    if (name !== undefined) await this.page.getByLabel(/^Name/).fill(name)
    await this.page.getByTestId('add-submit').click()
    await this.page.getByTestId('composer').waitFor()
  }

  /** Adds a contact by pasting an invite into the add form. */
  async addByPaste(text: string, name?: string): Promise<void> {
    await this.goto('contacts')
    await this.page.getByTestId('add-contact-link').click()
    await this.page.getByLabel('Invite link or identity key').fill(text)
    if (name !== undefined) await this.page.getByLabel(/^Name/).fill(name)
    await this.page.getByTestId('add-submit').click()
  }

  /** Opens the chat with a contact from the chat list. */
  async openChat(name: string): Promise<void> {
    await this.goto('chats')
    await this.page.getByTestId('chat-row').filter({ hasText: name }).first().click()
    await this.page.getByTestId('composer').waitFor()
  }

  async send(text: string): Promise<void> {
    await this.page.getByTestId('composer').fill(text)
    await this.page.getByTestId('composer').press('Enter')
    await this.page.locator('[data-testid="message"][data-direction="out"]', { hasText: text }).first().waitFor()
  }

  /** Waits for a message (by its exact text) in the open conversation. */
  async waitMessage(text: string, direction: 'in' | 'out' = 'in', timeout = 30_000): Promise<void> {
    await this.messageLocator(text, direction).first().waitFor({ timeout })
  }

  messageLocator(text: string, direction: 'in' | 'out' = 'in') {
    return this.page
      .locator(`[data-testid="message"][data-direction="${direction}"]`)
      .filter({ has: this.page.locator('p.text', { hasText: new RegExp(`^${escapeRe(text)}$`) }) })
  }

  /** The delivery state shown for one of our messages. */
  async stateOf(text: string): Promise<string | null> {
    return this.messageLocator(text, 'out').first().getAttribute('data-state')
  }

  /** Accepts the first message request (naming the contact when `name` is given) and lands in its chat. */
  async acceptRequest(timeout = 30_000, name?: string): Promise<void> {
    const end = Date.now() + timeout
    for (;;) {
      await this.goto('requests')
      if ((await this.page.getByTestId('request').count()) > 0) break
      if (Date.now() > end) throw new Error('no message request arrived')
      await this.page.waitForTimeout(300)
    }
    if (name !== undefined) await this.page.getByTestId('request-name').first().fill(name)
    await this.page.getByTestId('accept-request').first().click()
    await this.page.getByTestId('composer').waitFor()
  }

  /** The session id shown on the safety screen of the open chat. */
  async sessionId(): Promise<string> {
    await this.page.getByRole('link', { name: 'Safety number', exact: true }).click()
    const id = await this.page.getByTestId('session-id').textContent({ timeout: 10_000 })
    await this.page.goBack()
    await this.page.getByTestId('composer').waitFor()
    return id ?? ''
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(ARTEFACTS, { recursive: true })
    const path = join(ARTEFACTS, `${name}.png`)
    await this.page.screenshot({ path, fullPage: true })
    return path
  }
}

/** How long `befriend` waits for the message request and the reply to arrive, ms. */
export const BEFRIEND_WAIT_MS = 60_000

/**
 * Makes `invitee` a contact of `inviter` both ways through the UI: the invitee opens the invite link, creates its
 * identity `name` and writes `hello` from the filled-in add form; the inviter accepts the message request (naming the
 * contact `name`) and answers `reply`, which the invitee then shows.
 */
export async function befriend(
  inviter: ParleyPage,
  invitee: ParleyPage,
  o: { link: string; name: string; hello: string; reply: string }
): Promise<void> {
  await invitee.page.goto(o.link)
  await invitee.createIdentity(o.name)
  await invitee.waitConnected()
  await invitee.page.getByTestId('add-submit').click()
  await invitee.page.getByTestId('composer').waitFor()
  await invitee.send(o.hello)
  await inviter.acceptRequest(BEFRIEND_WAIT_MS, o.name)
  await inviter.waitMessage(o.hello)
  await inviter.send(o.reply)
  await invitee.waitMessage(o.reply, 'in', BEFRIEND_WAIT_MS)
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** axe-core's serious and critical violations on the page as it is now (axe's own source injected into the page). */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  const source = readFileSync(join(WEB_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8')
  await page.addScriptTag({ content: source })
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (o: object) => Promise<{ violations: unknown[] }> } }).axe
    return axe.run({ resultTypes: ['violations'] })
  })
  return (result.violations as { id: string; impact: string; nodes: { target: string[] }[] }[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }))
}
