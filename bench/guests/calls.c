// Calls across the host boundary, for the bench's call rows.
//
// `nop` is called from the host many times: the cost of one host -> wasm call. `loop(n)` calls
// the imported host function `env.inc` (x -> x + 1) n times: the cost of one wasm -> host call.

__attribute__((import_module("env"), import_name("inc"))) int inc(int x);

__attribute__((export_name("nop"))) int nop(int x) { return x; }

// sum over i < n of (i + 1), wrapping: inc(acc + i) each time, so every call's argument and
// result are used.
__attribute__((export_name("loop"))) int loop(int n) {
  int acc = 0;
  for (int i = 0; i < n; i++) acc = inc(acc + i);
  return acc;
}
