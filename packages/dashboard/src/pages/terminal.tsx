// A shell in the sandbox over the PTY WebSocket. Loaded lazily (xterm.js is most of the bundle).
import { type ConnectionOptions, type ExecStream, Sandbox, type SandboxState } from '@amber/sdk';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../components/error-box.js';

const SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi';
const RECONNECT_MS = 1500;

type Status = { kind: 'connecting' | 'connected' | 'waiting' | 'exited'; text: string };

/**
 * Keeps one shell open while the sandbox runs. When the stream drops (a pause stops the VM under it) it
 * waits for the sandbox to run again and opens a new shell; a shell that exits is restarted on request.
 */
export function Terminal(props: { sandboxId: string; conn: ConnectionOptions; state: SandboxState }) {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<Status>({ kind: 'connecting', text: 'Connecting…' });
  const [size, setSize] = useState({ cols: 0, rows: 0 });
  const restart = useRef<(note?: string) => void>(() => {});
  const wasStopped = useRef(false);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new XTerm({ cursorBlink: true, fontSize: 14, scrollback: 5000, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    setSize({ cols: term.cols, rows: term.rows });
    let stream: ExecStream | undefined;
    /**
     * Keys typed while a shell starts, held until its first output (its prompt): bash sets the terminal up
     * and runs its profile first, and keys that reach the tty before that can be echoed half and lost.
     */
    let typeahead: string[] | undefined;
    let disposed = false;
    let generation = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const retryLater = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void connect(), RECONNECT_MS);
    };
    const connect = async () => {
      // A retry still pending (the stream dropped while the sandbox paused) would open a second shell beside
      // the one a resume opens, and the two would share the screen and the keys.
      clearTimeout(timer);
      const mine = ++generation;
      stream = undefined;
      typeahead = [];
      try {
        const sb = await Sandbox.get(props.sandboxId, props.conn);
        if (disposed || mine !== generation) return;
        if (sb.state !== 'running') {
          typeahead = undefined;
          setStatus({
            kind: 'waiting',
            text: `The sandbox is ${sb.state}: the terminal reconnects when it runs.`,
          });
          retryLater();
          return;
        }
        setStatus({ kind: 'connecting', text: 'Connecting…' });
        const s = await sb.execStream(SHELL, {
          pty: true,
          cols: term.cols,
          rows: term.rows,
          envs: { TERM: 'xterm-256color', LANG: 'C.UTF-8' },
        });
        if (disposed || mine !== generation) {
          s.close();
          return;
        }
        stream = s;
        setStatus({ kind: 'connected', text: 'Connected' });
        for await (const out of s) {
          // A newer shell owns the screen and the keys typed ahead.
          if (mine !== generation) break;
          term.write(out.data);
          if (typeahead === undefined) continue;
          if (typeahead.length > 0) s.sendStdin(typeahead.join(''));
          typeahead = undefined;
        }
        if (disposed || mine !== generation) {
          s.close();
          return;
        }
        const exit = await s.wait();
        if (disposed || mine !== generation) return;
        stream = undefined;
        term.write(`\r\n\x1b[2m[the shell exited with ${exit.signal ?? exit.exitCode}]\x1b[0m\r\n`);
        setStatus({ kind: 'exited', text: 'The shell exited.' });
      } catch (err) {
        if (disposed || mine !== generation) return;
        stream = undefined;
        typeahead = undefined;
        setStatus({ kind: 'waiting', text: `Disconnected (${describeError(err)}); reconnecting…` });
        retryLater();
      }
    };
    restart.current = (note?: string) => {
      stream?.close();
      stream = undefined;
      term.write(`\r\n${note ? `\x1b[2m[${note}]\x1b[0m\r\n` : ''}`);
      void connect();
    };

    const onData = term.onData((data) => (typeahead ? typeahead.push(data) : stream?.sendStdin(data)));
    const onResize = term.onResize(({ cols, rows }) => {
      setSize({ cols, rows });
      stream?.resize(cols, rows);
    });
    const observer = new ResizeObserver(() => fit.fit());
    observer.observe(el);
    void connect();
    return () => {
      disposed = true;
      clearTimeout(timer);
      observer.disconnect();
      onData.dispose();
      onResize.dispose();
      stream?.close();
      term.dispose();
    };
  }, [props.sandboxId, props.conn.apiKey]);

  // A pause stops the VM under the stream, which is dead after the resume though its socket stays open:
  // once the sandbox runs again, a new shell replaces it.
  useEffect(() => {
    if (props.state !== 'running') wasStopped.current = true;
    else if (wasStopped.current) {
      wasStopped.current = false;
      restart.current('the sandbox was paused: a new shell');
    }
  }, [props.state]);
  const frozen = status.kind === 'connected' && props.state !== 'running';
  const shown: Status = frozen
    ? { kind: 'waiting', text: `The sandbox is ${props.state}: the terminal reconnects when it runs.` }
    : status;
  return (
    <div class="card terminal-card">
      <p class={`term-status term-${shown.kind}`} role="status" data-testid="terminal-status">
        {shown.text}{' '}
        {status.kind === 'exited' && (
          <button type="button" onClick={() => restart.current()}>
            Start a new shell
          </button>
        )}
        <span class="muted">
          {' '}
          {size.cols}×{size.rows}
        </span>
      </p>
      <div class="terminal" ref={host} data-testid="terminal" data-cols={size.cols} data-rows={size.rows} />
    </div>
  );
}
