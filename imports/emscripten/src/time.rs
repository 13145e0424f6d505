//! Clocks and calendar time: `emscripten_date_now`, `emscripten_get_now`, `clock_gettime`,
//! `time`, the `_tzset_js`, `_localtime_js`, `_gmtime_js`, `_mktime_js`, `_timegm_js` family
//! and `strftime`, on the guest's keel-sys clocks (fake by default: deterministic), with the
//! semantics of Emscripten 3.1.6's library.js.
//!
//! The time zone is UTC: what the JS does in a JavaScript engine whose local time zone is UTC
//! (`TZ=UTC node`), except that the zone's name is `UTC` where node's ICU says "Coordinated
//! Universal Time". JavaScript `Date` arithmetic (proleptic Gregorian calendar, fields that
//! overflow into the next unit, years 0-99 read as 1900-1999, the ±8.64e15 ms range) is
//! reproduced where the JS relies on it, quirks of Emscripten's `strftime` included.

mod strptime;

use keel::{Caller, Memory, Module, Trap};
use keel_sys::Errno;

use crate::invoke::call_i32;
use crate::mem::{self, read_bytes, read_cstr, write_bytes, write_u32};
use crate::state;
use crate::syscalls::set_errno;
use crate::{Def, F64, I32};

pub(crate) const FUNCTIONS: &[Def] = &[
    Def { name: "time", params: &[I32], results: &[I32], func: time },
    Def { name: "gettimeofday", params: &[I32, I32], results: &[I32], func: gettimeofday },
    Def { name: "ftime", params: &[I32], results: &[I32], func: ftime },
    Def { name: "clock", params: &[], results: &[I32], func: clock },
    Def { name: "clock_gettime", params: &[I32, I32], results: &[I32], func: clock_gettime },
    Def { name: "clock_getres", params: &[I32, I32], results: &[I32], func: clock_getres },
    Def { name: "difftime", params: &[I32, I32], results: &[F64], func: difftime },
    Def { name: "emscripten_get_now", params: &[], results: &[F64], func: get_now },
    Def { name: "emscripten_date_now", params: &[], results: &[F64], func: date_now },
    Def { name: "emscripten_get_now_res", params: &[], results: &[I32], func: get_now_res },
    // 3.1.6's headers do not declare it: a guest declaring it `double` imports this one.
    Def { name: "emscripten_get_now_res", params: &[], results: &[F64], func: get_now_res_f64 },
    Def {
        name: "_emscripten_get_now_is_monotonic",
        params: &[],
        results: &[I32],
        func: |_, v| {
            v[0] = 1;
            Ok(())
        },
    },
    Def { name: "_tzset_js", params: &[I32, I32, I32], results: &[], func: tzset },
    Def { name: "_gmtime_js", params: &[I32, I32], results: &[], func: gmtime },
    Def { name: "_localtime_js", params: &[I32, I32], results: &[], func: localtime },
    Def { name: "_mktime_js", params: &[I32], results: &[I32], func: mktime },
    Def { name: "_timegm_js", params: &[I32], results: &[I32], func: timegm },
    Def { name: "strftime", params: &[I32, I32, I32, I32], results: &[I32], func: strftime },
    Def { name: "strftime_l", params: &[I32, I32, I32, I32, I32], results: &[I32], func: strftime },
    Def { name: "strptime", params: &[I32, I32, I32], results: &[I32], func: strptime },
    Def { name: "strptime_l", params: &[I32, I32, I32, I32], results: &[I32], func: strptime },
];

/// The name of the time zone (`tzname[0]` and `tzname[1]`, `tm_zone` of `localtime`).
pub const ZONE_NAME: &str = "UTC";

const MS_PER_DAY: i64 = 86_400_000;
/// The largest magnitude of a JavaScript time value (ms).
const MAX_TIME: i64 = 8_640_000_000_000_000;

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const CLOCK_MONOTONIC_RAW: u32 = 4;

// ---- Clocks ---------------------------------------------------------------------------------

fn sys<'a>(caller: &Caller<'a>, name: &str) -> Result<&'a keel_sys::SysContext, Trap> {
    caller.sys().ok_or_else(|| Trap::host(format!("env.{name} called from outside a guest")))
}

