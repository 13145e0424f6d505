// keel-emscripten's C++ time test: iostreams format dates through libc++'s locale, which
// Emscripten's libc++ sends to env.strftime_l. Built by `cargo xtask testdata`; the same .wasm
// runs on node through time_cpp.js for comparison (TZ=UTC).
#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

int main() {
  const std::time_t times[] = {0, 951782400, 1640995200, 2147483647};
  for (std::time_t t : times) {
    std::tm g = *std::gmtime(&t);
    std::tm l = *std::localtime(&t);
    std::cout << t << ": " << std::put_time(&g, "%c | %F %T | %A %B %j") << " | "
              << std::put_time(&l, "%Y-%m-%d %H:%M:%S") << '\n';
  }
  std::ostringstream s;
  std::time_t t = 1234567890;
  s << std::put_time(std::gmtime(&t), "%a, %d %b %Y %H:%M:%S GMT");
  std::cout << "http date: " << s.str() << '\n';
  auto a = std::chrono::steady_clock::now();
  auto b = std::chrono::steady_clock::now();
  std::cout << "steady clock advances: " << (b >= a) << '\n';
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::cout << "system clock after 2021: " << (now > 1609459200) << '\n';
  return 0;
}
