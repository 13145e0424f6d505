//! The global object a Go program sees: what wasm_exec.js and wasm_exec_node.js put on
//! `globalThis`, as far as Go's runtime and standard library read it — `Object`, `Array`,
//! `Uint8Array`, `Error`, `Date`, `crypto`, `performance`, `TextEncoder`, `TextDecoder`,
//! `console`, `process`, `path` and `fs` ([`crate::fs`]) — and Go's own object (`_pendingEvent`,
//! `_makeFuncWrapper`). No DOM, no `fetch`, no `require`: docs/go.md says why.

use std::sync::Arc;

use keel_sys::SysState;

use crate::value::{Function, Kind, Native, Obj, Value};
use crate::world::{Ctors, Ctx, GoState, JsResult, Throw};

fn native(
    f: impl Fn(&mut Ctx<'_>, &Value, &[Value]) -> JsResult + Send + Sync + 'static,
) -> Native {
    Arc::new(f)
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

/// Adds a method `name` to `obj`.
pub(crate) fn method(
    obj: &Obj,
    name: &'static str,
    f: impl Fn(&mut Ctx<'_>, &Value, &[Value]) -> JsResult + Send + Sync + 'static,
) {
    obj.set(name, Value::Object(Obj::function(name, f)));
}

/// Builds one guest's world from its system view (its args and environment).
pub(crate) fn world(st: &SysState) -> GoState {
    let object = Obj::constructor(
        "Object",
        native(|ctx, _, _| {
            Ok(Value::Object(Obj::new(Kind::Plain, Some(ctx.state.ctors.object.clone()))))
        }),
        None,
    );
    let array = Obj::constructor(
        "Array",
        native(|ctx, _, args| {
            let ctor = Some(ctx.state.ctors.array.clone());
            let items = match args {
                [Value::Number(n)] => {
                    if *n < 0.0 || n.fract() != 0.0 || *n > (1u32 << 24) as f64 {
                        return Err(Throw::Js(Value::Object(
                            ctx.state.error("RangeError", "Invalid array length".into()),
                        )));
                    }
                    vec![Value::Undefined; *n as usize]
                }
                args => args.to_vec(),
            };
            Ok(Value::Object(Obj::array(items, ctor)))
        }),
        None,
    );
    array.set(
        "isArray",
        Value::Object(Obj::function("isArray", |_, _, args| {
            Ok(Value::Bool(matches!(arg(args, 0).as_obj().map(Obj::kind), Some(Kind::Array(_)))))
        })),
    );
    let uint8array = Obj::constructor(
        "Uint8Array",
        native(|ctx, _, args| {
            let ctor = Some(ctx.state.ctors.uint8array.clone());
            let bytes = match arg(args, 0) {
                Value::Undefined => Vec::new(),
                Value::Number(n) => {
                    if n < 0.0 || n.fract() != 0.0 || n > (1u64 << 31) as f64 {
                        return Err(Throw::Js(Value::Object(ctx.state.error(
                            "RangeError",
                            format!(
                                "Invalid typed array length: {}",
                                crate::value::number_to_string(n)
                            ),
                        ))));
                    }
                    vec![0; n as usize]
                }
                Value::Object(o) => match (o.with_bytes(|b| b.clone()), o.items()) {
                    (Some(b), _) => b,
                    (_, Some(items)) => items.iter().map(|v| v.to_number() as i64 as u8).collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            Ok(Value::Object(Obj::bytes(bytes, ctor)))
        }),
        None,
    );
    let make_error = native(|ctx, _, args| {
        Ok(Value::Object(ctx.state.error(
            "Error",
            match arg(args, 0) {
                Value::Undefined => String::new(),
                m => m.to_js_string(),
            },
        )))
    });
    let error = Obj::constructor("Error", make_error.clone(), Some(make_error));
    let date = Obj::constructor(
        "Date",
        native(|ctx, _, args| {
            let ms = match args.first() {
                Some(v) => v.to_number(),
                None => now_ms(ctx),
            };
            Ok(Value::Object(date_object(ms, &ctx.state.ctors.date)))
        }),
        Some(native(|ctx, _, _| Ok(Value::str(date_string(now_ms(ctx)))))),
    );
    date.set(
        "now",
        Value::Object(Obj::function("now", |ctx, _, _| Ok(Value::num(now_ms(ctx).floor())))),
    );

    let ctors = Ctors {
        object: object.clone(),
        array: array.clone(),
        uint8array: uint8array.clone(),
        error: error.clone(),
        date: date.clone(),
    };
    let global = Obj::plain();
    let go = Obj::plain();
    go.set("_pendingEvent", Value::Null);
    method(&go, "_makeFuncWrapper", |_, _, args| {
        let id = arg(args, 0).to_number();
        Ok(Value::Object(Obj::new(Kind::Function(Function::Go(id as u32)), None)))
    });
    go.set("exited", Value::Bool(false));

    for (name, v) in [
        ("Object", object),
        ("Array", array),
        ("Uint8Array", uint8array),
        ("Error", error),
        ("Date", date),
        ("crypto", crypto()),
        ("performance", performance()),
        ("TextEncoder", text_encoder()),
        ("TextDecoder", text_decoder()),
        ("console", console()),
        ("process", process(st)),
        ("path", path()),
        ("fs", crate::fs::fs()),
    ] {
        global.set(name, Value::Object(v));
    }
    global.set("globalThis", Value::Object(global.clone()));
    let state = GoState::new(global, go, ctors);
    if let Some(cwd) = initial_cwd(st) {
        state.world().cwd = cwd;
    }
    state
}

/// Where `process.cwd()` starts: `PWD` of the guest's environment when it names a directory the
/// guest can see (as node starts where its shell was, which is what `go test` relies on), else
/// `/`.
fn initial_cwd(st: &SysState) -> Option<String> {
    let pwd = st.env.iter().find_map(|kv| kv.strip_prefix("PWD="))?;
    if !pwd.starts_with('/') {
        return None;
    }
    let abs = keel_sys::guest_path::clean(pwd);
    let (mount, inner) = keel_sys::guest_path::mount_of(&st.mounts, &abs)?;
    let s = st.mounts[mount].fs.stat(&inner, true).ok()?;
    (s.filetype == keel_sys::FileType::Directory).then_some(abs)
}

/// The guest's wall clock in milliseconds.
fn now_ms(ctx: &Ctx<'_>) -> f64 {
    ctx.sys.lock().walltime() as f64 / 1e6
}

fn date_object(ms: f64, ctor: &Obj) -> Obj {
    let d = Obj::new(Kind::Date(ms), Some(ctor.clone()));
    // The guest sees UTC: its time zone is the host's business, not the guest's.
    method(&d, "getTimezoneOffset", |_, _, _| Ok(Value::num(0)));
    method(&d, "getTime", move |_, _, _| Ok(Value::num(ms)));
    method(&d, "valueOf", move |_, _, _| Ok(Value::num(ms)));
    method(&d, "toISOString", move |_, _, _| Ok(Value::str(iso_string(ms))));
    method(&d, "toString", move |_, _, _| Ok(Value::str(date_string(ms))));
    d
}

/// Days since the epoch -> (year, month 1-12, day 1-31), the proleptic Gregorian calendar.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

fn split(ms: f64) -> (i64, u32, u32, i64, i64) {
    let ms = ms as i64;
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil(days);
    (y, m, d, days, rest)
}

/// `Date.prototype.toISOString`.
pub(crate) fn iso_string(ms: f64) -> String {
    let (y, m, d, _, rest) = split(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// `Date.prototype.toString` in UTC.
pub(crate) fn date_string(ms: f64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d, days, rest) = split(ms);
    format!(
        "{} {} {d:02} {y:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[m as usize - 1],
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60
    )
}

fn crypto() -> Obj {
    let c = Obj::plain();
    method(&c, "getRandomValues", |ctx, _, args| {
        let a = arg(args, 0);
        let Some(o) = a.as_obj() else {
            return Err(ctx.state.type_error("crypto.getRandomValues: not a typed array"));
        };
        let filled = o.with_bytes(|b| {
            if b.len() > 65536 {
                return Err(());
            }
            ctx.sys.lock().random(b).map_err(|_| ())
        });
        match filled {
            Some(Ok(())) => Ok(a),
            Some(Err(())) => Err(Throw::Js(Value::Object(ctx.state.error(
                "QuotaExceededError",
                "crypto.getRandomValues: more than 65536 bytes, or no random source".into(),
            )))),
            None => Err(ctx.state.type_error("crypto.getRandomValues: not a typed array")),
        }
    });
    c
}

fn performance() -> Obj {
    let p = Obj::plain();
    method(&p, "now", |ctx, _, _| Ok(Value::num(ctx.sys.lock().nanotime() as f64 / 1e6)));
    p
}

fn text_encoder() -> Obj {
    Obj::constructor(
        "TextEncoder",
        native(|_, _, _| {
            let e = Obj::plain();
            e.set("encoding", Value::str("utf-8"));
            method(&e, "encode", |ctx, _, args| {
                let s = match arg(args, 0) {
                    Value::Undefined => String::new(),
                    v => v.to_js_string(),
                };
                Ok(Value::Object(Obj::bytes(
                    s.into_bytes(),
                    Some(ctx.state.ctors.uint8array.clone()),
                )))
            });
            Ok(Value::Object(e))
        }),
        None,
    )
}

fn text_decoder() -> Obj {
    Obj::constructor(
        "TextDecoder",
        native(|_, _, _| {
            let d = Obj::plain();
            d.set("encoding", Value::str("utf-8"));
            method(&d, "decode", |_, _, args| {
                let text = arg(args, 0)
                    .as_obj()
                    .and_then(|o| o.with_bytes(|b| String::from_utf8_lossy(b).into_owned()))
                    .unwrap_or_default();
                Ok(Value::str(text))
            });
            Ok(Value::Object(d))
        }),
        None,
    )
}

/// `console.log(a, b)`: the arguments as strings, joined by spaces, and a newline.
fn console() -> Obj {
    let c = Obj::plain();
    for (name, err) in
        [("log", false), ("info", false), ("debug", false), ("warn", true), ("error", true)]
    {
        method(&c, name, move |ctx, _, args| {
            let line: Vec<String> = args.iter().map(Value::to_js_string).collect();
            let _ = ctx.sys.lock().write_out(err, format!("{}\n", line.join(" ")).as_bytes());
            Ok(Value::Undefined)
        });
    }
    c
}

/// The ids the guest sees: it is alone in its world, as root.
const PID: f64 = 1.0;
const PPID: f64 = 0.0;

fn process(st: &SysState) -> Obj {
    let p = Obj::plain();
    let argv: Vec<Value> = std::iter::once(Value::str("js"))
        .chain(st.args.iter().map(|a| Value::str(a.as_str())))
        .collect();
    p.set("argv", Value::Object(Obj::array(argv, None)));
    let env = Obj::plain();
    for kv in &st.env {
        if let Some((k, v)) = kv.split_once('=') {
            env.set(k, Value::str(v));
        }
    }
    p.set("env", Value::Object(env));
    p.set("pid", Value::num(PID));
    p.set("ppid", Value::num(PPID));
    p.set("platform", Value::str("js"));
    for name in ["getuid", "getgid", "geteuid", "getegid"] {
        method(&p, name, |_, _, _| Ok(Value::num(0)));
    }
    method(&p, "getgroups", |_, _, _| Ok(Value::Object(Obj::array(vec![Value::num(0)], None))));
    method(&p, "umask", |ctx, _, args| {
        let mut w = ctx.state.world();
        let old = w.umask;
        if let Value::Number(n) = arg(args, 0) {
            w.umask = n as u32 & 0o777;
        }
        Ok(Value::num(old))
    });
    method(&p, "cwd", |ctx, _, _| Ok(Value::str(ctx.state.world().cwd.as_str())));
    method(&p, "chdir", |ctx, _, args| {
        let path = arg(args, 0).to_js_string();
        let abs = keel_sys::guest_path::absolute(&ctx.state.world().cwd, &path);
        match crate::fs::stat_path(ctx, &abs, true) {
            Ok((s, _)) if s.filetype == keel_sys::FileType::Directory => {
                ctx.state.world().cwd = abs;
                Ok(Value::Undefined)
            }
            Ok(_) => {
                Err(Throw::Js(crate::fs::node_error(ctx, keel_sys::Errno::ENOTDIR, "chdir", &path)))
            }
            Err(e) => Err(Throw::Js(crate::fs::node_error(ctx, e, "chdir", &path))),
        }
    });
    method(&p, "exit", |ctx, _, args| {
        let code = arg(args, 0).to_number() as i32 as u32;
        Err(Throw::Trap(crate::imports::exit(ctx, code)))
    });
    method(&p, "hrtime", |ctx, _, _| {
        let ns = ctx.sys.lock().nanotime();
        Ok(Value::Object(Obj::array(
            vec![Value::num((ns / 1_000_000_000) as f64), Value::num((ns % 1_000_000_000) as f64)],
            None,
        )))
    });
    p
}

/// node's `path`, for guest paths (always `/`-separated).
fn path() -> Obj {
    let p = Obj::plain();
    p.set("sep", Value::str("/"));
    method(&p, "join", |_, _, args| {
        let parts: Vec<String> =
            args.iter().map(Value::to_js_string).filter(|s| !s.is_empty()).collect();
        let joined = parts.join("/");
        let abs = joined.starts_with('/');
        let clean = keel_sys::guest_path::clean(&joined);
        Ok(Value::str(if abs { clean } else { clean.trim_start_matches('/').to_string() }))
    });
    method(&p, "resolve", |ctx, _, args| {
        let mut at = ctx.state.world().cwd.clone();
        for a in args {
            at = keel_sys::guest_path::absolute(&at, &a.to_js_string());
        }
        Ok(Value::str(at))
    });
    method(&p, "dirname", |_, _, args| {
        let s = arg(args, 0).to_js_string();
        Ok(Value::str(match s.trim_end_matches('/').rsplit_once('/') {
            Some(("", _)) => "/".to_string(),
            Some((dir, _)) => dir.to_string(),
            None => ".".to_string(),
        }))
    });
    method(&p, "basename", |_, _, args| {
        let s = arg(args, 0).to_js_string();
        let t = s.trim_end_matches('/');
        Ok(Value::str(t.rsplit('/').next().unwrap_or("")))
    });
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_in_utc() {
        assert_eq!(iso_string(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_string(1_640_995_200_123.0), "2022-01-01T00:00:00.123Z");
        assert_eq!(
            date_string(951_782_400_000.0),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }
}
