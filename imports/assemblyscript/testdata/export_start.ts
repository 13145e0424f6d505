// Built with --exportStart _start: top-level code runs when _start is called, not at
// instantiation.
let total = 0;
for (let i = 1; i <= 4; i++) total *= 2, total += i;
trace("_start", 1, <f64>total);
