/** Settings (relays, display name, passphrase, backup, notifications) and the diagnostics panel. */
import { useEffect, useState } from 'preact/hooks'
import { exportBackup } from '../backup.ts'
import { parseRelayList, saveSettingsRelays, settingsRelays } from '../config.ts'
import { MAX_NAME_LENGTH, MIN_PASSPHRASE_LENGTH, SETTINGS_NAME_KEY, STATUS_POLL_MS } from '../constants.ts'
import type { Diagnostics, Session } from '../session.ts'
import { displayName } from './chats.tsx'
import { errorText } from './hooks.ts'

/** Saves a file the user downloads (a Blob URL; nothing leaves the browser). */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

function Passphrase({ session }: { session: Session }) {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [msg, setMsg] = useState('')
  const submit = async (e: Event) => {
    e.preventDefault()
    if (next.length < MIN_PASSPHRASE_LENGTH) return setMsg(`Use at least ${MIN_PASSPHRASE_LENGTH} characters.`)
    try {
      await session.store.changePassphrase(current, next)
      setCurrent('')
      setNext('')
      setMsg('Passphrase changed.')
    } catch (err) {
      setMsg(errorText(err))
    }
  }
  return (
    <form onSubmit={submit} aria-labelledby="pass-title">
      <h3 id="pass-title">Change passphrase</h3>
      <label for="pass-current">Current passphrase</label>
      <input
        id="pass-current"
        type="password"
        autoComplete="current-password"
        value={current}
        onInput={(e) => setCurrent((e.target as HTMLInputElement).value)}
      />
      <label for="pass-next">New passphrase</label>
      <input
        id="pass-next"
        type="password"
        autoComplete="new-password"
        value={next}
        onInput={(e) => setNext((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Change passphrase</button>
      {msg && <p role="status">{msg}</p>}
    </form>
  )
}

export function Settings({ session }: { session: Session }) {
  const [relays, setRelays] = useState(settingsRelays().join('\n'))
  const [name, setName] = useState(localStorage.getItem(SETTINGS_NAME_KEY) ?? '')
  const [msg, setMsg] = useState('')
  const [perm, setPerm] = useState(typeof Notification === 'undefined' ? 'unsupported' : Notification.permission)
  const saveRelays = (e: Event) => {
    e.preventDefault()
    try {
      saveSettingsRelays(parseRelayList(relays))
      setMsg('Saved. They are used when the page that serves Parley does not name its own relays (reload to apply).')
    } catch (err) {
      setMsg(errorText(err))
    }
  }
  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <h3>Relays in use</h3>
      <ul data-testid="relays-in-use">
        {session.config.relays.map((r) => (
          <li key={r}>
            <code>{r}</code>
          </li>
        ))}
      </ul>
      <p>
        Source: {session.config.source === 'origin' ? 'the relay that served this page' : 'this browser’s settings'}
      </p>
      <form onSubmit={saveRelays}>
        <label for="relay-list">Fallback relays (one multiaddr a line: wss, or ws to localhost)</label>
        <textarea
          id="relay-list"
          rows={3}
          value={relays}
          onInput={(e) => setRelays((e.target as HTMLTextAreaElement).value)}
        />
        <button type="submit">Save relays</button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          localStorage.setItem(SETTINGS_NAME_KEY, name.trim().slice(0, MAX_NAME_LENGTH))
          setMsg('Name saved: new invites carry it.')
        }}
      >
        <label for="my-name">Your name in invites</label>
        <input
          id="my-name"
          value={name}
          maxLength={MAX_NAME_LENGTH}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Save name</button>
      </form>
      {msg && <p role="status">{msg}</p>}
      <Passphrase session={session} />
      <h3>Backup</h3>
      <p>
        The backup file is your encrypted profile: it opens only with your passphrase. Never run it in two places at
        once.
      </p>
      <button
        type="button"
        data-testid="export"
        onClick={() =>
          exportBackup(session.backend).then(
            (t) => download('parley-backup.json', t),
            (e) => setMsg(errorText(e))
          )
        }
      >
        Export backup
      </button>
      <h3>Notifications</h3>
      <p>Get a notification for a new message while this tab is in the background. Permission: {perm}.</p>
      <button
        type="button"
        disabled={perm === 'unsupported' || perm === 'granted'}
        onClick={() => Notification.requestPermission().then(setPerm, () => {})}
      >
        Enable notifications
      </button>
    </section>
  )
}

const KIND: Record<Diagnostics['contacts'][number]['connection'], string> = {
  'direct-webrtc': 'direct (WebRTC)',
  direct: 'direct',
  relayed: 'relayed through a relay',
  none: 'not connected'
}

export function DiagnosticsPanel({ session }: { session: Session }) {
  const [d, setD] = useState<Diagnostics | undefined>(undefined)
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>
    let live = true
    const tick = () =>
      session.diagnostics().then(
        (x) => {
          if (!live) return
          setD(x)
          timer = setTimeout(tick, STATUS_POLL_MS)
        },
        () => {
          if (live) timer = setTimeout(tick, STATUS_POLL_MS)
        }
      )
    void tick()
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [session])
  const yes = (b: boolean) => (b ? 'yes' : 'no')
  return (
    <section aria-labelledby="diag-title">
      <h2 id="diag-title">Diagnostics</h2>
      <h3>Relays</h3>
      <table data-testid="diag-relays">
        <thead>
          <tr>
            <th scope="col">Relay</th>
            <th scope="col">Connected</th>
            <th scope="col">Reservation</th>
            <th scope="col">Mailbox</th>
          </tr>
        </thead>
        <tbody>
          {d?.relays.map((r) => (
            <tr
              key={r.address}
              data-testid="diag-relay"
              data-connected={String(r.connected)}
              data-reservation={String(r.reservation)}
            >
              <td>
                <code>{r.peerId.slice(0, 12)}…</code>
              </td>
              <td>{yes(r.connected)}</td>
              <td>{yes(r.reservation)}</td>
              <td>{yes(r.mailbox)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Contacts</h3>
      <table data-testid="diag-contacts">
        <thead>
          <tr>
            <th scope="col">Contact</th>
            <th scope="col">Connection</th>
            <th scope="col">Last delivery</th>
            <th scope="col">Why unreachable</th>
          </tr>
        </thead>
        <tbody>
          {d?.contacts.map((c) => (
            <tr key={c.identity} data-testid="diag-contact" data-connection={c.connection}>
              <td>{displayName(c, c.identity)}</td>
              <td>{KIND[c.connection]}</td>
              <td>
                {c.lastDelivery ? `${c.lastDelivery.via} at ${new Date(c.lastDelivery.at).toLocaleTimeString()}` : '—'}
              </td>
              <td>{c.unreachable ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="small">
        You: <code data-testid="my-peer-id">{session.messenger.peerId.toString()}</code>
      </p>
    </section>
  )
}
