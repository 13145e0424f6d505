// Benchmark guest: f64 matrix multiply, a test of floating-point arithmetic and indexed memory
// access.
//
// Built by `cargo xtask testdata` (freestanding wasm32, no libc). Exports `run(i32) -> i64`:
// fills two n x n matrices (n <= MAXN) deterministically, multiplies them and returns the bits
// of a checksum over the product (Wasm floating point is deterministic without fused ops, so
// every engine must return the same bits).

#define MAXN 384

static double a[MAXN * MAXN];
static double b[MAXN * MAXN];
static double c[MAXN * MAXN];

__attribute__((export_name("run"))) long long run(int n) {
    if (n < 1) {
        return 0;
    }
    if (n > MAXN) {
        n = MAXN;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            a[i * n + j] = (double)((i * 7 + j * 3) % 17) * 0.25 - 1.5;
            b[i * n + j] = (double)((i * 5 + j * 11) % 13) * 0.125 + 0.5;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0.0;
            for (int k = 0; k < n; k++) {
                sum += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = sum;
        }
    }
    double checksum = 0.0;
    for (int i = 0; i < n * n; i++) {
        checksum = checksum * 0.5 + c[i];
    }
    union {
        double f;
        long long i;
    } bits;
    bits.f = checksum;
    return bits.i;
}
