/**
 * Two browser profiles (two Chromium contexts, each its own IndexedDB) and a real local relay serving the app: Bob
 * opens Alice's invite link, Alice accepts his message request, and they chat both ways through the UI (in the root
 * namespace this runs over the relay's circuit; the direct-WebRTC variant is a netns test). A hostile message shows
 * as text. A reload keeps history, contacts and the session: the conversation continues on the same session id.
 */
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, newProfile, ParleyPage, startWebRelay, type WebRelay } from './pages.ts'

let web: WebRelay
let browser: Browser
let aliceCtx: BrowserContext
let bobCtx: BrowserContext
let alice: ParleyPage
let bob: ParleyPage

beforeAll(async () => {
  web = await startWebRelay()
  browser = await launchChromium()
  aliceCtx = await newProfile(browser)
  // Records each Notification the page shows (then shows it): what the user would see.
  await aliceCtx.addInitScript(() => {
    const Real = globalThis.Notification
    if (Real === undefined) return
    const shown: { title: string; body: string }[] = []
    ;(globalThis as unknown as { __notes: typeof shown }).__notes = shown
    // Whether each permission request came from a user's click (transient user activation).
    const asked: boolean[] = []
    ;(globalThis as unknown as { __asked: typeof asked }).__asked = asked
    const request = Real.requestPermission.bind(Real)
    globalThis.Notification = class extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options)
        shown.push({ title, body: options?.body ?? '' })
      }
    } as typeof Notification
    globalThis.Notification.requestPermission = () => {
      asked.push(navigator.userActivation.isActive)
      return request()
    }
  })
  bobCtx = await newProfile(browser)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
})

describe('the web app with two profiles and a local relay', () => {
  it('Bob opens Alice’s invite link, Alice accepts the request, and they chat both ways', async () => {
    alice = await ParleyPage.open(aliceCtx, web.url)
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    expect(link).toContain('#/add?invite=parley')

    // Bob's first visit is the invite link itself: he creates his identity, then lands on the filled-in add form.
    bob = await ParleyPage.open(bobCtx, link)
    await bob.createIdentity('Bob')
    await bob.waitConnected()
    expect(await bob.page.getByTestId('add-input').inputValue()).toMatch(/^parley:\/\//)
    await bob.page.getByTestId('add-submit').click()
    await bob.page.getByTestId('composer').waitFor()
    // The invite's suggested name becomes the contact's name.
    expect(await bob.page.getByTestId('chat-name').textContent()).toBe('Alice')
    await bob.send('hello Alice')

    // Alice sees a message request, accepts it, and answers.
    await alice.acceptRequest(60_000, 'Bob')
    await alice.waitMessage('hello Alice')
    await alice.send('hi Bob')
    await bob.waitMessage('hi Bob')
    // Typing shows on the other side (never stored or queued).
    await bob.page.getByTestId('composer').fill('how are')
    await alice.page.getByTestId('typing').waitFor({ timeout: 20_000 })
    expect(await alice.page.getByTestId('typing').textContent()).toContain('is typing')
    await bob.send('how are you?')
    await alice.waitMessage('how are you?')
    // Receipts come back: Alice's message reaches delivered or read at Bob (who has the chat open).
    await expect.poll(() => alice.stateOf('hi Bob'), { timeout: 30_000 }).toMatch(/^(delivered|read)$/)
    // The conversation starts with a day separator; every message has its time.
    const items = alice.page.locator('[data-testid="messages"] > li')
    expect(await items.first().getAttribute('data-testid')).toBe('day-separator')
    const messages = alice.page.getByTestId('message')
    expect(await messages.locator('time').count()).toBe(await messages.count())

    // Diagnostics: the relay is connected with a reservation and our mailbox; Bob is connected (in this namespace the
    // pages may reach each other directly or through the relay) and his last delivery path is known.
    await alice.goto('diagnostics')
    const relayRow = alice.page.getByTestId('diag-relay')
    await expect.poll(() => relayRow.getAttribute('data-connected')).toBe('true')
    expect(await relayRow.getAttribute('data-reservation')).toBe('true')
    const bobRow = alice.page.getByTestId('diag-contact').filter({ hasText: 'Bob' })
    await expect
      .poll(() => bobRow.getAttribute('data-connection'), { timeout: 20_000 })
      .toMatch(/^(direct-webrtc|direct|relayed)$/)
    expect(await bobRow.locator('td').nth(2).textContent()).toMatch(/^(direct|relayed|mailbox) at /)
    await alice.openChat('Bob')
  }, 240_000)

  it('a message with HTML in it is shown as text, never parsed', async () => {
    const hostile = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>'
    await bob.send(hostile)
    await alice.waitMessage(hostile)
    const m = alice.messageLocator(hostile).first()
    expect(await m.locator('img').count()).toBe(0)
    expect(await m.locator('b').count()).toBe(0)
    expect(await m.locator('p.text').textContent()).toBe(hostile)
    expect(await alice.page.title()).toBe('Parley')
  }, 60_000)

  it('a reload keeps history, contacts and the session: the chat continues without re-keying', async () => {
    const before = await bob.sessionId()
    expect(before).toMatch(/^[0-9a-f]{16,}$/)
    await bob.page.reload()
    await bob.unlock()
    await bob.waitConnected()
    await bob.openChat('Alice')
    // History and the contact survived.
    await bob.waitMessage('hi Bob', 'in', 10_000)
    await bob.waitMessage('hello Alice', 'out', 10_000)
    expect(await bob.sessionId()).toBe(before)
    await bob.send('back after a reload')
    await alice.waitMessage('back after a reload', 'in', 60_000)
    await alice.send('welcome back')
    await bob.waitMessage('welcome back', 'in', 60_000)
    expect(await bob.sessionId()).toBe(before)
  }, 240_000)

  it('a new message while the tab is hidden shows a notification (permission asked on a click), without its text', async () => {
    const asked = () => alice.page.evaluate(() => (globalThis as unknown as { __asked: boolean[] }).__asked)
    // Nothing asked for permission on its own (the page was loaded, unlocked and used above).
    expect(await asked()).toEqual([])
    await alice.goto('settings')
    await alice.page.getByRole('button', { name: 'Enable notifications' }).click()
    await expect.poll(asked).toEqual([true])
    // The user answers the browser's prompt with "Allow" (headless Chromium has no prompt to click).
    await aliceCtx.grantPermissions(['notifications'], { origin: new URL(web.url).origin })
    // The tab goes to the background (headless pages never do by themselves).
    await alice.page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
      document.dispatchEvent(new Event('visibilitychange'))
    })
    await bob.send('are you there? secret plans inside')
    await expect
      .poll(() => alice.page.evaluate(() => (globalThis as unknown as { __notes: unknown[] }).__notes), {
        timeout: 60_000
      })
      .toEqual([{ title: 'Parley', body: 'New message from Bob' }])
  }, 120_000)
})
