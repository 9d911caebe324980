/* qemu-uffd-shim.so: LD_PRELOAD into QEMU for a lazy (Firecracker-style) memory restore.
 *
 * When QEMU mmaps the guest-RAM file (the fd whose /proc/self/fd link equals $AMBER_UFFD_MEM_PATH) the
 * shim does the real mmap, creates a userfaultfd, registers the range (MISSING, plus WP when
 * $AMBER_UFFD_WP=1), connects to $AMBER_UFFD_SOCKET and sends Firecracker's GuestRegionUffdMapping
 * JSON with the uffd attached (SCM_RIGHTS), then waits for the pager's "ok". A watcher thread keeps the
 * connection: if it ends without a prior "detach" the pager is gone, and since every later fault would
 * block forever, QEMU is ended at once with a distinctive exit code. Any handoff failure also ends QEMU
 * straight away: a VM that starts without its pager would read zeros where its memory should be.
 * With $AMBER_UFFD_RECONNECT_MS set, a lost pager is waited for instead: faults block (the kernel queues
 * them on the uffd, which the shim still holds) while the shim reconnects to the same socket and hands the
 * same uffd to whichever pager listens there next — a restarted host agent adopting the VM — and QEMU
 * only exits if none comes within that time.
 * With $AMBER_UFFD_MEM_PATH set, the shim also turns transparent huge pages off for the process (see
 * shim_init). Without the environment variables the shim is inert. */
/* node-gyp passes -D_FILE_OFFSET_BITS=64, which renames mmap to mmap64 in the headers; we define both. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../uapi.h"

#define EXIT_HANDOFF_FAILED 86 /* keep in sync with src/shim.ts */
#define EXIT_PAGER_LOST 87

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_done;

/* One line on stderr, in one write: stderr may be a pipe shared with QEMU's own threads. */
static void vsay(const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  char line[600];
  int n = snprintf(line, sizeof line, "amber-uffd-shim: %s\n", msg);
  if (n > 0 && write(STDERR_FILENO, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1)) < 0) {
    /* nothing left to report to */
  }
}

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
}

static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
  _exit(code);
}

/* The guest-RAM file to hand over, or NULL when the shim is not in use. */
static const char *memory_path(void) {
  const char *path = getenv("AMBER_UFFD_MEM_PATH");
  return path != NULL && *path != '\0' ? path : NULL;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int env_flag(const char *name, int fallback) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return fallback;
  return strcmp(v, "0") != 0;
}

/* True when fd is the guest-RAM file. realpath() lets the variable name the file through symlinks. */
static int is_memory_file(int fd, const char *want) {
  char link[64], got[PATH_MAX + 1], resolved[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, got, PATH_MAX);
  if (n <= 0) return 0;
  got[n] = '\0';
  if (strcmp(got, want) == 0) return 1;
  return realpath(want, resolved) != NULL && strcmp(got, resolved) == 0;
}

/* A connected socket, or -1 with *err set once the deadline passes (or on an error retrying cannot fix). */
static int try_connect(const char *path, long deadline, int *err) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) die(EXIT_HANDOFF_FAILED, "socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  for (;;) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) die(EXIT_HANDOFF_FAILED, "socket: %s", strerror(errno));
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) return s;
    *err = errno;
    close(s);
    /* The pager may still be binding its socket (or a dead one's file is still there); anything else is
     * final. */
    if ((*err != ENOENT && *err != ECONNREFUSED) || now_ms() >= deadline) return -1;
    usleep(10000);
  }
}

static int connect_with_retry(const char *path, long deadline) {
  int err = 0;
  int s = try_connect(path, deadline, &err);
  if (s < 0) die(EXIT_HANDOFF_FAILED, "cannot connect to the pager at %s: %s", path, strerror(err));
  return s;
}

static void send_handoff(int sock, int uffd, const char *json) {
  struct iovec iov = {(void *)json, strlen(json)};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &uffd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != (ssize_t)iov.iov_len) die(EXIT_HANDOFF_FAILED, "sending the handoff failed: %s", strerror(errno));
}

