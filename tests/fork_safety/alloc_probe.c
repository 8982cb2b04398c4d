/* An LD_PRELOAD probe for the fork-safety test (tests/fork_safety.rs): records every call of
 * the allocator made by a process that is a copy of the one that loaded it (a fork-like clone
 * that has not yet exec'd), where another thread of the original may have held the
 * allocator's locks at the clone. A child of glibc's fork() is exempt: glibc's fork takes
 * those locks around the fork, so the child may allocate. So is a process named
 * `sandbox-spare`, a spare the fork server made ahead, which may allocate until it takes a
 * request (and is renamed `sandbox-init`): its calls are only counted.
 *
 * The records go to an anonymous shared mapping made by the constructor, which every copy
 * shares (a child that closes every descriptor or changes its root still reaches it), and
 * the original writes them to $ALLOC_PROBE_LOG when it exits: a header line
 *   owner PID allocations N, in children M, in spares S
 * then one line per call in a child (the first 1024): pid, function, and the caller as
 * FILE+0xOFFSET. N, the original's own calls, shows that the probe sees the allocator at all. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define MAX_RECORDS 1024

struct record { int pid; int function; void *caller; };
struct records { int count; int in_spares; struct record at[MAX_RECORDS]; };

static struct records *shared;
static int owner;
static long own_calls;
static const char *const functions[] = {"malloc", "calloc", "realloc", "free", "memalign"};

/* The pid as the kernel has it now (glibc's getpid() could be a cached value). */
static int current_pid(void) { return (int)syscall(SYS_getpid); }

static void note(int function, void *caller) {
    if (!shared) return;
    int pid = current_pid();
    if (pid == owner) { own_calls++; return; }
    char name[17] = {0};
    if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "sandbox-spare") == 0) {
        __atomic_fetch_add(&shared->in_spares, 1, __ATOMIC_SEQ_CST);
        return;
    }
    int i = __atomic_fetch_add(&shared->count, 1, __ATOMIC_SEQ_CST);
    if (i < MAX_RECORDS) {
        shared->at[i].pid = pid;
        shared->at[i].function = function;
        shared->at[i].caller = caller;
    }
}

__attribute__((constructor)) static void start(void) {
    owner = current_pid();
    void *p = mmap(NULL, sizeof(struct records), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) shared = p;
}

__attribute__((destructor)) static void finish(void) {
    const char *path = getenv("ALLOC_PROBE_LOG");
    if (!shared || current_pid() != owner || !path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char line[512];
    int count = __atomic_load_n(&shared->count, __ATOMIC_SEQ_CST);
    int len = snprintf(line, sizeof line, "owner %d allocations %ld, in children %d, in spares %d\n",
                       owner, own_calls, count, __atomic_load_n(&shared->in_spares, __ATOMIC_SEQ_CST));
    if (write(fd, line, len) < 0) {}
    for (int i = 0; i < count && i < MAX_RECORDS; i++) {
        Dl_info info;
        const char *file = "?";
        unsigned long offset = (unsigned long)shared->at[i].caller;
        if (dladdr(shared->at[i].caller, &info) && info.dli_fname) {
            file = info.dli_fname;
            offset -= (unsigned long)info.dli_fbase;
        }
        len = snprintf(line, sizeof line, "pid %d %s from %s+0x%lx\n", shared->at[i].pid,
                       functions[shared->at[i].function], file, offset);
        if (write(fd, line, len) < 0) {}
    }
    close(fd);
}

void *malloc(size_t n) { note(0, __builtin_return_address(0)); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) {
    note(1, __builtin_return_address(0));
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) { note(2, __builtin_return_address(0)); return __libc_realloc(p, n); }
void free(void *p) {
    if (p) note(3, __builtin_return_address(0));
    __libc_free(p);
}
void *memalign(size_t align, size_t n) {
    note(4, __builtin_return_address(0));
    return __libc_memalign(align, n);
}
void *aligned_alloc(size_t align, size_t n) {
    note(4, __builtin_return_address(0));
    return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
    note(4, __builtin_return_address(0));
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

/* glibc's fork makes the allocator usable in its child: the child is an owner of its own. */
pid_t fork(void) {
    static pid_t (*real_fork)(void);
    if (!real_fork) real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
    pid_t pid = real_fork();
    if (pid == 0) owner = current_pid();
    return pid;
}
