/** Vite's `?raw` imports (vitest): a file's text, e.g. a stylesheet a test loads into jsdom. */
declare module '*.css?raw' {
  const text: string;
  export default text;
}
