// Calls of env functions with bad arguments; each export is one case.

// trace with nArgs out of 0..=5.
export function traceSix(): void {
  trace("six", 6, 1, 2, 3, 4, 5);
}
export function traceNegative(): void {
  trace("negative", -1);
}

// A message pointer past the end of memory (its length would be read past the end too).
export function abortOutOfMemory(): void {
  abort(changetype<string>((<usize>memory.size() << 16) + 8), "bad.ts", 1, 1);
}

// A pointer below 4: its length would be before address 0.
export function abortLowPointer(): void {
  abort(changetype<string>(<usize>2), "bad.ts", 2, 2);
}

// A string whose length reaches past the end of memory.
export function traceLongString(): void {
  const end = <usize>memory.size() << 16;
  store<u32>(end - 8, 1000);
  trace(changetype<string>(end - 4));
}
