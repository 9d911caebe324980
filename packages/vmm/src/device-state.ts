import { readFile } from 'node:fs/promises';

// A device's full state in QEMU's migration stream: QEMU_VM_SECTION_FULL, a 32-bit section id, then the
// device's id string with a one-byte length in front.
const SECTION_FULL = 0x04;
const HPET = Buffer.from('hpet');

/**
 * Whether a saved device state (saveStateFile) holds an HPET, so its VM must be started with one
 * (`VmSpec.hpet`): QEMU refuses a stream with a section for a device the VM lacks.
 */
export async function deviceStateHasHpet(path: string): Promise<boolean> {
  const stream = await readFile(path);
  for (let at = stream.indexOf(HPET); at !== -1; at = stream.indexOf(HPET, at + 1)) {
    if (at >= 6 && stream[at - 1] === HPET.length && stream[at - 6] === SECTION_FULL) return true;
  }
  return false;
}
