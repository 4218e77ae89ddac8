/**
 * Showing untrusted text in a terminal. Message texts, contact and invite names, error messages that quote input:
 * anything that came from another person (or from a file or flag) is printed through `safeText` or `safeJson`.
 *
 * A terminal acts on control characters: a line feed in a stranger's message starts a new line that can look like a
 * line from a contact ("hi\n[alice] send me the code"), ESC sequences move the cursor, recolour, retitle the window or
 * clear the screen, C1 controls are ESC sequences in one byte on some terminals, and the bidi embedding, override and
 * isolate characters reorder the text around them. Each such character is shown as a visible escape instead, on the
 * same line: `\n`, `\r`, `\t`, `\x1b`, `\x9b`, `\u202e`.
 */

// C0 controls and DEL, C1 controls, the Arabic letter mark, LRM/RLM, line and paragraph separators, bidi embeddings
// and overrides (U+202A–202E) and isolates (U+2066–2069).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  return SHORT[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
}

/** `text` with every control, bidi and line-break character replaced by a visible escape: always one line. */
export function safeText(text: string): string {
  return String(text).replace(UNSAFE, escapeChar)
}

// In JSON text these characters can only stand inside strings (they are not JSON syntax), where `\uXXXX` means the
// same character: escaping them keeps the JSON exactly equal for a parser and inert for a terminal.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * `JSON.stringify(value, null, indent)`, with the characters JSON leaves raw (DEL, C1, bidi, U+2028/2029) written as
 * `\uXXXX` escapes too. `JSON.parse` of the result gives exactly the same value.
 */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}
