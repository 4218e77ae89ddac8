/**
 * The runner itself: scripts/netns.ts gives the WebRTC tests a namespace in which Chromium finds a non-loopback
 * interface. If this fails, every other netns test would fail for the same reason.
 */

import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertInNetns, launchChromium, NETNS_PEER_HOST, NETNS_RELAY_HOST } from './netns-kit.ts'

describe('the test network namespace', () => {
  let browser: Browser
  beforeAll(async () => {
    assertInNetns()
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('two Chromium pages open a WebRTC data channel over host candidates on the veth test addresses', async () => {
    const [a, b] = [await browser.newPage(), await browser.newPage()]
    // Signalling goes through this test (as libp2p's would through a relay); ICE then runs between the two pages.
    await a.evaluate(() => {
      const w = window as unknown as { pc: RTCPeerConnection; candidates: string[]; open: Promise<void> }
      w.pc = new RTCPeerConnection({ iceServers: [] })
      w.candidates = []
      w.pc.onicecandidate = (e) => {
        if (e.candidate) w.candidates.push(JSON.stringify(e.candidate))
      }
      const dc = w.pc.createDataChannel('probe')
      ;(w as unknown as { channel: RTCDataChannel }).channel = dc
      w.open = new Promise((resolve) => {
        dc.onopen = () => resolve()
      })
    })
    await b.evaluate(() => {
      const w = window as unknown as { pc: RTCPeerConnection; candidates: string[]; got: Promise<string> }
      w.pc = new RTCPeerConnection({ iceServers: [] })
      w.candidates = []
      w.pc.onicecandidate = (e) => {
        if (e.candidate) w.candidates.push(JSON.stringify(e.candidate))
      }
      w.got = new Promise((resolve) => {
        w.pc.ondatachannel = (e) => {
          e.channel.onmessage = (m) => resolve(String(m.data))
        }
      })
    })
    type W = { pc: RTCPeerConnection; candidates: string[]; open: Promise<void>; got: Promise<string> }
    const offer = await a.evaluate(async () => {
      const { pc } = window as unknown as W
      await pc.setLocalDescription(await pc.createOffer())
      return pc.localDescription!.toJSON()
    })
    const answer = await b.evaluate(async (offer) => {
      const { pc } = window as unknown as W
      await pc.setRemoteDescription(offer)
      await pc.setLocalDescription(await pc.createAnswer())
      return pc.localDescription!.toJSON()
    }, offer)
    await a.evaluate((answer) => (window as unknown as W).pc.setRemoteDescription(answer), answer)
    const gathered = async (page: typeof a): Promise<string[]> => {
      await page.waitForFunction(() => (window as unknown as W).pc.iceGatheringState === 'complete')
      return page.evaluate(() => (window as unknown as W).candidates)
    }
    const [ca, cb] = [await gathered(a), await gathered(b)]
    for (const c of cb) await a.evaluate((c) => (window as unknown as W).pc.addIceCandidate(JSON.parse(c)), c)
    for (const c of ca) await b.evaluate((c) => (window as unknown as W).pc.addIceCandidate(JSON.parse(c)), c)
    // The channel opens and carries one message from a to b.
    await a.evaluate(() => (window as unknown as W).open)
    await a.evaluate(() => {
      const w = window as unknown as W
      const dc = (w as unknown as { channel: RTCDataChannel }).channel
      dc.send('over the veth pair')
    })
    expect(await b.evaluate(() => (window as unknown as W).got)).toBe('over the veth pair')
    // Host candidates carry the veth addresses (not loopback, not mDNS names).
    const addresses = [...ca, ...cb].map((c) => (JSON.parse(c) as { candidate: string }).candidate.split(' ')[4])
    expect(addresses.some((x) => x === NETNS_RELAY_HOST || x === NETNS_PEER_HOST)).toBe(true)
    expect(addresses).not.toContain('127.0.0.1')
  })
})
