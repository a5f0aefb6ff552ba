import ipaddr from 'ipaddr.js';

/**
 * Who counts as one client for the per-address limits: an IPv4 address (also when IPv4-mapped),
 * or an IPv6 /64, since a single host usually has a whole /64 to pick source addresses from.
 */
export function clientGroup(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  return ip.kind() === 'ipv6' ? `${(ip as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64` : ip.toString();
}
