// keel-emscripten's file test: every file function of Emscripten's libc that reaches a
// __syscall_* import, with its results printed. Relative paths only, so that node (which sees
// the host's file system through NODERAWFS) and keel (a directory mounted at /) run it alike
// from a fresh directory. `files keel` adds what only keel can run the same way each time
// (absolute paths, `..` past the root, pipes, fallocate, times set with utimensat).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <termios.h>
#include <unistd.h>

static void check(const char *what, long r) {
  if (r < 0) {
    printf("%s: %ld errno=%d\n", what, r, errno);
  } else {
    printf("%s: %ld\n", what, r);
  }
  errno = 0;
}

static const char *kind(mode_t m) {
  return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "link" : S_ISCHR(m) ? "chr" : "?";
}

static void show_stat(const char *what, int r, const struct stat *st) {
  if (r < 0) {
    printf("%s: -1 errno=%d\n", what, errno);
    errno = 0;
  } else {
    if (S_ISDIR(st->st_mode)) {
      printf("%s: dir\n", what);  // a directory's size is the host file system's own
    } else {
      printf("%s: %s size=%lld\n", what, kind(st->st_mode), (long long)st->st_size);
    }
  }
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) {
    printf("opendir %s: errno=%d\n", dir, errno);
    errno = 0;
    return;
  }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    char *s = malloc(strlen(e->d_name) + 4);
    sprintf(s, "%s:%c", e->d_name,
            e->d_type == DT_DIR ? 'd' : e->d_type == DT_LNK ? 'l' : e->d_type == DT_REG ? 'f' : '?');
    names[n++] = s;
  }
  // rewinddir (an lseek of the directory) starts the listing again.
  rewinddir(d);
  int again = 0;
  while (readdir(d)) again++;
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  printf("ls %s:", dir);
  for (int i = 0; i < n; i++) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf(" (%d again after rewinddir)\n", again);
}

static void cat(const char *path) {
  char buf[256];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("cat %s: errno=%d\n", path, errno);
    errno = 0;
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  close(fd);
  printf("cat %s: \"%s\"\n", path, buf);
}