/// JavaScript's `Date.now()`: the wall clock in whole milliseconds.
fn date_now_ms(caller: &Caller<'_>, name: &str) -> Result<i64, Trap> {
    Ok((sys(caller, name)?.lock().walltime() / 1_000_000) as i64)
}

/// The JS's `(x)|0` of a number: truncated and wrapped to 32 bits.
fn to_i32(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    (x.trunc() as i128 as u32) as i32
}

fn memory(caller: &Caller<'_>, name: &str) -> Result<(Module, Memory), Trap> {
    let module = mem::module(caller, name)?;
    let memory = mem::memory(&module)?;
    Ok((module, memory))
}

/// `time(ptr)`: seconds since the epoch, stored at `ptr` too unless null.
fn time(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    let now = to_i32(date_now_ms(caller, "time")? as f64 / 1000.0);
    if ptr != 0 {
        write_u32(&memory(caller, "time")?.1, ptr, now as u32)?;
    }
    v[0] = now as u32 as u64;
    Ok(())
}

/// `gettimeofday(tv, tz)`: the wall clock in milliseconds, as seconds and microseconds.
fn gettimeofday(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    let now = date_now_ms(caller, "gettimeofday")?;
    let mem = memory(caller, "gettimeofday")?.1;
    write_u32(&mem, ptr, to_i32(now as f64 / 1000.0) as u32)?;
    write_u32(&mem, ptr.wrapping_add(4), (now % 1000 * 1000) as u32)?;
    v[0] = 0;
    Ok(())
}

/// `ftime(tb)`: the wall clock in seconds and milliseconds; no time zone, no daylight saving.
fn ftime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ptr = v[0] as u32;
    let now = date_now_ms(caller, "ftime")?;
    let mut tb = [0u8; 10];
    tb[0..4].copy_from_slice(&(to_i32(now as f64 / 1000.0) as u32).to_le_bytes());
    tb[4..6].copy_from_slice(&((now % 1000) as u16).to_le_bytes());
    write_bytes(&memory(caller, "ftime")?.1, ptr, &tb)?;
    v[0] = 0;
    Ok(())
}

/// `clock()`: microseconds of wall time since its first call.
fn clock(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let now = date_now_ms(caller, "clock")?;
    let state = state::of(caller, "clock")?;
    let start = *state.lock().clock_start.get_or_insert(now as u64) as i64;
    v[0] = to_i32(((now - start) * 1000) as f64) as u32 as u64;
    Ok(())
}

/// `clock_gettime(clk, tp)`: `CLOCK_REALTIME` from the wall clock in milliseconds (the JS's
/// `Date.now()`), `CLOCK_MONOTONIC` and `CLOCK_MONOTONIC_RAW` from the monotonic clock in
/// nanoseconds; another clock is `EINVAL` (errno set, -1 returned).
fn clock_gettime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (clk, tp) = (v[0] as u32, v[1] as u32);
    let ns = match clk {
        CLOCK_REALTIME => date_now_ms(caller, "clock_gettime")? as u64 * 1_000_000,
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW => sys(caller, "clock_gettime")?.lock().nanotime(),
        _ => return einval(caller, v, "clock_gettime"),
    };
    write_timespec(&memory(caller, "clock_gettime")?.1, tp, ns)?;
    v[0] = 0;
    Ok(())
}

/// A `struct timespec` (seconds, nanoseconds; 32 bits each in wasm32) of `ns` at `at`.
fn write_timespec(mem: &keel::Memory, at: u32, ns: u64) -> Result<(), Trap> {
    write_u32(mem, at, (ns / 1_000_000_000) as u32)?;
    write_u32(mem, at.wrapping_add(4), (ns % 1_000_000_000) as u32)
}

/// errno `EINVAL` and -1.
fn einval(caller: &Caller<'_>, v: &mut [u64], name: &str) -> Result<(), Trap> {
    let (module, mem) = memory(caller, name)?;
    set_errno(&module, &mem, Errno::EINVAL)?;
    v[0] = -1i32 as u32 as u64;
    Ok(())
}

