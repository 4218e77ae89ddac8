/**
 * Onboarding: create an identity (a new profile encrypted under a passphrase), unlock the one this browser holds, or
 * restore one from a backup file. Opening costs one scrypt run (about a second): the button says so meanwhile.
 */
import { isStoreError, openStore } from '@parley/store'
import { useEffect, useState } from 'preact/hooks'
import { parseBackup, restoreBackup } from '../backup.ts'
import type { PageConfig } from '../config.ts'
import { MAX_NAME_LENGTH, MIN_PASSPHRASE_LENGTH, PROFILE_DB, SETTINGS_NAME_KEY } from '../constants.ts'
import { profileExists } from '../profile.ts'
import type { Session } from '../session.ts'
import { errorText } from './hooks.ts'

type Mode = 'checking' | 'create' | 'unlock' | 'restore'

/** session.ts and everything under it (the messenger, libp2p): a chunk of its own, loaded on the first screen. */
const loadSession = () => import('../session.ts')

export function Onboarding({ config, onOpen }: { config: PageConfig; onOpen: (s: Session) => void }) {
  const [mode, setMode] = useState<Mode>('checking')
  const [pass, setPass] = useState('')
  const [pass2, setPass2] = useState('')
  const [name, setName] = useState('')
  const [file, setFile] = useState<File | undefined>(undefined)
  const [busy, setBusy] = useState('')
  const [error, setError] = useState('')
  useEffect(() => {
    // The node's code (libp2p, the messenger) loads while the user types the passphrase.
    void loadSession()
    profileExists().then(
      (yes) => setMode(yes ? 'unlock' : 'create'),
      (e) => setError(`This browser does not let Parley store data (IndexedDB): ${errorText(e)}`)
    )
  }, [])

  const open = async (create: boolean) => {
    setBusy(create ? 'Creating your identity and starting your node…' : 'Unlocking and starting your node…')
    setError('')
    try {
      const { Session } = await loadSession()
      onOpen(await Session.open(pass, config, create))
    } catch (e) {
      setBusy('')
      setError(isStoreError(e, 'WrongPassphrase') ? 'Wrong passphrase.' : errorText(e))
    }
  }

  const submit = async (e: Event) => {
    e.preventDefault()
    if (mode === 'create') {
      if (pass.length < MIN_PASSPHRASE_LENGTH)
        return setError(`Use a passphrase of at least ${MIN_PASSPHRASE_LENGTH} characters.`)
      if (pass !== pass2) return setError('The two passphrases differ.')
      if (name.trim() !== '') localStorage.setItem(SETTINGS_NAME_KEY, name.trim().slice(0, MAX_NAME_LENGTH))
      await open(true)
    } else if (mode === 'unlock') {
      await open(false)
    } else if (mode === 'restore') {
      if (file === undefined) return setError('Choose a backup file.')
      setBusy('Restoring…')
      try {
        const records = parseBackup(await file.text())
        const ds = await openStore({ kind: 'idb', name: PROFILE_DB })
        try {
          await restoreBackup(ds, records)
        } finally {
          await ds.close()
        }
      } catch (err) {
        setBusy('')
        return setError(errorText(err))
      }
      await open(false)
    }
  }

  if (mode === 'checking') return <p role="status">Opening…</p>
  const title =
    mode === 'create' ? 'Create your identity' : mode === 'unlock' ? 'Unlock Parley' : 'Restore from a backup'
  return (
    <main id="main" class="onboarding">
      <h1>Parley</h1>
      <p>
        A messenger with no server in the middle: this tab runs your own node, and every message is end-to-end
        encrypted.
      </p>
      <form onSubmit={submit} aria-labelledby="onboard-title" data-testid={`onboarding-${mode}`}>
        <h2 id="onboard-title">{title}</h2>
        {mode === 'create' && (
          <>
            <label for="ob-name">Your name (shown to people you invite; optional)</label>
            <input
              id="ob-name"
              data-testid="ob-name"
              value={name}
              maxLength={MAX_NAME_LENGTH}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </>
        )}
        {mode === 'restore' && (
          <>
            <label for="ob-file">Backup file</label>
            <input
              id="ob-file"
              data-testid="ob-file"
              type="file"
              accept=".json,application/json"
              onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])}
            />
          </>
        )}
        <label for="ob-pass">
          Passphrase{mode === 'create' ? ` (at least ${MIN_PASSPHRASE_LENGTH} characters)` : ''}
        </label>
        <input
          id="ob-pass"
          data-testid="ob-pass"
          type="password"
          autoComplete={mode === 'create' ? 'new-password' : 'current-password'}
          value={pass}
          onInput={(e) => setPass((e.target as HTMLInputElement).value)}
        />
        {mode === 'create' && (
          <>
            <label for="ob-pass2">Passphrase again</label>
            <input
              id="ob-pass2"
              data-testid="ob-pass2"
              type="password"
              autoComplete="new-password"
              value={pass2}
              onInput={(e) => setPass2((e.target as HTMLInputElement).value)}
            />
          </>
        )}
        <button type="submit" data-testid="ob-submit" disabled={busy !== ''}>
          {busy || (mode === 'create' ? 'Create identity' : mode === 'unlock' ? 'Unlock' : 'Restore and unlock')}
        </button>
        {error && (
          <p role="alert" class="error" data-testid="ob-error">
            {error}
          </p>
        )}
      </form>
      {mode !== 'unlock' && (
        <p>
          <button
            type="button"
            class="link"
            data-testid="ob-switch"
            onClick={() => setMode(mode === 'restore' ? 'create' : 'restore')}
          >
            {mode === 'restore' ? 'Create a new identity instead' : 'Restore from a backup file'}
          </button>
        </p>
      )}
      <p class="small" data-testid="ob-relays">
        {config.relays.length > 0
          ? `Relay: ${config.relays[0]}`
          : 'No relay known yet: you can add one in Settings after creating your identity.'}
      </p>
    </main>
  )
}
