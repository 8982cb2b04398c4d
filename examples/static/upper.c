/* Reads descriptor 3 (opened and passed in by the host) to its end and writes it to standard
 * output upper-cased. Statically linked, so the sandbox needs no libraries and the policy only
 * static start-up, read on 3, write on 1 and exit_group. */
#include <unistd.h>

int main(void) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(3, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0)
            return 1;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z')
                buf[i] = (char)(buf[i] - 'a' + 'A');
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0)
                return 1;
            off += w;
        }
    }
}
