export { type Accel, accelArgs, DEFAULT_TCG_CACHE_MIB, detectAccel } from './accel.js';
export type { DiskImage, DiskSpec } from './disk-graph.js';
export { VmmError, type VmmErrorCode } from './errors.js';
export { fileTail } from './file-tail.js';
export { QmpClient, type QmpCommands, type QmpEvent } from './qmp-client.js';
export type { IdleOptions } from './vcpu-idle.js';
export { type LaunchOptions, Vm, type VmExit } from './vm.js';
export { MAX_VCPUS, qemuArgs, runPaths, type VmSpec, validateSpec } from './vm-spec.js';
export { loadStateFile, type StateFileOptions, saveStateFile } from './vm-state.js';
