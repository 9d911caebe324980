import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { VmmError } from './errors.js';

/** What a VM must have been started with to load a saved device state. */
export interface SavedMachine {
  /** QEMU's machine type, by its versioned name (`pc-i440fx-10.0`, never the `pc` alias). */
  machine: string;
  hpet: boolean;
}

// QEMU's migration stream: "QEVM", a 32-bit version, then QEMU_VM_CONFIGURATION with the machine type's
// name (32-bit length in front). A device's full state is QEMU_VM_SECTION_FULL, a 32-bit section id, then
// the device's id string with a one-byte length in front.
const MAGIC = Buffer.from('QEVM');
const CONFIGURATION = 0x07;
const SECTION_FULL = 0x04;
const HPET = Buffer.from('hpet');

/**
 * Reads what a saved device state (saveStateFile) needs of the VM that loads it: QEMU refuses a stream
 * from another machine type, or with a section for a device the VM lacks.
 */
export async function savedMachine(path: string): Promise<SavedMachine> {
  const stream = await readFile(path);
  if (stream.length < 13 || !stream.subarray(0, 4).equals(MAGIC) || stream[8] !== CONFIGURATION)
    throw new VmmError('invalid_state', `${path} is not a QEMU device state with a machine type`);
  const nameEnd = 13 + stream.readUInt32BE(9);
  if (nameEnd > stream.length) throw new VmmError('invalid_state', `${path} is cut short`);
  return { machine: stream.toString('latin1', 13, nameEnd), hpet: hasHpet(stream) };
}

function hasHpet(stream: Buffer): boolean {
  for (let at = stream.indexOf(HPET); at !== -1; at = stream.indexOf(HPET, at + 1)) {
    if (at >= 6 && stream[at - 1] === HPET.length && stream[at - 6] === SECTION_FULL) return true;
  }
  return false;
}

/**
 * The versioned machine type an alias such as `pc` stands for in this QEMU. New VMs are started with it,
 * and a snapshot keeps it: after a QEMU upgrade the alias names a newer type, which the old state would
 * not load into, while the old type stays available by name.
 */
export async function resolveMachineType(alias = 'pc', qemu = 'qemu-system-x86_64'): Promise<string> {
  let listing: string;
  try {
    listing = (await promisify(execFile)(qemu, ['-machine', 'help'])).stdout;
  } catch (cause) {
    throw new VmmError('qemu_not_found', `cannot list ${qemu}'s machine types`, { cause });
  }
  for (const line of listing.split('\n')) {
    const [name, ...rest] = line.trim().split(/\s+/);
    if (name !== alias) continue;
    return /\(alias of ([^)\s]+)\)/.exec(rest.join(' '))?.[1] ?? alias;
  }
  throw new VmmError('invalid_spec', `${qemu} has no machine type ${alias}`);
}
