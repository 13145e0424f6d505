// Benchmark guest: recursive Fibonacci, a test of calls and returns.
//
// Built by `cargo xtask testdata` (freestanding wasm32, no libc). Exports `fib(i32) -> i32`.
// clang turns one of the two recursive calls into a loop (accumulator recursion), so fib(n)
// makes about fib(n) calls rather than 2*fib(n).

static int fib_rec(int n) {
    if (n < 2) {
        return n;
    }
    return fib_rec(n - 1) + fib_rec(n - 2);
}

__attribute__((export_name("fib"))) int fib(int n) {
    return fib_rec(n);
}
