// An assertion that fails: asc turns it into a call of env.abort(message, file, line, column).
// Top-level code runs in the start section.
const answer = 41;
trace("before the assertion");
assert(answer + 1 == 43, "the answer is not 43");
trace("not reached");
