/**
 * A group call through the web app's UI, inside the test network namespace (scripts/netns.ts: Chromium never uses
 * loopback for ICE), with Chromium's fake camera and microphone. Alice, Bob and Carol are contacts of each other and
 * share a group; Alice starts a video call from the group conversation. Bob and Carol each see ONE incoming dialog
 * naming the group and Alice, and join; the mesh forms (the engine dials the pair Bob–Carol itself): on every page two
 * remote tiles render video and every pair's inbound video bytes grow, in both directions. Carol leaves: Alice and Bob
 * keep their media flowing and Carol's tile goes from both screens. axe-core finds no serious or critical violation on
 * the incoming dialog and the group-call screen. Every wait is a condition with a generous budget (never a sleep).
 */
import { until } from '@parley/test-kit'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CallWorld, callEntries, callProfile, startCallWorld } from './call-setup.ts'
import { axeViolations, BEFRIEND_WAIT_MS, befriend, type ParleyPage } from './pages.ts'

/** Budgets of the waits: the machine is shared and loaded, so each is generous (none is a timing assertion). */
const GROUP_WAIT_MS = 120_000
const RING_WAIT_MS = 60_000
const MEDIA_WAIT_MS = 90_000
const GROUP = 'Call crew'

let world: CallWorld
let alice: ParleyPage
let bob: ParleyPage
let carol: ParleyPage

