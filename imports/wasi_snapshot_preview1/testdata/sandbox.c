// sandbox: tries every way out of its mounts and prints "what: RESULT" a line, RESULT being
// "ok" or the errno's name. `escape` expects a writable mount at / whose host directory has
// secret.txt beside it (not inside) and, inside it, the symbolic links out_link -> ../secret.txt,
// abs_link -> (absolute host path of secret.txt), dir_out -> .., loop_a <-> loop_b, and a file
// inside.txt. `readonly` expects a read-only mount at / holding inside.txt and a directory sub.
// `nomount` expects no mount at all.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ELOOP: return "ELOOP";
    case EROFS: return "EROFS";
    case EBADF: return "EBADF";
    case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    default: return strerror(e);
    }
}

static void report(const char *what, int rc) { printf("%s: %s\n", what, rc < 0 ? name(errno) : "ok"); }

static int open_close(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

static void escape(void) {
    struct stat st;
    report("open /../secret.txt", open_close("/../secret.txt", O_RDONLY));
    report("open /sub/../../secret.txt", open_close("/sub/../../secret.txt", O_RDONLY));
    report("stat /..", stat("/..", &st));
    report("open out_link", open_close("/out_link", O_RDONLY));
    report("open abs_link", open_close("/abs_link", O_RDONLY));
    report("open dir_out/secret.txt", open_close("/dir_out/secret.txt", O_RDONLY));
    report("stat dir_out/secret.txt", stat("/dir_out/secret.txt", &st));
    report("open loop_a", open_close("/loop_a", O_RDONLY));
    report("create through dir_out", open_close("/dir_out/planted.txt", O_WRONLY | O_CREAT));
    report("mkdir /../planted", mkdir("/../planted", 0755));
    report("rename to outside", rename("/inside.txt", "/../moved.txt"));
    report("rename from outside", rename("/../secret.txt", "/stolen.txt"));
    report("link to outside", link("/inside.txt", "/../linked.txt"));
    report("link from outside", link("/dir_out/secret.txt", "/stolen.txt"));
    report("symlink absolute target", symlink("/etc/passwd", "/newabs"));
    report("symlink relative escape created", symlink("../secret.txt", "/newrel"));
    report("open newrel", open_close("/newrel", O_RDONLY));
    // A directory replaced by a symbolic link while open: later lookups through it re-check.
    mkdir("/swap", 0755);
    int dfd = open("/swap", O_RDONLY | O_DIRECTORY);
    report("open dir swap", dfd);
    report("rename swap away", rename("/swap", "/swap_old"));
    report("symlink swap -> ..", symlink("..", "/swap"));
    report("openat swapped dir secret.txt", openat(dfd, "secret.txt", O_RDONLY));
    // A file replaced by a symbolic link between two calls.
    report("create victim", open_close("/victim", O_WRONLY | O_CREAT));
    report("stat victim", stat("/victim", &st));
    report("unlink victim", unlink("/victim"));
    report("symlink victim -> ../secret.txt", symlink("../secret.txt", "/victim"));
    report("open victim", open_close("/victim", O_RDONLY));
    report("read inside.txt", open_close("/inside.txt", O_RDONLY));
}

static void readonly(void) {
    struct stat st;
    struct timespec t[2] = {{1, 0}, {1, 0}};
    report("read inside.txt", open_close("/inside.txt", O_RDONLY));
    report("open for writing", open_close("/inside.txt", O_WRONLY));
    report("open for append", open_close("/inside.txt", O_WRONLY | O_APPEND));
    report("open truncate", open_close("/inside.txt", O_RDWR | O_TRUNC));
    report("create", open_close("/new.txt", O_WRONLY | O_CREAT));
    report("truncate", truncate("/inside.txt", 0));
    report("mkdir", mkdir("/newdir", 0755));
    report("rmdir", rmdir("/sub"));
    report("unlink", unlink("/inside.txt"));
    report("rename", rename("/inside.txt", "/renamed.txt"));
    report("link", link("/inside.txt", "/linked.txt"));
    report("symlink", symlink("inside.txt", "/sym"));
    report("utimensat", utimensat(AT_FDCWD, "/inside.txt", t, 0));
    int fd = open("/inside.txt", O_RDONLY);
    report("write to read-only fd", (int)write(fd, "x", 1));
    report("ftruncate", ftruncate(fd, 0));
    report("futimens", futimens(fd, t));
    close(fd);
    report("stat", stat("/inside.txt", &st));
}

static void nomount(void) {
    struct stat st;
    report("open /etc/passwd", open_close("/etc/passwd", O_RDONLY));
    report("stat /", stat("/", &st));
    report("open relative", open_close("etc/passwd", O_RDONLY));
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "escape") == 0) escape();
    else if (strcmp(mode, "readonly") == 0) readonly();
    else if (strcmp(mode, "nomount") == 0) nomount();
    else { fprintf(stderr, "usage: sandbox escape|readonly|nomount\n"); return 2; }
    return 0;
}
