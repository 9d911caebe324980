/**
 * "5.3 MiB": binary units, one decimal below 10. The sizes the API reports (memory, disk, files) read the
 * same in every client built on this SDK (the CLI's tables, the dashboard).
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
