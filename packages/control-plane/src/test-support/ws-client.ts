import { WebSocket } from 'ws';

export interface StreamResult {
  stdout: string;
  stderr: string;
  exitCode?: number;
  signal?: string | null;
  error?: { code: string; message: string };
  pid?: number;
  closeCode?: number;
}

/**
 * Runs one exec stream: sends `start`, then each of `inputs` once the process has started, and collects
 * everything until the server closes.
 */
export function execStream(
  url: string,
  key: string,
  sandboxId: string,
  start: Record<string, unknown>,
  inputs: Array<Record<string, unknown>> = [],
  onStdout?: (text: string, socket: WebSocket) => void,
): Promise<StreamResult> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/v1/sandboxes/${sandboxId}/exec/stream?apiKey=${key}`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl);
    const result: StreamResult = { stdout: '', stderr: '' };
    socket.on('open', () => socket.send(JSON.stringify({ type: 'start', ...start })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'started') {
        result.pid = message.pid;
        for (const input of inputs) socket.send(JSON.stringify(input));
      } else if (message.type === 'stdout') {
        const text = Buffer.from(message.data, 'base64').toString();
        result.stdout += text;
        onStdout?.(result.stdout, socket);
      } else if (message.type === 'stderr') result.stderr += Buffer.from(message.data, 'base64').toString();
      else if (message.type === 'exit') {
        result.exitCode = message.exitCode;
        result.signal = message.signal;
      } else if (message.type === 'error') result.error = message.error;
    });
    socket.on('unexpected-response', (_req, res) => {
      result.closeCode = res.statusCode;
      resolve(result);
    });
    socket.on('close', (code) => {
      result.closeCode = code;
      resolve(result);
    });
    socket.on('error', reject);
  });
}

export const b64 = (text: string) => Buffer.from(text).toString('base64');
