/**
 * /etc/subuid and /etc/subgid (`name:start:count` per line). userns-remap maps container ids
 * onto the remap user's range; a range that overlaps another user's would let that user's
 * processes and the containers' share host ids, so a new range is placed after every
 * existing one, never across it.
 */
export interface SubIdRange {
  name: string;
  start: number;
  count: number;
  /** 1-based line in the file, when parsed from one. */
  line?: number;
}

/** The size dockerd asks usermod for, and what a container's 0..65535 needs. */
export const RANGE_SIZE = 65536;
/** Where login.defs starts handing out ranges (SUB_UID_MIN); nothing lower is used. */
const FIRST_START = 100000;

export function parseSubIds(text: string): { ranges: SubIdRange[]; bad: number[] } {
  const ranges: SubIdRange[] = [];
  const bad: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^([^:\s]+):(\d+):(\d+)$/.exec(line);
    if (!m) bad.push(i + 1);
    else ranges.push({ name: m[1]!, start: Number(m[2]), count: Number(m[3]), line: i + 1 });
  });
  return { ranges, bad };
}

/** The user's existing ranges: the user may appear by name or by numeric uid. */
export function rangesOf(ranges: SubIdRange[], name: string, uid?: number): SubIdRange[] {
  return ranges.filter((r) => r.name === name || (uid !== undefined && r.name === String(uid)));
}

/** The lowest start at or above FIRST_START where RANGE_SIZE ids overlap no existing range. */
export function freeRangeStart(ranges: SubIdRange[], size = RANGE_SIZE): number {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let start = FIRST_START;
  for (const r of sorted) {
    if (r.start + r.count <= start) continue;
    if (r.start >= start + size) break;
    start = r.start + r.count;
  }
  return start;
}

/** The file with `name:start:count` appended, keeping every existing byte. */
export function appendRange(text: string, range: SubIdRange): string {
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${sep}${range.name}:${range.start}:${range.count}\n`;
}

/**
 * The ranges that repeat an earlier one exactly. dockerd hands runc every listed range, and a
 * range listed twice makes every container start fail ("can't get final child's PID from pipe");
 * a second `dockremap` line is what a host gets when something appends its own after dockerd's.
 */
export function repeatedRanges(own: SubIdRange[]): SubIdRange[] {
  const seen = new Set<string>();
  return own.filter((r) => {
    const key = `${r.start}:${r.count}`;
    if (seen.has(key)) return true;
    seen.add(key);
    return false;
  });
}

/** The file without the given lines, every other byte kept. */
export function withoutLines(text: string, lines: number[]): string {
  const drop = new Set(lines);
  return text
    .split('\n')
    .filter((_, i) => !drop.has(i + 1))
    .join('\n');
}

export function overlaps(a: SubIdRange, b: SubIdRange): boolean {
  return a.start < b.start + b.count && b.start < a.start + a.count;
}
