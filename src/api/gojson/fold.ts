/**
 * Case-insensitive key matching as Go's encoding/json does it for ASCII field names.
 *
 * Go 1.19 (dockerd 20.10) uses `equalFoldRight`/`simpleLetterEqualFold` in fold.go; Go 1.24
 * (dockerd 26.1) compares `foldName`s, each rune replaced by the smallest of its `unicode.SimpleFold`
 * orbit; Go 1.27's v1 emulation on top of json/v2 (dockerd 28.5 is built with GOEXPERIMENT jsonv2
 * on by default) uses `strings.EqualFold` (`MatchCaseSensitiveDelimiter`: `-` and `_` are not
 * ignored). For an ASCII field name all three reduce to: ASCII letters match either case, and only two non-ASCII runes fold
 * onto ASCII letters in Unicode's simple case folding, U+017F (ſ) onto s and U+212A (Kelvin) onto
 * k. fold.test.ts checks that claim against the Unicode tables of the running JavaScript engine.
 */

/** The folded form of a key, or undefined when no ASCII name can fold-match it. */
export function foldKey(key: string): string | undefined {
  let out = '';
  for (const ch of key) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : ch;
    else if (c === 0x17f) out += 'S';
    else if (c === 0x212a) out += 'K';
    else return undefined;
  }
  return out;
}