/// `clock_getres(clk, res)`: 1 ms for the wall clock (the JS's guess), the monotonic clock's
/// resolution for `CLOCK_MONOTONIC`.
fn clock_getres(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (clk, res) = (v[0] as u32, v[1] as u32);
    let ns = match clk {
        CLOCK_REALTIME => 1_000_000,
        CLOCK_MONOTONIC => sys(caller, "clock_getres")?.lock().nanotime_resolution(),
        _ => return einval(caller, v, "clock_getres"),
    };
    write_timespec(&memory(caller, "clock_getres")?.1, res, ns)?;
    v[0] = 0;
    Ok(())
}

fn difftime(_: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let d = f64::from(v[0] as u32 as i32) - f64::from(v[1] as u32 as i32);
    v[0] = d.to_bits();
    Ok(())
}

/// `emscripten_get_now()`: the monotonic clock in milliseconds, with a fraction.
fn get_now(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ns = sys(caller, "emscripten_get_now")?.lock().nanotime();
    v[0] = (ns as f64 / 1e6).to_bits();
    Ok(())
}

/// `emscripten_date_now()`: `Date.now()`, the wall clock in whole milliseconds.
fn date_now(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    v[0] = (date_now_ms(caller, "emscripten_date_now")? as f64).to_bits();
    Ok(())
}

/// `emscripten_get_now_res()`: the monotonic clock's resolution in nanoseconds.
fn get_now_res(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ns = sys(caller, "emscripten_get_now_res")?.lock().nanotime_resolution();
    v[0] = ns.min(i32::MAX as u64);
    Ok(())
}

fn get_now_res_f64(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let ns = sys(caller, "emscripten_get_now_res")?.lock().nanotime_resolution();
    v[0] = (ns as f64).to_bits();
    Ok(())
}

// ---- JavaScript dates in UTC ----------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1-12).
fn days_from_civil(y: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day number: year, month 0-11, day 1-31.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m - 1, d)
}

/// JavaScript's `MakeDay(year, month, date)` as `new Date(y, m, d)` and `Date.UTC` call it:
/// years 0-99 are 1900-1999, months overflow into years, days into months.
fn make_day(year: i64, month: i64, date: i64) -> i64 {
    let year = if (0..=99).contains(&year) { year + 1900 } else { year };
    let y = year + month.div_euclid(12);
    days_from_civil(y, month.rem_euclid(12) + 1, 1) + date - 1
}

/// `new Date(y, m, d, h, mi, s)` in UTC, as milliseconds; `None` for an invalid date (out of
/// JavaScript's range).
fn make_time(fields: [i64; 6]) -> Option<i64> {
    let [y, m, d, h, mi, s] = fields;
    let ms =
        make_day(y, m, d).checked_mul(MS_PER_DAY)?.checked_add(((h * 60 + mi) * 60 + s) * 1000)?;
    (ms.abs() <= MAX_TIME).then_some(ms)
}

/// A JavaScript `Date` in UTC (local time is UTC).
#[derive(Clone, Copy)]
struct Date {
    days: i64,
    ms_of_day: i64,
}

impl Date {
    fn at(ms: i64) -> Date {
        Date { days: ms.div_euclid(MS_PER_DAY), ms_of_day: ms.rem_euclid(MS_PER_DAY) }
    }
    fn year(&self) -> i64 {
        civil_from_days(self.days).0
    }
    fn month(&self) -> i64 {
        civil_from_days(self.days).1
    }
    fn date(&self) -> i64 {
        civil_from_days(self.days).2
    }
    fn day(&self) -> i64 {
        (self.days + 4).rem_euclid(7)
    }
    fn hours(&self) -> i64 {
        self.ms_of_day / 3_600_000
    }
    fn minutes(&self) -> i64 {
        self.ms_of_day / 60_000 % 60
    }
    fn seconds(&self) -> i64 {
        self.ms_of_day / 1000 % 60
    }
    /// Days since January 1st of its year (`new Date(year, 0, 1)`).
    fn yday(&self) -> i64 {
        self.days - make_day(self.year(), 0, 1)
    }
}

