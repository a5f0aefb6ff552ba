import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import AjvDraft04Module from 'ajv-draft-04';

// ajv-draft-04 is CommonJS whose class is `exports.default`: under NodeNext the import is the module object.
const AjvDraft04 = (AjvDraft04Module as unknown as { default: new (o: object) => InstanceType<typeof Ajv> }).default;

const ROOT = join(import.meta.dirname, '..', '..');

/** The published report schema, as an editor or a CI step would load it. */
export function assertReportSchema(report: unknown): void {
  const schema = JSON.parse(readFileSync(join(ROOT, 'schema', 'audit-report.schema.json'), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d\d-\d\dT/.test(s));
  const validate = ajv.compile(schema);
  assert.ok(validate(report), JSON.stringify(validate.errors, null, 2));
}

/** The SARIF 2.1.0 schema (draft-04) shipped by @microsoft/jest-sarif, committed under test/fixtures/sarif. */
export function assertSarif(log: unknown): void {
  const schema = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'sarif', 'sarif-2.1.0-rtm.5.json'), 'utf8')) as object;
  // The schema's language-tag pattern is not valid as a Unicode regular expression.
  const ajv = new AjvDraft04({ allErrors: true, strict: false, validateFormats: false, unicodeRegExp: false });
  const validate = ajv.compile(schema);
  assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 10), null, 2));
}
