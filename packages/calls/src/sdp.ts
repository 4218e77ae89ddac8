/**
 * DTLS fingerprints in SDP (RFC 8122 `a=fingerprint:<hash> <hex>`): parsed, normalised and compared. The fingerprints
 * a side signals inside its end-to-end encrypted offer or answer must be exactly the ones its SDP names, must not
 * change for the life of the call (an ICE restart keeps the DTLS certificate), and must match the certificate the
 * peer actually presents in the DTLS handshake (checked by the browser binding from getStats): else the call fails
 * closed.
 */
import { FingerprintMismatchError, InvalidParameterError } from './errors.ts'

const FINGERPRINT_LINE = /^a=fingerprint:(\S+) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/

/** `sha-256 AB:CD:…` with the hash name in lower case and the hex in upper case. */
export function normalizeFingerprint(algorithm: string, hex: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(algorithm)) throw new InvalidParameterError('fingerprint algorithm', 'a hash name')
  if (!/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+$/.test(hex)) {
    throw new InvalidParameterError('fingerprint', 'colon-separated hex bytes')
  }
  return `${algorithm.toLowerCase()} ${hex.toUpperCase()}`
}

/** Every `a=fingerprint` of an SDP (session or media level), normalised, without duplicates, in order. */
export function sdpFingerprints(sdp: string): string[] {
  const out: string[] = []
  for (const line of sdp.split(/\r?\n/)) {
    const m = FINGERPRINT_LINE.exec(line)
    if (m === null) continue
    const fp = normalizeFingerprint(m[1]!, m[2]!)
    if (!out.includes(fp)) out.push(fp)
  }
  return out
}

/** Whether two fingerprint lists name the same set (order and case do not matter). */
export function sameFingerprints(a: readonly string[], b: readonly string[]): boolean {
  const norm = (l: readonly string[]) =>
    new Set(
      l.map((f) => {
        const [alg, hex] = f.split(' ')
        return normalizeFingerprint(alg ?? '', hex ?? '')
      })
    )
  const x = norm(a)
  const y = norm(b)
  return x.size === y.size && [...x].every((f) => y.has(f))
}

/**
 * Checks a received description: the signalled fingerprints are exactly those of its SDP, at least one, and (for a
 * restart) the same as the call's earlier ones. Throws FingerprintMismatchError otherwise.
 */
export function checkSignalledDescription(
  sdp: string,
  signalled: readonly string[],
  earlier?: readonly string[]
): readonly string[] {
  const inSdp = sdpFingerprints(sdp)
  let ok = false
  try {
    ok = inSdp.length > 0 && sameFingerprints(inSdp, signalled)
  } catch {
    ok = false
  }
  if (!ok) throw new FingerprintMismatchError('SDP and signal')
  if (earlier !== undefined && !sameFingerprints(earlier, inSdp)) throw new FingerprintMismatchError('changed mid-call')
  return inSdp
}

/**
 * Checks the certificate the peer presented in DTLS (from getStats: `fingerprintAlgorithm` and `fingerprint` of the
 * transport's remote certificate) against the signalled fingerprints.
 */
export function checkRemoteCertificate(
  certificate: { fingerprintAlgorithm: string; fingerprint: string },
  signalled: readonly string[]
): void {
  let actual: string
  try {
    actual = normalizeFingerprint(certificate.fingerprintAlgorithm, certificate.fingerprint)
  } catch {
    throw new FingerprintMismatchError('unreadable DTLS certificate')
  }
  if (
    !sameFingerprints(
      [actual],
      signalled.filter((f) => f.startsWith(`${actual.split(' ')[0]} `))
    )
  ) {
    throw new FingerprintMismatchError('DTLS handshake')
  }
}
