/**
 * Safety-number verification: the 60 digits both sides compute, as text and as a QR code the other side scans; a
 * matching scan (or the user's comparison) marks the contact verified. After a key change the new key's number is
 * shown beside the banner, and accepting it is explicit.
 */
import { defaultBackend, fromHex, safetyNumber } from '@parley/crypto'
import { useCallback, useState } from 'preact/hooks'
import type { Session } from '../session.ts'
import { displayName, IdentityBanner } from './chats.tsx'
import { errorText, useLoad, useRevision } from './hooks.ts'
import { QrCode, Scanner } from './qr.tsx'

const groups = (digits: string) => digits.replace(/\s+/g, '').match(/.{1,5}/g) ?? []

export function Safety({ session, contact }: { session: Session; contact: string }) {
  const rev = useRevision(session)
  const [scanning, setScanning] = useState(false)
  const [result, setResult] = useState('')
  const data = useLoad(async () => {
    const c = (await session.contacts()).find((x) => x.identity === contact)
    if (c === undefined) return undefined
    const number = await session.messenger.safetyNumber(contact)
    const pending =
      c.pendingIdentity === undefined
        ? undefined
        : (await safetyNumber(defaultBackend, session.messenger.identityKey, fromHex(c.pendingIdentity))).display
    const session_ = await session.messenger.sessionWith(contact).catch(() => undefined)
    return { c, number, pending, verified: await session.isVerified(contact), sessionId: session_?.sessionId }
  }, [rev, contact])
  const digits = data ? (data.pending ?? data.number).replace(/\s+/g, '') : ''
  const onScan = useCallback(
    (text: string) => {
      setScanning(false)
      if (text.replace(/\s+/g, '') === digits && data?.pending === undefined) {
        setResult('The codes match: marked as verified.')
        void session.markVerified(contact, true)
      } else setResult('The codes do NOT match. Do not mark this contact as verified.')
    },
    [digits, data?.pending, contact, session]
  )
  if (data === undefined) return <p>Loading…</p>
  const { c, verified } = data
  const name = displayName(c, contact)
  return (
    <section aria-labelledby="safety-title">
      <h2 id="safety-title">Safety number with {name}</h2>
      {c.status === 'identity-changed' && <IdentityBanner session={session} contact={c} />}
      <p>
        Compare these digits with {name} in person or on a call, or scan each other's codes. If they match, nobody is in
        the middle.
      </p>
      {data.pending !== undefined && <p>The number with the new key:</p>}
      <p class="safety-number" data-testid="safety-number">
        {groups(digits).map((g, i) => (
          <span key={i}>{g} </span>
        ))}
      </p>
      <QrCode text={digits} label={`QR code of your safety number with ${name}`} />
      <p data-testid="verified-state">{verified ? 'Verified' : 'Not verified'}</p>
      <button type="button" onClick={() => setScanning(!scanning)} disabled={data.pending !== undefined}>
        {scanning ? 'Cancel scan' : 'Scan their code'}
      </button>{' '}
      <button
        type="button"
        data-testid="toggle-verified"
        disabled={data.pending !== undefined}
        onClick={() => session.markVerified(contact, !verified).catch((e) => setResult(errorText(e)))}
      >
        {verified ? 'Mark as not verified' : 'Mark as verified'}
      </button>
      {scanning && <Scanner onResult={onScan} onCancel={() => setScanning(false)} />}
      {result && <p role="status">{result}</p>}
      {data.sessionId !== undefined && (
        <p class="small">
          Session: <code data-testid="session-id">{data.sessionId}</code>
        </p>
      )}
    </section>
  )
}
