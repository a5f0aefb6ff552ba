import type { Report } from './finding.js';
import { renderTable } from './table.js';
import { renderJson } from './json.js';
import { renderSarif } from './sarif.js';
import { renderHtml } from './html.js';

export const FORMATS = ['table', 'json', 'sarif', 'html'] as const;
export type Format = (typeof FORMATS)[number];

export function renderReport(r: Report, format: Format, colour = false): string {
  switch (format) {
    case 'table':
      return renderTable(r, colour);
    case 'json':
      return renderJson(r);
    case 'sarif':
      return renderSarif(r);
    case 'html':
      return renderHtml(r);
  }
}
