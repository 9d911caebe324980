// `amber doctor`: what this host can and cannot do for sandboxes, one line per check, each with the reason.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { release } from 'node:os';
import { UffdFeature, uffdSupportedFeatures } from '@amber/native';
import { detectCgroups } from './cgroups.js';
import { run } from './commands.js';
import type { AgentConfig } from './config.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface HostCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

const GIB = 1024 ** 3;
/** Below this, a few pauses of large guests fill the disk. */
const LOW_DISK_BYTES = 5 * GIB;

async function qemu(): Promise<HostCheck> {
  try {
    const stdout = await run('qemu-system-x86_64', ['--version']);
    const version = /version (\d+\.\d+\.\d+)/.exec(stdout)?.[1];
    if (!version) return { name: 'qemu', status: 'warn', detail: `unrecognised version: ${stdout.trim()}` };
    const major = Number(version.split('.')[0]);
    // blockdev-reopen and x-ignore-shared as the agent uses them.
    if (major < 8)
      return { name: 'qemu', status: 'fail', detail: `QEMU ${version}; Amber needs 8.0 or newer` };
    return { name: 'qemu', status: 'ok', detail: `QEMU ${version}` };
  } catch (err) {
    return {
      name: 'qemu',
      status: 'fail',
      detail: `qemu-system-x86_64 not runnable: ${(err as Error).message}`,
    };
  }
}

function kvm(): HostCheck {
  const forced = process.env.AMBER_ACCEL;
  if (forced) return { name: 'kvm', status: 'ok', detail: `AMBER_ACCEL=${forced} forces the accelerator` };
  if (!existsSync('/dev/kvm'))
    return { name: 'kvm', status: 'warn', detail: 'no /dev/kvm: VMs run on TCG (emulated, ~10x slower)' };
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return {
      name: 'kvm',
      status: 'warn',
      detail: '/dev/kvm is not read-writable by this user: VMs run on TCG',
    };
  }
  if (!/\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'))) {
    return {
      name: 'kvm',
      status: 'warn',
      detail:
        '/dev/kvm exists but the CPU shows no vmx/svm (a paravirtual KVM such as kvm_pvm, which stock guest kernels fail under): VMs run on TCG',
    };
  }
  return { name: 'kvm', status: 'ok', detail: '/dev/kvm usable with hardware virtualisation' };
}

function userfaultfd(): HostCheck {
  let features: number;
  try {
    features = uffdSupportedFeatures();
  } catch (err) {
    return {
      name: 'userfaultfd',
      status: 'fail',
      detail: `cannot create a userfaultfd (lazy restore impossible): ${(err as Error).message}`,
    };
  }
  const [major = 0, minor = 0] = release().split('.').map(Number);
  const scan = major > 6 || (major === 6 && minor >= 7);
  if (!(features & UffdFeature.WP_ASYNC) || !scan) {
    return {
      name: 'userfaultfd',
      status: 'warn',
      detail: `works, but kernel ${release()} lacks WP_ASYNC or PAGEMAP_SCAN (6.7+): dirty tracking is slower`,
    };
  }
  return {
    name: 'userfaultfd',
    status: 'ok',
    detail: `works, with WP_ASYNC and PAGEMAP_SCAN (kernel ${release()})`,
  };
}

async function disk(name: string, path: string): Promise<HostCheck> {
  const fs = await statfs(path).catch(() => undefined);
  if (!fs) return { name, status: 'warn', detail: `${path} does not exist yet` };
  const free = fs.bavail * fs.bsize;
  const detail = `${(free / GIB).toFixed(1)} GiB free of ${((fs.blocks * fs.bsize) / GIB).toFixed(1)} GiB at ${path}`;
  return { name, status: free < LOW_DISK_BYTES ? 'warn' : 'ok', detail };
}

function memory(config: AgentConfig): HostCheck {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  const available = kib('MemAvailable') / 1024;
  const total = kib('MemTotal') / 1024;
  const detail = `${(available / 1024).toFixed(1)} GiB available of ${(total / 1024).toFixed(1)} GiB; sandbox budget ${config.memoryBudgetMib} MiB`;
  return { name: 'memory', status: available < 1024 ? 'warn' : 'ok', detail };
}

function cgroups(config: AgentConfig): HostCheck {
  if (!config.cgroups)
    return { name: 'cgroups', status: 'warn', detail: 'AMBER_CGROUPS=off: VMs run without limits' };
  const host = detectCgroups();
  if (host.mode === 'none')
    return { name: 'cgroups', status: 'warn', detail: `VMs run without limits: ${host.problem}` };
  return {
    name: 'cgroups',
    status: 'ok',
    detail: `${host.mode} (cpu, memory, pids) under ${host.parents.join(', ')}`,
  };
}

async function nftables(): Promise<HostCheck> {
  try {
    const stdout = await run('nft', ['--version']);
    await run('nft', ['list', 'tables']);
    return {
      name: 'nftables',
      status: 'ok',
      detail: `${stdout.trim()}: sandboxes can get outbound internet`,
    };
  } catch (err) {
    return {
      name: 'nftables',
      status: 'warn',
      detail: `nft not usable (${(err as Error).message.split('\n')[0]}): sandboxes get no outbound internet`,
    };
  }
}

export async function checkHost(config: AgentConfig): Promise<HostCheck[]> {
  return [
    await qemu(),
    kvm(),
    userfaultfd(),
    await disk('disk (home)', config.home),
    await disk('disk (cache)', config.cacheDir),
    await disk('disk (guest RAM)', config.shmDir),
    memory(config),
    cgroups(config),
    await nftables(),
  ];
}
