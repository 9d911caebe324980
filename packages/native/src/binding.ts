import { createRequire } from 'node:module';
import type { TcpConnectionState } from './tcp-connection-state.js';

/** An event from FaultServer's thread (see fault-server.ts for the typed view). */
export interface RawServerEvent {
  type: string;
  code?: string;
  message?: string;
  guestOffset: number;
  start?: number;
  end?: number;
  to?: number;
  attempts?: number;
}

export interface RawFaultServerOptions {
  uffd: number;
  regions: Array<{ base: number; size: number; offset: number }>;
  table: Float64Array;
  fds: number[];
  pageSize?: number;
  pagesPerFault?: number;
  prefetchChunkPages?: number;
  wp?: 'none' | 'async' | 'sync';
  prefetch?: 'none' | 'all' | 'order';
  order?: Float64Array;
  thenAll?: boolean;
  recordWorkingSet?: boolean;
  /** Faults install only their own page (the recording is what the guest touched) until endExactFaults. */
  exactFaults?: boolean;
  spinUs?: number;
  present?: Float64Array | undefined;
}

/** What FaultServer's thread has done so far (the same view in JS as in the addon). */
export interface FaultServerStats {
  /** Missing-page faults answered. */
  faults: number;
  /** Pages installed for faults (N per fault when batching). */
  pages: number;
  /** Bytes installed (faults and prefetch). */
  bytes: number;
  zeroPages: number;
  /** UFFDIO_COPY found the page already present. */
  eexist: number;
  eagain: number;
  alreadyPresent: number;
  prefetchedPages: number;
  populatedPages: number;
  removedPages: number;
  wpFaults: number;
  storageErrors: number;
  failedInstalls: number;
  events: number;
  totalPages: number;
  /** Fault service latency: bucket i counts [2^i, 2^(i+1)) µs (bucket 0 includes < 1 µs). */
  latencyUs: number[];
}

export interface RawFaultServer {
  start(): void;
  stop(): Promise<void>;
  stats(): FaultServerStats;
  takeDirty(pagemapFd?: number): Float64Array;
  workingSet(): Float64Array;
  setPrefetch(policy: 'none' | 'all' | 'order', order?: Float64Array, thenAll?: boolean): void;
  endExactFaults(): void;
}

export interface RawReceived {
  data: Buffer;
  fds: number[];
  truncated: boolean;
}

export interface RawAccepted extends RawReceived {
  fd: number;
  pid: number;
  uid: number;
  gid: number;
}

export interface RawCommandResult {
  code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
}

/** The raw addon; prefer the typed wrappers exported from index.ts. */
export interface NativeBinding {
  socketInNetns(nsPath: string, family?: 4 | 6): number;
  tcpRepairSave(fd: number): TcpConnectionState;
  tcpRepairRestore(nsPath: string, state: TcpConnectionState): number;

  uffdCreate(flags?: number): number;
  uffdApi(fd: number, features: number): { features: number; ioctls: bigint };
  uffdRegister(fd: number, start: number, length: number, mode: number): bigint;
  uffdUnregister(fd: number, start: number, length: number): void;
  uffdCopy(fd: number, dst: number, src: Uint8Array, mode: number): number;
  uffdZeropage(fd: number, start: number, length: number, mode: number): number;
  uffdWake(fd: number, start: number, length: number): void;
  uffdWriteprotect(fd: number, start: number, length: number, mode: number): void;
  uffdReadEvents(fd: number, max?: number): Array<Record<string, unknown> & { type: string }>;

  socketPair(): [number, number];
  listenUnix(path: string, backlog?: number): number;
  connectUnix(path: string): number;
  sendWithFds(fd: number, data: Uint8Array, fds: number[]): number;
  recvWithFds(fd: number, maxBytes?: number, maxFds?: number): RawReceived;
  acceptWithFds(
    listenFd: number,
    timeoutMs: number,
    cancelFd?: number,
    maxBytes?: number,
    maxFds?: number,
  ): Promise<RawAccepted>;
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  eventfdCreate(): number;
  eventfdSignal(fd: number): void;

  pagemapScan(
    fd: number,
    start: number,
    end: number,
    opts?: {
      flags?: number;
      categoryInverted?: number;
      categoryMask?: number;
      categoryAnyofMask?: number;
      returnMask?: number;
      maxPages?: number;
    },
  ): Float64Array;

  seekDataRanges(fd: number, size: number): Array<[number, number]>;
  copyFileRange(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number;
  copyFileRangeAsync(
    fdIn: number,
    offIn: number,
    fdOut: number,
    offOut: number,
    length: number,
  ): Promise<number>;
  copyRunsAsync(fds: number[], runs: Float64Array, outFd: number, writebackEvery: number): Promise<number>;
  allocateAsync(fd: number, offset: number, length: number): Promise<number>;

  runCommand(file: string, args: string[], input: string): Promise<RawCommandResult>;
  spawnProcess(
    file: string,
    args: string[],
    env: string[],
    outputPath: string,
    fds: number[],
    onExit: (code: number | null, signal: number | null) => void,
  ): number;

  FaultServer: new (options: RawFaultServerOptions, onEvent: (e: RawServerEvent) => void) => RawFaultServer;
}

const require = createRequire(import.meta.url);
export const binding: NativeBinding = require('../build/Release/amber_native.node');
