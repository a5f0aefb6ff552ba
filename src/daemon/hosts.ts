/**
 * dockerd's own reading of a listener address (opts.ParseHost): one without a scheme
 * (`0.0.0.0:2376`, as seed 004 writes it) is tcp://. Plan and validation both ask here, so
 * what the plan calls a TCP listener is what validation tries as one.
 */
export function isTcpHost(h: unknown): h is string {
  return typeof h === 'string' && (/^tcp:\/\//.test(h) || (h.trim() !== '' && !h.includes('://')));
}
