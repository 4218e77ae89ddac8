/**
 * Entry: registers the service worker, takes the profile's Web Lock (one node per profile: a second tab shows where
 * the profile is open instead of starting another node on the same keys), loads the relay list, and renders.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { loadConfig, type PageConfig } from './config.ts'
import { PROFILE_CHANNEL, PROFILE_LOCK } from './constants.ts'
import type { Session } from './session.ts'
import { Onboarding } from './ui/onboarding.tsx'
import './styles.css'

type AppView = typeof import('./ui/app.tsx')['App']
/** The screens after unlock (and the node's code under them): loaded while the first screen shows. */
const loadApp = () => import('./ui/app.tsx')

function Root() {
  const [config, setConfig] = useState<PageConfig | undefined>(undefined)
  const [session, setSession] = useState<Session | undefined>(undefined)
  const [App, setApp] = useState<AppView | undefined>(undefined)
  useEffect(() => {
    void loadConfig().then(setConfig)
    void loadApp().then((m) => setApp(() => m.App))
  }, [])
  useEffect(() => {
    if (session === undefined) return
    session.notifier = (title, body) => {
      if (typeof Notification !== 'undefined' && Notification.permission === 'granted')
        new Notification(title, { body, tag: 'parley' })
    }
  }, [session])
  if (config === undefined) return <p role="status">Loading…</p>
  if (session === undefined) return <Onboarding config={config} onOpen={setSession} />
  if (App === undefined) return <p role="status">Loading…</p>
  return <App session={session} />
}

function OtherTab({ where }: { where: string }) {
  return (
    <main id="main" class="onboarding">
      <h1>Parley</h1>
      <p role="alert" data-testid="other-tab">
        This profile is open in another tab{where ? ` (${where})` : ''}. Only one tab runs your node at a time: close
        that tab, then try again.
      </p>
      <button type="button" onClick={() => location.reload()}>
        Try again
      </button>
    </main>
  )
}

const root = document.getElementById('app')!
const openedAt = new Date().toLocaleTimeString()

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  navigator.serviceWorker.register('./sw.js').catch(() => {})
}

if ('locks' in navigator) {
  void navigator.locks.request(PROFILE_LOCK, { ifAvailable: true }, async (lock) => {
    const channel = 'BroadcastChannel' in globalThis ? new BroadcastChannel(PROFILE_CHANNEL) : undefined
    if (lock === null) {
      render(<OtherTab where="" />, root)
      channel?.addEventListener('message', (e) => {
        if (typeof e.data?.openSince === 'string')
          render(<OtherTab where={`opened at ${e.data.openSince.slice(0, 32)}`} />, root)
      })
      channel?.postMessage({ where: true })
      return
    }
    channel?.addEventListener('message', (e) => {
      if (e.data?.where === true) channel.postMessage({ openSince: openedAt })
    })
    render(<Root />, root)
    // Held for the life of this page: the browser releases it when the tab closes.
    await new Promise(() => {})
  })
} else {
  render(<Root />, root)
}
