// files: the file-heavy WASI benchmark guest, run in a directory mounted at `/`.
//
//   files rw MIB    writes MIB mebibytes to `big.dat` in 64 KiB chunks, reads them back in
//                   64 KiB chunks checking every byte, and removes the file
//   files meta N    creates N small files in `many/`, stats each (checking its size), unlinks
//                   them and removes the directory
//
// Prints one line that the harness compares with the expected one; a mismatch or a failed call
// prints to stderr and exits with 1. The guest computes little, so that the time is the I/O's.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define WORDS (CHUNK / 8)

static uint64_t pattern[WORDS];
static uint64_t chunk[WORDS];

static int fail(const char *what, const char *path) {
    fprintf(stderr, "files: %s %s failed\n", what, path);
    return 1;
}

// Moves all `len` bytes, looping on short counts (a runtime may return fewer).
static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// Reads up to `len` bytes, looping on short counts; fewer only at the end of the file.
static ssize_t read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) return -1;
        if (n == 0) break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int rw(long mib) {
    const char *path = "big.dat";
    long chunks = mib * (1024 * 1024 / CHUNK);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < WORDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pattern[i] = x;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("open for writing", path);
    for (long c = 0; c < chunks; c++) {
        // The first word numbers the chunk, so that every chunk differs.
        pattern[0] = (uint64_t)c;
        if (write_all(fd, pattern, CHUNK) != 0) return fail("write", path);
    }
    if (close(fd) != 0) return fail("close", path);

    fd = open(path, O_RDONLY);
    if (fd < 0) return fail("open for reading", path);
    uint64_t sum = 0, diff = 0;
    long c = 0;
    for (;; c++) {
        ssize_t n = read_full(fd, chunk, CHUNK);
        if (n < 0) return fail("read", path);
        if (n == 0) break;
        if (n != CHUNK || c >= chunks) return fail("read (wrong length)", path);
        diff |= chunk[0] ^ (uint64_t)c;
        sum += chunk[0];
        for (int i = 1; i < WORDS; i++) {
            diff |= chunk[i] ^ pattern[i];
            sum += chunk[i];
        }
    }
    if (close(fd) != 0) return fail("close", path);
    if (c != chunks || diff != 0) return fail("read back (data differs)", path);
    if (unlink(path) != 0) return fail("unlink", path);
    printf("rw %ld bytes ok, checksum %016llx\n", chunks * CHUNK, (unsigned long long)sum);
    return 0;
}

// `many/fNNNNN` for file i.
static void name(char *out, long i) {
    memcpy(out, "many/f", 6);
    for (int k = 10; k >= 6; k--) {
        out[k] = (char)('0' + i % 10);
        i /= 10;
    }
    out[11] = 0;
}

static int meta(long files) {
    char path[12];
    if (mkdir("many", 0755) != 0) return fail("mkdir", "many");
    for (long i = 0; i < files; i++) {
        name(path, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) return fail("create", path);
        // Each file holds its own name, so that sizes differ from 0 and are known.
        if (write_all(fd, path, 11) != 0) return fail("write", path);
        if (close(fd) != 0) return fail("close", path);
    }
    long long bytes = 0;
    for (long i = 0; i < files; i++) {
        struct stat st;
        name(path, i);
        if (stat(path, &st) != 0) return fail("stat", path);
        if (!S_ISREG(st.st_mode) || st.st_size != 11) return fail("stat (wrong result)", path);
        bytes += st.st_size;
    }
    for (long i = 0; i < files; i++) {
        name(path, i);
        if (unlink(path) != 0) return fail("unlink", path);
    }
    if (rmdir("many") != 0) return fail("rmdir", "many");
    printf("meta %ld files ok, %lld bytes\n", files, bytes);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "rw") == 0) return rw(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "meta") == 0) return meta(atol(argv[2]));
    fprintf(stderr, "usage: files rw MIB | files meta N\n");
    return 2;
}
