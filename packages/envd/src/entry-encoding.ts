// ListDirResponse encoded by hand, in protobuf binary and in proto3 JSON, from plain rows. envd runs in
// V8's interpreter under an emulating hypervisor; protobuf-es builds and walks a reflective message per
// entry, which made a 1,000-entry listing cost seconds. The field numbers below are filesystem.proto's
// EntryInfo; entry-encoding.test.ts checks both encodings against protobuf-es's own.
import { FileType } from '@amber/proto/filesystem';
import type { EntryRow } from './entry-info.js';
import { fileTypeOf, permissionsOf } from './entry-info.js';
import type { OwnerNames } from './users.js';

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const tag = (field: number, wire: number) => (field << 3) | wire;

/** An entry's fields, resolved once and shared by the sizing and writing passes. */
interface Resolved {
  row: EntryRow;
  type: FileType;
  permissions: string;
  owner: string;
  group: string;
  seconds: number;
  nanos: number;
  /** Bytes of the EntryInfo message (without its own tag and length). */
  size: number;
  timestampSize: number;
  metadataSizes: number[];
}

function varintSize(value: number): number {
  if (value < 0) return 10; // an int64 below zero is sign-extended to 64 bits
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function stringSize(s: string): number {
  const bytes = Buffer.byteLength(s);
  return varintSize(bytes) + bytes;
}

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    if (value < 0) {
      let big = BigInt.asUintN(64, BigInt(value));
      while (big >= 128n) {
        this.buf[this.pos++] = Number(big & 127n) | 128;
        big >>= 7n;
      }
      this.buf[this.pos++] = Number(big);
      return;
    }
    while (value >= 128) {
      this.buf[this.pos++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buf[this.pos++] = value;
  }

  string(field: number, s: string): void {
    this.buf[this.pos++] = tag(field, WIRE_LEN);
    const bytes = Buffer.byteLength(s);
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

function resolve(row: EntryRow, names: OwnerNames): Resolved {
  const ms = Math.floor(row.mtimeMs);
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  const r: Resolved = {
    row,
    type: fileTypeOf(row.mode),
    permissions: permissionsOf(row.mode),
    owner: names.user(row.uid),
    group: names.group(row.gid),
    seconds,
    nanos,
    size: 0,
    timestampSize: 0,
    metadataSizes: [],
  };
  // Proto3 leaves fields at their default out; the timestamp and a set optional are always written.
  let size = 0;
  if (row.name) size += 1 + stringSize(row.name);
  if (r.type !== FileType.UNSPECIFIED) size += 1 + varintSize(r.type);
  if (row.path) size += 1 + stringSize(row.path);
  if (row.size !== 0) size += 1 + varintSize(row.size);
  const mode = row.mode & 0o777;
  if (mode !== 0) size += 1 + varintSize(mode);
  if (r.permissions) size += 1 + stringSize(r.permissions);
  if (r.owner) size += 1 + stringSize(r.owner);
  if (r.group) size += 1 + stringSize(r.group);
  r.timestampSize = (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  size += 1 + varintSize(r.timestampSize) + r.timestampSize;
  if (row.symlinkTarget !== undefined) size += 1 + stringSize(row.symlinkTarget);
  if (row.metadata) {
    for (const [key, value] of Object.entries(row.metadata)) {
      const entry = 1 + stringSize(key) + 1 + stringSize(value);
      r.metadataSizes.push(entry);
      size += 1 + varintSize(entry) + entry;
    }
  }
  r.size = size;
  return r;
}

function writeEntry(w: Writer, r: Resolved): void {
  const { row } = r;
  if (row.name) w.string(1, row.name);
  if (r.type !== FileType.UNSPECIFIED) {
    w.buf[w.pos++] = tag(2, WIRE_VARINT);
    w.varint(r.type);
  }
  if (row.path) w.string(3, row.path);
  if (row.size !== 0) {
    w.buf[w.pos++] = tag(4, WIRE_VARINT);
    w.varint(row.size);
  }
  const mode = row.mode & 0o777;
  if (mode !== 0) {
    w.buf[w.pos++] = tag(5, WIRE_VARINT);
    w.varint(mode);
  }
  if (r.permissions) w.string(6, r.permissions);
  if (r.owner) w.string(7, r.owner);
  if (r.group) w.string(8, r.group);
  w.buf[w.pos++] = tag(9, WIRE_LEN);
  w.varint(r.timestampSize);
  if (r.seconds !== 0) {
    w.buf[w.pos++] = tag(1, WIRE_VARINT);
    w.varint(r.seconds);
  }
  if (r.nanos !== 0) {
    w.buf[w.pos++] = tag(2, WIRE_VARINT);
    w.varint(r.nanos);
  }
  if (row.symlinkTarget !== undefined) w.string(10, row.symlinkTarget);
  if (row.metadata) {
    let i = 0;
    for (const [key, value] of Object.entries(row.metadata)) {
      w.buf[w.pos++] = tag(11, WIRE_LEN);
      w.varint(r.metadataSizes[i++] as number);
      w.string(1, key);
      w.string(2, value);
    }
  }
}

/** ListDirResponse { repeated EntryInfo entries = 1 } in protobuf binary. */
export function listDirBinary(rows: EntryRow[], names: OwnerNames): Buffer {
  const resolved = rows.map((row) => resolve(row, names));
  let total = 0;
  for (const r of resolved) total += 1 + varintSize(r.size) + r.size;
  const w = new Writer(Buffer.allocUnsafe(total));
  for (const r of resolved) {
    w.buf[w.pos++] = tag(1, WIRE_LEN);
    w.varint(r.size);
    writeEntry(w, r);
  }
  if (w.pos !== total) throw new Error(`ListDir encoding wrote ${w.pos} of ${total} bytes`);
  return w.buf;
}

const TYPE_NAMES: Record<number, string> = {
  [FileType.UNSPECIFIED]: 'FILE_TYPE_UNSPECIFIED',
  [FileType.FILE]: 'FILE_TYPE_FILE',
  [FileType.DIRECTORY]: 'FILE_TYPE_DIRECTORY',
  [FileType.SYMLINK]: 'FILE_TYPE_SYMLINK',
};

/** RFC 3339 as proto3 JSON wants it (years 1-9999); outside that range protobuf-es refuses too. */
function timestampJson(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (!(year >= 1 && year <= 9999)) throw new RangeError(`modified time ${ms} ms is not a valid Timestamp`);
  return date.toISOString();
}

/** ListDirResponse in proto3 JSON (E2B's SDK uses Connect's JSON codec), built by JSON.stringify. */
export function listDirJson(rows: EntryRow[], names: OwnerNames): string {
  const entries = rows.map((row) => ({
    name: row.name,
    type: TYPE_NAMES[fileTypeOf(row.mode)],
    path: row.path,
    size: String(row.size),
    mode: row.mode & 0o777,
    permissions: permissionsOf(row.mode),
    owner: names.user(row.uid),
    group: names.group(row.gid),
    modifiedTime: timestampJson(Math.floor(row.mtimeMs)),
    symlinkTarget: row.symlinkTarget,
    metadata: row.metadata,
  }));
  return JSON.stringify({ entries });
}
