/**
 * Calls between real Chromium pages with fake camera and microphone, in the test network namespace: media flows both
 * ways under SFrame, through a real coturn when ICE is forced to relay; every ending lands in the right state on
 * both sides; a lying DTLS fingerprint and a replayed offer fail closed; a three-way mesh connects every pair.
 * Signals go through this process (in order per page), as the messenger's session stream would carry them.
 */

import { assertInNetns, until } from '@parley/test-kit'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CallNet, launchCallBrowser, startCoturn } from './browser-kit.ts'
import { buildHarness, type Harness } from './harness/build.ts'

/** Chromium's fake camera sends 640×480; a track with no frame yet shows as 2×2. */
const MIN_VIDEO_WIDTH = 160

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
  for (const p of [a, b]) {
    await until(async () => (await width(p, id)) >= MIN_VIDEO_WIDTH, 20_000, 'remote video rendered')
  }
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
      // Nothing failed to open and no counter was used twice. Chromium now and then hands the receiver a frame
      // twice (a late retransmission, audio redundancy): the receiver drops the byte-identical copy as a duplicate.
      expect(c.failures.SframeDecrypt ?? 0, JSON.stringify(c.failures)).toBe(0)
      expect(c.failures.SframeUnknownKey ?? 0, JSON.stringify(c.failures)).toBe(0)
      expect(c.failures.SframeReplay ?? 0, JSON.stringify(c.failures)).toBe(0)
      const duplicates = c.failures.SframeDuplicate ?? 0
      expect(c.failed - duplicates, JSON.stringify(c.failures)).toBe(0)
      expect(duplicates, JSON.stringify(c.failures)).toBeLessThan(Math.max(10, c.decrypted / 10))
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

  it('forced through a real coturn (iceTransportPolicy relay): media flows via TURN and every frame is SFrame ciphertext', async () => {
    const turn = await startCoturn()
    try {
      const n = await net()
      const opts = { iceServers: turn.iceServers, iceTransportPolicy: 'relay' as const }
      const A = await n.join(opts)
      const B = await n.join(opts)
      const id = await A.page.evaluate((to) => window.harness.call(to), B.id)
      await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ringing')
      await B.page.evaluate((i) => window.harness.accept(i), id)
      await waitPhase(A.page, id, 'active')
      await waitPhase(B.page, id, 'active')
      await mediaFlows(A.page, B.page, id)
      for (const p of [A.page, B.page]) {
        const q = (await quality(p, id))!
        expect(q.relayed).toBe(true)
        // What the TURN server relays is what our senders emitted: every frame left the SFrame worker encrypted (the
        // worker drops, never passes, a frame it cannot encrypt), and the other side opened them with its keys.
        const c = (await counters(p, id))!
        expect(c.encrypted).toBeGreaterThan(50)
        expect(c.decrypted).toBeGreaterThan(50)
        expect(c.bytesOut).toBeGreaterThan(0)
        expect(q.videoBytesSent + q.audioBytesSent).toBeGreaterThanOrEqual(c.bytesOut * 0.5)
      }
      await B.page.evaluate((i) => window.harness.hangup(i), id)
      await waitPhase(A.page, id, 'ended')
      expect(await state(A.page, id)).toMatchObject({ reason: 'remote-hangup' })
      expect(await state(B.page, id)).toMatchObject({ reason: 'hangup' })
      await n.close()
    } finally {
      await turn.stop()
    }
  }, 90_000)

  it('decline, busy and no-answer end in the right state on both sides', async () => {
    const n = await net()
    const A = await n.join({ noAnswerMs: 3000 })
    const B = await n.join({ noAnswerMs: 3000 })
    const C = await n.join({ noAnswerMs: 3000 })
    // Decline.
    const declined = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(declined), 10_000, 'ring')
    await B.page.evaluate((i) => window.harness.decline(i), declined)
    await waitPhase(A.page, declined, 'ended')
    expect(await state(A.page, declined)).toMatchObject({ reason: 'declined' })
    expect(await state(B.page, declined)).toMatchObject({ phase: 'ended', reason: 'declined' })
    // No answer: A gives up at the (shortened) deadline, B shows a missed call.
    const unanswered = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await waitPhase(A.page, unanswered, 'ended', 10_000)
    await waitPhase(B.page, unanswered, 'ended', 10_000)
    expect(await state(A.page, unanswered)).toMatchObject({ reason: 'no-answer' })
    expect(await state(B.page, unanswered)).toMatchObject({ reason: 'missed' })
    // Busy: A and B talk; C calls B.
    const talk = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(talk), 10_000, 'ring')
    await B.page.evaluate((i) => window.harness.accept(i), talk)
    await waitPhase(B.page, talk, 'active')
    const busy = await C.page.evaluate((to) => window.harness.call(to), B.id)
    await waitPhase(C.page, busy, 'ended')
    expect(await state(C.page, busy)).toMatchObject({ reason: 'busy' })
    expect(await B.page.evaluate(() => window.harness.refused())).toContainEqual({ callId: busy, reason: 'busy' })
    expect(await phase(B.page, talk)).toBe('active')
    await n.close()
  }, 90_000)

  it('a peer whose signalled DTLS fingerprint is not its certificate fails closed; a replayed offer never rings', async () => {
    const n = await net()
    const A = await n.join({ tamperFingerprint: true })
    const B = await n.join()
    const id = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ring')
    await B.page.evaluate((i) => window.harness.accept(i), id)
    await waitPhase(B.page, id, 'ended', 30_000)
    await waitPhase(A.page, id, 'ended', 30_000)
    const reason = (await state(B.page, id))?.reason
    expect(['security', 'failed']).toContain(reason)
    expect(await B.page.evaluate((i) => window.harness.history(i), id)).not.toContain('active')
    // No frame was ever opened or shown (Chromium shows a 2×2 placeholder for a track that never got a frame).
    expect((await counters(B.page, id))?.decrypted ?? 0).toBe(0)
    expect(await width(B.page, id)).toBeLessThan(MIN_VIDEO_WIDTH)
    // The recorded offer of that call, delivered again: refused, nothing rings.
    const offer = n.signals.find((s) => s.from === A.id && s.to === B.id)!
    const ringsBefore = (await B.page.evaluate(() => window.harness.incoming())).length
    await n.replay(offer)
    await until(
      async () => (await B.page.evaluate(() => window.harness.refused())).some((r) => r.reason === 'replay'),
      5000,
      'replay refused'
    )
    expect((await B.page.evaluate(() => window.harness.incoming())).length).toBe(ringsBefore)
    await n.close()
  }, 90_000)

  it('a three-way mesh: A calls B and C, both accept, B and C connect; every pair has media both ways', async () => {
    const n = await net()
    const A = await n.join()
    const B = await n.join()
    const C = await n.join()
    const legs = await A.page.evaluate((to) => window.harness.callGroup(to), [B.id, C.id])
    for (const [p, id] of [
      [B.page, legs[0]!],
      [C.page, legs[1]!]
    ] as const) {
      await until(async () => (await p.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ring')
      await p.evaluate((i) => window.harness.accept(i), id)
    }
    const activeCalls = async (p: Page) =>
      (await p.evaluate(() => window.harness.states())).filter((s) => s.phase === 'active')
    for (const p of [A.page, B.page, C.page]) {
      await until(async () => (await activeCalls(p)).length === 2, 30_000, 'two active calls on every page')
    }
    const bc = (await activeCalls(B.page)).find((s) => s.contact === C.id)!
    for (const [x, y, id] of [
      [A.page, B.page, legs[0]!],
      [A.page, C.page, legs[1]!],
      [B.page, C.page, bc.id]
    ] as const) {
      await mediaFlows(x, y, id)
    }
    await n.close()
  }, 120_000)

  it('a receiver with the wrong SFrame keys connects but opens and shows no frame: the media are SFrame ciphertext', async () => {
    const n = await net()
    const A = await n.join()
    const B = await n.join({ wrongKeys: true })
    const id = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ringing')
    await B.page.evaluate((i) => window.harness.accept(i), id)
    await waitPhase(B.page, id, 'active')
    // A (right keys) shows B's video; B (wrong keys) gets A's packets but no frame opens.
    await until(async () => (await width(A.page, id)) >= MIN_VIDEO_WIDTH, 20_000, "A shows B's video")
    await until(async () => ((await counters(B.page, id))?.failed ?? 0) > 50, 10_000, 'frames refused at B')
    const q = (await quality(B.page, id))!
    expect(q.videoBytesReceived).toBeGreaterThan(0)
    const c = (await counters(B.page, id))!
    expect(c.decrypted).toBe(0)
    expect(c.failures.SframeDecrypt).toBe(c.failed)
    expect(await width(B.page, id)).toBeLessThan(MIN_VIDEO_WIDTH)
    await n.close()
  }, 60_000)

  it('voice ↔ video (no renegotiation) and an ICE restart keep the call up', async () => {
    const n = await net()
    const A = await n.join()
    const B = await n.join()
    const id = await A.page.evaluate((to) => window.harness.call(to, false), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 10_000, 'ringing')
    expect(await state(B.page, id)).toMatchObject({ video: false })
    await B.page.evaluate((i) => window.harness.accept(i), id)
    await waitPhase(A.page, id, 'active')
    const grows = async (p: Page, field: 'audioBytesReceived' | 'videoBytesReceived') => {
      const x = (await quality(p, id))![field]
      await new Promise((r) => setTimeout(r, 1500))
      return (await quality(p, id))![field] > x + 2000
    }
    // A voice call: audio flows, A sends no video.
    await until(() => grows(B.page, 'audioBytesReceived'), 10_000, 'audio at B')
    expect(await grows(B.page, 'videoBytesReceived')).toBe(false)
    // A switches to video: B starts receiving and showing it, with no renegotiation.
    await A.page.evaluate(() => window.harness.setVideo(true))
    await until(async () => (await width(B.page, id)) >= MIN_VIDEO_WIDTH, 20_000, "B shows A's video")
    expect(await grows(B.page, 'videoBytesReceived')).toBe(true)
    // An ICE restart (as on a network change): reconnecting, then active again, media still flowing.
    await A.page.evaluate((i) => window.harness.restart(i), id)
    await until(
      async () => (await A.page.evaluate((i) => window.harness.history(i), id)).includes('reconnecting'),
      5000,
      'restart'
    )
    await waitPhase(A.page, id, 'active')
    await waitPhase(B.page, id, 'active')
    expect(await grows(B.page, 'videoBytesReceived')).toBe(true)
    // Back to voice: video stops.
    await A.page.evaluate(() => window.harness.setVideo(false))
    await new Promise((r) => setTimeout(r, 1000))
    expect(await grows(B.page, 'videoBytesReceived')).toBe(false)
    await n.close()
  }, 90_000)
})
