/// <reference types="vite/client" />
/**
 * The labels docs/crypto/kdf-registry.md lists, by section. Vite serves the page as text in both vitest projects
 * (Node and Chromium), so the same tests read the same registry everywhere.
 */
import registryText from '../../../../docs/crypto/kdf-registry.md?raw'

/** `Parley_…`, `Parley/…` and `parley/…` labels (not npm scopes such as `@parley/wire`). */
const LABEL = /(?<![@\w])(?:Parley[_/]|parley\/)[A-Za-z0-9_/.-]*[A-Za-z0-9]/g

function section(title: string): string {
  const start = registryText.indexOf(`\n## ${title}`)
  if (start < 0) throw new Error(`kdf-registry.md has no section "${title}"`)
  const end = registryText.indexOf('\n## ', start + 1)
  return registryText.slice(start, end < 0 ? undefined : end)
}

function labelsIn(text: string): string[] {
  return [...new Set(text.match(LABEL) ?? [])]
}

/** Every label on the page. */
export const registryLabels: readonly string[] = labelsIn(registryText)
/** HKDF info strings and AD labels: protocol KDFs, associated data, local storage. */
export const kdfLabels: readonly string[] = [
  ...labelsIn(section('KDFs')),
  ...labelsIn(section('Associated data')),
  ...labelsIn(section('Local storage (never on the wire)'))
]
/** Signature contexts (and the mailbox-id hash label listed with them). */
export const signatureContexts: readonly string[] = labelsIn(section('Signature contexts'))
