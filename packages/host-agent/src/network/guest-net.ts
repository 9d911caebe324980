/**
 * Every guest gets the same address, in a network namespace of its own, so any snapshot restores into any
 * slot. The host reaches envd by creating sockets inside the namespace; no route leads from the host's
 * namespace (or another sandbox's) into it.
 */
export const GUEST_NET = {
  guestIp: '169.254.0.21',
  hostIp: '169.254.0.22',
  prefix: 30,
  tap: 'tap0',
  mac: '52:54:00:a0:00:21',
  // Fixed too: a restored guest's ARP cache still names the tap of the slot it was snapshotted in.
  hostMac: '52:54:00:a0:00:22',
} as const;
