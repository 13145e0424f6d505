//! `strptime(buf, format, tm)` as Emscripten 3.1.6's JS does it: the format becomes a
//! JavaScript regular expression (its own characters escaped, each conversion's first
//! occurrence a capturing group, later ones dropped), matched case-insensitively at the start
//! of `buf`; the fields come from the groups, the rest of `tm` from what it held, and the result
//! is normalised through a `Date`. What the JS would throw on (a pattern that is no regular
//! expression) is an error.
//!
//! The expressions the JS builds use a small part of JavaScript's syntax — literals, `\d`, `\s`,
//! escapes, classes, groups, `(?:`, `(?!`, `|` and `?` — which [`Regex`] implements with
//! JavaScript's backtracking semantics.

use super::{Date, make_day, make_time, month_sum};

/// The shorthands, each replaced once (its first occurrence), in this order.
const EQUIVALENT: &[(&str, &str)] = &[
    ("%A", "%a"),
    ("%B", "%b"),
    ("%c", "%a %b %d %H:%M:%S %Y"),
    ("%D", "%m\\/%d\\/%y"),
    ("%e", "%d"),
    ("%F", "%Y-%m-%d"),
    ("%h", "%b"),
    ("%R", "%H\\:%M"),
    ("%r", "%I\\:%M\\:%S\\s%p"),
    ("%T", "%H\\:%M\\:%S"),
    ("%x", "%m\\/%d\\/(?:%y|%Y)"),
    ("%X", "%H\\:%M\\:%S"),
];

/// What each conversion matches, in the order they are turned into groups.
const PATTERNS: &[(&str, &str)] = &[
    (
        "%a",
        "(?:Sun(?:day)?)|(?:Mon(?:day)?)|(?:Tue(?:sday)?)|(?:Wed(?:nesday)?)|(?:Thu(?:rsday)?)|(?:Fri(?:day)?)|(?:Sat(?:urday)?)",
    ),
    (
        "%b",
        "(?:Jan(?:uary)?)|(?:Feb(?:ruary)?)|(?:Mar(?:ch)?)|(?:Apr(?:il)?)|May|(?:Jun(?:e)?)|(?:Jul(?:y)?)|(?:Aug(?:ust)?)|(?:Sep(?:tember)?)|(?:Oct(?:ober)?)|(?:Nov(?:ember)?)|(?:Dec(?:ember)?)",
    ),
    ("%C", "\\d\\d"),
    ("%d", "0[1-9]|[1-9](?!\\d)|1\\d|2\\d|30|31"),
    ("%H", "\\d(?!\\d)|[0,1]\\d|20|21|22|23"),
    ("%I", "\\d(?!\\d)|0\\d|10|11|12"),
    ("%j", "00[1-9]|0?[1-9](?!\\d)|0?[1-9]\\d(?!\\d)|[1,2]\\d\\d|3[0-6]\\d"),
    ("%m", "0[1-9]|[1-9](?!\\d)|10|11|12"),
    ("%M", "0\\d|\\d(?!\\d)|[1-5]\\d"),
    ("%n", "\\s"),
    ("%p", "AM|am|PM|pm|A\\.M\\.|a\\.m\\.|P\\.M\\.|p\\.m\\."),
    ("%S", "0\\d|\\d(?!\\d)|[1-5]\\d|60"),
    ("%U", "0\\d|\\d(?!\\d)|[1-4]\\d|50|51|52|53"),
    ("%W", "0\\d|\\d(?!\\d)|[1-4]\\d|50|51|52|53"),
    ("%w", "[0-6]"),
    ("%y", "\\d\\d"),
    ("%Y", "\\d\\d\\d\\d"),
    ("%%", "%"),
    ("%t", "\\s"),
];

const SPECIAL: &str = "\\!@#$^&*()+=-[]/{}|:<>?,.";

/// The fields of `struct tm` strptime reads (year, month, day, hour, minute, second).
pub(super) struct Fields {
    pub year: i64,
    pub mon: i64,
    pub mday: i64,
    pub hour: i64,
    pub min: i64,
    pub sec: i64,
}

/// What strptime writes: sec, min, hour, mday, mon, year (since 1900), wday, yday.
pub(super) type Result8 = [i64; 8];

