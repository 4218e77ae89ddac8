/** Small hooks the screens share: re-render on session changes, async loads, the hash route. */
import { useEffect, useState } from 'preact/hooks'
import type { Session } from '../session.ts'

/** A counter that moves on every session change (new message, receipt, status): effects depend on it to reload. */
export function useRevision(session: Session): number {
  const [rev, setRev] = useState(0)
  useEffect(() => {
    const bump = () => setRev((r) => r + 1)
    session.addEventListener('change', bump)
    return () => session.removeEventListener('change', bump)
  }, [session])
  return rev
}

/** Loads a value whenever `deps` change; undefined until the first load resolves. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): T | undefined {
  const [value, setValue] = useState<T | undefined>(undefined)
  useEffect(() => {
    let live = true
    load().then(
      (v) => live && setValue(v),
      () => {}
    )
    return () => {
      live = false
    }
  }, deps)
  return value
}

export interface Route {
  path: string[]
  query: URLSearchParams
}

function parseHash(): Route {
  const raw = location.hash.replace(/^#\/?/, '')
  const [p = '', q = ''] = raw.split('?', 2)
  return {
    path: p
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent),
    query: new URLSearchParams(q)
  }
}

/** The route from `location.hash` (`#/chat/<id>`, `#/add?invite=...`). */
export function useRoute(): Route {
  const [route, setRoute] = useState(parseHash)
  useEffect(() => {
    const f = () => setRoute(parseHash())
    addEventListener('hashchange', f)
    return () => removeEventListener('hashchange', f)
  }, [])
  return route
}

export function go(path: string): void {
  location.hash = path
}

/** A human message for an error (typed errors carry readable messages; never keys or plaintext). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
