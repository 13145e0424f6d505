// cat: copies each file named in argv (or stdin with none) to stdout.
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int copy(FILE *in) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, stdout) != n) return 1;
    }
    return ferror(in) ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return copy(stdin);
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        status |= copy(f);
        fclose(f);
    }
    return status;
}
