// The C++ standard library under Emscripten: containers, algorithms, strings, streams
// (iostream, stringstream, iomanip), smart pointers, std::function, and an exception the
// library throws (vector::at), each printing what it computed.
#include <algorithm>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  virtual std::string name() const = 0;
};
struct Square : Shape {
  double side;
  explicit Square(double s) : side(s) {}
  double area() const override { return side * side; }
  std::string name() const override { return "square"; }
};
struct Circle : Shape {
  double r;
  explicit Circle(double radius) : r(radius) {}
  double area() const override { return 3.14159265358979 * r * r; }
  std::string name() const override { return "circle"; }
};

int main(int argc, char** argv) {
  std::vector<int> v(20);
  std::iota(v.begin(), v.end(), 1);
  std::reverse(v.begin(), v.end());
  std::stable_sort(v.begin(), v.end(), [](int a, int b) { return a % 3 < b % 3; });
  std::cout << "vector:";
  for (int x : v) std::cout << ' ' << x;
  std::cout << '\n';
  std::cout << "sum " << std::accumulate(v.begin(), v.end(), 0) << ", max "
            << *std::max_element(v.begin(), v.end()) << std::endl;

  std::map<std::string, int> counts;
  std::unordered_map<int, std::string> names;
  std::istringstream words("the quick brown fox jumps over the lazy dog the end");
  std::string w;
  while (words >> w) counts[w]++;
  for (const auto& [word, n] : counts) names[n] += (names[n].empty() ? "" : ",") + word;
  std::cout << "map:";
  for (const auto& [word, n] : counts) std::cout << ' ' << word << '=' << n;
  std::cout << "\nonce: " << names[1].size() << " chars, thrice: " << names[3] << '\n';

  std::set<std::string> letters;
  for (char c : std::string("mississippi")) letters.insert(std::string(1, c));
  std::cout << "set size " << letters.size() << ", first " << *letters.begin() << '\n';

  std::vector<std::unique_ptr<Shape>> shapes;
  shapes.push_back(std::make_unique<Square>(3));
  shapes.push_back(std::make_unique<Circle>(1.5));
  std::shared_ptr<Shape> shared = std::make_shared<Square>(2);
  auto copy = shared;
  for (const auto& s : shapes)
    std::cout << s->name() << ' ' << std::fixed << std::setprecision(3) << s->area() << '\n';
  std::cout << "shared use_count " << shared.use_count() << '\n';

  std::function<long(int)> fact = [&](int n) -> long { return n <= 1 ? 1 : n * fact(n - 1); };
  std::ostringstream out;
  out << std::hex << std::setw(8) << std::setfill('0') << fact(12) << std::dec << ' '
      << std::scientific << std::setprecision(4) << 12345.678;
  std::cout << "formatted " << out.str() << '\n';

  try {
    std::cout << v.at(100) << '\n';
  } catch (const std::out_of_range& e) {
    std::cout << "out_of_range caught" << '\n';
  }

  std::string text = "Hello, Emscripten";
  std::transform(text.begin(), text.end(), text.begin(), ::toupper);
  std::cout << text << ", argc " << argc << '\n';
  std::cerr << "to stderr" << std::endl;
  return 0;
}
