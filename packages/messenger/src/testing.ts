/**
 * Test-only helpers (`@parley/messenger/testing`), shared by the messenger's, the calls' and the cross-package tests:
 * an encrypted in-memory profile with the fast KDF, and an event collector. Never imported by the messenger itself.
 */
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import type { MessengerEvents } from './events.ts'
import type { Messenger } from './messenger.ts'
import { NAMESPACES, type Namespace } from './records.ts'

/** An encrypted in-memory profile with the fast KDF (`unsafeFastKdfForTests`: tests only). */
export async function memoryProfile(): Promise<ProfileStore<Namespace>> {
  return createProfileStore(await openStore({ kind: 'memory' }), 'test passphrase', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
}

/** Collects the events of one type a messenger emits from now on (the array fills as they come). */
export function collect<K extends keyof MessengerEvents>(m: Messenger, type: K): MessengerEvents[K][] {
  const out: MessengerEvents[K][] = []
  m.events.addEventListener(type, (e) => out.push((e as CustomEvent<MessengerEvents[K]>).detail))
  return out
}