/* Reads one '\n'-terminated line (without it) before the deadline; -1 on EOF/timeout/error. */
static int read_line(int sock, char *buf, size_t cap, long deadline) {
  size_t len = 0;
  while (len + 1 < cap) {
    long left = deadline - now_ms();
    if (left <= 0) return -1;
    struct pollfd p = {sock, POLLIN, 0};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    ssize_t n = read(sock, buf + len, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    if (buf[len] == '\n') break;
    len++;
  }
  buf[len] = '\0';
  return (int)len;
}

struct watch_args {
  int sock;
  int uffd;
  const char *sock_path;
  char json[256];
  long reconnect_ms;
};

/* After the pager's connection closed without a detach: wait up to reconnect_ms for a new pager on the same
 * socket and hand it the same uffd (the faults that came meanwhile wait in it). Exits QEMU otherwise. */
static void reconnect(struct watch_args *w) {
  const char *why = "the pager's connection closed without a detach; exiting now because the VM would hang on its next "
                    "page fault";
  if (w->reconnect_ms <= 0) die(EXIT_PAGER_LOST, "%s", why);
  close(w->sock);
  long deadline = now_ms() + w->reconnect_ms;
  int err = 0;
  int sock = try_connect(w->sock_path, deadline, &err);
  if (sock < 0) die(EXIT_PAGER_LOST, "no pager came back within %ld ms (%s): %s", w->reconnect_ms, strerror(err), why);
  send_handoff(sock, w->uffd, w->json);
  char reply[256];
  if (read_line(sock, reply, sizeof reply, deadline) < 0 || strcmp(reply, "ok") != 0)
    die(EXIT_PAGER_LOST, "the new pager did not take the VM's memory over");
  w->sock = sock;
}

/* Lives as long as the connection. "detach" means the pager lets go on purpose: drop our uffd copy so
 * the registration ends with the pager's, and confirm. EOF without it means the pager died. */
static void *watch(void *arg) {
  struct watch_args *w = arg;
  char buf[256];
  size_t len = 0;
  int detached = 0;
  for (;;) {
    ssize_t n = read(w->sock, buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (detached) return NULL;
      reconnect(w);
      len = 0;
      continue;
    }
    len += (size_t)n;
    buf[len] = '\0';
    char *nl;
    while ((nl = strchr(buf, '\n')) != NULL) {
      *nl = '\0';
      if (strcmp(buf, "detach") == 0 && !detached) {
        detached = 1;
        close(w->uffd);
        static const char ack[] = "detached\n";
        if (send(w->sock, ack, sizeof ack - 1, MSG_NOSIGNAL) < 0) {
          /* the pager went away right after asking; that is what it wanted */
        }
      }
      size_t rest = len - (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, rest + 1);
      len = rest;
    }
    if (len >= sizeof buf - 1) len = 0; /* garbage without newlines: drop it */
  }
}

static void handoff(void *addr, size_t len, off_t offset) {
  const char *sock_path = getenv("AMBER_UFFD_SOCKET");
  if (sock_path == NULL || *sock_path == '\0') die(EXIT_HANDOFF_FAILED, "AMBER_UFFD_SOCKET is not set");
  const char *timeout_env = getenv("AMBER_UFFD_TIMEOUT_MS");
  long timeout = timeout_env != NULL ? atol(timeout_env) : 30000;
  if (timeout <= 0) timeout = 30000;
  long deadline = now_ms() + timeout;
  int want_wp = env_flag("AMBER_UFFD_WP", 0);
  int want_async = env_flag("AMBER_UFFD_WP_ASYNC", 1);
  long page = sysconf(_SC_PAGESIZE);

  /* Ask for every feature first (api with 0 features reports them), then open the real one with the
   * subset we want: a failed UFFDIO_API can leave an fd unusable. */
  int probe = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (probe < 0) die(EXIT_HANDOFF_FAILED, "userfaultfd: %s", strerror(errno));
  struct uffdio_api api = {.api = UFFD_API, .features = 0};
  if (ioctl(probe, UFFDIO_API, &api) != 0) die(EXIT_HANDOFF_FAILED, "UFFDIO_API probe: %s", strerror(errno));
  close(probe);
  uint64_t have = api.features;
  uint64_t want = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
  if (want_wp) {
    want |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_PAGEFAULT_FLAG_WP;
    if (want_async) want |= UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
  }
  if (!(have & UFFD_FEATURE_MISSING_SHMEM)) die(EXIT_HANDOFF_FAILED, "kernel lacks UFFD_FEATURE_MISSING_SHMEM");
  if (want_wp && !(have & UFFD_FEATURE_WP_HUGETLBFS_SHMEM))
    die(EXIT_HANDOFF_FAILED, "kernel cannot write-protect shared memory (no UFFD_FEATURE_WP_HUGETLBFS_SHMEM)");

  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (uffd < 0) die(EXIT_HANDOFF_FAILED, "userfaultfd: %s", strerror(errno));
  api.api = UFFD_API;
  api.features = want & have;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) die(EXIT_HANDOFF_FAILED, "UFFDIO_API: %s", strerror(errno));
  size_t size = (len + (size_t)page - 1) & ~((size_t)page - 1);
  struct uffdio_register reg = {0};
  reg.range.start = (uint64_t)(uintptr_t)addr;
  reg.range.len = size;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | (want_wp ? UFFDIO_REGISTER_MODE_WP : 0);
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) die(EXIT_HANDOFF_FAILED, "UFFDIO_REGISTER: %s", strerror(errno));

  int sock = connect_with_retry(sock_path, deadline);
  char json[256];
  snprintf(json, sizeof json, "[{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%lld,\"page_size\":%ld}]",
           (unsigned long long)(uintptr_t)addr, (unsigned long long)size, (long long)offset, page);
  send_handoff(sock, uffd, json);
  char reply[256];
  if (read_line(sock, reply, sizeof reply, deadline) < 0)
    die(EXIT_HANDOFF_FAILED, "no answer from the pager within %ld ms (or it hung up)", timeout);
  if (strcmp(reply, "ok") != 0) die(EXIT_HANDOFF_FAILED, "the pager refused the handoff: %s", reply);

  static struct watch_args args;
  args.sock = sock;
  args.uffd = uffd;
  args.sock_path = sock_path;
  snprintf(args.json, sizeof args.json, "%s", json);
  const char *reconnect_env = getenv("AMBER_UFFD_RECONNECT_MS");
  args.reconnect_ms = reconnect_env != NULL ? atol(reconnect_env) : 0;
  /* The watcher must never take QEMU's signals (SIGIO, SIG_IPI, ...): start it with all blocked. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int err = pthread_create(&t, NULL, watch, &args);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) die(EXIT_HANDOFF_FAILED, "pthread_create: %s", strerror(err));
  pthread_detach(t);
}

/* QEMU's own memory in 4 KiB pages. TCG asks for huge pages for its translation buffer, so each 2 MiB of it
 * the guest's code reaches is zeroed whole, though the code fills a fraction; where fresh memory is dear to
 * touch (this nested host: ~1.3 ms per MiB) that was ~6% of a template spawn's CPU, and 2.5 MiB of each
 * idle QEMU's RSS. Guest RAM is the shared file, in small pages either way. Set before main: the flag
 * holds for every mapping made after it. */
