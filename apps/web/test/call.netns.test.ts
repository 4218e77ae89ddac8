/**
 * Calls through the web app's UI, inside the test network namespace (scripts/netns.ts: Chromium never uses loopback
 * for ICE). Chromium's fake camera and microphone give both pages real media. Alice calls Bob from the conversation
 * header; Bob's incoming-call screen takes focus and accepts; both pages render the other's video and the timer
 * runs; hang-up ends it on both sides with a call entry in both conversations. Then a declined call and a call
 * nobody answers (the caller's no-answer timeout) leave the right entries, and axe-core finds no serious or critical
 * violation on the incoming-call and in-call screens.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CallWorld, callProfile, callEntries as entries, startCallWorld } from './call-setup.ts'
import { axeViolations, befriend, type ParleyPage } from './pages.ts'

/** @parley/calls NO_ANSWER_TIMEOUT_MS (45 s), plus signalling slack. */
const NO_ANSWER_WAIT_MS = 60_000

let world: CallWorld
let alice: ParleyPage
let bob: ParleyPage

/**
 * A call profile also allowed notifications, recording each Notification the page shows (then shows it): what the user
 * would see.
 */
const profile = (b: Browser): Promise<BrowserContext> =>
  callProfile(b, () => {
    const Real = globalThis.Notification
    if (Real === undefined) return
    const shown: { title: string; body: string }[] = []
    ;(globalThis as unknown as { __notes: typeof shown }).__notes = shown
    globalThis.Notification = class extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options)
        shown.push({ title, body: options?.body ?? '' })
      }
    } as typeof Notification
  }, ['notifications'])

const notes = (p: Page) => p.evaluate(() => (globalThis as unknown as { __notes: unknown[] }).__notes)

const videoWidth = (p: Page) =>
  p.getByTestId('remote-video').evaluate((v) => (v as HTMLVideoElement).videoWidth, undefined, { timeout: 2_000 })

const seconds = async (p: Page) => {
  const t = (await p.getByTestId('call-timer').textContent()) ?? ''
  const m = /^(\d+):(\d\d)$/.exec(t)
  return m ? Number(m[1]) * 60 + Number(m[2]) : -1
}

beforeAll(async () => {
  world = await startCallWorld(profile)
  alice = world.alice
  bob = await world.user()
  await befriend(alice, bob, { link: world.link, name: 'Bob', hello: 'hello, call me', reply: 'calling you' })
}, 240_000)

afterAll(async () => {
  await world?.stop()
})