// ---- struct tm ------------------------------------------------------------------------------

/// Offsets of `struct tm`'s fields (44 bytes).
const TM_SEC: u32 = 0;
const TM_MIN: u32 = 4;
const TM_HOUR: u32 = 8;
const TM_MDAY: u32 = 12;
const TM_MON: u32 = 16;
const TM_YEAR: u32 = 20;
const TM_WDAY: u32 = 24;
const TM_YDAY: u32 = 28;
const TM_ISDST: u32 = 32;
const TM_GMTOFF: u32 = 36;
const TM_ZONE: u32 = 40;
const TM_SIZE: u32 = 44;

/// The i32 fields of the `struct tm` at `ptr`, by offset / 4.
fn read_tm(mem: &Memory, ptr: u32) -> Result<[i32; 11], Trap> {
    let b = read_bytes(mem, ptr, TM_SIZE)?;
    let mut f = [0i32; 11];
    for (i, x) in f.iter_mut().enumerate() {
        *x = i32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    }
    Ok(f)
}

fn set(mem: &Memory, tm: u32, field: u32, value: i64) -> Result<(), Trap> {
    write_u32(mem, tm.wrapping_add(field), value as i32 as u32)
}

/// `_tzset_js(timezone, daylight, tzname)`: UTC, no daylight saving time, both names
/// [`ZONE_NAME`] (allocated with the guest's `malloc` at the first call; later calls change
/// nothing, as the JS's).
fn tzset(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (timezone, daylight, tzname) = (v[0] as u32, v[1] as u32, v[2] as u32);
    let state = state::of(caller, "_tzset_js")?;
    if state.lock().tzname.is_some() {
        return Ok(());
    }
    let (module, mem) = memory(caller, "_tzset_js")?;
    let name = call_i32(&module, "malloc", &[ZONE_NAME.len() as i32 + 1])? as u32;
    if name != 0 {
        write_bytes(&mem, name, format!("{ZONE_NAME}\0").as_bytes())?;
    }
    state.lock().tzname = Some(name);
    write_u32(&mem, timezone, 0)?;
    write_u32(&mem, daylight, 0)?;
    write_u32(&mem, tzname, name)?;
    write_u32(&mem, tzname.wrapping_add(4), name)
}

/// The fields `_gmtime_js` and `_localtime_js` set from the time at `*time_ptr`.
fn fill_tm(caller: &Caller<'_>, v: &[u64], name: &str, local: bool) -> Result<(), Trap> {
    let (time_ptr, tm) = (v[0] as u32, v[1] as u32);
    let mem = memory(caller, name)?.1;
    let t = mem::read_u32(&mem, time_ptr)? as i32;
    let d = Date::at(i64::from(t) * 1000);
    for (field, value) in [
        (TM_SEC, d.seconds()),
        (TM_MIN, d.minutes()),
        (TM_HOUR, d.hours()),
        (TM_MDAY, d.date()),
        (TM_MON, d.month()),
        (TM_YEAR, d.year() - 1900),
        (TM_WDAY, d.day()),
        (TM_YDAY, d.yday()),
    ] {
        set(&mem, tm, field, value)?;
    }
    if local {
        set(&mem, tm, TM_GMTOFF, 0)?;
        set(&mem, tm, TM_ISDST, 0)?;
    }
    Ok(())
}

fn gmtime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    fill_tm(caller, v, "_gmtime_js", false)
}

fn localtime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    fill_tm(caller, v, "_localtime_js", true)
}

