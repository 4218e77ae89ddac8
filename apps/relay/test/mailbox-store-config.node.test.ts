/** The mailbox store's global caps as daemon settings: flag, environment variable and config key, checked. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_MAILBOX_LIMITS } from '@parley/relay'
import { describe, expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../src/config.ts'

describe('mailbox store settings', () => {
  it('--mailbox-store-max-bytes and --mailbox-max-stored-envelopes reach the mailbox limits from every source', async () => {
    expect(resolveConfig([], {}).relay.mailboxLimits?.maxStoreBytes).toBeUndefined()
    expect(DEFAULT_MAILBOX_LIMITS.maxStoreBytes).toBe(4 * 1024 ** 3)
    const flags = resolveConfig(['--mailbox-store-max-bytes', '2GiB', '--mailbox-max-stored-envelopes', '5000'], {})
    expect(flags.relay.mailboxLimits).toMatchObject({ maxStoreBytes: 2 * 1024 ** 3, maxStoredEnvelopes: 5000 })
    const env = resolveConfig([], {
      PARLEY_RELAY_MAILBOX_STORE_MAX_BYTES: '512MiB',
      PARLEY_RELAY_MAILBOX_MAX_STORED_ENVELOPES: '70'
    })
    expect(env.relay.mailboxLimits).toMatchObject({ maxStoreBytes: 512 * 1024 ** 2, maxStoredEnvelopes: 70 })
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-config-'))
    try {
      const file = join(dir, 'relay.json')
      await writeFile(file, JSON.stringify({ mailboxStoreMaxBytes: '1GiB', mailboxMaxStoredEnvelopes: 9 }))
      expect(resolveConfig(['--config', file], {}).relay.mailboxLimits).toMatchObject({
        maxStoreBytes: 1024 ** 3,
        maxStoredEnvelopes: 9
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    expect(() => resolveConfig(['--mailbox-store-max-bytes', '0'], {})).toThrow(ConfigError)
    expect(() => resolveConfig([], { PARLEY_RELAY_MAILBOX_MAX_STORED_ENVELOPES: 'many' })).toThrow(
      /PARLEY_RELAY_MAILBOX_MAX_STORED_ENVELOPES/
    )
  })
})
