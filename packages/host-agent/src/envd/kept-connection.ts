import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { saveTcpConnection, type TcpConnectionState } from '@amber/native';
import {
  CONTROL_PROTOCOL,
  ControlChannel,
  type EnvdConnection,
  type EnvdProtocol,
} from './control-channel.js';
import type { EnvdHttp } from './envd-http.js';

/** A connection envd keeps open while the VM is captured. */
export interface HeldConnection {
  readonly socket: Socket;
  readonly protocol: EnvdProtocol;
  /** Closes it (FIN): the guest sees the close. */
  release(): void;
  /**
   * Closes it silently after reading its TCP state (stop the VM first): the guest's end stays open, to be
   * carried on by `restoreTcpConnection` after a restore. Throws if it cannot be saved; closed either way.
   */
  save(): TcpConnectionState;
}

/** What the client may ask of the VM while it waits for the guest. */
export interface GuestWatch {
  alive(): boolean;
  /** True if the guest's vCPUs are still: it is not working toward an answer. */
  idle(): Promise<boolean>;
}

/**
 * A rebuilt connection normally answers in ~100 ms even on an emulated CPU. Past this without an answer, it
 * is written off as soon as the guest is idle: a guest still busy (on a loaded host, 20 restores sharing 2
 * cores) is on its way to the answer, and the fresh connection that would replace it costs the guest a
 * handshake, an accept and cold code on top.
 */
const RESUMED_CONNECTION_PATIENCE_MS = 3000;
/** How often, past that, a busy guest is looked at again. */
const RESUMED_CONNECTION_RECHECK_MS = 500;

type Kept = Socket | ControlChannel;

/**
 * The one connection to envd that outlives a snapshot: a capture's `sync` holds it open while the VM
 * stops, the restore sends `init` on it rebuilt, and it stays open, idle, for the next capture. It speaks
 * the control channel, or HTTP when the guest's envd is from before the channel.
 */
export class KeptConnection {
  /** The connection a restore's `init` answered on, kept open for the next capture's `sync` (`#keep`). */
  #spare: Kept | undefined;
  /** envd answered `GET /control` without switching: a guest restored from before it had the channel. */
  #controlUnsupported = false;

  constructor(private readonly http: EnvdHttp) {}

