// env.seed: the 64 bits of one seed, as two 32-bit halves, then Math.random (seeded by env.seed).
const bits = reinterpret<u64>(seed());
trace("seed", 2, <f64>(bits >> 32), <f64>(bits & 0xffffffff));
trace("random", 1, Math.random());
