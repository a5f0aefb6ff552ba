/**
 * Reading a canonical body (a plain object with Go's field names, see api/bodies/canonical.ts)
 * and naming what is wrong with it: shared by the container, network and query checks.
 */
import type { BodyCode } from '../codes.js';

export type Obj = Record<string, unknown>;

export interface BodyRefusal {
  code: BodyCode;
  /** The JSON path of the offending value, e.g. `HostConfig.Binds[0]`. */
  field: string;
  message: string;
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
export const keys = (v: unknown): string[] => (isObj(v) ? Object.keys(v) : []);

export function refuse(code: BodyCode, field: string, message: string): BodyRefusal {
  return { code, field, message };
}
