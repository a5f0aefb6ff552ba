/**
 * Variable substitution in Dockerfile words as BuildKit's shell.Lex (ProcessWord) does it, which
 * the classic builder uses too: quotes removed (single: literal; double: `$` expanded, the escape
 * token taken before `"`, `$` and itself), the escape token outside quotes taking the next
 * character literally, `$NAME`, `${NAME}` and the modifiers `-`, `+`, `?` (each with or without
 * `:`). A variable dockward cannot know (`lookup` answers 'unknown'), and the pattern modifiers
 * (`#`, `%`, `/`), throw: whatever depends on them is refused.
 */

export class Unknowable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unknowable';
  }
}

/** A variable's value; null: declared but not set (a bare ARG); 'unknown': anything. */
export type Lookup = (name: string) => string | null | 'unknown';
const UNKNOWN = 'unknown';

const isLetter = (c: string) => /\p{L}/u.test(c);
const isDigit = (c: string) => /\p{Nd}/u.test(c);
const SPECIAL = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

class Word {
  private i = 0;
  private readonly chars: string[];

  constructor(
    text: string,
    private readonly escape: string,
    private readonly lookup: Lookup,
  ) {
    this.chars = [...text];
  }

  private peek(): string | undefined {
    return this.chars[this.i];
  }

  private next(): string | undefined {
    return this.chars[this.i++];
  }

  /** processStopOn: up to `stop` (consumed) or the end when `stop` is undefined. */
  run(stop?: string): string {
    let out = '';
    for (let c = this.peek(); c !== undefined; c = this.peek()) {
      if (stop !== undefined && c === stop) {
        this.next();
        return out;
      }
      if (c === '$') out += this.dollar();
      else if (c === "'") out += this.single();
      else if (c === '"') out += this.double();
      else {
        this.next();
        if (c === this.escape) {
          const n = this.next();
          if (n === undefined) break;
          out += n;
        } else out += c;
      }
    }
    if (stop !== undefined) throw new Unknowable(`an unterminated ${stop}`);
    return out;
  }

  private single(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === undefined) throw new Unknowable('an unterminated single quote');
      if (c === "'") return out;
      out += c;
    }
  }

  private double(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new Unknowable('an unterminated double quote');
      if (c === '"') {
        this.next();
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (c === this.escape) {
        const n = this.peek();
        if (n === undefined) continue;
        if (n === '"' || n === '$' || n === this.escape) {
          out += this.next();
          continue;
        }
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    for (let c = this.peek(); c !== undefined; c = this.peek()) {
      if (name === '' && isDigit(c)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL.has(c)) return this.next()!;
      if (!isLetter(c) && !isDigit(c) && c !== '_') break;
      name += this.next();
    }
    return name;
  }

  private value(name: string): string | null {
    const v = this.lookup(name);
    if (v === UNKNOWN) throw new Unknowable(`the variable ${JSON.stringify(name)} has no value dockward can know`);
    return v;
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.value(name) ?? '');
    }
    this.next();
    const first = this.peek();
    if (first === undefined || first === '{' || first === '}' || first === ':') throw new Unknowable('a bad substitution');
    const name = this.name();
    let op = this.next();
    if (op === '}') return this.value(name) ?? '';
    const colon = op === ':';
    if (colon) op = this.next();
    if (op !== '-' && op !== '+' && op !== '?') throw new Unknowable(`the substitution modifier ${JSON.stringify(op ?? '')}, which dockward does not evaluate`);
    const word = this.run('}');
    const v = this.value(name);
    const unset = v === null || (colon && v === '');
    if (op === '-') return unset ? word : v!;
    if (op === '+') return unset ? '' : word;
    if (unset) throw new Unknowable(`the variable ${JSON.stringify(name)} must be set`);
    return v!;
  }
}

/** One word after substitution, as the builder reads it. */
export function processWord(text: string, escape: string, lookup: Lookup): string {
  return new Word(text, escape, lookup).run();
}
