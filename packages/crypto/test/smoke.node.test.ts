import { describe, expect, it } from 'vitest'
import { nodeBackend } from '../src/index.ts'
import { connectedPair, deliver, send } from './helpers/parties.ts'

describe('smoke', () => {
  it('two parties talk', async () => {
    const [a, b] = await connectedPair(nodeBackend)
    for (let i = 0; i < 5; i++) {
      expect(await deliver(b, await send(a, b, `m${i}`))).toBe(`m${i}`)
      expect(await deliver(a, await send(b, a, `r${i}`))).toBe(`r${i}`)
    }
    const w = await send(a, b, 'x'.repeat(100))
    console.log('steady ciphertext bytes for 100-byte plaintext:', w.ciphertext.length)
  })
})
