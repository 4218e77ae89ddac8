/**
 * Group conversations in the web app, with three browser profiles (three Chromium contexts, each its own IndexedDB)
 * and a real local relay serving the app. Alice befriends Bob and Carol, creates a group with both through the UI,
 * all three exchange messages (MLS over gossipsub; in this namespace over the relay's circuits, Alice's device
 * forwarding between Bob and Carol) and each shows every message once; the member list shows admins and who added
 * whom; a member who is not an admin sees the controls disabled with the reason; Alice removes Carol, whose view says
 * she was removed and shows nothing sent afterwards. axe-core finds no serious or critical violation on the group
 * screens; screenshots go to apps/web/test-results/.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  axeViolations,
  befriend,
  launchChromium,
  newProfile,
  ParleyPage,
  startWebRelay,
  type WebRelay
} from './pages.ts'

let web: WebRelay
let browser: Browser
let alice: ParleyPage
let bob: ParleyPage
let carol: ParleyPage
/** Alice invites the picked contacts one after another: whoever came second saw the first one's add. */
let bobFirst = true

/** Opens a group from the chat list by its name. */
async function openGroup(p: ParleyPage, name: string, timeout = 60_000): Promise<void> {
  const end = Date.now() + timeout
  for (;;) {
    await p.goto('chats')
    const row = p.page.getByTestId('group-row').filter({ hasText: name })
    if ((await row.count()) > 0) {
      await row.first().click()
      await p.page.getByTestId('group-messages').waitFor()
      return
    }
    if (Date.now() > end) throw new Error(`group ${name} not in the chat list`)
    await p.page.waitForTimeout(500)
  }
}

async function sendGroup(p: ParleyPage, text: string): Promise<void> {
  await p.page.getByTestId('group-composer').fill(text)
  await p.page.getByTestId('group-composer').press('Enter')
  await groupMessage(p, text, 'out').first().waitFor({ timeout: 30_000 })
}

function groupMessage(p: ParleyPage, text: string, direction?: 'in' | 'out') {
  const sel = direction
    ? `[data-testid="group-message"][data-direction="${direction}"]`
    : '[data-testid="group-message"]'
  return p.page.locator(sel).filter({ has: p.page.locator('p.text', { hasText: new RegExp(`^${text}$`) }) })
}

/** Every text shown in the open group conversation, in order. */
const texts = (p: ParleyPage) => p.page.locator('[data-testid="group-message"] p.text').allTextContents()

beforeAll(async () => {
  web = await startWebRelay()
  browser = await launchChromium()
  alice = await ParleyPage.open(await newProfile(browser), web.url)
  bob = new ParleyPage(await (await newProfile(browser)).newPage())
  carol = new ParleyPage(await (await newProfile(browser)).newPage())
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await web?.stop()
})

