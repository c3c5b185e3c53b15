/**
 * Outgoing HTTP (wasi:http/types + wasi:http/outgoing-handler) for tasks whose flow lists allowed
 * hosts. Not implemented yet: every call is a sandbox violation, as without a grant.
 */
import { sandboxViolation } from '../failures.js';

export function httpImports(allowedHosts: string[]): Record<string, object> {
  const deny = (iface: string) =>
    new Proxy({}, { get: (_t, key) => (typeof key === 'string' && key !== 'then' ? () => { throw sandboxViolation(`${iface}#${key} (allowed hosts: ${allowedHosts.join(', ')})`); } : undefined) });
  return { 'wasi:http/types': deny('wasi:http/types'), 'wasi:http/outgoing-handler': deny('wasi:http/outgoing-handler') };
}
