export type { FaultServerStats, NativeBinding } from './binding.js';
export {
  type BlockTableEntry,
  FaultServer,
  type FaultServerEvent,
  type FaultServerOptions,
  type PrefetchPlan,
  type ServedRegion,
  type WpMode,
} from './fault-server.js';
export {
  allocate,
  copyFileRange,
  copyFileRangeAsync,
  copyRuns,
  type FileCopyRun,
  seekDataRanges,
} from './file-ranges.js';
export { connectInNetns } from './netns-socket.js';
export {
  PageCategory,
  type PagemapScanOptions,
  type PageRegion,
  PmScanFlag,
  pagemapScan,
  scanWrittenAndProtect,
} from './pagemap-scan.js';
export type { ProcessExit } from './process-exit.js';
export { type CommandResult, runCommand } from './run-command.js';
export {
  type Accepted,
  type AcceptOptions,
  acceptWithFds,
  connectUnix,
  eventfdCreate,
  eventfdSignal,
  listenUnix,
  type PeerCred,
  peerCred,
  type Received,
  recvWithFds,
  sendWithFds,
  socketPair,
} from './scm-rights.js';
export {
  guestAddonPath,
  SHIM_EXIT_HANDOFF_FAILED,
  SHIM_EXIT_PAGER_LOST,
  type ShimEnvOptions,
  shimEnv,
  shimPath,
  uffdHelperPath,
} from './shim.js';
export { type SpawnedProcess, type SpawnOptions, spawnProcess } from './spawn-process.js';
export type { TcpConnectionState, TcpEndpoint } from './tcp-connection-state.js';
export { restoreTcpConnection, saveTcpConnection } from './tcp-repair.js';
export {
  type UffdApiResult,
  UffdCopyMode,
  type UffdEvent,
  UffdFeature,
  UffdPagefaultFlag,
  UffdRegisterMode,
  UffdWriteprotectMode,
  UffdZeropageMode,
  uffdApi,
  uffdCopy,
  uffdCreate,
  uffdReadEvents,
  uffdRegister,
  uffdSupportedFeatures,
  uffdUnregister,
  uffdWake,
  uffdWriteprotect,
  uffdZeropage,
} from './uffd.js';
