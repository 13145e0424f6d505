// ls: lists each directory named in argv (entries in the order the runtime returns them,
// "." and ".." included), then the number of entries. With many entries, readdir needs several
// fd_readdir calls, each resuming at the cookie where the last one stopped.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    int status = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "ls: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        int count = 0;
        struct dirent *e;
        errno = 0;
        while ((e = readdir(d)) != NULL) {
            const char *kind = e->d_type == DT_DIR ? "dir" : e->d_type == DT_REG ? "file"
                             : e->d_type == DT_LNK ? "link" : "other";
            printf("%s %s\n", kind, e->d_name);
            count++;
        }
        if (errno) {
            fprintf(stderr, "ls: readdir %s: %s\n", argv[i], strerror(errno));
            status = 1;
        }
        closedir(d);
        printf("%d entries\n", count);
    }
    return status;
}