/// `_mktime_js(tm)` and `_timegm_js(tm)`: the time of the (possibly denormal) broken-down time
/// at `tm`, whose weekday and day of the year they set; `mktime` also normalises the other
/// fields but the year (as the JS does) and a negative `tm_isdst` to 0.
fn make(caller: &Caller<'_>, v: &mut [u64], name: &str, local: bool) -> Result<(), Trap> {
    let tm = v[0] as u32;
    let mem = memory(caller, name)?.1;
    let f = read_tm(&mem, tm)?;
    let field = |off: u32| i64::from(f[off as usize / 4]);
    let ms = make_time([
        field(TM_YEAR) + 1900,
        field(TM_MON),
        field(TM_MDAY),
        field(TM_HOUR),
        field(TM_MIN),
        field(TM_SEC),
    ]);
    if local && field(TM_ISDST) < 0 {
        set(&mem, tm, TM_ISDST, 0)?;
    }
    let Some(ms) = ms else {
        // An invalid Date: every field it sets is NaN, stored as 0.
        let fields: &[u32] = if local {
            &[TM_WDAY, TM_YDAY, TM_SEC, TM_MIN, TM_HOUR, TM_MDAY, TM_MON]
        } else {
            &[TM_WDAY, TM_YDAY]
        };
        for &off in fields {
            set(&mem, tm, off, 0)?;
        }
        v[0] = 0;
        return Ok(());
    };
    let d = Date::at(ms);
    set(&mem, tm, TM_WDAY, d.day())?;
    set(&mem, tm, TM_YDAY, d.yday())?;
    if local {
        set(&mem, tm, TM_SEC, d.seconds())?;
        set(&mem, tm, TM_MIN, d.minutes())?;
        set(&mem, tm, TM_HOUR, d.hours())?;
        set(&mem, tm, TM_MDAY, d.date())?;
        set(&mem, tm, TM_MON, d.month())?;
    }
    v[0] = to_i32(ms as f64 / 1000.0) as u32 as u64;
    Ok(())
}

fn mktime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    make(caller, v, "_mktime_js", true)
}

fn timegm(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    make(caller, v, "_timegm_js", false)
}

// ---- strftime -------------------------------------------------------------------------------

/// `strftime(s, maxsize, format, tm)` (and `strftime_l`, whose locale is ignored: the C
/// locale): Emscripten's JS implementation, by its own algorithm — the `%c`-like shorthands
/// expanded first, then each conversion replaced everywhere in turn — so that its output is
/// the JS's byte for byte, quirks included (`%W`, `%z` of a non-whole hour offset). 0 when the
/// result and its NUL do not fit in `maxsize`.
fn strftime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (s, maxsize, format, tm) = (v[0] as u32, v[1] as u32, v[2] as u32, v[3] as u32);
    let mem = memory(caller, "strftime")?.1;
    let f = read_tm(&mem, tm)?;
    let zone_ptr = f[TM_ZONE as usize / 4] as u32;
    let zone = if zone_ptr == 0 {
        String::new()
    } else {
        String::from_utf8_lossy(&read_cstr(&mem, zone_ptr)?).into_owned()
    };
    let pattern = String::from_utf8_lossy(&read_cstr(&mem, format)?).into_owned();
    let tm = Tm {
        sec: f[0].into(),
        min: f[1].into(),
        hour: f[2].into(),
        mday: f[3].into(),
        mon: f[4].into(),
        year: f[5].into(),
        wday: f[6].into(),
        yday: f[7].into(),
        gmtoff: f[9].into(),
        zone,
    };
    let mut out = format_tm(&pattern, &tm).map_err(Trap::host)?.into_bytes();
    out.push(0);
    if out.len() > maxsize as usize {
        v[0] = 0;
        return Ok(());
    }
    write_bytes(&mem, s, &out)?;
    v[0] = (out.len() - 1) as u64;
    Ok(())
}

/// `strptime(buf, format, tm)` (and `strptime_l`, whose locale is ignored): Emscripten's JS
/// implementation (see the `strptime` module); the end of what it parsed, or 0.
fn strptime(caller: &mut Caller<'_>, v: &mut [u64]) -> Result<(), Trap> {
    let (buf, format, tm) = (v[0] as u32, v[1] as u32, v[2] as u32);
    let mem = memory(caller, "strptime")?.1;
    let f = read_tm(&mem, tm)?;
    let input = String::from_utf8_lossy(&read_cstr(&mem, buf)?).into_owned();
    let format = String::from_utf8_lossy(&read_cstr(&mem, format)?).into_owned();
    let fields = strptime::Fields {
        sec: f[0].into(),
        min: f[1].into(),
        hour: f[2].into(),
        mday: f[3].into(),
        mon: f[4].into(),
        year: f[5].into(),
    };
    let Some((consumed, out)) = strptime::strptime(&input, &format, &fields).map_err(Trap::host)?
    else {
        v[0] = 0;
        return Ok(());
    };
    for (field, value) in
        [TM_SEC, TM_MIN, TM_HOUR, TM_MDAY, TM_MON, TM_YEAR, TM_WDAY, TM_YDAY].into_iter().zip(out)
    {
        set(&mem, tm, field, value)?;
    }
    set(&mem, tm, TM_ISDST, 0)?;
    v[0] = u64::from(buf.wrapping_add(consumed as u32));
    Ok(())
}

