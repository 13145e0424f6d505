// Benchmark guest: sieve of Eratosthenes over a static byte buffer, a test of memory loads and
// stores in tight loops.
//
// Built by `cargo xtask testdata` (freestanding wasm32, no libc). Exports `run(i32) -> i32`:
// sieves the numbers below LIMIT `iterations` times and returns the sum of the prime counts
// (78498 per iteration).

#define LIMIT 1000000

static unsigned char composite[LIMIT];

static int sieve(void) {
    for (int i = 0; i < LIMIT; i++) {
        composite[i] = 0;
    }
    int count = 0;
    for (int i = 2; i < LIMIT; i++) {
        if (composite[i]) {
            continue;
        }
        count++;
        if ((long long)i * i >= LIMIT) {
            continue;
        }
        for (int j = i * i; j < LIMIT; j += i) {
            composite[j] = 1;
        }
    }
    return count;
}

__attribute__((export_name("run"))) int run(int iterations) {
    int total = 0;
    for (int k = 0; k < iterations; k++) {
        total += sieve();
    }
    return total;
}