/// Parses `input` by `format` starting from `tm`'s fields: the number of bytes of `input`
/// consumed and the new fields, `None` when it does not match, `Err` where the JS throws.
pub(super) fn strptime(
    input: &str,
    format: &str,
    tm: &Fields,
) -> Result<Option<(usize, Result8)>, String> {
    let mut pattern = format.to_string();
    for c in SPECIAL.chars() {
        pattern = pattern.replace(c, &format!("\\{c}"));
    }
    for (from, to) in EQUIVALENT {
        pattern = pattern.replacen(from, to, 1);
    }
    for (from, to) in PATTERNS {
        pattern = pattern.replacen(from, &format!("({from}{to})"), 1);
    }
    // Each conversion, in the order of their first `%`, names a group; all its markers go.
    let mut capture: Vec<char> = Vec::new();
    while let Some(i) = pattern.find('%') {
        let Some(c) = pattern[i + 1..].chars().next() else {
            return Err("SyntaxError: \\ at end of pattern".into());
        };
        capture.push(c);
        if c == '\\' {
            // The JS's `new RegExp('\\%\\', 'g')` is no regular expression.
            return Err("SyntaxError: \\ at end of pattern".into());
        }
        pattern = pattern.replace(&format!("%{c}"), "");
    }
    let regex = Regex::parse(&pattern)?;
    let chars: Vec<char> = input.chars().collect();
    let Some((end, groups)) = regex.exec(&chars) else { return Ok(None) };
    let get = |symbol: char| -> Option<String> {
        let pos = capture.iter().position(|&c| c == symbol)?;
        let (s, e) = groups.get(pos).copied().flatten()?;
        let text: String = chars[s..e].iter().collect();
        (!text.is_empty()).then_some(text)
    };
    let fixup = |v: i64, min: i64, max: i64| v.clamp(min, max);
    let mut year = fixup(tm.year + 1900, 1970, 9999);
    let mut month = fixup(tm.mon, 0, 11);
    let mut day = fixup(tm.mday, 1, 31);
    let mut hour = fixup(tm.hour, 0, 23);
    let mut min = fixup(tm.min, 0, 59);
    let mut sec = fixup(tm.sec, 0, 59);
    if let Some(v) = get('S') {
        sec = parse_int(&v);
    }
    if let Some(v) = get('M') {
        min = parse_int(&v);
    }
    if let Some(v) = get('H') {
        hour = parse_int(&v);
    } else if let Some(v) = get('I') {
        hour = parse_int(&v);
        if let Some(p) = get('p') {
            hour += if p.to_uppercase().starts_with('P') { 12 } else { 0 };
        }
    }
    if let Some(v) = get('Y') {
        year = parse_int(&v);
    } else if let Some(v) = get('y') {
        let y = parse_int(&v);
        year = match get('C') {
            Some(c) => y + parse_int(&c) * 100,
            None => y + if y < 69 { 2000 } else { 1900 },
        };
    }
    if let Some(v) = get('m') {
        month = parse_int(&v) - 1;
    } else if let Some(v) = get('b') {
        month = MONTHS.iter().position(|m| upper3(&v) == *m).unwrap_or(0) as i64;
    }
    if let Some(v) = get('d') {
        day = parse_int(&v);
    } else if let Some(v) = get('j') {
        // The JS does not stop at the first month that fits: December always wins.
        let n = parse_int(&v);
        let leap = super::is_leap(year);
        let days = if leap { super::MONTH_DAYS_LEAP } else { super::MONTH_DAYS_REGULAR };
        for (m, len) in days.iter().enumerate() {
            let until = month_sum(year, m as i64 - 1).unwrap_or(0);
            if n <= until + len {
                day = n - until;
            }
        }
    } else if let Some(v) = get('a') {
        let weekday = upper3(&v);
        let sunday_first = DAYS.iter().position(|d| *d == weekday).unwrap_or(0) as i64;
        let week = |w: &str, first: i64, number: i64| -> (i64, i64) {
            let jan_first = make_day(year, 0, 1);
            let wd = Date { days: jan_first, ms_of_day: 0 }.day();
            let n = parse_int(w);
            let add = if wd == first {
                number + 7 * (n - 1)
            } else {
                7 - wd + first + number + 7 * (n - 1)
            };
            let end = Date { days: super::add_days(jan_first, add), ms_of_day: 0 };
            (end.date(), end.month())
        };
        if let Some(w) = get('U') {
            (day, month) = week(&w, 0, sunday_first);
        } else if let Some(w) = get('W') {
            (day, month) = week(&w, 1, (sunday_first + 6) % 7);
        }
    }
    let out = match make_time([year, month, day, hour, min, sec]) {
        Some(ms) => {
            let d = Date::at(ms);
            let yday = month_sum(d.year(), d.month() - 1).unwrap_or(0) + d.date() - 1;
            [
                d.seconds(),
                d.minutes(),
                d.hours(),
                d.date(),
                d.month(),
                d.year() - 1900,
                d.day(),
                yday,
            ]
        }
        None => [0; 8],
    };
    let consumed: String = chars[..end].iter().collect();
    Ok(Some((consumed.len(), out)))
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn upper3(s: &str) -> String {
    s.chars().take(3).collect::<String>().to_uppercase()
}

/// JavaScript's `parseInt` of the digits a group matched.
fn parse_int(s: &str) -> i64 {
    let digits: String = s.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or(0)
}

// ---- A JavaScript regular expression, the part strptime's use ------------------------------

#[derive(Debug)]
enum Node {
    Char(char),
    Digit,
    Space,
    Class(Vec<(char, char)>),
    Group(Vec<Vec<Node>>, Option<usize>),
    NegativeLookahead(Vec<Vec<Node>>),
    Optional(Box<Node>),
}

/// A parsed expression: alternatives of sequences.
#[derive(Debug)]
struct Regex {
    alternatives: Vec<Vec<Node>>,
    groups: usize,
}

type Groups = Vec<Option<(usize, usize)>>;

impl Regex {
    fn parse(pattern: &str) -> Result<Regex, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parser = Parser { chars: &chars, at: 0, groups: 0 };
        let alternatives = parser.alternatives()?;
        if parser.at != chars.len() {
            return Err(format!(
                "SyntaxError: Invalid regular expression: /^{pattern}/: Unmatched ')'"
            ));
        }
        Ok(Regex { alternatives, groups: parser.groups })
    }

    /// Matches at the start of `input` (case-insensitively): where the match ends and the
    /// groups.
    fn exec(&self, input: &[char]) -> Option<(usize, Groups)> {
        let mut groups = vec![None; self.groups];
        let mut end = None;
        let matched = alternatives(&self.alternatives, input, 0, &mut groups, &mut |at, _| {
            end = Some(at);
            true
        });
        matched.then(|| (end.unwrap_or(0), groups))
    }
}

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
    groups: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn alternatives(&mut self) -> Result<Vec<Vec<Node>>, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.at += 1;
            alts.push(self.sequence()?);
        }
        Ok(alts)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, String> {
        let mut seq = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            self.at += 1;
            let node = match c {
                '\\' => self.escape()?,
                '(' => {
                    let rest: String = self.chars[self.at..].iter().take(2).collect();
                    if rest == "?:" {
                        self.at += 2;
                        Node::Group(self.group()?, None)
                    } else if rest == "?!" {
                        self.at += 2;
                        Node::NegativeLookahead(self.group()?)
                    } else {
                        self.groups += 1;
                        let index = self.groups - 1;
                        Node::Group(self.group()?, Some(index))
                    }
                }
                '[' => self.class()?,
                '?' | '*' | '+' | '{' => {
                    return Err("SyntaxError: Nothing to repeat".into());
                }
                '.' | '^' | '$' => return Err(format!("unsupported regular expression {c}")),
                c => Node::Char(c),
            };
            if self.peek() == Some('?') {
                self.at += 1;
                seq.push(Node::Optional(Box::new(node)));
            } else {
                seq.push(node);
            }
        }
        Ok(seq)
    }

    fn group(&mut self) -> Result<Vec<Vec<Node>>, String> {
        let alts = self.alternatives()?;
        if self.peek() != Some(')') {
            return Err("SyntaxError: Unterminated group".into());
        }
        self.at += 1;
        Ok(alts)
    }

    fn escape(&mut self) -> Result<Node, String> {
        let c = self.peek().ok_or("SyntaxError: \\ at end of pattern")?;
        self.at += 1;
        Ok(match c {
            'd' => Node::Digit,
            's' => Node::Space,
            c if c.is_ascii_alphanumeric() => {
                return Err(format!("unsupported regular expression escape \\{c}"));
            }
            c => Node::Char(c),
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let mut ranges = Vec::new();
        loop {
            let c = self.peek().ok_or("SyntaxError: Unterminated character class")?;
            self.at += 1;
            if c == ']' {
                return Ok(Node::Class(ranges));
            }
            if self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&e| e != ']') {
                let end = self.chars[self.at + 1];
                self.at += 2;
                ranges.push((c, end));
            } else {
                ranges.push((c, c));
            }
        }
    }
}

