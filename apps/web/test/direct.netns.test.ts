/**
 * The web app over direct WebRTC, inside the test network namespace (scripts/netns.ts: Chromium never uses loopback
 * for ICE). The relay listens for WebSockets on the veth address 10.99.0.1 and serves the app on 127.0.0.1 (a secure
 * context: WebCrypto, Web Locks and the service worker need one). Bob opens Alice's invite link, they chat both ways
 * through the UI, and the diagnostics panel — which classifies the open connections by their limits and transport,
 * never by address text — shows each as connected to the other over direct WebRTC.
 */
import { assertInNetns, NETNS_RELAY_HOST } from '@parley/test-kit'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { befriend, launchChromium, newProfile, ParleyPage, startWebRelay, type WebRelay } from './pages.ts'

let web: WebRelay
let browser: Browser

beforeAll(async () => {
  assertInNetns()
  web = await startWebRelay({ listen: [`/ip4/${NETNS_RELAY_HOST}/tcp/0/ws`], host: '127.0.0.1' })
  // Host candidates as addresses, not mDNS names (nothing resolves .local names in the namespace).
  browser = await launchChromium({ hostCandidates: true })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
})

/** The connection kind the diagnostics panel shows for a contact. */
async function connectionTo(p: ParleyPage, name: string): Promise<string | null> {
  await p.goto('diagnostics')
  const row = p.page.getByTestId('diag-contact').filter({ hasText: name })
  if ((await row.count()) === 0) return null
  return row.getAttribute('data-connection')
}

describe('the web app over direct WebRTC (network namespace)', () => {
  it('Bob opens Alice’s invite link, they chat both ways, and the chat runs over a direct WebRTC connection', async () => {
    expect(web.address).toContain(`/ip4/${NETNS_RELAY_HOST}/`)
    const alice = await ParleyPage.open(await newProfile(browser), web.url)
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    const bob = new ParleyPage(await (await newProfile(browser)).newPage())
    await befriend(alice, bob, { link, name: 'Bob', hello: 'hello over the namespace', reply: 'hi Bob' })

    // Both sides see a direct WebRTC connection to the other (an upgrade from the relayed circuit).
    await expect.poll(() => connectionTo(alice, 'Bob'), { timeout: 30_000, interval: 500 }).toBe('direct-webrtc')
    await expect.poll(() => connectionTo(bob, 'Alice'), { timeout: 30_000, interval: 500 }).toBe('direct-webrtc')
    await alice.screenshot('diagnostics-direct-webrtc')

    // The chat goes on over it, and what was sent last was delivered directly.
    await alice.openChat('Bob')
    await alice.send('this one goes direct')
    await bob.openChat('Alice')
    await bob.waitMessage('this one goes direct')
    await alice.goto('diagnostics')
    const last = alice.page.getByTestId('diag-contact').filter({ hasText: 'Bob' }).locator('td').nth(2)
    await expect.poll(() => last.textContent(), { timeout: 20_000 }).toMatch(/^direct at /)
    expect(await connectionTo(alice, 'Bob')).toBe('direct-webrtc')
  }, 240_000)
})
