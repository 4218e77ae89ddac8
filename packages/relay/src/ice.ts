/**
 * The STUN/TURN servers a relay's operator runs, as the relay advertises them to browsers (GET /parley.json). Parley
 * never uses a third party's STUN server: a node's ICE servers are exactly what its relays advertise (or none).
 *
 * TURN servers get time-limited credentials in coturn's REST scheme (`use-auth-secret` + `static-auth-secret`): the
 * username is `<expiry, unix seconds>:<random>` and the credential is base64(HMAC-SHA1(secret, username)). The relay
 * mints a fresh pair on every request; the secret itself never leaves the relay, and a leaked pair stops working
 * after TURN_CREDENTIAL_LIFETIME_MS.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { MIN_TURN_SECRET_CHARS, TURN_CREDENTIAL_LIFETIME_MS, TURN_USERNAME_RANDOM_BYTES } from './constants.ts'
import { InvalidRelayOptionError } from './errors.ts'

/** One ICE server entry as browsers' RTCPeerConnection takes it. */
export interface AdvertisedIceServer {
  urls: string[]
  username?: string
  credential?: string
}

const ICE_URL = /^(stuns?|turns?):[^\s/?#]+(?::\d{1,5})?(?:\?transport=(?:udp|tcp))?$/

/** Whether `url` is a stun:, stuns:, turn: or turns: URL (host[:port][?transport=udp|tcp]). */
export function isIceUrl(url: string): boolean {
  return ICE_URL.test(url)
}

/** Checks the relay's ICE options; an InvalidRelayOptionError names the bad one. */
export function checkIceOptions(urls: readonly string[] | undefined, turnSecret: string | undefined): void {
  for (const url of urls ?? []) {
    if (typeof url !== 'string' || !isIceUrl(url))
      throw new InvalidRelayOptionError('iceServers', 'stun:, stuns:, turn: or turns: URLs (host[:port][?transport=])')
  }
  if (turnSecret !== undefined && (typeof turnSecret !== 'string' || turnSecret.length < MIN_TURN_SECRET_CHARS))
    throw new InvalidRelayOptionError('turnSecret', `a secret of at least ${MIN_TURN_SECRET_CHARS} characters`)
}

/** A fresh TURN username and credential in coturn's REST scheme, valid until `now + lifetimeMs`. */
export function turnCredentials(
  secret: string,
  now: number,
  lifetimeMs: number = TURN_CREDENTIAL_LIFETIME_MS,
  random: (n: number) => Uint8Array = randomBytes
): { username: string; credential: string } {
  const expiry = Math.floor((now + lifetimeMs) / 1000)
  const username = `${expiry}:${Buffer.from(random(TURN_USERNAME_RANDOM_BYTES)).toString('base64url')}`
  const credential = createHmac('sha1', secret).update(username).digest('base64')
  return { username, credential }
}

/**
 * What /parley.json lists: the STUN URLs in one entry, the TURN URLs in another with fresh credentials when the relay
 * has a TURN secret (without one they are listed bare, for a TURN server that needs no authentication).
 */
export function advertisedIceServers(
  urls: readonly string[],
  turnSecret: string | undefined,
  now: number
): AdvertisedIceServer[] {
  const stun = urls.filter((u) => u.startsWith('stun'))
  const turn = urls.filter((u) => u.startsWith('turn'))
  const out: AdvertisedIceServer[] = []
  if (stun.length > 0) out.push({ urls: stun })
  if (turn.length > 0) out.push({ urls: turn, ...(turnSecret !== undefined && turnCredentials(turnSecret, now)) })
  return out
}