  /**
   * `init` on the connection the guest held open when it was captured, rebuilt (no handshake, no accept in
   * the guest). Throws if it does not answer, or stops answering while the guest idles.
   */
  async initResumed(resumed: EnvdConnection, deadline: number, guest: GuestWatch): Promise<void> {
    const started = Date.now();
    const timeoutMs = Math.max(1, deadline - started);
    const kept = resumed.protocol === 'control' ? new ControlChannel(resumed.socket) : resumed.socket;
    const answer = this.#initOn(kept, { timestamp: started }, timeoutMs).then(
      () => {
        this.#keep(kept);
        return { answered: true as const };
      },
      (err: unknown) => ({ answered: true as const, err }),
    );
    let wait = RESUMED_CONNECTION_PATIENCE_MS;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        answer,
        new Promise<{ answered: false }>((r) => {
          timer = setTimeout(() => r({ answered: false }), wait);
        }),
      ]);
      clearTimeout(timer);
      if (outcome.answered) {
        if ('err' in outcome) throw outcome.err;
        return;
      }
      if (!guest.alive()) throw new Error('the VM exited');
      if (await guest.idle())
        throw new Error(`no answer in ${Date.now() - started} ms, and the guest is idle`);
      wait = RESUMED_CONNECTION_RECHECK_MS;
    }
  }

  /**
   * Flushes the guest's filesystems to its disk (before a snapshot). The connection stays open until
   * released, so envd is idle when the VM stops: a snapshot taken while envd still closed the connection
   * carried that work into every restore (~1,600 more translation blocks on the way to ready).
   */
  async sync(timeoutMs: number): Promise<HeldConnection> {
    return heldConnection(await this.#sync(timeoutMs));
  }

  /**
   * A capture's calls then a restore's, on one connection kept for the next capture: after a boot, so the
   * guest has run the code of both before its first snapshot.
   */
  async rehearseRestore(timeoutMs: number): Promise<void> {
    const kept = await this.#sync(timeoutMs);
    try {
      await this.#initOn(kept, { timestamp: Date.now() }, timeoutMs);
    } catch (err) {
      kept.destroy();
      throw err;
    }
    this.#keep(kept);
  }

  /** Destroys the kept connection (the VM is going away). */
  close(): void {
    this.#spare?.destroy();
    this.#spare = undefined;
  }

  async #sync(timeoutMs: number): Promise<Kept> {
    const channel = await this.#controlChannel(timeoutMs);
    const kept =
      channel ??
      (await this.#syncOnSpare(timeoutMs)) ??
      (await this.http.noContent('POST', '/sync', { timeoutMs, keepAlive: true }));
    try {
      // Then, on the same connection, an empty /init: what a restore sends first is what the guest ran
      // last, so V8's inline caches and map transitions for it are in the snapshot. After other work (an
      // exec) they had changed, and a template's first answer ran ~2,500 more translation blocks.
      if (kept instanceof ControlChannel) await kept.call({ op: 'sync' }, timeoutMs);
      await this.#initOn(kept, {}, timeoutMs);
    } catch (err) {
      kept.destroy();
      throw err;
    }
    return kept;
  }

  /** `init` on a connection kept open, in the protocol it speaks. */
  async #initOn(kept: Kept, body: { timestamp?: number }, timeoutMs: number): Promise<void> {
    if (kept instanceof ControlChannel) await kept.call({ op: 'init', ...body }, timeoutMs);
    else
      await this.http.noContent('POST', '/init', {
        timeoutMs,
        keepAlive: true,
        socket: kept,
        body: JSON.stringify(body),
      });
  }

  /**
   * Keeps a connection envd answered on, idle: closing it right after a restore's /init ran the guest's
   * whole teardown (Node's stream and handle close, the kernel's socket release, RCU) while other restores
   * competed for the cores, and the next capture then opened a new one (handshake, accept). envd closes
   * it after its keep-alive timeout; a teardown (`close`) destroys it.
   */
  #keep(kept: Kept): void {
    this.#spare?.destroy();
    this.#spare = kept;
    const socket = kept instanceof ControlChannel ? kept.socket : kept;
    // Errors end it like a close does; a keep-alive socket has no other listener left to take them.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (this.#spare === kept) this.#spare = undefined;
    });
  }

  /**
   * The kept control channel, else a new one; undefined when the kept connection speaks HTTP (the guest
   * was captured by an envd from before the channel) or envd turns the upgrade down.
   */
  async #controlChannel(timeoutMs: number): Promise<ControlChannel | undefined> {
    const spare = this.#spare;
    if (spare instanceof ControlChannel) {
      this.#spare = undefined;
      if (spare.usable) return spare;
      spare.destroy();
    } else if (spare && !spare.destroyed) return undefined;
    if (this.#controlUnsupported) return undefined;
    const req = this.http.request('GET', '/control', { connection: 'Upgrade', upgrade: CONTROL_PROTOCOL });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    const switched = await new Promise<Socket | undefined>((resolve, reject) => {
      req.once('upgrade', (_res, socket: Socket) => resolve(socket));
      req.once('response', (res: IncomingMessage) => {
        res.resume();
        resolve(undefined);
      });
      req.once('error', reject);
      req.end();
    });
    if (!switched) this.#controlUnsupported = true;
    return switched && new ControlChannel(switched);
  }

  /** /sync on the kept connection; undefined if there is none, or it failed (a new one then does it). */
  async #syncOnSpare(timeoutMs: number): Promise<Socket | undefined> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (!spare || spare instanceof ControlChannel || spare.destroyed || !spare.writable) return undefined;
    // Mostly envd's keep-alive close crossing the request; either way a new connection tries once more.
    return this.http.noContent('POST', '/sync', { timeoutMs, keepAlive: true, socket: spare }).catch(() => {
      spare.destroy();
      return undefined;
    });
  }
}

function heldConnection(kept: Kept): HeldConnection {
  const socket = kept instanceof ControlChannel ? kept.socket : kept;
  return {
    socket,
    protocol: kept instanceof ControlChannel ? 'control' : 'http',
    release: () => socket.destroy(),
    save: () => {
      try {
        return saveTcpConnection(socket);
      } finally {
        socket.destroy();
      }
    },
  };
}
