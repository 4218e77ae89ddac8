/**
 * A call end to end through real messengers: every signal (offer, answer, candidates, hang-up) is an E2EE message on
 * the Parley session between two Node messengers, and the media run between two Chromium pages under SFrame keyed
 * from the secrets those messages carried. A stranger (not a contact) cannot make a page ring.
 */

import type { Messenger } from '@parley/messenger'
import { assertInNetns, until } from '@parley/test-kit'
import { encodeCallSignal } from '@parley/wire'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CallNet, launchCallBrowser } from './browser-kit.ts'
import { buildHarness, type Harness } from './harness/build.ts'
import { hex, messengers } from './messenger.ts'

let browser: Browser
let harness: Harness
let all: Messenger[] = []

beforeAll(async () => {
  assertInNetns()
  harness = await buildHarness()
  browser = await launchCallBrowser()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await harness?.stop()
  await Promise.all(all.map((m) => m.stop().catch(() => {})))
})

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')

describe('calls through messengers', () => {
  it('A calls B over the E2EE session; B accepts; media flow both ways; a stranger cannot ring B', async () => {
    const m = await messengers(2, 1)
    all = m.all
    const [ma, mb] = m.contacts as [Messenger, Messenger]
    const stranger = m.others[0]!
    await stranger.addContact(hex(mb.identityKey))
    const byId = new Map(m.contacts.map((x) => [hex(x.identityKey), x]))
    const n = new CallNet(browser, harness.url)
    // Pages hand their signals to their own messenger; the receiving messenger's `call-signal` event feeds its page.
    n.route = (s) => byId.get(s.from)!.signals.send(s.to, Buffer.from(s.b64, 'base64'))
    for (const [id, messenger] of byId) {
      messenger.events.addEventListener('call-signal', (e) => {
        const d = (e as CustomEvent<{ contact: string; signal: Uint8Array }>).detail
        void n.deliver({ from: d.contact, to: id, b64: b64(d.signal) })
      })
    }
    const A = await n.join({}, hex(ma.identityKey))
    const B = await n.join({}, hex(mb.identityKey))
    const state = (p: Page, id: string) => p.evaluate((i) => window.harness.state(i), id)

    const id = await A.page.evaluate((to) => window.harness.call(to), B.id)
    await until(async () => (await B.page.evaluate(() => window.harness.incoming())).includes(id), 20_000, 'ringing')
    await B.page.evaluate((i) => window.harness.accept(i), id)
    await until(async () => (await state(A.page, id))?.phase === 'active', 30_000, 'A active')
    await until(async () => (await state(B.page, id))?.phase === 'active', 30_000, 'B active')
    for (const p of [A.page, B.page]) {
      await until(async () => (await p.evaluate((i) => window.harness.videoWidth(i), id)) >= 160, 20_000, 'video')
      await until(
        async () => ((await p.evaluate((i) => window.harness.counters(i), id))?.decrypted ?? 0) > 30,
        10_000,
        'frames'
      )
    }
    // Nothing of the call is in either conversation's history.
    expect(await ma.history(B.id)).toEqual([])
    expect(await mb.history(A.id)).toEqual([])
    await B.page.evaluate((i) => window.harness.hangup(i), id)
    await until(async () => (await state(A.page, id))?.phase === 'ended', 20_000, 'A ended')
    expect(await state(A.page, id)).toMatchObject({ reason: 'remote-hangup' })

    // A stranger's well-formed offer reaches B's device but is dropped there (B has not added it): no ring.
    const ringsBefore = (await B.page.evaluate(() => window.harness.incoming())).length
    const offer = encodeCallSignal({
      callId: crypto.getRandomValues(new Uint8Array(16)),
      seq: 1,
      type: 'offer',
      sentAt: Date.now(),
      sdp: 'v=0\r\na=fingerprint:sha-256 AA:BB\r\n',
      fingerprints: ['sha-256 AA:BB'],
      mediaSecret: new Uint8Array(32)
    })
    expect(await stranger.signals.send(B.id, offer)).toBe(true)
    await new Promise((r) => setTimeout(r, 1000))
    expect((await B.page.evaluate(() => window.harness.incoming())).length).toBe(ringsBefore)
    await n.close()
  }, 120_000)
})
