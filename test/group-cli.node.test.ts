/**
 * `parley group` end to end: three `parley run --json` nodes (real processes, a relay as bootstrap). Alice creates a
 * group and invites Bob and Carol (key packages and Welcomes over the pairwise E2EE sessions), they talk, the events
 * come as JSON lines (docs/cli-json.md), a one-shot `parley group send` reaches the running node through the control
 * socket, and `parley group history` shows the conversation.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { CliKit, type JsonNode, until } from './cli-kit.ts'

const kit = new CliKit('group test passphrase')
afterAll(() => kit.cleanup())

describe('parley group', () => {
  it('create, invite two contacts, send and receive as JSON events, one-shot send and history through the control socket', async () => {
    const relay = await kit.relay()
    const boot = ['--bootstrap', relay.bootstrap]
    const [aDir, bDir, cDir] = await Promise.all([kit.profile('alice'), kit.profile('bob'), kit.profile('carol')])
    const a = await kit.run(aDir, boot, 'alice')
    const b = await kit.run(bDir, boot, 'bob')
    const c = await kit.run(cDir, boot, 'carol')
    const id = (n: JsonNode) => n.ready.identity as string
    await a.ask({ cmd: 'add', contact: id(b), name: 'bob' })
    await a.ask({ cmd: 'add', contact: id(c), name: 'carol' })
    await b.ask({ cmd: 'add', contact: id(a), name: 'alice' })
    await c.ask({ cmd: 'add', contact: id(a), name: 'alice' })

    const g = (await a.ask({ cmd: 'group', action: 'create', name: 'team' })) as { id: string }
    // A node just started may not have its record in the DHT yet (ContactNotFound): ask again until it has.
    const invite = (group: string, contact: string) =>
      until(
        () =>
          a.ask({ cmd: 'group', action: 'invite', group, contact }, 60_000).then(
            () => true,
            () => false
          ),
        90_000,
        `invite ${contact}`
      )
    await invite('team', 'bob')
    await invite(g.id.slice(0, 10), 'carol')
    await b.next((e) => e.event === 'group-joined', 'bob joined')
    await c.next((e) => e.event === 'group-joined', 'carol joined')
    await b.next((e) => e.event === 'group-change' && (e.added as string[]).includes(id(c)), 'bob saw carol added')

    // Until the meshes form, a text may reach only some; members sync from each other, so none is lost.
    await b.ask({ cmd: 'group', action: 'send', group: 'team', text: 'hello team' })
    const got = await c.next((e) => e.event === 'group-message' && e.text === 'hello team', 'carol got it')
    expect(got.sender).toBe(id(b))
    await a.next((e) => e.event === 'group-message' && e.text === 'hello team', 'alice got it')

    // A one-shot command goes to the running node of its profile.
    const out = await kit.ok(['group', 'send', 'team', 'from the shell', '--data', cDir])
    expect(out).toMatch(/Sent to the group/)
    await b.next((e) => e.event === 'group-message' && e.text === 'from the shell', 'bob got the one-shot text')
    const history = await kit.ok(['group', 'history', 'team', '--data', bDir])
    expect(history).toMatch(/hello team/)
    expect(history).toMatch(/from the shell/)
    const list = await kit.ok(['group', 'list', '--data', aDir])
    expect(list).toMatch(/team/)
    expect(list.match(/admin/g)).toHaveLength(1)
    // Not an admin: refused with a typed code.
    const refused = await kit.parley(['group', 'rename', 'team', 'mine', '--data', bDir])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/NotAdmin/)
  }, 180_000)
})