describe('calls in the web app (network namespace, fake camera and microphone)', () => {
  it('Alice video-calls Bob, Bob accepts on the focused incoming screen, both see video, the timer runs, hang-up ends it on both sides with call entries', async () => {
    await alice.page.getByTestId('call-video').click()
    await alice.page.getByTestId('in-call').waitFor({ timeout: 10_000 })

    const incoming = bob.page.getByTestId('incoming-call')
    await incoming.waitFor({ timeout: 30_000 })
    expect(await incoming.getAttribute('role')).toBe('alertdialog')
    expect(await bob.page.getByTestId('incoming-name').textContent()).toBe('Alice')
    // Focus moved to the incoming screen.
    expect(
      await bob.page.evaluate(() => document.activeElement?.closest('[data-testid="incoming-call"]') !== null)
    ).toBe(true)
    expect(await axeViolations(bob.page)).toEqual([])
    await bob.screenshot('call-incoming')

    // Keyboard: Tab reaches Accept, Enter presses it.
    await bob.page.keyboard.press('Tab')
    expect(await bob.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('call-accept')
    await bob.page.keyboard.press('Enter')

    for (const p of [alice, bob]) {
      await p.page.locator('[data-testid="in-call"][data-phase="active"]').waitFor({ timeout: 30_000 })
      await expect.poll(() => videoWidth(p.page), { timeout: 30_000, interval: 300 }).toBeGreaterThan(0)
    }
    const t0 = await seconds(alice.page)
    await expect.poll(() => seconds(alice.page), { timeout: 10_000, interval: 300 }).toBeGreaterThanOrEqual(t0 + 2)
    expect(await seconds(bob.page)).toBeGreaterThanOrEqual(1)
    // Quality from getStats (direct path inside the namespace: no TURN).
    await expect
      .poll(() => alice.page.getByTestId('call-quality').getAttribute('data-level'), { timeout: 15_000 })
      .toMatch(/^(good|fair|poor)$/)
    expect(await alice.page.getByTestId('call-quality').textContent()).toContain('direct')
    // Mute toggles (aria-pressed), and nothing serious for axe on the in-call screen.
    await alice.page.getByTestId('call-mute').click()
    expect(await alice.page.getByTestId('call-mute').getAttribute('aria-pressed')).toBe('true')
    await alice.page.getByTestId('call-mute').click()
    expect(await alice.page.getByTestId('call-mute').getAttribute('aria-pressed')).toBe('false')
    await alice.page.getByTestId('call-camera').click()
    expect(await alice.page.getByTestId('call-camera').getAttribute('aria-pressed')).toBe('true')
    await alice.page.getByTestId('call-camera').click()
    // Voice ↔ video: the camera track goes and comes back (no renegotiation), and Bob still renders Alice's video.
    await alice.page.getByTestId('call-switch').click()
    await expect.poll(() => alice.page.getByTestId('call-switch').textContent()).toBe('Switch to video')
    expect(await alice.page.getByTestId('call-camera').isDisabled()).toBe(true)
    await alice.page.getByTestId('call-switch').click()
    await expect.poll(() => alice.page.getByTestId('call-switch').textContent()).toBe('Switch to voice')
    await expect.poll(() => videoWidth(bob.page), { timeout: 10_000 }).toBeGreaterThan(0)
    expect(await axeViolations(alice.page)).toEqual([])
    await alice.screenshot('call-in-call')

    await alice.page.getByTestId('call-hangup').click()
    for (const p of [alice, bob]) await p.page.getByTestId('in-call').waitFor({ state: 'detached', timeout: 15_000 })
    await expect.poll(() => entries(alice.page), { timeout: 10_000 }).toEqual(['out:hangup'])
    await bob.openChat('Alice')
    await expect.poll(() => entries(bob.page), { timeout: 10_000 }).toEqual(['in:remote-hangup'])
    expect(await alice.page.getByTestId('call-entry').textContent()).toMatch(/Outgoing video call · \d+:\d\d/)
    expect(await bob.page.getByTestId('call-entry').textContent()).toMatch(/Incoming video call · \d+:\d\d/)
  }, 180_000)

  it('Bob declines a voice call: both conversations show a declined entry', async () => {
    await alice.openChat('Bob')
    await alice.page.getByTestId('call-audio').click()
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 30_000 })
    expect(await bob.page.locator('#incoming-title').textContent()).toBe('Incoming voice call')
    await bob.page.getByTestId('call-decline').click()
    for (const p of [alice, bob]) await p.page.getByTestId('call-entry').nth(1).waitFor({ timeout: 15_000 })
    // A declined call while the tab is visible notifies nothing.
    expect(await notes(bob.page)).toEqual([])
    expect(await entries(alice.page)).toEqual(['out:hangup', 'out:declined'])
    expect(await entries(bob.page)).toEqual(['in:remote-hangup', 'in:declined'])
    expect(await alice.page.getByTestId('call-entry').nth(1).textContent()).toContain('Outgoing voice call · declined')
    expect(await bob.page.getByTestId('in-call').count()).toBe(0)
  }, 90_000)

  it('nobody answers while Bob’s tab is hidden: the caller’s entry says no answer, the callee’s says missed, and Bob gets a missed-call notification', async () => {
    // Bob's tab goes to the background (headless pages never do by themselves).
    await bob.page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
      document.dispatchEvent(new Event('visibilitychange'))
    })
    expect(await notes(bob.page)).toEqual([])
    await alice.page.getByTestId('call-audio').click()
    await bob.page.getByTestId('incoming-call').waitFor({ timeout: 30_000 })
    // Bob does nothing; the caller's no-answer timeout ends the call on both sides.
    for (const p of [alice, bob]) await p.page.getByTestId('call-entry').nth(2).waitFor({ timeout: NO_ANSWER_WAIT_MS })
    expect(await entries(alice.page)).toEqual(['out:hangup', 'out:declined', 'out:no-answer'])
    expect(await entries(bob.page)).toEqual(['in:remote-hangup', 'in:declined', 'in:missed'])
    expect(await bob.page.getByTestId('call-entry').nth(2).textContent()).toContain('Missed voice call')
    expect(await bob.page.getByTestId('incoming-call').count()).toBe(0)
    await expect
      .poll(() => notes(bob.page), { timeout: 10_000 })
      .toEqual([{ title: 'Parley', body: 'Missed call from Alice' }])
    // The entries are kept in the profile: a reload (unlock again) shows them.
    await bob.page.reload()
    await bob.unlock()
    await bob.openChat('Alice')
    await expect
      .poll(() => entries(bob.page), { timeout: 15_000 })
      .toEqual(['in:remote-hangup', 'in:declined', 'in:missed'])
  }, 150_000)
})