describe('group conversations in the web app: three profiles and a local relay', () => {
  it('Alice creates a group with Bob and Carol and all three show every message once', async () => {
    await alice.createIdentity('Alice')
    await alice.waitConnected()
    const link = await alice.inviteLink()
    // Bob and Carol open Alice's invite and write; Alice accepts both: contacts both ways.
    await befriend(alice, bob, { link, name: 'Bob', hello: 'hello Alice from Bob', reply: 'hi Bob' })
    await befriend(alice, carol, { link, name: 'Carol', hello: 'hello Alice from Carol', reply: 'hi Carol' })

    // Alice creates the group from the chat list, picking both contacts (keyboard only: Tab, Space, Enter).
    await alice.goto('chats')
    await alice.page.getByTestId('new-group-link').click()
    await alice.page.getByLabel('Group name').fill('<b>Weekend</b> plans')
    for (const name of ['Bob', 'Carol']) {
      await alice.page.getByRole('checkbox', { name }).focus()
      await alice.page.keyboard.press('Space')
    }
    expect(JSON.stringify(await axeViolations(alice.page))).toBe('[]')
    await alice.screenshot('group-new')
    await alice.page.getByTestId('create-group').focus()
    await alice.page.keyboard.press('Enter')
    await alice.page.getByTestId('group-composer').waitFor({ timeout: 120_000 })
    // The name is untrusted text: shown literally, never parsed.
    expect(await alice.page.getByTestId('group-title').textContent()).toBe('<b>Weekend</b> plans')
    expect(await alice.page.locator('#group-title b').count()).toBe(0)

    await openGroup(bob, 'Weekend')
    await openGroup(carol, 'Weekend')
    await sendGroup(alice, 'hello group')
    await sendGroup(bob, 'bob here')
    await sendGroup(carol, 'carol here')
    await sendGroup(alice, 'all set')
    const all = ['hello group', 'bob here', 'carol here', 'all set']
    for (const p of [alice, bob, carol]) {
      for (const t of all) await groupMessage(p, t).first().waitFor({ timeout: 60_000 })
      // Each message exactly once; per-sender order holds (Alice's two in the order she sent them).
      const shown = await texts(p)
      expect([...shown].sort()).toEqual([...all].sort())
      expect(shown.indexOf('hello group')).toBeLessThan(shown.indexOf('all set'))
    }
    // Incoming messages carry the sender's name; every message has its time; the timeline starts with a day.
    const fromBob = groupMessage(alice, 'bob here', 'in')
    expect(await fromBob.getByTestId('group-sender').textContent()).toBe('Bob')
    const msgs = carol.page.getByTestId('group-message')
    expect(await msgs.locator('time').count()).toBe(await msgs.count())
    expect(await carol.page.locator('[data-testid="group-messages"] > li').first().getAttribute('data-testid')).toBe(
      'day-separator'
    )
    // Membership and key-change notices are in the timeline (Alice saw both adds as commits of her own).
    expect(await bob.page.getByTestId('group-notice').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Alice added you/)])
    )
    const order = await alice.page.getByTestId('group-notice').allTextContents()
    bobFirst =
      order.findIndex((t) => t.startsWith('You added Bob')) < order.findIndex((t) => t.startsWith('You added Carol'))
    expect(await alice.page.getByTestId('group-notice').allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^You created the group “<b>Weekend<\/b> plans”/),
        expect.stringMatching(/^You added Bob/),
        expect.stringMatching(/^You added Carol/),
        expect.stringMatching(/^Keys changed \(epoch \d+\)/)
      ])
    )
    expect(JSON.stringify(await axeViolations(bob.page))).toBe('[]')
    await bob.screenshot('group-conversation')

    // Unread counts in Carol's chat list once she is elsewhere and Bob writes.
    await carol.goto('chats')
    await sendGroup(bob, 'while you were away')
    await expect
      .poll(
        () =>
          carol.page
            .getByTestId('group-row')
            .filter({ hasText: 'Weekend' })
            .getByTestId('group-unread')
            .allTextContents(),
        {
          timeout: 60_000
        }
      )
      .toEqual([expect.stringMatching(/^1/)])
    await carol.screenshot('group-chat-list')
    await openGroup(carol, 'Weekend')
  }, 600_000)

  it('the member list shows admins and who added whom; a non-admin sees the controls disabled with the reason', async () => {
    await alice.page.getByTestId('members-link').click()
    const members = alice.page.getByTestId('member')
    await expect.poll(() => members.count()).toBe(3)
    const row = (name: string) =>
      members.filter({ has: alice.page.getByTestId('member-name').getByText(name, { exact: true }) })
    expect(await row('You').getByTestId('member-added-by').textContent()).toBe('created the group')
    expect(await row('You').getAttribute('data-admin')).toBe('true')
    expect(await row('Bob').getByTestId('member-added-by').textContent()).toBe('added by You')
    expect(await row('Carol').getByTestId('member-added-by').textContent()).toBe('added by You')
    expect(await row('Bob').getAttribute('data-admin')).toBe('false')
    expect(JSON.stringify(await axeViolations(alice.page))).toBe('[]')
    await alice.screenshot('group-members-admin')

    await bob.page.getByTestId('members-link').click()
    const bobMembers = bob.page.getByTestId('member')
    await expect.poll(() => bobMembers.count()).toBe(3)
    const bobRow = (name: string) =>
      bobMembers.filter({ has: bob.page.getByTestId('member-name').getByText(name, { exact: true }) })
    expect(await bobRow('You').getByTestId('member-added-by').textContent()).toBe('added by Alice')
    expect(await bobRow('Alice').getAttribute('data-admin')).toBe('true')
    expect(await bob.page.getByTestId('not-admin-reason').textContent()).toBe(
      'Only admins can invite, remove or rename.'
    )
    for (const id of ['invite-member', 'rename-group']) {
      const control = bob.page.getByTestId(id)
      expect(await control.isDisabled()).toBe(true)
      expect(await control.getAttribute('aria-describedby')).toBe('not-admin-reason')
    }
    for (const b of await bob.page.getByTestId('remove-member').all()) expect(await b.isDisabled()).toBe(true)
    expect(await bob.page.getByTestId('leave-group').isDisabled()).toBe(false)
    expect(JSON.stringify(await axeViolations(bob.page))).toBe('[]')
    await bob.screenshot('group-members-member')
    await bob.page.getByRole('link', { name: 'Back to the conversation' }).click()

    // Carol: Alice added her; Bob is "added by Alice" if Carol was in first, else there before her (who added him she cannot know).
    await carol.page.getByTestId('members-link').click()
    const carolMembers = carol.page.getByTestId('member')
    await expect.poll(() => carolMembers.count()).toBe(3)
    const carolRow = (name: string) =>
      carolMembers.filter({ has: carol.page.getByTestId('member-name').getByText(name, { exact: true }) })
    expect(await carolRow('You').getByTestId('member-added-by').textContent()).toBe('added by Alice')
    const bobThere = carolMembers.filter({ hasNot: carol.page.getByTestId('member-name').getByText(/^(You|Alice)$/) })
    expect(await bobThere.getByTestId('member-added-by').textContent()).toBe(
      bobFirst ? 'in the group before you joined' : 'added by Alice'
    )
    await carol.page.getByRole('link', { name: 'Back to the conversation' }).click()
  }, 120_000)

  it('Alice removes Carol: Carol’s view says she was removed and shows nothing sent afterwards', async () => {
    await alice.page
      .getByTestId('member')
      .filter({ has: alice.page.getByTestId('member-name').getByText('Carol', { exact: true }) })
      .getByRole('button', { name: 'Remove Carol' })
      .click()
    await expect.poll(() => alice.page.getByTestId('member').count(), { timeout: 60_000 }).toBe(2)
    await carol.page.getByTestId('group-gone').waitFor({ timeout: 60_000 })
    expect(await carol.page.getByTestId('group-gone').textContent()).toContain('removed from this group by Alice')
    expect(await carol.page.getByTestId('group-composer').isDisabled()).toBe(true)

    await alice.page.getByRole('link', { name: 'Back to the conversation' }).click()
    await sendGroup(alice, 'after carol left')
    await sendGroup(bob, 'bob after removal')
    await groupMessage(bob, 'after carol left', 'in').waitFor({ timeout: 60_000 })
    await groupMessage(alice, 'bob after removal', 'in').waitFor({ timeout: 60_000 })
    // Bob's timeline says Alice removed Carol, and that the keys changed with it.
    expect(await bob.page.getByTestId('group-notice').allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Alice removed /),
        expect.stringMatching(/^Keys changed \(epoch \d+\)/)
      ])
    )
    // Carol, after a while (and a reload of her view), has nothing sent after her removal.
    await carol.page.waitForTimeout(3_000)
    await openGroup(carol, 'Weekend')
    await carol.page.getByTestId('group-gone').waitFor()
    const shown = await texts(carol)
    expect(shown).not.toContain('after carol left')
    expect(shown).not.toContain('bob after removal')
    expect(shown).toContain('all set')
    expect(JSON.stringify(await axeViolations(carol.page))).toBe('[]')
    await carol.screenshot('group-removed')
  }, 180_000)

  it('Alice renames the group and Bob sees the new name with a notice; Bob leaves and the admin removes him', async () => {
    await alice.page.getByTestId('members-link').click()
    await alice.page.getByLabel('Group name').fill('Sunday')
    await alice.page.getByLabel('Group name').press('Enter')
    await alice.page.getByRole('link', { name: 'Back to the conversation' }).click()
    await expect.poll(() => alice.page.getByTestId('group-title').textContent(), { timeout: 30_000 }).toBe('Sunday')
    await expect.poll(() => bob.page.getByTestId('group-title').textContent(), { timeout: 60_000 }).toBe('Sunday')
    expect(await bob.page.getByTestId('group-notice').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Alice renamed the group to “Sunday”/)])
    )

    await bob.page.getByTestId('members-link').click()
    await bob.page.getByTestId('leave-group').focus()
    await bob.page.keyboard.press('Enter')
    await bob.page.getByTestId('group-gone').waitFor({ timeout: 30_000 })
    expect(await bob.page.getByTestId('group-gone').textContent()).toContain('You left this group')
    // Alice, an admin, commits the leaver's removal: her member list is herself alone.
    await alice.page.getByTestId('members-link').click()
    await expect.poll(() => alice.page.getByTestId('member').count(), { timeout: 60_000 }).toBe(1)
    await alice.page.getByRole('link', { name: 'Back to the conversation' }).click()
    await sendGroup(alice, 'alone now')
    await bob.page.waitForTimeout(2_000)
    expect(await texts(bob)).not.toContain('alone now')
    await bob.goto('chats')
    expect(await bob.page.getByTestId('group-row').filter({ hasText: 'Sunday' }).textContent()).toContain('You left')
  }, 180_000)
})
