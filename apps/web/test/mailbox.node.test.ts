/**
 * Offline paths through the UI: Bob closes his tab, Alice writes 5 messages (they go to Bob's mailbox at the relay
 * and show as deposited); Bob opens the app again and shows all 5 exactly once. Then the relay (Alice's only way out)
 * goes down: what she writes is queued and shown as pending, and goes out when the relay is back.
 */
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, newProfile, ParleyPage, startWebRelay, type WebRelay } from './pages.ts'

let web: WebRelay
let browser: Browser
let aliceCtx: BrowserContext
let bobCtx: BrowserContext

beforeAll(async () => {
  web = await startWebRelay()
  browser = await launchChromium()
  aliceCtx = await newProfile(browser)
  bobCtx = await newProfile(browser)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
})

describe('the web app when a contact is offline', () => {
  it('Bob closes his tab, Alice sends 5, Bob comes back and shows all 5 exactly once', async () => {
    const alice = await ParleyPage.open(aliceCtx, web.url)
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    let bob = await ParleyPage.open(bobCtx, web.url)
    await bob.createIdentity('Bob')
    await bob.waitConnected()
    await bob.openInvite(link)
    await bob.send('hello')
    await alice.acceptRequest(60_000)
    await alice.send('hello back')
    await bob.waitMessage('hello back')
    // Bob's record names his mailbox at the relay once his node has published it; give his first round a moment.
    await expect.poll(() => web.relay.mailbox.stats().mailboxes, { timeout: 30_000 }).toBeGreaterThanOrEqual(2)

    await bob.page.close()
    const texts = [1, 2, 3, 4, 5].map((i) => `while you were away ${i}`)
    for (const t of texts) await alice.send(t)
    // Each leaves Alice's outbox for Bob's mailbox (or Bob's node if it were still up): never stays pending.
    for (const t of texts)
      await expect.poll(() => alice.stateOf(t), { timeout: 60_000 }).toMatch(/^(deposited|sent|delivered|read)$/)
    expect(await Promise.all(texts.map((t) => alice.stateOf(t)))).toContain('deposited')
    await alice.screenshot('chat-deposited')

    bob = await ParleyPage.open(bobCtx, web.url)
    await bob.unlock()
    await bob.openChat('Alice')
    for (const t of texts) await bob.waitMessage(t, 'in', 60_000)
    // Exactly once each, and nothing else arrived twice.
    for (const t of texts) expect(await bob.messageLocator(t).count()).toBe(1)
    expect(await bob.page.locator('[data-testid="message"][data-direction="in"]').count()).toBe(6)
    // Alice learns they were delivered (end-to-end receipts) once Bob has them.
    for (const t of texts) await expect.poll(() => alice.stateOf(t), { timeout: 60_000 }).toMatch(/^(delivered|read)$/)
  }, 300_000)

  it('a message written while the relay is down is shown as pending and goes out when it is back', async () => {
    const alice = new ParleyPage(aliceCtx.pages()[0]!)
    // Bob is offline and the relay is Alice's only other way out: with it down, nothing can take the message.
    await bobCtx.pages()[0]!.close()
    await web.restart({
      whileDown: async () => {
        await alice.page.locator('[data-testid="relay-status"][data-state="connecting"]').waitFor({ timeout: 30_000 })
        await alice.page.getByTestId('composer').fill('written offline')
        await alice.page.getByTestId('composer').press('Enter')
        await alice.messageLocator('written offline', 'out').first().waitFor()
        // Give the outbox a delivery attempt: with no path it stays queued.
        await alice.page.waitForTimeout(2_000)
        expect(await alice.stateOf('written offline')).toBe('pending')
        await alice.screenshot('chat-pending')
      }
    })
    await alice.waitConnected(60_000)
    // Bob is still away: the relay is back, so the queued message is deposited in his mailbox.
    await expect.poll(() => alice.stateOf('written offline'), { timeout: 120_000 }).toBe('deposited')
    const bob = await ParleyPage.open(bobCtx, web.url)
    await bob.unlock()
    await bob.openChat('Alice')
    await bob.waitMessage('written offline', 'in', 60_000)
    expect(await bob.messageLocator('written offline').count()).toBe(1)
  }, 300_000)
})
