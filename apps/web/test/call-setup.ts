/**
 * The setup the web call tests (call.netns, group-call.netns) share: a phone-sized profile allowed the (fake) camera
 * and microphone with a recorder of the test's own installed in every page, the world those tests run in (the web relay
 * inside the test network namespace, Chromium with host candidates and fake media, Alice online with an invite link),
 * and the call entries of the open conversation.
 */
import { assertInNetns, NETNS_RELAY_HOST } from '@parley/test-kit'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium, ParleyPage, PHONE, startWebRelay, type WebRelay } from './pages.ts'

/** What every call profile may use: the (fake) camera and microphone, and the clipboard (invite links). */
const CALL_PERMISSIONS = ['camera', 'microphone', 'clipboard-read', 'clipboard-write']

/**
 * A phone-sized profile with CALL_PERMISSIONS and `extra` ones; `record` runs in every page before the app (Playwright
 * sends its source, so it may use no variable from outside itself).
 */
export async function callProfile(
  b: Browser,
  record: () => void,
  extra: readonly string[] = []
): Promise<BrowserContext> {
  const context = await b.newContext({ viewport: PHONE, permissions: [...CALL_PERMISSIONS, ...extra] })
  await context.addInitScript(record)
  return context
}

export interface CallWorld {
  web: WebRelay
  browser: Browser
  /** Alice, online, on a page of the test's profile. */
  alice: ParleyPage
  /** Alice's invite link. */
  link: string
  /** A new user: a page of a new profile of the test's kind (no identity yet). */
  user(): Promise<ParleyPage>
  /** Closes the browser, then stops the relay. */
  stop(): Promise<void>
}

/**
 * Asserts the test runs inside the network namespace, starts the web relay there and Chromium with host candidates and
 * fake media, and brings Alice online on a page of `profile`. What it started is stopped again if a step fails.
 */
export async function startCallWorld(profile: (b: Browser) => Promise<BrowserContext>): Promise<CallWorld> {
  assertInNetns()
  const web = await startWebRelay({ listen: [`/ip4/${NETNS_RELAY_HOST}/tcp/0/ws`], host: '127.0.0.1' })
  let browser: Browser | undefined
  const stop = async () => {
    await browser?.close()
    await web.stop()
  }
  try {
    browser = await launchChromium({ hostCandidates: true, fakeMedia: true })
    const b = browser
    const alice = await ParleyPage.open(await profile(b), web.url)
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    return { web, browser: b, alice, link, user: async () => new ParleyPage(await (await profile(b)).newPage()), stop }
  } catch (e) {
    await stop()
    throw e
  }
}

/** The call entries in the open conversation as `direction:reason`, oldest first. */
export const callEntries = (p: Page) =>
  p
    .getByTestId('call-entry')
    .evaluateAll((els) => els.map((e) => `${e.getAttribute('data-direction')}:${e.getAttribute('data-reason')}`))