/// The fields of a `struct tm` strftime reads.
struct Tm {
    sec: i64,
    min: i64,
    hour: i64,
    mday: i64,
    mon: i64,
    year: i64,
    wday: i64,
    yday: i64,
    gmtoff: i64,
    zone: String,
}

const WEEKDAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTH_DAYS_REGULAR: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_DAYS_LEAP: [i64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The shorthands, expanded in this order before anything else.
const EXPANSIONS: &[(&str, &str)] = &[
    ("%c", "%a %b %d %H:%M:%S %Y"),
    ("%D", "%m/%d/%y"),
    ("%F", "%Y-%m-%d"),
    ("%h", "%b"),
    ("%r", "%I:%M:%S %p"),
    ("%R", "%H:%M"),
    ("%T", "%H:%M:%S"),
    ("%x", "%m/%d/%y"),
    ("%X", "%H:%M:%S"),
    ("%Ec", "%c"),
    ("%EC", "%C"),
    ("%Ex", "%m/%d/%y"),
    ("%EX", "%H:%M:%S"),
    ("%Ey", "%y"),
    ("%EY", "%Y"),
    ("%Od", "%d"),
    ("%Oe", "%e"),
    ("%OH", "%H"),
    ("%OI", "%I"),
    ("%Om", "%m"),
    ("%OM", "%M"),
    ("%OS", "%S"),
    ("%Ou", "%u"),
    ("%OU", "%U"),
    ("%OV", "%V"),
    ("%Ow", "%w"),
    ("%OW", "%W"),
    ("%Oy", "%y"),
];

/// The conversions, replaced in this order.
const CONVERSIONS: &[&str] = &[
    "%a", "%A", "%b", "%B", "%C", "%d", "%e", "%g", "%G", "%H", "%I", "%j", "%m", "%M", "%n", "%p",
    "%S", "%t", "%u", "%U", "%V", "%w", "%W", "%y", "%Y", "%z", "%Z", "%%",
];

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// The JS's `_arraySum(monthDays, index)`: days of the months 0..=index; `None` (NaN) past
/// December.
fn month_sum(year: i64, index: i64) -> Option<i64> {
    let days = if is_leap(year) { MONTH_DAYS_LEAP } else { MONTH_DAYS_REGULAR };
    if index > 11 {
        return None;
    }
    Some((0..=index).map(|i| days[i as usize]).sum())
}

fn leading(value: impl ToString, digits: usize, fill: char) -> String {
    let s = value.to_string();
    let pad = digits.saturating_sub(s.chars().count());
    std::iter::repeat_n(fill, pad).chain(s.chars()).collect()
}

/// JavaScript's `Math.ceil(days / 7)` of an integer.
fn ceil7(days: i64) -> i64 {
    (days as f64 / 7.0).ceil() as i64
}

/// A JavaScript number as `String(n)` writes it (for the values `%z` produces).
fn js_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 { format!("{}", n as i64) } else { format!("{n}") }
}

/// The JS's `getFirstWeekStartDate(janFourth)`: the Monday starting ISO week 1, as a day.
fn first_week_start(jan_fourth: i64) -> i64 {
    let d = Date { days: jan_fourth, ms_of_day: 0 };
    let y = d.year();
    match d.day() {
        0 => make_day(y - 1, 11, 29),
        1 => jan_fourth,
        2 => make_day(y, 0, 3),
        3 => make_day(y, 0, 2),
        4 => make_day(y, 0, 1),
        5 => make_day(y - 1, 11, 31),
        _ => make_day(y - 1, 11, 30),
    }
}

