/* Test/bench stand-in for QEMU: maps a guest-RAM file MAP_SHARED (as memory-backend-file share=on
 * does), so that with LD_PRELOAD=qemu-uffd-shim.so the shim hands the range to a pager exactly as it
 * would for QEMU. Then it touches memory on command, from its own thread, while the pager (another
 * process) serves the faults.
 *
 *   uffd-helper <file> <size-bytes>      prints "ready <base> <pid>", then reads commands on stdin:
 *   read <seed> <count>      hash <count> pseudo-random pages: "<page> <hash>" lines, then "end"
 *   hash <first> <count>     hash a contiguous run of pages: same output
 *   write <page>...          fill each page with write_pattern(page): "ok"
 *   remove <page> <count>    madvise(MADV_REMOVE): "ok" or "err <errno>"
 *   touch seq|rand <count> <stride-pages> <seed> [threads]
 *                            read one byte per page (threads split the order): "ns <elapsed>"
 *   trim <mib>               frees <mib> MiB of heap (kept off the heap's top), calls malloc_trim(0):
 *                            "rss <KiB before> <KiB after>" (VmRSS around the call)
 *   floor <pages> <threads> <spin-us>   baseline: fault <pages> of a fresh memfd served by a trivial
 *                            in-process handler thread (no storage, no bookkeeping): "ns <elapsed>"
 *   exit
 * Hash: FNV-1a over little-endian u32 words (cheap to mirror in JS). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static uint32_t page_hash(const volatile uint32_t *w) {
  uint32_t h = 2166136261u;
  for (unsigned i = 0; i < PAGE / 4; i++) {
    h ^= w[i];
    h *= 16777619u;
  }
  return h;
}

static uint32_t write_word(uint64_t page, unsigned i) { return (uint32_t)(page * 2654435761u) ^ (i * 40503u) ^ 0x5eedu; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct touch_job {
  volatile uint8_t *mem;
  const uint64_t *order;
  uint64_t count, first, step;
};

static void *touch_thread(void *arg) {
  struct touch_job *j = arg;
  volatile uint8_t sink = 0;
  for (uint64_t i = j->first; i < j->count; i += j->step) sink ^= j->mem[j->order[i] * PAGE];
  (void)sink;
  return NULL;
}

/* Touches order[0..count) with `threads` threads (interleaved); returns elapsed ns. */
static uint64_t touch_pages(volatile uint8_t *mem, const uint64_t *order, uint64_t count, unsigned threads) {
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  pthread_t t[64];
  struct touch_job jobs[64];
  uint64_t t0 = now_ns();
  for (unsigned i = 0; i < threads; i++) {
    jobs[i] = (struct touch_job){mem, order, count, i, threads};
    pthread_create(&t[i], NULL, touch_thread, &jobs[i]);
  }
  for (unsigned i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return now_ns() - t0;
}

struct floor_server {
  int uffd;
  uint64_t pages;
  uint64_t spin_ns;
};

static void *floor_serve(void *arg) {
  struct floor_server *f = arg;
  static uint8_t buf[PAGE] __attribute__((aligned(PAGE)));
  memset(buf, 0x5a, sizeof buf);
  struct uffd_msg msgs[64];
  uint64_t served = 0, last = 0;
  while (served < f->pages) {
    ssize_t n = read(f->uffd, msgs, sizeof msgs);
    if (n <= 0) {
      if (now_ns() - last > f->spin_ns) {
        struct pollfd p = {f->uffd, POLLIN, 0};
        poll(&p, 1, 100);
      }
      continue;
    }
    for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
      struct uffdio_copy c = {.dst = msgs[i].arg.pagefault.address & ~(uint64_t)(PAGE - 1),
                              .src = (uint64_t)(uintptr_t)buf, .len = PAGE, .mode = 0};
      if (ioctl(f->uffd, UFFDIO_COPY, &c) == 0) served++;
    }
    last = now_ns();
  }
  return NULL;
}

/* The floor for this machine and kernel: what a handler that does nothing but UFFDIO_COPY achieves. */
static uint64_t floor_run(uint64_t pages, unsigned threads, uint64_t spin_us) {
  size_t size = pages * PAGE;
  int fd = memfd_create("amber-floor", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)size) != 0) return 0;
  volatile uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM};
  struct uffdio_register reg = {.range = {(uint64_t)(uintptr_t)mem, size}, .mode = UFFDIO_REGISTER_MODE_MISSING};
  if (mem == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)
    return 0;
  uint64_t *order = malloc(pages * sizeof *order);
  for (uint64_t i = 0; i < pages; i++) order[i] = i;
  struct floor_server f = {uffd, pages, spin_us * 1000};
  pthread_t server;
  pthread_create(&server, NULL, floor_serve, &f);
  uint64_t ns = touch_pages(mem, order, pages, threads);
  pthread_join(server, NULL);
  free(order);
  munmap((void *)mem, size);
  close(uffd);
  close(fd);
  return ns;
}

