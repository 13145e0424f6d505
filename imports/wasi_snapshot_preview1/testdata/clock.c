// clock: the wall and monotonic clocks and their resolutions, random bytes, and sleeps through
// poll_oneoff (nanosleep, and poll with a timeout). Prints what it saw; `real` checks that
// sleeping really waits instead of printing times.
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv) {
    int real = argc > 1 && strcmp(argv[1], "real") == 0;
    struct timespec w, m1, m2, res;
    clock_gettime(CLOCK_REALTIME, &w);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    struct timespec req = {0, 50 * 1000 * 1000};
    nanosleep(&req, NULL);
    int n = poll(NULL, 0, 20);
    clock_gettime(CLOCK_MONOTONIC, &m2);
    long long slept = ns(m2) - ns(m1);
    unsigned char r[8];
    getentropy(r, sizeof r);
    if (real) {
        printf("slept at least 70ms: %s\n", slept >= 70000000LL ? "yes" : "no");
        printf("wall clock after 2020: %s\n", w.tv_sec > 1577836800 ? "yes" : "no");
        return 0;
    }
    printf("walltime %lld\n", ns(w));
    printf("monotonic %lld then %lld\n", ns(m1), ns(m2));
    clock_getres(CLOCK_REALTIME, &res);
    printf("walltime resolution %lld\n", ns(res));
    clock_getres(CLOCK_MONOTONIC, &res);
    printf("monotonic resolution %lld\n", ns(res));
    printf("poll returned %d\n", n);
    printf("random");
    for (unsigned i = 0; i < sizeof r; i++) printf(" %02x", r[i]);
    printf("\n");
    return 0;
}
