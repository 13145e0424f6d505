// keel-emscripten's time test: the calendar functions on fixed times (deterministic on any
// clock) and clocks that advance. Built by `cargo xtask testdata`; the same .wasm runs on node
// through time.js for comparison (TZ=UTC).
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timeb.h>
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

  // strptime, by Emscripten's regular expressions.
  static const char *parses[][2] = {
      {"2022-03-04 05:06:07", "%Y-%m-%d %H:%M:%S"},
      {"Feb 29 2000 rest", "%b %d %Y"},
      {"03/04/99", "%D"},
      {"12:30:00 pm", "%r"},
      {"01:02:03 AM", "%I:%M:%S %p"},
      {"Saturday 01 2022", "%A %U %Y"},
      {"Mon 10 2021", "%a %W %Y"},
      {"060 2000", "%j %Y"},
      {"7/4/76", "%m/%d/%y"},
      {"19 99", "%C %y"},
      {"tue, 13 feb 2009 23:31:30 gmt", "%a, %d %b %Y %H:%M:%S GMT"},
      {"Sat Jan 01 00:00:00 2022", "%c"},
      {"23:59:60", "%T"},
      {"December 25", "%B %d"},
      {"2021-02-30", "%F"},
      {"  5", "%e"},
      {"x", "%Y"},
      {"2022 %Q", "%Y %Q"},
  };
  for (unsigned i = 0; i < sizeof parses / sizeof *parses; i++) {
    struct tm p;
    memset(&p, 0, sizeof p);
    const char *end = strptime(parses[i][0], parses[i][1], &p);
    printf("strptime(\"%s\", \"%s\") = %ld\n", parses[i][0], parses[i][1],
           end ? (long)(end - parses[i][0]) : -1L);
    show("  ", &p);
  }

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
  struct timeb tb;
  printf("ftime: %d after 2021: %d, millitm in range: %d, timezone=%d dstflag=%d\n", ftime(&tb),
         tb.time > 1609459200, tb.millitm < 1000, tb.timezone, tb.dstflag);
  time_t now = time(NULL);
  printf("time after 2021: %d\n", now > 1609459200);
  printf("difftime: %.1f\n", difftime(10, 4));
  clock_t c = clock();
  printf("clock non-negative: %d\n", c >= 0);
  tzset();
  printf("timezone=%ld daylight=%d\n", timezone, daylight);
  return 0;
}
