/** Vite's `?raw` imports (the file's text), used for test vectors in Node and in the browser alike. */
declare module '*?raw' {
  const text: string
  export default text
}