/// The JS's `__addDays(date, n)`: adds nothing for `n <= 0`.
fn add_days(day: i64, n: i64) -> i64 {
    if n > 0 { day + n } else { day }
}

fn week_based_year(tm: &Tm) -> i64 {
    let this = add_days(make_day(tm.year + 1900, 0, 1), tm.yday);
    let y = Date { days: this, ms_of_day: 0 }.year();
    let start_this = first_week_start(make_day(y, 0, 4));
    let start_next = first_week_start(make_day(y + 1, 0, 4));
    if start_this <= this { if start_next <= this { y + 1 } else { y } } else { y - 1 }
}

/// `%U` (`first` the first Sunday) and `%W` (the first Monday) as the JS computes them; the
/// JS's `%W` starts from `new Date(tm_year, 0, 1)`, a year without its 1900.
fn week_number(tm: &Tm, monday: bool) -> String {
    let jan_first = make_day(if monday { tm.year } else { tm.year + 1900 }, 0, 1);
    let wd = Date { days: jan_first, ms_of_day: 0 }.day();
    let first = match (monday, wd) {
        (false, 0) | (true, 1) => jan_first,
        (false, wd) => add_days(jan_first, 7 - wd),
        (true, 0) => add_days(jan_first, 1),
        (true, wd) => add_days(jan_first, 7 - wd + 1),
    };
    let end = make_day(tm.year + 1900, tm.mon, tm.mday);
    if first < end {
        let e = Date { days: end, ms_of_day: 0 };
        let Some(sum) = month_sum(e.year(), e.month() - 1) else {
            return "NaN".into();
        };
        let days = 31 - Date { days: first, ms_of_day: 0 }.date() + (sum - 31) + e.date();
        return leading(ceil7(days), 2, '0');
    }
    if first == jan_first { "01".into() } else { "00".into() }
}

fn iso_week(tm: &Tm) -> String {
    let start_this = first_week_start(make_day(tm.year + 1900, 0, 4));
    let start_next = first_week_start(make_day(tm.year + 1901, 0, 4));
    let end = add_days(make_day(tm.year + 1900, 0, 1), tm.yday);
    if end < start_this {
        return "53".into();
    }
    if start_next <= end {
        return "01".into();
    }
    let s = Date { days: start_this, ms_of_day: 0 };
    let diff =
        if s.year() < tm.year + 1900 { tm.yday + 32 - s.date() } else { tm.yday + 1 - s.date() };
    leading(ceil7(diff), 2, '0')
}

/// What one conversion becomes; `Err` where the JS throws a TypeError.
fn convert(rule: &str, tm: &Tm) -> Result<String, String> {
    let weekday = usize::try_from(tm.wday).ok().and_then(|i| WEEKDAYS.get(i));
    let month = usize::try_from(tm.mon).ok().and_then(|i| MONTHS.get(i));
    let type_error = || format!("TypeError: strftime {rule} of an out-of-range field");
    let year = tm.year + 1900;
    Ok(match rule {
        "%a" => weekday.ok_or_else(type_error)?[..3].to_string(),
        "%A" => weekday.map_or("undefined", |w| w).to_string(),
        "%b" => month.ok_or_else(type_error)?[..3].to_string(),
        "%B" => month.map_or("undefined", |m| m).to_string(),
        "%C" => leading(year / 100, 2, '0'),
        "%d" => leading(tm.mday, 2, '0'),
        "%e" => leading(tm.mday, 2, ' '),
        "%g" => week_based_year(tm).to_string().chars().skip(2).collect(),
        "%G" => week_based_year(tm).to_string(),
        "%H" => leading(tm.hour, 2, '0'),
        "%I" => {
            let h = match tm.hour {
                0 => 12,
                h if h > 12 => h - 12,
                h => h,
            };
            leading(h, 2, '0')
        }
        "%j" => match month_sum(year, tm.mon - 1) {
            Some(sum) => leading(tm.mday + sum, 3, '0'),
            None => "NaN".into(),
        },
        "%m" => leading(tm.mon + 1, 2, '0'),
        "%M" => leading(tm.min, 2, '0'),
        "%n" => "\n".into(),
        "%p" => if (0..12).contains(&tm.hour) { "AM" } else { "PM" }.into(),
        "%S" => leading(tm.sec, 2, '0'),
        "%t" => "\t".into(),
        "%u" => if tm.wday == 0 { 7 } else { tm.wday }.to_string(),
        "%U" => week_number(tm, false),
        "%V" => iso_week(tm),
        "%w" => tm.wday.to_string(),
        "%W" => week_number(tm, true),
        "%y" => year.to_string().chars().skip(2).collect(),
        "%Y" => year.to_string(),
        "%z" => {
            let ahead = tm.gmtoff >= 0;
            let off = (tm.gmtoff as f64).abs() / 60.0;
            let off = (off / 60.0) * 100.0 + off % 60.0;
            let s = format!("0000{}", js_number(off));
            let tail: String = s.chars().skip(s.chars().count() - 4).collect();
            format!("{}{tail}", if ahead { '+' } else { '-' })
        }
        "%Z" => tm.zone.clone(),
        _ => "%".into(),
    })
}