/** A profile allowed the (fake) camera and microphone, recording every RTCPeerConnection the page makes. */
const profile = (b: Browser): Promise<BrowserContext> =>
  callProfile(b, () => {
    const Real = globalThis.RTCPeerConnection
    const pcs: RTCPeerConnection[] = []
    ;(globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs = pcs
    globalThis.RTCPeerConnection = class extends Real {
      constructor(config?: RTCConfiguration) {
        super(config)
        pcs.push(this)
      }
    } as typeof RTCPeerConnection
  })

/**
 * Inbound audio or video bytes of each open call connection of the page (libp2p's own data-channel connections carry no
 * video and are not counted), in creation order.
 */
const bytesIn = (p: Page, kind: 'audio' | 'video'): Promise<number[]> =>
  p.evaluate(async (kind) => {
    const pcs = (globalThis as unknown as { __pcs: RTCPeerConnection[] }).__pcs
    const out: number[] = []
    for (const pc of pcs) {
      if (pc.connectionState === 'closed' || pc.getReceivers().every((r) => r.track.kind !== 'video')) continue
      let bytes = 0
      for (const s of (await pc.getStats()).values())
        if (s.type === 'inbound-rtp' && s.kind === kind) bytes += s.bytesReceived ?? 0
      out.push(bytes)
    }
    return out
  }, kind)

/** Waits until the page has `n` open call connections and every one's inbound bytes grew past a first look. */
async function mediaFlows(p: ParleyPage, n: number, who: string, kind: 'audio' | 'video' = 'video'): Promise<void> {
  let first: number[] = []
  await until(
    async () => {
      first = await bytesIn(p.page, kind)
      return first.length === n && first.every((b) => b > 0)
    },
    MEDIA_WAIT_MS,
    `${who}: ${n} call connections receiving ${kind}`
  )
  await until(
    async () => {
      const now = await bytesIn(p.page, kind)
      return now.length === n && now.every((b, i) => b > (first[i] ?? 0))
    },
    MEDIA_WAIT_MS,
    `${who}: inbound ${kind} bytes growing on each of ${n} connections`
  )
}

/** Names on the remote tiles of the group-call screen, sorted. */
const tileNames = async (p: ParleyPage) => (await p.page.getByTestId('tile-name').allTextContents()).sort()

/** videoWidth of every remote tile's video. */
const tileWidths = (p: ParleyPage) =>
  p.page.getByTestId('tile-video').evaluateAll((els) => els.map((v) => (v as HTMLVideoElement).videoWidth))

/** Waits until `p` renders exactly `names` as connected remote tiles, each with decoded video. */
async function tilesShowVideo(p: ParleyPage, names: string[], who: string): Promise<void> {
  await until(
    async () => {
      const active = await p.page.locator('[data-testid="call-tile"][data-phase="active"]').count()
      const widths = await tileWidths(p)
      return (
        active === names.length &&
        JSON.stringify(await tileNames(p)) === JSON.stringify([...names].sort()) &&
        widths.length === names.length &&
        widths.every((w) => w > 0)
      )
    },
    MEDIA_WAIT_MS,
    `${who}: tiles ${names.join(', ')} connected with video`
  )
}

/** Opens a group from the chat list by its name (it may take a while to arrive). */
async function openGroup(p: ParleyPage, name: string): Promise<void> {
  await until(
    async () => {
      await p.goto('chats')
      return (await p.page.getByTestId('group-row').filter({ hasText: name }).count()) > 0
    },
    GROUP_WAIT_MS,
    `group ${name} in the chat list`
  )
  await p.page.getByTestId('group-row').filter({ hasText: name }).first().click()
  await p.page.getByTestId('group-messages').waitFor()
}

/** The reasons of the call entries in the open conversation. */
const entries = (p: ParleyPage) => callEntries(p.page)

beforeAll(async () => {
  world = await startCallWorld(profile)
  alice = world.alice
  bob = await world.user()
  carol = await world.user()
  const link = world.link
  await befriend(alice, bob, { link, name: 'Bob', hello: 'hi Alice, Bob here', reply: 'hi Bob' })
  await befriend(alice, carol, { link, name: 'Carol', hello: 'hi Alice, Carol here', reply: 'hi Carol' })

  // Alice creates the group with both from the chat list.
  await alice.goto('chats')
  await alice.page.getByTestId('new-group-link').click()
  await alice.page.getByLabel('Group name').fill(GROUP)
  for (const name of ['Bob', 'Carol']) await alice.page.getByRole('checkbox', { name }).check()
  await alice.page.getByTestId('create-group').click()
  await alice.page.getByTestId('group-composer').waitFor({ timeout: GROUP_WAIT_MS })
  await openGroup(bob, GROUP)
  await until(
    async () => (await alice.page.getByTestId('members-link').textContent()) === 'Members (3)',
    GROUP_WAIT_MS,
    'three members in Alice’s group'
  )
}, 600_000)

afterAll(async () => {
  await world?.stop()
})

describe('group calls in the web app (network namespace, fake camera and microphone)', () => {
  it('Bob cannot call the group while Carol is not his contact (disabled, with the reason); once she is, he can', async () => {
    await openGroup(bob, GROUP)
    await until(
      async () => (await bob.page.getByTestId('members-link').textContent()) === 'Members (3)',
      GROUP_WAIT_MS,
      'three members in Bob’s group'
    )
    expect(await bob.page.getByTestId('group-call-video').isDisabled()).toBe(true)
    expect(await bob.page.getByTestId('group-call-audio').isDisabled()).toBe(true)
    expect(await bob.page.getByTestId('group-call-block').textContent()).toContain(
      'Every member must be your contact to call the group (1 is not).'
    )
    expect(await bob.page.getByTestId('group-call-video').getAttribute('aria-describedby')).toBe('group-call-block')
    // Alice (who has both as contacts) may call.
    expect(await alice.page.getByTestId('group-call-video').isDisabled()).toBe(false)

    // Bob and Carol become contacts: every pair of a mesh call signals inside its own E2EE session.
    const bobLink = await bob.inviteLink()
    await carol.openInvite(bobLink, 'Bob')
    await carol.send('hi Bob, Carol here')
    await bob.acceptRequest(BEFRIEND_WAIT_MS, 'Carol')
    await bob.waitMessage('hi Bob, Carol here')
    await bob.send('hi Carol')
    await carol.waitMessage('hi Carol', 'in', BEFRIEND_WAIT_MS)
    await openGroup(bob, GROUP)
    await openGroup(carol, GROUP)
    expect(await bob.page.getByTestId('group-call-block').count()).toBe(0)
    expect(await bob.page.getByTestId('group-call-video').isDisabled()).toBe(false)
  }, 300_000)

  it('Alice video-calls the group: Bob and Carol each get one dialog and join, every pair’s video flows; Carol leaves and Alice and Bob carry on without her tile', async () => {
    expect(await alice.page.getByTestId('group-call-block').count()).toBe(0)
    await alice.page.getByTestId('group-call-video').click()
    await alice.page.getByTestId('group-in-call').waitFor({ timeout: 10_000 })

    for (const p of [bob, carol]) {
      const dialog = p.page.getByTestId('incoming-group-call')
      await dialog.waitFor({ timeout: RING_WAIT_MS })
      expect(await dialog.getAttribute('role')).toBe('alertdialog')
      expect(await p.page.getByTestId('incoming-name').textContent()).toBe('Alice')
      expect(await p.page.getByTestId('incoming-group').textContent()).toBe(GROUP)
      expect(await p.page.locator('#incoming-desc').textContent()).toBe(`Alice is calling the group ${GROUP}.`)
      expect(await p.page.locator('#incoming-title').textContent()).toBe('Incoming group video call')
      // One dialog for the whole group call, never one per leg (nor the 1:1 dialog).
      expect(await p.page.getByTestId('incoming-group-call').count()).toBe(1)
      expect(await p.page.getByTestId('incoming-call').count()).toBe(0)
    }
    expect(await axeViolations(bob.page)).toEqual([])
    await bob.screenshot('group-call-incoming')

    await bob.page.getByTestId('call-accept').click()
    await bob.page.getByTestId('group-in-call').waitFor({ timeout: 10_000 })
    // Carol still has one dialog, even if Bob's leg to her rings by now.
    expect(await carol.page.getByTestId('incoming-group-call').count()).toBe(1)
    await carol.page.getByTestId('call-accept').click()
    await carol.page.getByTestId('group-in-call').waitFor({ timeout: 10_000 })

    await tilesShowVideo(alice, ['Bob', 'Carol'], 'Alice')
    await tilesShowVideo(bob, ['Alice', 'Carol'], 'Bob')
    await tilesShowVideo(carol, ['Alice', 'Bob'], 'Carol')
    await mediaFlows(alice, 2, 'Alice')
    await mediaFlows(bob, 2, 'Bob')
    await mediaFlows(carol, 2, 'Carol')
    expect(await alice.page.getByTestId('call-phase').textContent()).toBe('3 in the call')
    expect(await axeViolations(alice.page)).toEqual([])
    await alice.screenshot('group-call-in-call')
    // Mute is shared by every leg (the one microphone track), and shown on our own tile.
    await alice.page.getByTestId('call-mute').click()
    expect(await alice.page.getByTestId('call-mute').getAttribute('aria-pressed')).toBe('true')
    expect(await alice.page.getByTestId('call-tile-self').textContent()).toContain('Muted')
    await alice.page.getByTestId('call-mute').click()
    expect(await alice.page.getByTestId('call-mute').getAttribute('aria-pressed')).toBe('false')

    // Carol leaves: her screen closes; Alice and Bob stay connected with each other and her tile goes.
    await carol.page.getByTestId('call-hangup').click()
    await carol.page.getByTestId('group-in-call').waitFor({ state: 'detached', timeout: 30_000 })
    await tilesShowVideo(alice, ['Bob'], 'Alice after Carol left')
    await tilesShowVideo(bob, ['Alice'], 'Bob after Carol left')
    await mediaFlows(alice, 1, 'Alice after Carol left')
    await mediaFlows(bob, 1, 'Bob after Carol left')
    expect(await alice.page.getByTestId('group-in-call').count()).toBe(1)

    // Alice leaves too, and the call ends for Bob: one entry per call in each group conversation.
    await alice.page.getByTestId('call-hangup').click()
    for (const p of [alice, bob])
      await p.page.getByTestId('group-in-call').waitFor({ state: 'detached', timeout: 30_000 })
    await until(async () => (await entries(alice)).join() === 'out:hangup', 30_000, 'Alice’s group call entry')
    await until(async () => (await entries(bob)).join() === 'in:remote-hangup', 30_000, 'Bob’s group call entry')
    await until(async () => (await entries(carol)).join() === 'in:hangup', 30_000, 'Carol’s group call entry')
    expect(await alice.page.getByTestId('call-entry').textContent()).toMatch(/^Outgoing group video call · \d+:\d\d/)
  }, 400_000)

  it('Alice voice-calls the group and Carol declines: Alice and Bob talk with avatar tiles, Carol is never rung again', async () => {
    await alice.page.getByTestId('group-call-audio').click()
    await alice.page.getByTestId('group-in-call').waitFor({ timeout: 10_000 })
    for (const p of [bob, carol]) {
      await p.page.getByTestId('incoming-group-call').waitFor({ timeout: RING_WAIT_MS })
      expect(await p.page.locator('#incoming-title').textContent()).toBe('Incoming group voice call')
    }
    await carol.page.getByTestId('call-decline').click()
    await carol.page.getByTestId('incoming-group-call').waitFor({ state: 'detached', timeout: 10_000 })
    await bob.page.getByTestId('call-accept').click()

    for (const [p, other] of [
      [alice, 'Bob'],
      [bob, 'Alice']
    ] as const) {
      await until(
        async () =>
          (await p.page.locator('[data-testid="call-tile"][data-phase="active"]').count()) === 1 &&
          (await p.page.getByTestId('call-tile').count()) === 1 &&
          (await tileNames(p)).join() === other,
        MEDIA_WAIT_MS,
        `${other}'s tile alone, connected`
      )
      // Audio only: an avatar and the sound, no video element.
      expect(await p.page.getByTestId('tile-video').count()).toBe(0)
      expect(await p.page.locator('[data-testid="call-tile"] .call-avatar').count()).toBe(1)
      expect(await p.page.getByTestId('tile-audio').count()).toBe(1)
      await mediaFlows(p, 1, `${other}'s peer`, 'audio')
    }
    // Carol saw one dialog, declined it, and nothing rings or runs there now (a leg Bob may have dialled her after
    // joining is declined without ringing).
    expect(await carol.page.getByTestId('incoming-group-call').count()).toBe(0)
    expect(await carol.page.getByTestId('incoming-call').count()).toBe(0)
    expect(await carol.page.getByTestId('group-in-call').count()).toBe(0)
    expect(await axeViolations(bob.page)).toEqual([])
    await bob.screenshot('group-call-voice')

    await bob.page.getByTestId('call-hangup').click()
    for (const p of [alice, bob])
      await p.page.getByTestId('group-in-call').waitFor({ state: 'detached', timeout: 30_000 })
    await until(async () => (await entries(carol)).join() === 'in:hangup,in:declined', 30_000, 'Carol’s declined entry')
    await until(async () => (await entries(alice)).join() === 'out:hangup,out:remote-hangup', 30_000, 'Alice’s entry')
    expect(await carol.page.getByTestId('call-entry').nth(1).textContent()).toContain(
      'Incoming group voice call · declined'
    )
    expect(await carol.page.getByTestId('incoming-group-call').count()).toBe(0)
  }, 300_000)
})
