import { open } from 'node:fs/promises';

/** The last `bytes` of a file as text, or '' if it doesn't exist: for error messages about a dead VM. */
export async function fileTail(path: string, bytes = 2000): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}
