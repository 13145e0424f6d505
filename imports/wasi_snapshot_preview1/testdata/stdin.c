// stdin: waits up to 200 ms for stdin with poll, says whether it was ready, then echoes what it
// reads until end of file.
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int n = poll(&p, 1, 200);
    printf("poll: %s\n", n > 0 && (p.revents & POLLIN) ? "ready" : n == 0 ? "timeout" : "error");
    fflush(stdout);
    char buf[256];
    ssize_t got;
    while ((got = read(0, buf, sizeof buf)) > 0) {
        write(1, buf, got);
    }
    return got < 0 ? 1 : 0;
}
