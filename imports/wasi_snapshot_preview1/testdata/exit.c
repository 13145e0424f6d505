// exit: `exit N` prints a line and exits with N; `trap` prints a line, then traps
// (unreachable) in a named function, so that the stack trace names it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void crash_here(void) { __builtin_trap(); }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "trap") == 0) {
        printf("before trap\n");
        fflush(stdout);
        crash_here();
    }
    int code = argc > 2 ? atoi(argv[2]) : 0;
    printf("exiting with %d\n", code);
    exit(code);
}
