/**
 * The profile around the chat: a contact's identity change (a loud banner, sending blocked until the new key is
 * accepted), one node per profile across tabs (Web Locks), backup to a file and restore in another browser, and the
 * app shell loading offline from the service worker.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromiumLaunchOptions } from '@parley/test-kit'
import { type Browser, type BrowserContext, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_PASSPHRASE_LENGTH } from '../src/constants.ts'
import {
  axeViolations,
  launchChromium,
  newProfile,
  PASSPHRASE,
  ParleyPage,
  PHONE,
  startWebRelay,
  type WebRelay
} from './pages.ts'

let web: WebRelay
let browser: Browser
let aliceCtx: BrowserContext
let alice: ParleyPage
let dir: string

beforeAll(async () => {
  web = await startWebRelay()
  browser = await launchChromium()
  aliceCtx = await newProfile(browser)
  dir = await mkdtemp(join(tmpdir(), 'parley-web-profile-'))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('a web profile', () => {
  it('a contact’s identity change shows a banner and blocks sending until the new key is accepted', async () => {
    alice = await ParleyPage.open(aliceCtx, web.url)
    // A passphrase shorter than MIN_PASSPHRASE_LENGTH is refused before anything is created.
    await alice.page.getByTestId('onboarding-create').waitFor({ timeout: 20_000 })
    const short = 'x'.repeat(MIN_PASSPHRASE_LENGTH - 1)
    await alice.page.getByTestId('ob-pass').fill(short)
    await alice.page.getByTestId('ob-pass2').fill(short)
    await alice.page.getByTestId('ob-submit').click()
    expect(await alice.page.getByTestId('ob-error').textContent()).toContain(`at least ${MIN_PASSPHRASE_LENGTH}`)
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const bobCtx = await newProfile(browser)
    const bob = await ParleyPage.open(bobCtx, web.url)
    await bob.createIdentity('Bob')
    const bobInvite = await bob.inviteLink()
    // One character mistyped in a pasted invite: refused with the checksum error, nothing added.
    const invite = decodeURIComponent(bobInvite.split('invite=')[1]!)
    const at = invite.length - 10
    const typo = invite.slice(0, at) + (invite[at] === 'A' ? 'B' : 'A') + invite.slice(at + 1)
    await alice.addByPaste(typo)
    await alice.page.getByTestId('add-error').waitFor()
    expect(await alice.page.getByTestId('add-error').textContent()).toContain('checksum does not match')
    await alice.goto('contacts')
    expect(await alice.page.getByTestId('contact-list').locator('li').count()).toBe(0)
    await alice.openInvite(bobInvite)
    await alice.send('hi Bob')

    // Someone else's invite under the same name: Alice's "Bob" now presents a different key.
    const malloryCtx = await newProfile(browser)
    const mallory = await ParleyPage.open(malloryCtx, web.url)
    await mallory.createIdentity('Bob')
    const malloryInvite = await mallory.inviteLink()
    await alice.addByPaste(malloryInvite, 'Bob')
    await alice.openChat('Bob')
    const banner = alice.page.getByTestId('identity-banner')
    await banner.waitFor()
    expect(await banner.getAttribute('role')).toBe('alert')
    expect(await banner.textContent()).toContain('Safety number changed')
    expect(await alice.page.getByTestId('composer').isDisabled()).toBe(true)
    expect(await alice.page.getByTestId('send').isDisabled()).toBe(true)
    await alice.screenshot('identity-changed')
    expect(await axeViolations(alice.page)).toEqual([])
    // The safety screen shows the new key's number with the same warning.
    await alice.page.getByRole('link', { name: 'Review safety number' }).click()
    await alice.page.getByTestId('safety-number').waitFor()
    expect(await alice.page.getByTestId('identity-banner').count()).toBe(1)
    await alice.screenshot('safety-changed')

    // Accepting is explicit; then the conversation continues with the new key.
    await alice.page.getByTestId('accept-identity').click()
    await alice.page.getByTestId('composer').waitFor()
    expect(await alice.page.getByTestId('identity-banner').count()).toBe(0)
    expect(await alice.page.getByTestId('composer').isDisabled()).toBe(false)
    await alice.send('hello, new key')
    await mallory.acceptRequest(60_000)
    await mallory.waitMessage('hello, new key')
    await bobCtx.close()
    await malloryCtx.close()
  }, 300_000)

  it('a safety number can be marked verified', async () => {
    await alice.openChat('Bob')
    await alice.page.getByRole('link', { name: 'Safety number', exact: true }).click()
    const digits = (await alice.page.getByTestId('safety-number').textContent())?.replace(/\s+/g, '') ?? ''
    expect(digits).toMatch(/^\d{60}$/)
    expect(await alice.page.getByTestId('verified-state').textContent()).toBe('Not verified')
    await alice.page.getByTestId('toggle-verified').click()
    await expect.poll(() => alice.page.getByTestId('verified-state').textContent()).toBe('Verified')
  }, 60_000)

  it('the passphrase can be changed in settings: after a reload only the new one unlocks', async () => {
    const next = 'a brand new passphrase'
    const change = async (current: string, to: string) => {
      await alice.goto('settings')
      await alice.page.getByLabel('Current passphrase').fill(current)
      await alice.page.getByLabel('New passphrase').fill(to)
      await alice.page.getByRole('button', { name: 'Change passphrase' }).click()
      await alice.page.getByText('Passphrase changed.').waitFor({ timeout: 30_000 })
    }
    await change(PASSPHRASE, next)
    await alice.page.reload()
    await alice.page.getByTestId('onboarding-unlock').waitFor()
    await alice.page.getByTestId('ob-pass').fill(PASSPHRASE)
    await alice.page.getByTestId('ob-submit').click()
    await alice.page.getByTestId('ob-error').waitFor({ timeout: 30_000 })
    expect(await alice.page.getByTestId('ob-error').textContent()).toBe('Wrong passphrase.')
    await alice.page.getByTestId('ob-pass').fill(next)
    await alice.page.getByTestId('ob-submit').click()
    await alice.waitReady()
    await change(next, PASSPHRASE)
  }, 120_000)

  it('a second tab of the same profile never starts a node: it says the profile is open elsewhere', async () => {
    const second = await aliceCtx.newPage()
    const sockets: string[] = []
    second.on('websocket', (ws) => sockets.push(ws.url()))
    await second.goto(web.url)
    await second.getByTestId('other-tab').waitFor({ timeout: 20_000 })
    expect(await second.getByTestId('other-tab').textContent()).toContain('open in another tab')
    // No onboarding form, so no way to unlock the profile and start a node here.
    expect(await second.getByTestId('ob-pass').count()).toBe(0)
    expect(await second.getByTestId('relay-status').count()).toBe(0)
    await new ParleyPage(second).screenshot('other-tab')
    expect(await axeViolations(second)).toEqual([])
    // No libp2p node here: this tab opened no WebSocket to the relay at all.
    await second.waitForTimeout(1_000)
    expect(sockets).toEqual([])
    // The first tab keeps working.
    await alice.openChat('Bob')
    await alice.send('still here')
    // Once the first tab closes, the second may take over.
    await alice.page.close()
    await second.getByRole('button', { name: 'Try again' }).click()
    alice = new ParleyPage(second)
    await alice.unlock()
    await alice.openChat('Bob')
    await alice.waitMessage('still here', 'out', 10_000)
  }, 120_000)

  it('a backup file restores the profile in another browser (it opens only with the passphrase)', async () => {
    await alice.goto('settings')
    const [download] = await Promise.all([
      alice.page.waitForEvent('download'),
      alice.page.getByTestId('export').click()
    ])
    const file = join(dir, 'backup.json')
    await download.saveAs(file)
    const text = await readFile(file, 'utf8')
    // Nothing readable in it: the records are the store's ciphertexts (a short name could occur in base64 by chance,
    // so the check looks for the texts of the messages, also as base64 of their UTF-8).
    for (const t of ['still here', 'hello, new key']) {
      expect(text).not.toContain(t)
      expect(text).not.toContain(Buffer.from(t).toString('base64').slice(0, 12))
    }
    // The original stops before the copy runs (one node per identity).
    await alice.page.close()

    const otherCtx = await newProfile(browser)
    const page = await otherCtx.newPage()
    await page.goto(web.url)
    await page.getByTestId('ob-switch').click()
    await page.getByTestId('ob-file').setInputFiles(file)
    await page.getByTestId('ob-pass').fill('not the passphrase')
    await page.getByTestId('ob-submit').click()
    await page.getByTestId('ob-error').waitFor({ timeout: 30_000 })
    expect(await page.getByTestId('ob-error').textContent()).toBe('Wrong passphrase.')
    // The restored records stay; unlocking with the right passphrase opens them.
    await page.reload()
    const restored = new ParleyPage(page)
    await restored.unlock()
    await restored.openChat('Bob')
    await restored.waitMessage('still here', 'out', 10_000)
    await otherCtx.close()
  }, 180_000)

  it('the app is installable and its shell loads offline from the service worker', async () => {
    // A persistent (non-incognito) profile: Chromium never offers to install from an incognito one.
    const ctx = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      ...chromiumLaunchOptions(),
      viewport: PHONE
    })
    try {
      const page = await ctx.newPage()
      await page.goto(web.url)
      await page.getByTestId('onboarding-create').waitFor({ timeout: 20_000 })
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
      // Installable as an app: Chromium finds nothing missing (manifest, icons, service worker with a fetch handler).
      const cdp = await ctx.newCDPSession(page)
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
      expect(installabilityErrors).toEqual([])
      await ctx.setOffline(true)
      const response = await page.reload()
      expect(response?.fromServiceWorker()).toBe(true)
      await page.getByTestId('onboarding-create').waitFor({ timeout: 20_000 })
      expect(await page.title()).toBe('Parley')
    } finally {
      await ctx.close()
    }
  }, 60_000)
})
