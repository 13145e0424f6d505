// hello: the smallest WASI command, for the time from instantiation to exit.
#include <stdio.h>

int main(void) {
    puts("hello world");
    return 0;
}
