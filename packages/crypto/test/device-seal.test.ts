/**
 * Sealing a sender's device address to a recipient device: every backend opens what every other sealed, nothing
 * else opens it, any flipped byte is refused, and no two seals of the same plaintext look alike.
 */
import { describe, expect, it } from 'vitest'
import {
  DEVICE_SEAL_OVERHEAD_BYTES,
  InvalidKeyError,
  openDeviceSeal,
  SealedSenderError,
  sealToDevice
} from '../src/api.ts'
import { toHex } from '../src/codec.ts'
import { backendsUnderTest } from './helpers/backends.ts'

const backends = await backendsUnderTest()
const address = new Uint8Array(32 + 36).map((_, i) => i)

describe.each(backends.map((b) => [b.name, b] as const))('device seal on %s', (_name, backend) => {
  it('opens with the recipient device key on every backend, and only there', async () => {
    const recipient = await backend.x25519KeyPair()
    const other = await backend.x25519KeyPair()
    const sealed = await sealToDevice(backend, recipient.publicKey, address)
    expect(sealed.length).toBe(address.length + DEVICE_SEAL_OVERHEAD_BYTES)
    for (const opener of backends) expect(await openDeviceSeal(opener, recipient, sealed)).toEqual(address)
    await expect(openDeviceSeal(backend, other, sealed)).rejects.toBeInstanceOf(SealedSenderError)
  })

  it('refuses every flipped byte, truncation and a low-order ephemeral key', async () => {
    const recipient = await backend.x25519KeyPair()
    const sealed = await sealToDevice(backend, recipient.publicKey, address.subarray(0, 40))
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice()
      bad[i]! ^= 0x01
      await expect(openDeviceSeal(backend, recipient, bad), `byte ${i}`).rejects.toBeInstanceOf(SealedSenderError)
    }
    await expect(openDeviceSeal(backend, recipient, sealed.subarray(0, 47))).rejects.toBeInstanceOf(SealedSenderError)
    const lowOrder = sealed.slice()
    lowOrder.set(new Uint8Array(32), 0)
    await expect(openDeviceSeal(backend, recipient, lowOrder)).rejects.toBeInstanceOf(SealedSenderError)
    await expect(sealToDevice(backend, new Uint8Array(32), address)).rejects.toBeInstanceOf(InvalidKeyError)
  })

  it('is unlinkable: two seals of the same address share no ephemeral key or ciphertext', async () => {
    const recipient = await backend.x25519KeyPair()
    const one = await sealToDevice(backend, recipient.publicKey, address)
    const two = await sealToDevice(backend, recipient.publicKey, address)
    expect(toHex(one.subarray(0, 32))).not.toBe(toHex(two.subarray(0, 32)))
    expect(toHex(one.subarray(32))).not.toBe(toHex(two.subarray(32)))
  })
})
