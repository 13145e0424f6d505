// setjmp/longjmp in Emscripten (emcc's JS-based unwinding): jumps across frames, nested
// buffers, and many round trips (100,000 with any argument: the benchmark). Not here:
// longjmp(buf, 0), which emcc 3.1.6's code does not turn into 1 (node and keel agree on what it
// returns instead; C says 1).
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

static jmp_buf outer, inner, loop;
static int depth_reached;

static void dive(jmp_buf* buf, int depth, int target) {
  char frame[64];
  memset(frame, depth, sizeof frame);
  depth_reached = depth;
  if (depth == target) longjmp(*buf, depth + 100);
  dive(buf, depth + 1, target);
  if (frame[0] != depth) printf("frame damaged\n");
}

static int nested(void) {
  int r = setjmp(inner);
  if (r == 0) longjmp(inner, 5);
  return r;
}

// One setjmp per call: emcc's code keeps a table of the setjmps of a function's frame, which
// would grow with every iteration of a loop in one frame.
static int round_trip(int i) {
  int v = setjmp(loop);
  if (v == 0) dive(&loop, 0, i % 8);
  return v;
}

int main(int argc, char** argv) {
  int r = setjmp(outer);
  if (r == 0) {
    printf("first return\n");
    dive(&outer, 0, 20);
    printf("not reached\n");
  } else {
    printf("longjmp from depth %d returned %d\n", depth_reached, r);
  }

  printf("nested buffer returned %d\n", nested());

  int rounds = argc > 1 ? 100000 : 1000;
  int count = 0;
  long sum = 0;
  for (int i = 0; i < rounds; i++) {
    int v = round_trip(i);
    count += v != 0;
    sum += v;
  }
  printf("%d round trips, sum %ld\n", count, sum);
  return 0;
}
