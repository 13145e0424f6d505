// C++ exceptions in Emscripten's JavaScript ABI (em++ -fexceptions): each scenario prints what
// it saw, so the output can be compared with node running the same .wasm and with g++.
// With the argument "uncaught" it ends with an exception nobody catches; with "bench" it only
// throws and catches 100,000 exceptions through a few frames (the benchmark).
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

struct Base {
  int code;
  explicit Base(int c) : code(c) {}
  virtual ~Base() {}
  virtual const char* name() const { return "Base"; }
};
struct Derived : Base {
  explicit Derived(int c) : Base(c) {}
  const char* name() const override { return "Derived"; }
};

static int live = 0;  // objects constructed and not yet destroyed
struct Guard {
  const char* label;
  explicit Guard(const char* l) : label(l) { live++; }
  ~Guard() {
    live--;
    printf("  ~Guard(%s)\n", label);
  }
};

// Throws from the bottom of `depth` frames, each holding a Guard.
static void deep(int depth) {
  Guard g(depth % 2 ? "odd" : "even");
  if (depth == 0) throw Derived(42);
  deep(depth - 1);
}

// A destructor that throws and catches inside itself while the stack unwinds.
struct Careful {
  ~Careful() {
    try {
      throw std::runtime_error("inside a destructor");
    } catch (const std::exception& e) {
      printf("  destructor caught: %s (uncaught now: %d)\n", e.what(), std::uncaught_exceptions());
    }
  }
};

static void unwind_through_careful() {
  Careful c;
  throw std::logic_error("through a careful destructor");
}

static void rethrower() {
  try {
    throw std::out_of_range("first");
  } catch (...) {
    printf("  rethrowing\n");
    throw;
  }
}

static int __attribute__((noinline)) bench_throw(int i) {
  if (i >= 0) throw Derived(i);
  return i;
}

struct Counted {
  Counted() { live++; }
  ~Counted() { live--; }
};

static int __attribute__((noinline)) bench_middle(int i) {
  Counted c;
  return bench_throw(i) + 1;
}

static int bench(int rounds) {
  long long sum = 0;
  for (int i = 0; i < rounds; i++) {
    try {
      sum += bench_middle(i);
    } catch (const Base& b) {
      sum += b.code;
    }
  }
  return printf("%d exceptions, sum %lld, live %d\n", rounds, sum, live) < 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) return bench(100000);
  printf("throw through frames:\n");
  try {
    deep(4);
  } catch (const Base& b) {
    printf("  caught %s code %d, live guards %d\n", b.name(), b.code, live);
  }

  printf("catch by base class:\n");
  try {
    throw std::invalid_argument("bad argument");
  } catch (const std::logic_error& e) {
    printf("  logic_error: %s\n", e.what());
  }

  printf("rethrow:\n");
  try {
    rethrower();
  } catch (const std::out_of_range& e) {
    printf("  caught again: %s\n", e.what());
  }

  printf("catch(...):\n");
  try {
    throw 7;
  } catch (...) {
    printf("  caught something\n");
  }

  printf("pointer and int types:\n");
  static Derived d(9);
  try {
    throw &d;
  } catch (Base* b) {
    printf("  caught pointer to %s %d\n", b->name(), b->code);
  }
  try {
    throw 12345;
  } catch (long) {
    printf("  wrong clause\n");
  } catch (int i) {
    printf("  caught int %d\n", i);
  }

  printf("destructor path:\n");
  try {
    unwind_through_careful();
  } catch (const std::exception& e) {
    printf("  outer caught: %s\n", e.what());
  }

  printf("exception_ptr:\n");
  std::exception_ptr saved;
  try {
    throw std::runtime_error("kept for later");
  } catch (...) {
    saved = std::current_exception();
  }
  try {
    std::rethrow_exception(saved);
  } catch (const std::runtime_error& e) {
    printf("  rethrown from exception_ptr: %s\n", e.what());
  }

  printf("nested:\n");
  int total = 0;
  for (int i = 0; i < 1000; i++) {
    try {
      try {
        if (i % 3 == 0) throw i;
        throw std::to_string(i);
      } catch (int n) {
        total += n;
        throw std::string("converted");
      }
    } catch (const std::string& s) {
      total += s.size();
    }
  }
  printf("  total %d, uncaught %d, live %d\n", total, std::uncaught_exceptions(), live);

  if (argc > 1 && strcmp(argv[1], "uncaught") == 0) {
    printf("throwing with no catch\n");
    fflush(stdout);
    throw std::runtime_error("nobody catches this");
  }
  printf("done\n");
  return 0;
}
