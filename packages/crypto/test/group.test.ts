/**
 * Parley's MLS adapter (src/group): the X-Wing suite end to end, credentials bound to identities and device
 * certificates, the admin rule, removal and late joining, and the named limits.
 */
import { describe, expect, it } from 'vitest'
import { nobleBackend } from '../src/backend/noble.ts'
import {
  GROUP_CIPHERSUITE,
  GROUP_ID_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_PLAINTEXT_BYTES,
  MAX_KEY_PACKAGE_BYTES,
  MAX_MLS_MESSAGE_BYTES
} from '../src/group/constants.ts'
import { makeMemberCredential, verifyMemberCredential } from '../src/group/credential.ts'
import {
  createKeyPackage,
  decodeKeyPackageSecret,
  encodeKeyPackageSecret,
  GroupInvalidMessageError,
  GroupLimitError,
  GroupNotAuthorisedError,
  GroupUntrustedMemberError,
  GroupWrongEpochError,
  MlsGroup,
  mlsMessageEpoch,
  verifyKeyPackage
} from '../src/group/index.ts'
import { decodeGroupMetadata, encodeGroupMetadata } from '../src/group/metadata.ts'
import { certifyDevice, generateIdentity, type IdentityKeyPair, type LocalDevice } from '../src/identity.ts'

const backend = nobleBackend
const text = (s: string) => new TextEncoder().encode(s)
const read = (b: Uint8Array) => new TextDecoder().decode(b)

interface Person {
  identity: IdentityKeyPair
  device: LocalDevice
}
async function person(): Promise<Person> {
  const identity = await generateIdentity(backend)
  const now = Date.now()
  const device = await certifyDevice(backend, identity, {
    deviceKey: backend.randomBytes(36),
    issuedAt: now,
    expiresAt: now + 86_400_000
  })
  return { identity, device }
}
async function keyPackage(p: Person) {
  return createKeyPackage(backend, p.identity, p.device.certificate)
}
async function newGroup(admin: Person, name = 'team') {
  return MlsGroup.create(backend, (await keyPackage(admin)).secret, { name })
}

