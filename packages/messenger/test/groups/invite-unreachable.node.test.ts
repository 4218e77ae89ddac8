/**
 * An invite to a contact whose device is gone fails with GroupError Unreachable, and nothing rejects unhandled afterwards:
 * the key-package wait is abandoned when the request cannot be sent, and its rejection on the invite's abort must not
 * reach the process (in Node an unhandled rejection ends it).
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Messenger } from '../../src/index.ts'
import { hex, node, until } from '../helpers.ts'

const all: Messenger[] = []
afterAll(() => Promise.all(all.map((m) => m.stop().catch(() => {}))))

describe('group invite to an unreachable contact', () => {
  it('fails, and no rejection goes unhandled once the invite’s signal aborts', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const boot = await node()
      const bootstrap = [boot.addresses[0] as string]
      const alice = await node({ bootstrap })
      const bob = await node({ bootstrap })
      all.push(boot, alice, bob)
      await Promise.all(
        [alice, bob].map((m) =>
          until(
            () =>
              m.publish().then(
                () => true,
                () => false
              ),
            30_000,
            'published'
          )
        )
      )
      await alice.addContact(hex(bob.identityKey), { name: 'bob' })
      await bob.stop()
      const g = await alice.groups.create('nobody home')
      const controller = new AbortController()
      const invite = alice.groups.invite(g.id, hex(bob.identityKey), { signal: controller.signal })
      // However the invite fails (the request not sent, or still waiting), its signal then aborts.
      const failed = invite.then(
        () => undefined,
        (e: unknown) => e
      )
      const early = await Promise.race([failed, new Promise((r) => setTimeout(() => r('waiting'), 5_000))])
      controller.abort()
      const error = early === 'waiting' ? await failed : early
      // A dial or lookup failure surfaces as a typed GroupError, not as the network's own error.
      expect(error).toMatchObject({ name: 'GroupError', code: 'Unreachable' })
      // Give a rejection that nobody handles the turns it needs to be reported.
      await new Promise((r) => setTimeout(r, 200))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  }, 90_000)
})