fn same(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

fn is_js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Matches one of `alts` at `at`, then the continuation `k`; backtracks into later
/// alternatives when `k` fails, as JavaScript does.
fn alternatives(
    alts: &[Vec<Node>],
    input: &[char],
    at: usize,
    groups: &mut Groups,
    k: &mut dyn FnMut(usize, &mut Groups) -> bool,
) -> bool {
    for seq in alts {
        let saved = groups.clone();
        if sequence(seq, input, at, groups, k) {
            return true;
        }
        *groups = saved;
    }
    false
}

fn sequence(
    seq: &[Node],
    input: &[char],
    at: usize,
    groups: &mut Groups,
    k: &mut dyn FnMut(usize, &mut Groups) -> bool,
) -> bool {
    let Some((first, rest)) = seq.split_first() else { return k(at, groups) };
    node(first, input, at, groups, &mut |next, g| sequence(rest, input, next, g, k))
}

fn node(
    n: &Node,
    input: &[char],
    at: usize,
    groups: &mut Groups,
    k: &mut dyn FnMut(usize, &mut Groups) -> bool,
) -> bool {
    let one = |ok: bool| ok.then_some(at + 1);
    let c = input.get(at).copied();
    match n {
        Node::Char(want) => match one(c.is_some_and(|c| same(c, *want))) {
            Some(next) => k(next, groups),
            None => false,
        },
        Node::Digit => match one(c.is_some_and(|c| c.is_ascii_digit())) {
            Some(next) => k(next, groups),
            None => false,
        },
        Node::Space => match one(c.is_some_and(is_js_space)) {
            Some(next) => k(next, groups),
            None => false,
        },
        Node::Class(ranges) => {
            let hit = c.is_some_and(|c| {
                ranges.iter().any(|&(lo, hi)| {
                    [c, c.to_ascii_lowercase(), c.to_ascii_uppercase()]
                        .iter()
                        .any(|x| (lo..=hi).contains(x))
                })
            });
            match one(hit) {
                Some(next) => k(next, groups),
                None => false,
            }
        }
        Node::Group(alts, index) => alternatives(alts, input, at, groups, &mut |end, g| {
            let saved = index.map(|i| g[i]);
            if let Some(i) = *index {
                g[i] = Some((at, end));
            }
            if k(end, g) {
                return true;
            }
            if let (Some(i), Some(s)) = (*index, saved) {
                g[i] = s;
            }
            false
        }),
        Node::NegativeLookahead(alts) => {
            let mut scratch = groups.clone();
            if alternatives(alts, input, at, &mut scratch, &mut |_, _| true) {
                false
            } else {
                k(at, groups)
            }
        }
        Node::Optional(inner) => {
            // Greedy: with the node first, then without.
            if node(inner, input, at, groups, k) {
                return true;
            }
            k(at, groups)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str, format: &str) -> Option<(usize, Result8)> {
        let tm = Fields { year: 70, mon: 0, mday: 1, hour: 0, min: 0, sec: 0 };
        strptime(input, format, &tm).unwrap()
    }

    #[test]
    fn javascript_regular_expressions() {
        let r = Regex::parse("(a(?:b)?)c|(\\d(?!\\d))").unwrap();
        let s = |t: &str| t.chars().collect::<Vec<_>>();
        assert_eq!(r.exec(&s("abcx")).map(|m| m.0), Some(3));
        assert_eq!(r.exec(&s("ACx")).map(|m| m.0), Some(2));
        assert_eq!(r.exec(&s("7x")).map(|m| (m.0, m.1[1])), Some((1, Some((0, 1)))));
        assert_eq!(r.exec(&s("77")).map(|m| m.0), None);
        assert!(Regex::parse("(a").is_err());
    }

    #[test]
    fn strptime_as_the_js() {
        assert_eq!(
            parse("2022-03-04 05:06:07", "%Y-%m-%d %H:%M:%S"),
            Some((19, [7, 6, 5, 4, 2, 122, 5, 62]))
        );
        assert_eq!(parse("Feb 29 2000 rest", "%b %d %Y"), Some((11, [0, 0, 0, 29, 1, 100, 2, 59])));
        assert_eq!(parse("03/04/99", "%D").map(|r| r.1[5]), Some(99));
        // 12 pm is hour 24 to the JS: the next day's midnight.
        assert_eq!(parse("12:30:00 pm", "%r").map(|r| (r.1[2], r.1[3])), Some((0, 2)));
        assert_eq!(parse("x", "%Y"), None);
    }
}
