/**
 * The one table a bench run ends with: each headline figure per target, and the gateway's figure
 * over each baseline's, printed as Markdown so that the README's benchmark table is this table
 * as printed, not a transcription of the sections above it.
 */
import type { TargetName } from './stack.js';
import { fmt, ratio } from './table.js';

/** The baselines the gateway is divided by, in column order. */
const BASELINES: [TargetName, string][] = [
  ['dockerd-tls', 'dockerd TLS'],
  ['haproxy', 'HAProxy'],
  ['node-floor', 'Node floor'],
];

interface Row {
  measure: string;
  values: Map<TargetName, number>;
  digits: number;
}

export class Summary {
  private readonly rows: Row[] = [];

  /** A figure per target (NaN or absent: not measured there). */
  add(measure: string, values: Iterable<[TargetName, number]>, digits = 0): void {
    this.rows.push({ measure, values: new Map(values), digits });
  }

  print(names: TargetName[]): void {
    if (!this.rows.length) return;
    const baselines = BASELINES.filter(([n]) => names.includes(n));
    const line = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
    console.log('\nsummary (Markdown): each figure as measured above; the last columns are the gateway\'s figure divided by each baseline\'s');
    line(['measure', ...names, ...baselines.map(([, label]) => `gateway ÷ ${label}`)]);
    line(Array.from({ length: 1 + names.length + baselines.length }, () => '---'));
    for (const r of this.rows) {
      const value = (n: TargetName) => r.values.get(n) ?? NaN;
      const cell = (n: TargetName) => (Number.isFinite(value(n)) ? fmt(value(n), r.digits) : '');
      line([r.measure, ...names.map(cell), ...baselines.map(([n]) => (Number.isFinite(value(n)) ? ratio(value('gateway'), value(n)) : ''))]);
    }
  }
}
