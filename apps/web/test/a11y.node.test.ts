/**
 * Every main screen, with real content from two profiles chatting through a local relay, checked with axe-core (no
 * serious or critical violation) and saved as a screenshot at phone size (apps/web/test-results/*.png). Also: the
 * chat works from the keyboard alone.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { axeViolations, launchChromium, newProfile, ParleyPage, startWebRelay, type WebRelay } from './pages.ts'

let web: WebRelay
let browser: Browser

beforeAll(async () => {
  web = await startWebRelay()
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
})

describe('the web app’s screens', () => {
  it('the axe check finds violations where there are some (an unlabelled input, an image without alt)', async () => {
    const page = await (await newProfile(browser)).newPage()
    await page.setContent('<html><body><img src="x.png"><input type="text"></body></html>')
    const ids = (await axeViolations(page)).map((v) => v.id)
    expect(ids).toContain('image-alt')
    expect(ids).toContain('label')
    await page.context().close()
  }, 60_000)

  it('have no serious or critical accessibility violations, and each is saved as a screenshot', async () => {
    const found: Record<string, unknown[]> = {}
    const check = async (p: ParleyPage, screen: string) => {
      await p.screenshot(screen)
      const v = await axeViolations(p.page)
      // Phone-sized: nothing wider than the screen (no sideways scrolling).
      const overflow = await p.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      if (overflow > 0) v.push({ id: 'horizontal-overflow', impact: 'serious', nodes: [`${overflow}px`] })
      if (v.length > 0) found[screen] = v
    }
    const alice = await ParleyPage.open(await newProfile(browser), web.url)
    await alice.page.getByTestId('onboarding-create').waitFor({ timeout: 20_000 })
    await check(alice, 'onboarding')
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    await check(alice, 'contacts')

    const bob = await ParleyPage.open(await newProfile(browser), web.url)
    await bob.createIdentity('Bob')
    await bob.waitConnected()
    await bob.openInvite(link)
    await bob.send('Hi Alice, it is Bob. <b>not bold</b>')
    await alice.acceptRequest(60_000, 'Bob')
    await alice.goto('requests')
    await check(alice, 'requests-empty')
    await alice.openChat('Bob')
    await alice.send('Hello Bob!')
    await bob.waitMessage('Hello Bob!')
    await alice.goto('chats')
    await bob.send('Are you there?')
    await alice.page.getByTestId('unread').waitFor({ timeout: 30_000 })
    expect(await alice.page.getByTestId('unread').textContent()).toBe('1 unread')
    expect(await alice.page.getByTestId('chat-row').textContent()).toContain('Are you there?')
    await check(alice, 'chats')
    await alice.openChat('Bob')
    await alice.waitMessage('Are you there?')
    await bob.page.getByTestId('composer').fill('typing something')
    await check(alice, 'chat')
    await alice.page.getByRole('link', { name: 'Safety number', exact: true }).click()
    await alice.page.getByTestId('safety-number').waitFor()
    await check(alice, 'safety')
    await alice.goto('settings')
    await check(alice, 'settings')
    await alice.goto('diagnostics')
    await alice.page.getByTestId('diag-contact').waitFor()
    await check(alice, 'diagnostics')
    await alice.goto('contacts')
    await alice.page.getByTestId('add-contact-link').click()
    await alice.page.getByTestId('add-input').waitFor()
    await check(alice, 'add-contact')

    // A request as it waits (a third profile writes to Alice).
    const carol = await ParleyPage.open(await newProfile(browser), web.url)
    await carol.createIdentity('Carol')
    await carol.openInvite(link)
    await carol.send('Hello from Carol')
    await expect
      .poll(
        async () => {
          await alice.goto('requests')
          return alice.page.getByTestId('request').count()
        },
        { timeout: 60_000 }
      )
      .toBe(1)
    await alice.page.getByTestId('request-message').first().waitFor()
    await check(alice, 'requests')
    // Declining removes the request and its messages.
    await alice.page.getByTestId('decline-request').click()
    await expect.poll(() => alice.page.getByTestId('request').count()).toBe(0)
    // The unlock screen (a reload asks for the passphrase again).
    await bob.page.reload()
    await bob.page.getByTestId('onboarding-unlock').waitFor()
    await check(bob, 'unlock')

    expect(found).toEqual({})
  }, 300_000)

  it('a conversation works with the keyboard alone', async () => {
    const alice = await ParleyPage.open(await newProfile(browser), web.url)
    await alice.createIdentity('Keys')
    const p = alice.page
    await alice.goto('contacts')
    // Tab to the "Add a contact" link and follow it with Enter.
    const focusOn = async (testId: string) => {
      for (let i = 0; i < 40; i++) {
        if (await p.evaluate((id) => document.activeElement?.getAttribute('data-testid') === id, testId)) return
        await p.keyboard.press('Tab')
      }
      throw new Error(`Tab never reached ${testId}`)
    }
    await focusOn('add-contact-link')
    await p.keyboard.press('Enter')
    const bob = await ParleyPage.open(await newProfile(browser), web.url)
    await bob.createIdentity('Bob')
    const invite = await bob.inviteLink()
    await focusOn('add-input')
    await p.keyboard.insertText(invite)
    await focusOn('add-submit')
    await p.keyboard.press('Enter')
    await focusOn('composer')
    await p.keyboard.type('typed without a mouse')
    await p.keyboard.press('Enter')
    await alice.waitMessage('typed without a mouse', 'out', 10_000)
    await bob.acceptRequest(60_000)
    await bob.waitMessage('typed without a mouse')
  }, 180_000)
})
