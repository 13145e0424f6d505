// keel-emscripten's time test: the calendar functions on fixed times (deterministic on any
// clock) and clocks that advance. Built by `cargo xtask testdata`; the same .wasm runs on node
// through time.js for comparison (TZ=UTC).
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void show(const char *what, const struct tm *tm) {
  printf("%s: %d-%02d-%02d %02d:%02d:%02d wday=%d yday=%d isdst=%d gmtoff=%ld\n", what,
         tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec,
         tm->tm_wday, tm->tm_yday, tm->tm_isdst, tm->tm_gmtoff);
}

static const char *formats[] = {
    "%c", "%D %F %T %R %r", "%a %A %b %B %h", "%C %y %Y %G %g", "%d %e %j %m", "%H %I %M %S %p",
    "%u %w %U %V %W", "%x %X", "%z %Z", "%% %%c %n%t|", "%Ec %EC %Ex %EX %Ey %EY",
    "%Od %Oe %OH %OI %Om %OM %OS %Ou %OU %OV %Ow %OW %Oy", "%q %s %k",
};

int main(void) {
  static const time_t times[] = {0, 951782400, 1640995200, 1000000000, 1234567890, 2147483647,
                                 -86400, 1704067199, 1230768000, 1293753600};
  for (unsigned i = 0; i < sizeof times / sizeof *times; i++) {
    time_t t = times[i];
    struct tm g, l;
    gmtime_r(&t, &g);
    localtime_r(&t, &l);
    printf("t=%ld\n", (long)t);
    show("  gmtime", &g);
    show("  localtime", &l);
    for (unsigned f = 0; f < sizeof formats / sizeof *formats; f++) {
      char buf[256];
      size_t n = strftime(buf, sizeof buf, formats[f], &g);
      printf("  [%s] %zu \"%s\"\n", formats[f], n, buf);
    }
    time_t back = mktime(&l);
    time_t back_gm = timegm(&g);
    printf("  mktime=%ld timegm=%ld\n", (long)back, (long)back_gm);
  }

  // mktime normalises out-of-range fields.
  struct tm n = {0};
  n.tm_year = 122; n.tm_mon = 13; n.tm_mday = 35; n.tm_hour = 25; n.tm_min = 61; n.tm_sec = -1;
  n.tm_isdst = -1;
  time_t t = mktime(&n);
  printf("normalised: %ld\n", (long)t);
  show("  ", &n);
  struct tm neg = {0};
  neg.tm_year = 70; neg.tm_mday = 0;
  printf("timegm(day 0)=%ld\n", (long)timegm(&neg));
  show("  ", &neg);

  // A buffer too small: 0.
  char small[5];
  struct tm g;
  time_t zero = 0;
  gmtime_r(&zero, &g);
  printf("small: %zu\n", strftime(small, sizeof small, "%Y-%m", &g));
  printf("fits: %zu\n", strftime(small, sizeof small, "%Y", &g));

  // asctime/ctime are C in this libc, on gmtime/localtime.
  printf("asctime: %s", asctime(&g));

  // Clocks advance.
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_MONOTONIC, &b);
  long long da = (long long)a.tv_sec * 1000000000 + a.tv_nsec;
  long long db = (long long)b.tv_sec * 1000000000 + b.tv_nsec;
  printf("monotonic advances: %d\n", db >= da);
  struct timespec r1, r2;
  clock_gettime(CLOCK_REALTIME, &r1);
  clock_gettime(CLOCK_REALTIME, &r2);
  printf("realtime after 2021: %d, advances: %d\n", r1.tv_sec > 1609459200,
         r2.tv_sec > r1.tv_sec || (r2.tv_sec == r1.tv_sec && r2.tv_nsec >= r1.tv_nsec));
  struct timespec res;
  printf("getres: %d %d\n", clock_getres(CLOCK_REALTIME, &res), res.tv_sec == 0);
  printf("bad clock: %d\n", clock_gettime(12345, &a));
  struct timeval tv;
  gettimeofday(&tv, NULL);
  printf("gettimeofday after 2021: %d, usec in range: %d\n", tv.tv_sec > 1609459200,
         tv.tv_usec >= 0 && tv.tv_usec < 1000000);
  time_t now = time(NULL);
  printf("time after 2021: %d\n", now > 1609459200);
  printf("difftime: %.1f\n", difftime(10, 4));
  clock_t c = clock();
  printf("clock non-negative: %d\n", c >= 0);
  tzset();
  printf("timezone=%ld daylight=%d\n", timezone, daylight);
  return 0;
}