static void common(void) {
  // stdio
  FILE *f = fopen("a.txt", "w");
  fprintf(f, "hello %d\n", 42);
  fputs("second line\n", f);
  printf("fclose: %d\n", fclose(f));
  f = fopen("a.txt", "r");
  char line[64];
  while (fgets(line, sizeof line, f)) printf("fgets: %s", line);
  printf("fseek: %d ftell: %ld\n", fseek(f, 6, SEEK_SET), ftell(f));
  size_t n = fread(line, 1, 2, f);
  line[n] = 0;
  printf("fread: %zu \"%s\" feof=%d\n", n, line, feof(f));
  fseek(f, 0, SEEK_END);
  printf("size by ftell: %ld\n", ftell(f));
  fclose(f);
  f = fopen("a.txt", "r+");
  fseek(f, 0, SEEK_SET);
  printf("fwrite: %zu\n", fwrite("HELLO", 1, 5, f));
  fclose(f);
  f = fopen("a.txt", "a");
  fputs("appended\n", f);
  fclose(f);
  cat("a.txt");
  printf("fopen missing: %p errno=%d\n", (void *)fopen("missing.txt", "r"), errno);
  errno = 0;

  // open/read/write/lseek/close
  int fd = open("b.bin", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  check("open b.bin", fd >= 3 ? 0 : fd);
  check("write", write(fd, "0123456789", 10));
  check("lseek end", lseek(fd, 0, SEEK_END));
  check("lseek set", lseek(fd, 2, SEEK_SET));
  check("write at 2", write(fd, "ab", 2));
  check("read on O_WRONLY", read(fd, line, 1));
  check("close", close(fd));
  check("close again", close(fd));
  cat("b.bin");
  check("open O_EXCL existing", open("b.bin", O_CREAT | O_EXCL | O_WRONLY, 0644));
  check("open missing", open("nope/x", O_RDONLY));
  check("open O_DIRECTORY on a file", open("b.bin", O_RDONLY | O_DIRECTORY));
  fd = open("b.bin", O_RDWR);
  check("lseek negative", lseek(fd, -100, SEEK_SET));
  check("lseek cur", lseek(fd, 3, SEEK_CUR));
  n = read(fd, line, 4);
  line[n] = 0;
  printf("read: %zu \"%s\"\n", n, line);
  close(fd);
  fd = open("c.txt", O_CREAT | O_WRONLY | O_APPEND, 0644);
  write(fd, "one\n", 4);
  lseek(fd, 0, SEEK_SET);
  write(fd, "two\n", 4);
  close(fd);
  cat("c.txt");

  // stat family
  struct stat st;
  show_stat("stat a.txt", stat("a.txt", &st), &st);
  show_stat("stat .", stat(".", &st), &st);
  show_stat("stat missing", stat("missing", &st), &st);
  fd = open("b.bin", O_RDONLY);
  show_stat("fstat b.bin", fstat(fd, &st), &st);
  close(fd);
  show_stat("fstatat b.bin", fstatat(AT_FDCWD, "b.bin", &st, 0), &st);

  // directories
  check("mkdir d", mkdir("d", 0755));
  check("mkdir d again", mkdir("d", 0755));
  check("mkdir d/e/", mkdir("d/e/", 0755));
  check("mkdir in missing", mkdir("missing/x", 0755));
  f = fopen("d/f.txt", "w");
  fputs("in d\n", f);
  fclose(f);
  list(".");
  list("d");
  check("rmdir non-empty", rmdir("d"));
  check("rmdir d/e", rmdir("d/e"));
  check("rmdir a file", rmdir("a.txt"));
  check("unlink a dir", unlink("d") < 0 ? -1 : 0);
  errno = 0;
  check("rename", rename("c.txt", "d/c2.txt"));
  check("rename missing", rename("c.txt", "x.txt"));
  list("d");
  check("unlink", unlink("d/c2.txt"));
  check("unlink missing", unlink("d/c2.txt"));
  check("opendir a file", opendir("a.txt") ? 0 : -1);

  // the current directory
  char cwd[512];
  check("chdir d", chdir("d"));
  char *base = getcwd(cwd, sizeof cwd) ? strrchr(cwd, '/') : NULL;
  printf("cwd ends with: %s\n", base ? base : "(null)");
  cat("f.txt");
  check("chdir ..", chdir(".."));
  check("chdir to a file", chdir("a.txt"));
  check("chdir missing", chdir("missing"));
  printf("getcwd too small: %p errno=%d\n", (void *)getcwd(cwd, 1), errno);
  errno = 0;
  fd = open("d", O_RDONLY | O_DIRECTORY);
  check("fchdir", fchdir(fd));
  cat("f.txt");
  close(fd);
  chdir("..");

  // access
  check("access F_OK", access("a.txt", F_OK));
  check("access R_OK|W_OK", access("a.txt", R_OK | W_OK));
  check("access X_OK on a file", access("a.txt", X_OK));
  check("access X_OK on a dir", access("d", X_OK));
  check("access missing", access("missing", F_OK));
  check("faccessat", faccessat(AT_FDCWD, "d/f.txt", R_OK, 0));

  // symbolic links
  check("symlink", symlink("a.txt", "link"));
  check("symlink existing", symlink("a.txt", "link"));
  char target[64];
  ssize_t len = readlink("link", target, sizeof target);
  printf("readlink: %zd \"%.*s\"\n", len, (int)(len < 0 ? 0 : len), target);
  memset(target, '#', sizeof target);
  len = readlink("link", target, 3);
  printf("readlink short: %zd \"%.5s\"\n", len, target);
  check("readlink a file", readlink("a.txt", target, sizeof target));
  show_stat("lstat link", lstat("link", &st), &st);
  show_stat("stat link", stat("link", &st), &st);
  cat("link");
  check("symlink dangling", symlink("nowhere", "dangling"));
  show_stat("stat dangling", stat("dangling", &st), &st);
  show_stat("lstat dangling", lstat("dangling", &st), &st);
  list(".");
  unlink("dangling");

  // sizes
  check("truncate", truncate("b.bin", 4));
  show_stat("after truncate", stat("b.bin", &st), &st);
  check("truncate grows", truncate("b.bin", 6));
  show_stat("after growing", stat("b.bin", &st), &st);
  check("truncate missing", truncate("missing", 1));
  fd = open("b.bin", O_RDWR);
  check("ftruncate", ftruncate(fd, 2));
  fstat(fd, &st);
  printf("after ftruncate: %lld\n", (long long)st.st_size);
  close(fd);
  fd = open("b.bin", O_RDONLY);
  check("ftruncate read-only", ftruncate(fd, 1));
  close(fd);

  // descriptors
  fd = open("a.txt", O_RDONLY);
  int fl = fcntl(fd, F_GETFL);
  printf("F_GETFL: accmode=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
  check("F_GETFD", fcntl(fd, F_GETFD));
  check("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
  int fd2 = fcntl(fd, F_DUPFD, 10);
  printf("F_DUPFD >= 10: %d\n", fd2 >= 10);
  n = read(fd2, line, 5);
  line[n] = 0;
  printf("read dup: \"%s\"\n", line);
  close(fd2);
  fd2 = dup(fd);
  printf("dup: %d\n", fd2 >= 3 && fd2 != fd);
  close(fd2);
  close(fd);
  fd = open("b.bin", O_WRONLY);
  check("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
  fl = fcntl(fd, F_GETFL);
  printf("F_GETFL: accmode=%d append=%d\n", fl & O_ACCMODE, !!(fl & O_APPEND));
  write(fd, "zz", 2);
  close(fd);
  cat("b.bin");
  check("fcntl bad fd", fcntl(99, F_GETFL));
  struct flock lk = {.l_type = F_WRLCK};
  fd = open("a.txt", O_RDWR);
  check("F_GETLK", fcntl(fd, F_GETLK, &lk));
  printf("l_type unlocked: %d\n", lk.l_type == F_UNLCK);
  check("F_SETLK", fcntl(fd, F_SETLK, &lk));

  // terminals
  printf("isatty(1): %d\n", isatty(1));
  printf("isatty(file): %d errno=%d\n", isatty(fd), errno);
  errno = 0;
  struct winsize ws;
  check("TIOCGWINSZ on a file", ioctl(fd, TIOCGWINSZ, &ws));
  struct termios tio;
  check("tcgetattr on a file", tcgetattr(fd, &tio));

  // modes: kept by both (the JS's MEMFS, keel-sys's mounts); no umask in either
  check("chmod", chmod("a.txt", 0644));
  check("chmod missing", chmod("missing", 0644));
  check("fchmod", fchmod(fd, 0644));
  check("fchmodat", fchmodat(AT_FDCWD, "a.txt", 0644, 0));
  int mf = open("modes.txt", O_CREAT | O_WRONLY, 0600);
  fstat(mf, &st);
  printf("created with 0600: %o\n", st.st_mode & 07777);
  check("chmod 0751", chmod("modes.txt", 0751));
  stat("modes.txt", &st);
  printf("after chmod: %o\n", st.st_mode & 07777);
  check("fchmod 0640", fchmod(mf, 0640));
  fstat(mf, &st);
  printf("after fchmod: %o\n", st.st_mode & 07777);
  check("access X_OK after 0640", access("modes.txt", X_OK));
  close(mf);
  check("mkdir 0700", mkdir("modes.d", 0700));
  stat("modes.d", &st);
  printf("directory: %o\n", st.st_mode & 07777);
  check("chown to the guest", chown("modes.txt", 0, 0));
  stat("modes.txt", &st);
  printf("owners: %d %d\n", (int)st.st_uid, (int)st.st_gid);
  check("fsync", fsync(fd));
  check("fdatasync", fdatasync(fd));
  close(fd);
  printf("ids: %d %d %d %d\n", getuid(), geteuid(), getgid(), getegid());

  // file systems
  struct statfs sf;
  check("statfs", statfs(".", &sf));
  printf("f_bsize=%ld f_namelen=%ld\n", (long)sf.f_bsize, (long)sf.f_namelen);

  // at-functions from a directory descriptor
  int dir = open("d", O_RDONLY | O_DIRECTORY);
  fd = openat(dir, "g.txt", O_CREAT | O_WRONLY, 0644);
  check("openat", fd >= 0 ? 0 : -1);
  write(fd, "gg\n", 3);
  close(fd);
  show_stat("fstatat dir", fstatat(dir, "g.txt", &st, 0), &st);
  check("mkdirat", mkdirat(dir, "h", 0755));
  check("renameat", renameat(dir, "g.txt", dir, "h/g.txt"));
  check("unlinkat", unlinkat(dir, "h/g.txt", 0));
  check("unlinkat AT_REMOVEDIR", unlinkat(dir, "h", AT_REMOVEDIR));
  check("faccessat dir", faccessat(dir, "f.txt", F_OK, 0));
  close(dir);
  list("d");

  // mappings (copies, written back at msync and munmap)
  fd = open("m.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(fd, "hello mmap", 10);
  char *p = mmap(NULL, 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  printf("mmap: %d \"%.10s\"\n", p != MAP_FAILED, p);
  memcpy(p, "HELLO", 5);
  check("msync", msync(p, 10, MS_SYNC));
  cat("m.txt");
  memcpy(p + 6, "MMAP", 4);
  check("munmap", munmap(p, 10));
  cat("m.txt");
  p = mmap(NULL, 4, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  printf("mmap private: %d \"%.4s\"\n", p != MAP_FAILED, p);
  memcpy(p, "xxxx", 4);
  check("munmap private", munmap(p, 4));
  cat("m.txt");
  check("mmap at an unaligned offset",
        mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 6) == MAP_FAILED ? -1 : 0);
  close(fd);
  check("mmap a closed fd", mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0);
}

static void keel_only(void) {
  struct stat st;
  char buf[256];
  // Absolute paths are guest paths; `..` stops at the root of the mount.
  check("chdir /d", chdir("/d"));
  printf("getcwd: %s\n", getcwd(buf, sizeof buf));
  check("chdir ../../..", chdir("../../.."));
  printf("getcwd: %s\n", getcwd(buf, sizeof buf));
  show_stat("stat /../../a.txt", stat("/../../a.txt", &st), &st);
  int fd = open("../../../escape.txt", O_CREAT | O_WRONLY, 0644);
  check("create ../../../escape.txt", fd >= 0 ? 0 : -1);
  close(fd);
  show_stat("stat /escape.txt", stat("/escape.txt", &st), &st);
  check("open /etc/passwd", open("/etc/passwd", O_RDONLY));
  // A link out of the mount is refused.
  check("symlink out", symlink("../../../../etc/passwd", "out"));
  check("open through it", open("out", O_RDONLY));
  unlink("out");
  // An absolute target is stored relative to the link.
  check("symlink absolute", symlink("/d/f.txt", "abs"));
  ssize_t len = readlink("abs", buf, sizeof buf);
  printf("readlink abs: \"%.*s\"\n", (int)(len < 0 ? 0 : len), buf);
  show_stat("stat abs", stat("abs", &st), &st);
  check("symlinkat", symlinkat("f.txt", AT_FDCWD, "d/l2"));
  int dir = open("d", O_RDONLY | O_DIRECTORY);
  len = readlinkat(dir, "l2", buf, sizeof buf);
  printf("readlinkat: \"%.*s\"\n", (int)(len < 0 ? 0 : len), buf);
  close(dir);
  // Times.
  struct timespec times[2] = {{1000000000, 5}, {1234567890, 123456789}};
  check("utimensat", utimensat(AT_FDCWD, "a.txt", times, 0));
  stat("a.txt", &st);
  printf("atime=%ld.%09ld mtime=%ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
         (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {7, 0}};
  check("utimensat UTIME_OMIT", utimensat(AT_FDCWD, "a.txt", omit, 0));
  stat("a.txt", &st);
  printf("atime=%ld mtime=%ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
  struct timeval tv[2] = {{100, 0}, {200, 0}};
  check("utimes", utimes("a.txt", tv));
  stat("a.txt", &st);
  printf("atime=%ld mtime=%ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
  // Waiting (node's NODERAWFS streams have no stream_ops: its poll throws).
  struct pollfd pf[2] = {{.fd = 1, .events = POLLOUT}, {.fd = 99, .events = POLLIN}};
  check("poll", poll(pf, 2, 0));
  printf("revents: %d %d\n", pf[0].revents, pf[1].revents);
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(0, &rs);
  struct timeval tv0 = {0, 0};
  check("select", select(1, &rs, NULL, NULL, &tv0));
  printf("readable: %d\n", FD_ISSET(0, &rs));
  // What keel does its own way.
  int p[2];
  check("pipe", pipe(p));
  fd = open("alloc.bin", O_CREAT | O_RDWR, 0644);
  check("posix_fallocate", -posix_fallocate(fd, 0, 100));
  fstat(fd, &st);
  printf("allocated size: %lld\n", (long long)st.st_size);
  check("dup2", dup2(fd, 20));
  fstat(20, &st);
  printf("fstat 20: %s size=%lld\n", kind(st.st_mode), (long long)st.st_size);
  check("dup3 same", dup3(fd, fd, 0));
  close(20);
  close(fd);
  show_stat("fstat 1", fstat(1, &st), &st);
  check("mknod", mknod("node", S_IFREG | 0644, 0));
  check("mknod fifo", mknod("fifo", S_IFIFO | 0644, 0));
  check("link", link("a.txt", "hard"));
  check("getcwd size 0", getcwd(buf, 0) ? 0 : -1);
  list("/");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  common();
  if (argc > 1 && strcmp(argv[1], "keel") == 0) keel_only();
  return 3;
}
