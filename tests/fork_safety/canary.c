/* The fork-safety test's check of its own probe (alloc_probe.c): a fork-like clone made with
 * the raw system call allocates, which the probe must record; a child of glibc's fork()
 * allocates too, which it must not. */
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void allocate_and_exit(void) {
    void *volatile p = malloc(100);
    free(p);
    _exit(0);
}

int main(void) {
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) allocate_and_exit();
    waitpid((pid_t)pid, 0, 0);
    pid = fork();
    if (pid == 0) allocate_and_exit();
    waitpid((pid_t)pid, 0, 0);
    return 0;
}
