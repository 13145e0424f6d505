// fsops: exercises the file system under the directory argv[1] and prints one line per step,
// "ok STEP" or "FAIL STEP: why". Exits 1 if a step failed.
//
// Steps: mkdir, create/write, stat, rename, unlink, rmdir; set times (utimensat, futimens);
// seek/tell/pread/pwrite; append mode (O_APPEND and fcntl F_SETFL); truncation (O_TRUNC,
// ftruncate); symlink/readlink; hard link.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failed;
static char path_buf[4][512];

#define STEP(name, cond, ...)                                              \
    do {                                                                   \
        if (cond) {                                                        \
            printf("ok %s\n", name);                                       \
        } else {                                                           \
            printf("FAIL %s: errno=%d (%s) ", name, errno, strerror(errno)); \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            failed = 1;                                                    \
        }                                                                  \
    } while (0)

static const char *P(int slot, const char *base, const char *name) {
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", base, name);
    return path_buf[slot];
}

static int write_all(int fd, const char *s) { return write(fd, s, strlen(s)) == (ssize_t)strlen(s); }

static int file_is(const char *path, const char *want) {
    char buf[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0 || strcmp(buf, want) != 0) {
        printf("  (%s holds \"%s\", want \"%s\")\n", path, buf, want);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : ".";
    struct stat st;
    int fd;

    // mkdir, create, write, stat.
    STEP("mkdir", mkdir(P(0, base, "d"), 0755) == 0, "");
    STEP("mkdir existing is EEXIST", mkdir(P(0, base, "d"), 0755) == -1 && errno == EEXIST, "");
    fd = open(P(0, base, "d/f.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644);
    STEP("create", fd >= 0, "");
    STEP("write", write_all(fd, "hello, world"), "");
    close(fd);
    STEP("create exclusive existing is EEXIST",
         open(P(0, base, "d/f.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST, "");
    STEP("stat size", stat(P(0, base, "d/f.txt"), &st) == 0 && st.st_size == 12 && S_ISREG(st.st_mode),
         "size %lld", (long long)st.st_size);
    STEP("stat dir", stat(P(0, base, "d"), &st) == 0 && S_ISDIR(st.st_mode), "");
    STEP("stat missing is ENOENT", stat(P(0, base, "nope"), &st) == -1 && errno == ENOENT, "");
    STEP("open missing is ENOENT", open(P(0, base, "nope"), O_RDONLY) == -1 && errno == ENOENT, "");
    STEP("file as dir is ENOTDIR", open(P(0, base, "d/f.txt/x"), O_RDONLY) == -1 && errno == ENOTDIR, "");
    STEP("write dir is EISDIR", open(P(0, base, "d"), O_WRONLY) == -1 && errno == EISDIR, "");

    // rename, unlink, rmdir.
    STEP("rename", rename(P(0, base, "d/f.txt"), P(1, base, "d/g.txt")) == 0, "");
    STEP("renamed", file_is(P(0, base, "d/g.txt"), "hello, world"), "");
    STEP("old name gone", stat(P(0, base, "d/f.txt"), &st) == -1 && errno == ENOENT, "");
    STEP("rmdir non-empty is ENOTEMPTY", rmdir(P(0, base, "d")) == -1 && errno == ENOTEMPTY, "");
    STEP("unlink dir fails", unlink(P(0, base, "d")) == -1 && (errno == EISDIR || errno == EPERM), "");
    STEP("rmdir file is ENOTDIR", rmdir(P(0, base, "d/g.txt")) == -1 && errno == ENOTDIR, "");

    // set times.
    struct timespec times[2] = {{1000000000, 5}, {1200000000, 7}};
    STEP("utimensat", utimensat(AT_FDCWD, P(0, base, "d/g.txt"), times, 0) == 0, "");
    STEP("times set", stat(P(0, base, "d/g.txt"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
                          st.st_mtim.tv_sec == 1200000000,
         "atime %lld mtime %lld", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
    fd = open(P(0, base, "d/g.txt"), O_RDWR);
    struct timespec only_m[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
    STEP("futimens", futimens(fd, only_m) == 0, "");
    STEP("mtime set, atime kept", fstat(fd, &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
                                      st.st_mtim.tv_sec == 1300000000,
         "atime %lld mtime %lld", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);

    // seek, tell, pread, pwrite.
    STEP("seek end", lseek(fd, 0, SEEK_END) == 12, "");
    STEP("seek set", lseek(fd, 7, SEEK_SET) == 7, "");
    STEP("tell", lseek(fd, 0, SEEK_CUR) == 7, "");
    char buf[64] = {0};
    STEP("read at position", read(fd, buf, 5) == 5 && memcmp(buf, "world", 5) == 0, "");
    STEP("seek negative is EINVAL", lseek(fd, -100, SEEK_SET) == -1 && errno == EINVAL, "");
    memset(buf, 0, sizeof buf);
    STEP("pread", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0, "");
    STEP("pread keeps position", lseek(fd, 0, SEEK_CUR) == 12, "");
    STEP("pwrite", pwrite(fd, "HELLO", 5, 0) == 5, "");
    STEP("pwrite keeps position", lseek(fd, 0, SEEK_CUR) == 12, "");
    STEP("pwrite landed", file_is(P(0, base, "d/g.txt"), "HELLO, world"), "");
    STEP("pwrite past end", pwrite(fd, "!", 1, 14) == 1, "");
    STEP("hole is zero", fstat(fd, &st) == 0 && st.st_size == 15, "size %lld", (long long)st.st_size);

    // truncation.
    STEP("ftruncate shrink", ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "");
    STEP("ftruncate grow", ftruncate(fd, 8) == 0 && fstat(fd, &st) == 0 && st.st_size == 8, "");
    close(fd);
    fd = open(P(0, base, "d/g.txt"), O_WRONLY | O_TRUNC);
    STEP("O_TRUNC", fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0, "");
    STEP("write after truncate", write_all(fd, "abc"), "");
    close(fd);
    fd = open(P(0, base, "d/g.txt"), O_RDONLY);
    STEP("ftruncate read-only fails", ftruncate(fd, 0) == -1, "");
    STEP("write read-only is EBADF", write(fd, "x", 1) == -1 && errno == EBADF, "");
    close(fd);

    // append.
    fd = open(P(0, base, "d/g.txt"), O_WRONLY | O_APPEND);
    STEP("open append", fd >= 0, "");
    lseek(fd, 0, SEEK_SET);
    STEP("append write", write_all(fd, "def"), "");
    STEP("appended", file_is(P(0, base, "d/g.txt"), "abcdef"), "");
    STEP("F_GETFL has O_APPEND", (fcntl(fd, F_GETFL) & O_APPEND) != 0, "");
    STEP("F_SETFL clears O_APPEND", fcntl(fd, F_SETFL, 0) == 0 && (fcntl(fd, F_GETFL) & O_APPEND) == 0, "");
    lseek(fd, 0, SEEK_SET);
    STEP("overwrite at start", write_all(fd, "X"), "");
    STEP("overwritten", file_is(P(0, base, "d/g.txt"), "Xbcdef"), "");
    STEP("F_SETFL sets O_APPEND", fcntl(fd, F_SETFL, O_APPEND) == 0, "");
    lseek(fd, 0, SEEK_SET);
    STEP("append again", write_all(fd, "!"), "");
    STEP("appended again", file_is(P(0, base, "d/g.txt"), "Xbcdef!"), "");
    close(fd);

    // symlink, readlink, link.
    STEP("symlink", symlink("g.txt", P(0, base, "d/s")) == 0, "");
    char target[64] = {0};
    STEP("readlink", readlink(P(0, base, "d/s"), target, sizeof target) == 5 && strcmp(target, "g.txt") == 0, "");
    STEP("read through symlink", file_is(P(0, base, "d/s"), "Xbcdef!"), "");
    STEP("lstat symlink", lstat(P(0, base, "d/s"), &st) == 0 && S_ISLNK(st.st_mode), "");
    STEP("readlink of a file is EINVAL", readlink(P(0, base, "d/g.txt"), target, sizeof target) == -1 && errno == EINVAL, "");
    STEP("link", link(P(0, base, "d/g.txt"), P(1, base, "d/h.txt")) == 0, "");
    STEP("nlink 2", stat(P(0, base, "d/g.txt"), &st) == 0 && st.st_nlink == 2, "nlink %lld", (long long)st.st_nlink);
    STEP("link existing is EEXIST", link(P(0, base, "d/g.txt"), P(1, base, "d/h.txt")) == -1 && errno == EEXIST, "");

    // clean up.
    STEP("unlink symlink", unlink(P(0, base, "d/s")) == 0, "");
    STEP("unlink", unlink(P(0, base, "d/g.txt")) == 0 && unlink(P(0, base, "d/h.txt")) == 0, "");
    STEP("unlink missing is ENOENT", unlink(P(0, base, "d/g.txt")) == -1 && errno == ENOENT, "");
    STEP("rmdir", rmdir(P(0, base, "d")) == 0, "");
    STEP("gone", stat(P(0, base, "d"), &st) == -1 && errno == ENOENT, "");
    return failed;
}
