/**
 * parley-relay's settings resolution in-process: units, lists, where each value came from, and how values reach
 * the relay's options. (daemon.node.test.ts checks the same precedence through real processes.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, envOf, flagOf, resolveConfig, SETTINGS } from '../src/config.ts'

const dirs: string[] = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** A bootstrap address names its peer: bootstrap dials peers, not bare addresses. */
const BOOT = '/ip4/10.0.0.1/tcp/1/p2p/12D3KooWHmS56Fy4FP34FsPS5P9NqhgumwHQovTuNw9k1eaK7syv'

describe('resolveConfig', () => {
  it('maps every setting to one flag and one PARLEY_RELAY_* variable', () => {
    expect(flagOf('maxIncomingPending')).toBe('max-incoming-pending')
    expect(envOf('httpPort')).toBe('PARLEY_RELAY_HTTP_PORT')
    expect(new Set(SETTINGS.map((s) => envOf(s.key))).size).toBe(SETTINGS.length)
  })

  it('parses units and lists, and says where each value came from (flags > env > file)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-config-'))
    dirs.push(dir)
    const file = join(dir, 'relay.json')
    await writeFile(
      file,
      JSON.stringify({
        data: 'state',
        web: 'site',
        relayDataLimit: '8MiB',
        mailboxTtl: 86_400_000,
        listen: ['/ip4/127.0.0.1/tcp/1'],
        dhtAddressScope: 'public'
      })
    )
    const { relay, sources } = resolveConfig(
      ['--config', file, '--relay-duration-limit', '90s', '--bootstrap', BOOT, '--echo'],
      {
        HOME: dir,
        PARLEY_RELAY_LISTEN: '/ip4/127.0.0.1/tcp/2, /ip4/127.0.0.1/tcp/3/ws',
        PARLEY_RELAY_MAILBOX_MAX_BYTES: '2MiB',
        PARLEY_RELAY_RELAY_DATA_LIMIT: '1k'
      }
    )
    expect(relay).toMatchObject({
      dataDir: join(dir, 'state'),
      webDir: join(dir, 'site'),
      listen: ['/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3/ws'],
      bootstrap: [BOOT],
      echo: true,
      relayDataLimit: 1000n,
      relayDurationLimitMs: 90_000,
      dhtAddressScope: 'public',
      http: { host: '127.0.0.1', port: 8080 },
      mailboxLimits: { ttlMs: 86_400_000, maxBytesPerMailbox: 2 * 1024 * 1024 }
    })
    expect(sources).toMatchObject({
      relayDurationLimit: '--relay-duration-limit',
      listen: '$PARLEY_RELAY_LISTEN',
      relayDataLimit: '$PARLEY_RELAY_RELAY_DATA_LIMIT',
      mailboxTtl: `${file}: mailboxTtl`
    })
  })

  it('the per-range caps and the DHT record bounds reach the relay from flags, environment and file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-config-'))
    dirs.push(dir)
    const file = join(dir, 'relay.json')
    await writeFile(file, JSON.stringify({ dhtMaxRecords: 1000 }))
    const { relay, sources } = resolveConfig(['--config', file, '--max-inbound-per-range', '32'], {
      HOME: dir,
      PARLEY_RELAY_MAX_RESERVATIONS_PER_RANGE: '4',
      PARLEY_RELAY_DHT_MAX_RECORD_BYTES: '16MiB'
    })
    expect(relay).toMatchObject({
      maxInboundConnectionsPerRange: 32,
      maxReservationsPerRange: 4,
      dhtMaxRecords: 1000,
      dhtMaxRecordBytes: 16 * 1024 * 1024
    })
    expect(sources).toMatchObject({
      maxInboundPerRange: '--max-inbound-per-range',
      maxReservationsPerRange: '$PARLEY_RELAY_MAX_RESERVATIONS_PER_RANGE',
      dhtMaxRecords: `${file}: dhtMaxRecords`
    })
  })

  it('refuses out-of-range values with a ConfigError naming the source', () => {
    const bad = (argv: string[], env = {}) => {
      try {
        resolveConfig(argv, env)
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError)
        return (err as ConfigError).message
      }
      throw new Error('accepted')
    }
    expect(bad(['--http-port', '70000'])).toBe('--http-port: expected a port number 0-65535, got "70000"')
    expect(bad([], { PARLEY_RELAY_RESERVATION_TTL: '-5s' })).toMatch(/^\$PARLEY_RELAY_RESERVATION_TTL: expected a time/)
    expect(bad(['--dht-address-scope', 'galaxy'])).toMatch(/expected 'private' or 'public'/)
    expect(bad(['--max-connections', '1.5'])).toMatch(/^--max-connections: expected an integer >= 1/)
    expect(bad(['positional'])).toMatch(/positional/)
  })

  it('refuses a malformed listen, announce or bootstrap multiaddr naming the setting and the item', () => {
    const bad = (argv: string[], env = {}) => {
      try {
        resolveConfig(argv, env)
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError)
        return (err as ConfigError).message
      }
      throw new Error('accepted')
    }
    expect(bad(['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', 'garbage'])).toMatch(
      /^--listen: expected a multiaddr such as \/ip4\/0\.0\.0\.0\/tcp\/4001, got "garbage" \(.+\)$/
    )
    expect(bad(['--announce', '/ip4/999.1.1.1/tcp/1'])).toMatch(
      /^--announce: expected a multiaddr .*"\/ip4\/999\.1\.1\.1\/tcp\/1"/
    )
    expect(bad([], { PARLEY_RELAY_BOOTSTRAP: '/ip4/127.0.0.1/tcp/4001' })).toMatch(
      /^\$PARLEY_RELAY_BOOTSTRAP: .*\(it names no peer: end it with '\/p2p\/<peer id>'\)$/
    )
    expect(bad(['--bootstrap', '/ip4/127.0.0.1/tcp/4001/p2p/not-a-peer-id'])).toMatch(
      /^--bootstrap: expected a multiaddr/
    )
    const ok = resolveConfig(
      [
        '--listen',
        '/ip4/0.0.0.0/tcp/4001/ws',
        '--bootstrap',
        '/dns4/relay.example/tcp/4001/p2p/12D3KooWHmS56Fy4FP34FsPS5P9NqhgumwHQovTuNw9k1eaK7syv'
      ],
      {}
    )
    expect(ok.relay.listen).toEqual(['/ip4/0.0.0.0/tcp/4001/ws'])
    expect(ok.relay.bootstrap).toHaveLength(1)
  })
})
