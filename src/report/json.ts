import type { Report } from './finding.js';

/**
 * The report as JSON, described by schema/audit-report.schema.json: `schemaVersion` changes
 * only when a field changes meaning or goes away; new fields may be added within a version.
 */
export const REPORT_SCHEMA_ID = 'urn:dockward:schema:audit-report:1';

export function renderJson(r: Report): string {
  return `${JSON.stringify({ $schema: REPORT_SCHEMA_ID, ...r }, null, 2)}\n`;
}
