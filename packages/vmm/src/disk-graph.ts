// The sandbox disk as QEMU block nodes. The guest's virtio-blk device sits on a `raw` node whose `file`
// child is the disk's current top image: a VM launched ahead of the restore it will serve (before anyone
// knows which disk) starts on a placeholder of the right size, and `blockdev-reopen` swaps in the real
// image later. A raw node passes requests straight through.

/** An image file, or a placeholder (reads zeros) for a VM launched before its disk is known. */
export type DiskSpec = { path: string; format: 'qcow2' | 'raw' } | { placeholderBytes: number };

export type DiskImage = Extract<DiskSpec, { path: string }>;

/** The node the device is attached to. */
export const DISK_NODE = 'disk0';

/** cache=unsafe: writes are cached and never flushed (the snapshot engine makes disks durable itself). */
const NODE_OPTIONS = { cache: { 'no-flush': true }, discard: 'unmap' } as const;

export function imageNodeName(index: number): string {
  return `${DISK_NODE}-img${index}`;
}

/** The index in an imageNodeName, or undefined for any other node. */
export function imageNodeIndex(nodeName: string): number | undefined {
  const match = new RegExp(`^${DISK_NODE}-img(\\d+)$`).exec(nodeName);
  return match ? Number(match[1]) : undefined;
}

/** The image node for `disk` under `nodeName` (a qcow2 opens its backing chain from its header). */
export function imageNode(disk: DiskSpec, nodeName: string): Record<string, unknown> {
  if ('placeholderBytes' in disk) {
    return { driver: 'null-co', 'node-name': nodeName, size: disk.placeholderBytes, 'read-zeroes': true };
  }
  return {
    driver: disk.format,
    'node-name': nodeName,
    file: { driver: 'file', filename: disk.path, ...NODE_OPTIONS },
    ...NODE_OPTIONS,
  };
}

/** The device's node, over `imageNodeName`. */
export function deviceNode(imageNodeName: string): Record<string, unknown> {
  return { driver: 'raw', 'node-name': DISK_NODE, file: imageNodeName, ...NODE_OPTIONS };
}

export function diskArgs(disk: DiskSpec): string[] {
  const image = imageNodeName(0);
  return [
    '-blockdev',
    JSON.stringify(imageNode(disk, image)),
    '-blockdev',
    JSON.stringify(deviceNode(image)),
    '-device',
    `virtio-blk-pci,drive=${DISK_NODE}`,
  ];
}
