/** `*` any run of characters, `?` one character, everything else literal. */
export function compileGlob(pattern: string): (s: string) => boolean {
  if (!/[*?]/.test(pattern)) return (s) => s === pattern;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*+/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`, 's');
  return (s) => re.test(s);
}