fn format_tm(format: &str, tm: &Tm) -> Result<String, String> {
    let mut pattern = format.to_string();
    for (from, to) in EXPANSIONS {
        pattern = pattern.replace(from, to);
    }
    pattern = pattern.replace("%%", "\0\0");
    for rule in CONVERSIONS {
        if pattern.contains(rule) {
            pattern = pattern.replace(rule, &convert(rule, tm)?);
        }
    }
    Ok(pattern.replace("\0\0", "%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm_of(t: i64) -> Tm {
        let d = Date::at(t * 1000);
        Tm {
            sec: d.seconds(),
            min: d.minutes(),
            hour: d.hours(),
            mday: d.date(),
            mon: d.month(),
            year: d.year() - 1900,
            wday: d.day(),
            yday: d.yday(),
            gmtoff: 0,
            zone: "GMT".into(),
        }
    }

    #[test]
    fn calendar_arithmetic_is_javascripts() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 0, 1));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 1, 29));
        assert_eq!(civil_from_days(-1), (1969, 11, 31));
        // Months and days overflow; years 0-99 are 1900-1999.
        assert_eq!(make_day(2021, 12, 1), days_from_civil(2022, 1, 1));
        assert_eq!(make_day(2022, 0, 0), days_from_civil(2021, 12, 31));
        assert_eq!(make_day(70, 0, 1), 0);
        assert_eq!(make_time([275_761, 0, 1, 0, 0, 0]), None);
        let d = Date::at(1_640_995_200_000);
        assert_eq!((d.year(), d.month(), d.date(), d.day(), d.yday()), (2022, 0, 1, 6, 0));
    }

    #[test]
    fn strftime_matches_emscriptens_js() {
        // 2022-01-01T00:00:00Z, a Saturday; outputs checked against Emscripten 3.1.6 on node.
        let tm = tm_of(1_640_995_200);
        assert_eq!(format_tm("%c", &tm).unwrap(), "Sat Jan 01 00:00:00 2022");
        assert_eq!(format_tm("%F %T %j %u %w", &tm).unwrap(), "2022-01-01 00:00:00 001 6 6");
        // The JS puts January 1st 2022 in week 53 (of 2021).
        assert_eq!(format_tm("%G %g %V %U %W", &tm).unwrap(), "2021 21 53 00 00");
        assert_eq!(
            format_tm("%z %Z %% %%c %q", &tm).unwrap(),
            "+0000 GMT % %a Jan 01 00:00:00 2022 %q"
        );
        let mut odd = tm_of(0);
        odd.gmtoff = 5400;
        assert_eq!(format_tm("%z", &odd).unwrap(), "+0180");
        odd.wday = 9;
        assert_eq!(format_tm("%A", &odd).unwrap(), "undefined");
        assert!(format_tm("%a", &odd).is_err());
    }
}