__attribute__((constructor)) static void shim_init(void) {
  if (memory_path() == NULL) return;
  /* Only slower and larger without it: say so in QEMU's log and go on. */
  if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) say("huge pages stay on: prctl: %s", strerror(errno));
}

static void *shim_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
  /* The raw syscall instead of dlsym(RTLD_NEXT): no allocation, no recursion through malloc's mmap. */
  void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, offset);
  if (p == MAP_FAILED || fd < 0) return p;
  const char *want = memory_path();
  if (want == NULL) return p;
  int saved = errno;
  pthread_mutex_lock(&g_lock);
  if (!g_done && is_memory_file(fd, want)) {
    g_done = 1;
    handoff(p, len, offset);
  }
  pthread_mutex_unlock(&g_lock);
  errno = saved;
  return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return shim_mmap(addr, len, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return shim_mmap(addr, len, prot, flags, fd, offset);
}

/* QEMU's RCU thread calls malloc_trim after every batch of callbacks, and a restore runs many: each call
 * madvised every free run of the heap away (~115 calls per template spawn, each a TLB shootdown across
 * QEMU's threads on this host), and QEMU's next allocations faulted the same pages back in. A lazily
 * restored QEMU serves one sandbox, whose later work (a pause, a capture) needs that memory again, so it
 * keeps it. A trim deferred to a quiet moment was tried and gained nothing: a pooled QEMU's quiet moment
 * after its launch is its restore. */
int malloc_trim(size_t pad) {
  if (memory_path() != NULL) return 0;
  int (*trim)(size_t) = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
  return trim != NULL ? trim(pad) : 0;
}