describe('MLS groups (ts-mls, X-Wing)', () => {
  it('create, add two members with one commit, and every member decrypts every other member', async () => {
    const [alice, bob, carol] = await Promise.all([person(), person(), person()])
    let a = await newGroup(alice)
    expect(a.state.groupContext.cipherSuite).toBe(GROUP_CIPHERSUITE)
    expect(a.groupId.length).toBe(GROUP_ID_BYTES)
    const [kb, kc] = await Promise.all([keyPackage(bob), keyPackage(carol)])
    const committed = await a.commit({ add: [kb.keyPackage, kc.keyPackage] })
    a = committed.group
    expect(committed.welcome).toBeDefined()
    let b = await MlsGroup.join(backend, kb.secret, committed.welcome as Uint8Array, committed.ratchetTree)
    const c = await MlsGroup.join(backend, kc.secret, committed.welcome as Uint8Array, committed.ratchetTree)
    expect(b.epoch).toBe(a.epoch)
    expect(b.epochAuthenticator).toEqual(a.epochAuthenticator)
    expect(await b.topicSecret()).toEqual(await a.topicSecret())
    expect(a.members().map((m) => m.identityKey)).toEqual([alice, bob, carol].map((p) => p.identity.publicKey))
    expect(b.isAdmin(alice.identity.publicKey)).toBe(true)
    expect(b.isAdmin(bob.identity.publicKey)).toBe(false)

    const sent = await b.encrypt(text('hello from bob'))
    b = sent.group
    for (const g of [a, c]) {
      const got = await g.process(sent.message)
      expect(got.kind).toBe('application')
      if (got.kind !== 'application') throw new Error('unreachable')
      expect(read(got.plaintext)).toBe('hello from bob')
      expect(got.sender.identityKey).toEqual(bob.identity.publicKey)
    }
    // A replay of the same ciphertext to the state that already took it is refused (no second key for it).
    const once = await a.process(sent.message)
    if (once.kind !== 'application') throw new Error('unreachable')
    await expect(once.group.process(sent.message)).rejects.toBeInstanceOf(GroupInvalidMessageError)
    expect(mlsMessageEpoch(sent.message).epoch).toBe(a.epoch)
  })

  it('a removed member cannot read what is sent after its removal; a late joiner cannot read what came before', async () => {
    const [alice, bob, carol] = await Promise.all([person(), person(), person()])
    let a = await newGroup(alice)
    const kb = await keyPackage(bob)
    let c1 = await a.commit({ add: [kb.keyPackage] })
    a = c1.group
    let b = await MlsGroup.join(backend, kb.secret, c1.welcome as Uint8Array, c1.ratchetTree)
    const before = await a.encrypt(text('before carol'))
    a = before.group

    const kc = await keyPackage(carol)
    c1 = await a.commit({ add: [kc.keyPackage] })
    a = c1.group
    const c = await MlsGroup.join(backend, kc.secret, c1.welcome as Uint8Array, c1.ratchetTree)
    await expect(c.process(before.message)).rejects.toBeInstanceOf(GroupWrongEpochError)
    const bAdded = await b.process(c1.commit)
    if (bAdded.kind !== 'commit') throw new Error('unreachable')
    expect(bAdded.added.map((m) => m.identityKey)).toEqual([carol.identity.publicKey])
    b = bAdded.group

    const removal = await a.commit({ remove: [bob.identity.publicKey] })
    a = removal.group
    const bobsLast = await b.process(removal.commit)
    if (bobsLast.kind !== 'commit') throw new Error('unreachable')
    expect(bobsLast.removed.map((m) => m.identityKey)).toEqual([bob.identity.publicKey])
    const after = await a.encrypt(text('after bob'))
    await expect(b.process(after.message)).rejects.toBeInstanceOf(GroupWrongEpochError)
    const late = bobsLast.group.process(after.message)
    await expect(late).rejects.toSatisfy(
      (e) => e instanceof GroupInvalidMessageError || e instanceof GroupWrongEpochError
    )
  })

  it('a commit that adds, removes or renames is refused unless its committer is an admin; a self-update is not', async () => {
    const [alice, bob, carol] = await Promise.all([person(), person(), person()])
    let a = await newGroup(alice)
    const kb = await keyPackage(bob)
    const c1 = await a.commit({ add: [kb.keyPackage] })
    a = c1.group
    const b = await MlsGroup.join(backend, kb.secret, c1.welcome as Uint8Array, c1.ratchetTree)
    await expect(b.commit({ name: 'mine now' })).rejects.toBeInstanceOf(GroupNotAuthorisedError)
    await expect(b.commit({ add: [(await keyPackage(carol)).keyPackage] })).rejects.toBeInstanceOf(
      GroupNotAuthorisedError
    )
    // Bob's own path update is allowed for everyone (post-compromise security).
    const update = await b.commit()
    const applied = await a.process(update.commit)
    expect(applied.group.epoch).toBe(a.epoch + 1n)
    expect(applied.group.epochAuthenticator).toEqual(update.group.epochAuthenticator)
    // A rename forged by bob (built with a tampered local state that lists him as admin) is refused by alice.
    const forged = await MlsGroup.decode(backend, b.encode())
    const tampered = Object.create(Object.getPrototypeOf(forged), Object.getOwnPropertyDescriptors(forged))
    tampered.isAdmin = () => true
    const rename = await (tampered as MlsGroup).commit({ name: 'hijacked' })
    await expect(a.process(rename.commit)).rejects.toBeInstanceOf(GroupNotAuthorisedError)
    // The admin's rename is accepted and both agree on the name.
    const ok = await a.commit({ name: 'renamed', admins: [alice.identity.publicKey, bob.identity.publicKey] })
    const seen = await b.process(ok.commit)
    expect(seen.group.metadata().name).toBe('renamed')
    expect(seen.group.isAdmin(bob.identity.publicKey)).toBe(true)
  })

  it('a key package is refused when its credential does not bind its identity, device certificate and key', async () => {
    const [alice, mallory] = await Promise.all([person(), person()])
    const kp = await keyPackage(alice)
    const checked = await verifyKeyPackage(backend, kp.keyPackage)
    expect(checked.member.identityKey).toEqual(alice.identity.publicKey)
    expect(kp.keyPackage.length).toBeLessThanOrEqual(MAX_KEY_PACKAGE_BYTES)
    // Mallory claims alice's certificate for her own signature key: the binding is not alice's signature.
    const sig = backend.randomBytes(32)
    const cred = await makeMemberCredential(backend, mallory.identity, alice.device.certificate, sig)
    await expect(verifyMemberCredential(backend, cred, sig)).rejects.toBeInstanceOf(GroupUntrustedMemberError)
    // A valid credential for another signature key does not verify for this one.
    const good = await makeMemberCredential(backend, alice.identity, alice.device.certificate, sig)
    await expect(verifyMemberCredential(backend, good, backend.randomBytes(32))).rejects.toBeInstanceOf(
      GroupUntrustedMemberError
    )
    // A flipped byte anywhere in the key package breaks it.
    const bad = kp.keyPackage.slice()
    bad[bad.length - 10] = (bad[bad.length - 10] ?? 0) ^ 1
    await expect(verifyKeyPackage(backend, bad)).rejects.toThrow()
    // An expired device certificate is refused at add time.
    await expect(verifyKeyPackage(backend, kp.keyPackage, Date.now() + 2 * 86_400_000)).rejects.toBeInstanceOf(
      GroupUntrustedMemberError
    )
    const round = decodeKeyPackageSecret(encodeKeyPackageSecret(kp.secret))
    expect(round.privatePackage).toEqual(kp.secret.privatePackage)
  })

  it('named limits: group name bytes, plaintext bytes and members (MAX_GROUP_MEMBERS)', async () => {
    const alice = await person()
    const admin = [alice.identity.publicKey]
    expect(
      decodeGroupMetadata(encodeGroupMetadata({ name: 'x'.repeat(MAX_GROUP_NAME_BYTES), admins: admin })).name
    ).toHaveLength(MAX_GROUP_NAME_BYTES)
    expect(() => encodeGroupMetadata({ name: 'x'.repeat(MAX_GROUP_NAME_BYTES + 1), admins: admin })).toThrow(
      GroupLimitError
    )
    expect(() => encodeGroupMetadata({ name: 'no admins', admins: [] })).toThrow(GroupLimitError)
    const a = await newGroup(alice)
    await expect(a.encrypt(new Uint8Array(MAX_GROUP_PLAINTEXT_BYTES + 1))).rejects.toBeInstanceOf(GroupLimitError)
    const others = await Promise.all(Array.from({ length: MAX_GROUP_MEMBERS }, () => person()))
    const kps = await Promise.all(others.map((p) => keyPackage(p)))
    await expect(a.commit({ add: kps.map((k) => k.keyPackage) })).rejects.toBeInstanceOf(GroupLimitError)
    const full = await a.commit({ add: kps.slice(1).map((k) => k.keyPackage) })
    expect(full.group.members()).toHaveLength(MAX_GROUP_MEMBERS)
    // The Welcome and the tree of a full group each fit one MLS message bound (the messenger sends them in parts).
    expect((full.welcome as Uint8Array).length).toBeLessThanOrEqual(MAX_MLS_MESSAGE_BYTES)
    expect(full.ratchetTree.length).toBeLessThanOrEqual(MAX_MLS_MESSAGE_BYTES)
  }, 120_000)

  it('saved state restores to the same epoch and keeps decrypting', async () => {
    const [alice, bob] = await Promise.all([person(), person()])
    let a = await newGroup(alice)
    const kb = await keyPackage(bob)
    const c1 = await a.commit({ add: [kb.keyPackage] })
    a = c1.group
    const b = await MlsGroup.join(backend, kb.secret, c1.welcome as Uint8Array, c1.ratchetTree)
    const restored = await MlsGroup.decode(backend, b.encode())
    expect(restored.epochAuthenticator).toEqual(b.epochAuthenticator)
    const m = await a.encrypt(text('after restore'))
    const got = await restored.process(m.message)
    expect(got.kind === 'application' && read(got.plaintext)).toBe('after restore')
    const broken = b.encode()
    await expect(MlsGroup.decode(backend, broken.subarray(0, broken.length - 1))).rejects.toBeInstanceOf(
      GroupInvalidMessageError
    )
  })
})
