// Top-level code: asc puts it in the start section, so it runs when the module is instantiated.
let total = 0;
for (let i = 1; i <= 10; i++) total += i;
trace("start section", 1, <f64>total);

export function add(a: i32, b: i32): i32 {
  return a + b;
}