static unsigned long rss_kib(void) {
  unsigned long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (PAGE / 1024);
}

/* Heap memory only malloc_trim gives back: 64 KiB chunks (under the mmap threshold), touched, then freed
 * below a chunk still in use, so the heap's top cannot shrink on its own. */
static void free_heap_then_trim(unsigned long long mib) {
  size_t chunk = 64 << 10, count = (size_t)(mib << 20) / chunk;
  char **chunks = calloc(count, sizeof *chunks);
  for (size_t i = 0; i < count; i++) {
    chunks[i] = malloc(chunk);
    memset(chunks[i], 1, chunk);
    __asm__ volatile("" : : "r"(chunks[i]) : "memory"); /* the writes are observed: not optimised away */
  }
  /* Never freed: it keeps the freed run off the top. As large as the others, so it comes from the top. */
  void *guard = malloc(chunk);
  __asm__ volatile("" : : "r"(guard) : "memory");
  for (size_t i = 0; i < count; i++) free(chunks[i]);
  free(chunks);
  unsigned long before = rss_kib();
  malloc_trim(0);
  printf("rss %lu %lu\n", before, rss_kib());
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: uffd-helper <file> <size-bytes>\n");
    return 2;
  }
  size_t size = strtoull(argv[2], NULL, 10);
  uint64_t pages = size / PAGE;
  volatile uint8_t *mem = NULL;
  if (size > 0) { /* size 0: no RAM file, for the `floor` command alone */
    int fd = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
      perror("uffd-helper: open/ftruncate");
      return 1;
    }
    mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
      perror("uffd-helper: mmap");
      return 1;
    }
  }
  printf("ready %llu %d\n", (unsigned long long)(uintptr_t)mem, (int)getpid());
  fflush(stdout);

  char line[1 << 16];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char cmd[16] = {0};
    int used = 0;
    if (sscanf(line, "%15s%n", cmd, &used) != 1) continue;
    char *rest = line + used;
    if (strcmp(cmd, "read") == 0 || strcmp(cmd, "hash") == 0) {
      unsigned long long a = 0, count = 0;
      sscanf(rest, "%llu %llu", &a, &count);
      uint64_t seed = a | 1;
      for (unsigned long long i = 0; i < count; i++) {
        uint64_t page = cmd[0] == 'r' ? xorshift(&seed) % pages : a + i;
        if (page >= pages) break;
        printf("%llu %u\n", (unsigned long long)page, page_hash((const volatile uint32_t *)(mem + page * PAGE)));
      }
      printf("end\n");
    } else if (strcmp(cmd, "write") == 0) {
      char *tok = strtok(rest, " \n");
      for (; tok != NULL; tok = strtok(NULL, " \n")) {
        uint64_t page = strtoull(tok, NULL, 10);
        if (page >= pages) continue;
        volatile uint32_t *w = (volatile uint32_t *)(mem + page * PAGE);
        for (unsigned i = 0; i < PAGE / 4; i++) w[i] = write_word(page, i);
      }
      printf("ok\n");
    } else if (strcmp(cmd, "remove") == 0) {
      unsigned long long page = 0, count = 0;
      sscanf(rest, "%llu %llu", &page, &count);
      if (madvise((void *)(mem + page * PAGE), count * PAGE, MADV_REMOVE) != 0)
        printf("err %d\n", errno);
      else
        printf("ok\n");
    } else if (strcmp(cmd, "touch") == 0) {
      char mode[8] = {0};
      unsigned long long count = 0, stride = 1, seed = 1, threads = 1;
      sscanf(rest, "%7s %llu %llu %llu %llu", mode, &count, &stride, &seed, &threads);
      if (stride == 0) stride = 1;
      uint64_t slots = pages / stride;
      if (count > slots) count = slots;
      uint64_t *order = malloc(slots * sizeof *order);
      for (uint64_t i = 0; i < slots; i++) order[i] = i * stride;
      if (mode[0] == 'r') {
        uint64_t s = seed | 1;
        for (uint64_t i = slots - 1; i > 0; i--) {
          uint64_t j = xorshift(&s) % (i + 1);
          uint64_t t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      uint64_t ns = touch_pages(mem, order, count, (unsigned)threads);
      free(order);
      printf("ns %llu\n", (unsigned long long)ns);
    } else if (strcmp(cmd, "trim") == 0) {
      unsigned long long mib = 0;
      sscanf(rest, "%llu", &mib);
      free_heap_then_trim(mib);
    } else if (strcmp(cmd, "floor") == 0) {
      unsigned long long count = 0, threads = 1, spin = 0;
      sscanf(rest, "%llu %llu %llu", &count, &threads, &spin);
      printf("ns %llu\n", (unsigned long long)floor_run(count, (unsigned)threads, spin));
    } else if (strcmp(cmd, "exit") == 0) {
      break;
    } else {
      printf("unknown %s\n", cmd);
    }
    fflush(stdout);
  }
  return 0;
}
