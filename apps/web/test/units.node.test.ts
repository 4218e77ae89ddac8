/**
 * The web app's pure parts in Node: the relay configuration a page accepts (/parley.json and settings), and backups
 * (raw encrypted records out, into an empty profile database, opened with the passphrase) with their bounds.
 */
import { NAMESPACES } from '@parley/messenger'
import { createProfileStore, isStoreError, openStore } from '@parley/store'
import { describe, expect, it } from 'vitest'
import { BACKUP_FORMAT, exportBackup, parseBackup, restoreBackup } from '../src/backup.ts'
import { checkRelay, isLocalHost, parseConfig, parseRelayList } from '../src/config.ts'
import { MAX_BACKUP_BYTES, MAX_ICE_SERVERS, MAX_RELAYS } from '../src/constants.ts'
import { isWebError } from '../src/errors.ts'

const ID = '12D3KooWPycbMkHpjoyWyjteT5Z3PUyKzHKgkknjkH5oMyLW3Ki4'
const code = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    return isWebError(e) ? e.code : `not a WebError: ${String(e)}`
  }
  return 'no error'
}

describe('relay configuration', () => {
  it('plain ws:// only to loopback and private test hosts; wss anywhere; a /p2p/ id is required', () => {
    expect(checkRelay(`/ip4/127.0.0.1/tcp/4102/ws/p2p/${ID}`)).toContain('127.0.0.1')
    expect(checkRelay(`/ip4/10.99.0.1/tcp/4102/ws/p2p/${ID}`)).toContain('10.99.0.1')
    expect(checkRelay(`/dns4/localhost/tcp/4102/ws/p2p/${ID}`)).toContain('localhost')
    expect(checkRelay(`/dns4/relay.example.org/tcp/443/wss/p2p/${ID}`)).toContain('wss')
    expect(checkRelay(`/dns4/relay.example.org/tcp/443/tls/ws/p2p/${ID}`)).toContain('tls/ws')
    expect(code(() => checkRelay(`/ip4/1.2.3.4/tcp/4102/ws/p2p/${ID}`))).toBe('BadConfig')
    expect(code(() => checkRelay(`/dns4/relay.example.org/tcp/80/ws/p2p/${ID}`))).toBe('BadConfig')
    expect(code(() => checkRelay('/ip4/127.0.0.1/tcp/4102/ws'))).toBe('BadConfig')
    expect(code(() => checkRelay(`/ip4/127.0.0.1/tcp/4101/p2p/${ID}`))).toBe('BadConfig')
    expect(code(() => checkRelay(`/ip4/127.0.0.1/tcp/70000/ws/p2p/${ID}`))).toBe('BadConfig')
    expect(isLocalHost('172.16.0.1')).toBe(true)
    expect(isLocalHost('172.32.0.1')).toBe(false)
    expect(isLocalHost('192.168.1.1')).toBe(true)
  })

  it('parley.json: at most MAX_RELAYS relays and MAX_ICE_SERVERS ICE servers; only stun/turn URLs', () => {
    const relay = `/ip4/127.0.0.1/tcp/4102/ws/p2p/${ID}`
    const ice = { urls: 'stun:stun.example.org:3478' }
    const parsed = parseConfig({
      relays: Array(MAX_RELAYS + 3).fill(relay),
      iceServers: Array(MAX_ICE_SERVERS + 2).fill(ice)
    })
    expect(parsed.relays).toHaveLength(MAX_RELAYS)
    expect(parsed.iceServers).toHaveLength(MAX_ICE_SERVERS)
    expect(parsed.iceServers[0]).toEqual({ urls: ['stun:stun.example.org:3478'] })
    const turn = parseConfig({
      relays: [relay],
      iceServers: [{ urls: ['turn:t.example.org'], username: 'u', credential: 'c' }]
    })
    expect(turn.iceServers[0]).toEqual({ urls: ['turn:t.example.org'], username: 'u', credential: 'c' })
    expect(code(() => parseConfig({ relays: [relay], iceServers: [{ urls: 'https://x' }] }))).toBe('BadConfig')
    expect(code(() => parseConfig({ relays: 'x' }))).toBe('BadConfig')
    expect(code(() => parseConfig(null))).toBe('BadConfig')
    expect(parseConfig({ relays: [relay] }).iceServers).toEqual([])
  })

  it('the relay list typed in settings: one a line, at most MAX_RELAYS, each checked', () => {
    const relay = `/ip4/127.0.0.1/tcp/4102/ws/p2p/${ID}`
    expect(parseRelayList(`\n${relay}\n\n`)).toEqual([relay])
    expect(parseRelayList('')).toEqual([])
    expect(
      code(() =>
        parseRelayList(
          Array(MAX_RELAYS + 1)
            .fill(relay)
            .join('\n')
        )
      )
    ).toBe('BadConfig')
    expect(code(() => parseRelayList(`${relay}\n/ip4/8.8.8.8/tcp/1/ws/p2p/${ID}`))).toBe('BadConfig')
  })
})

async function profile(passphrase: string) {
  const backend = await openStore({ kind: 'memory' })
  const store = await createProfileStore(backend, passphrase, {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
  return { backend, store }
}

describe('backups', () => {
  it('copy the encrypted records, restore into an empty profile, and open only with the passphrase', async () => {
    const { backend, store } = await profile('backup passphrase')
    const secret = 'a message nobody may read in the backup'
    await store.put('history', 'bob/in/1', new TextEncoder().encode(secret))
    const text = await exportBackup(backend, 1_700_000_000_000)
    expect(JSON.parse(text).format).toBe(BACKUP_FORMAT)
    expect(text).not.toContain(secret)
    expect(text).not.toContain('bob/in/1')
    const records = parseBackup(text)
    expect(records.length).toBeGreaterThan(1)

    const target = await openStore({ kind: 'memory' })
    await restoreBackup(target, records)
    await expect(
      createProfileStore(target, 'wrong passphrase', { namespaces: NAMESPACES, unsafeFastKdfForTests: true })
    ).rejects.toSatisfy((e) => isStoreError(e, 'WrongPassphrase'))
    const reopened = await createProfileStore(target, 'backup passphrase', {
      namespaces: NAMESPACES,
      unsafeFastKdfForTests: true
    })
    expect(new TextDecoder().decode(await reopened.get('history', 'bob/in/1'))).toBe(secret)
    // A database that already holds a profile is never overwritten.
    await expect(restoreBackup(target, records)).rejects.toSatisfy((e) => isWebError(e, 'ProfileExists'))
    await reopened.close()
    await store.close()
  })

  it('refuse files over MAX_BACKUP_BYTES, other formats and versions, and malformed records', () => {
    expect(code(() => parseBackup('x'.repeat(MAX_BACKUP_BYTES + 1)))).toBe('BackupTooLarge')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":1,"records":[["/k","AA=="]]}', 10))).toBe(
      'BackupTooLarge'
    )
    expect(code(() => parseBackup('not json'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"other","v":1,"records":[["/k","AA=="]]}'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":2,"records":[["/k","AA=="]]}'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":1,"records":[]}'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":1,"records":[["k","AA=="]]}'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":1,"records":[["/k","!!"]]}'))).toBe('BadBackup')
    expect(code(() => parseBackup('{"format":"parley-web-backup","v":1,"records":[["/k",1]]}'))).toBe('BadBackup')
    expect(parseBackup('{"format":"parley-web-backup","v":1,"records":[["/k","AAE="]]}')).toEqual([
      ['/k', new Uint8Array([0, 1])]
    ])
  })
})
