//! JavaScript values as Go's `syscall/js` sees them: primitives, and objects with identity
//! (plain objects, arrays, `Uint8Array`s, functions, dates), with just the semantics Go's
//! runtime, `syscall`, `os`, `time`, `crypto/rand` and `syscall/js` users rely on.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::world::{Ctx, JsResult};

/// A JavaScript value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Arc<str>),
    Object(Obj),
}

impl Value {
    pub(crate) fn str(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub(crate) fn num(n: impl Into<f64>) -> Value {
        Value::Number(n.into())
    }

    pub(crate) fn as_obj(&self) -> Option<&Obj> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// `Number(v)`, as far as Go passes numbers: numbers, booleans, numeric strings.
    pub(crate) fn to_number(&self) -> f64 {
        match self {
            Value::Number(n) => *n,
            Value::Bool(b) => *b as u8 as f64,
            Value::Null => 0.0,
            Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
            Value::Undefined | Value::Object(_) => f64::NAN,
        }
    }

    /// `String(v)`.
    pub(crate) fn to_js_string(&self) -> String {
        match self {
            Value::Undefined => "undefined".into(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => number_to_string(*n),
            Value::String(s) => s.to_string(),
            Value::Object(o) => o.to_js_string(),
        }
    }

    /// The flag Go's NaN-boxed references carry: 1 object, 2 string, 3 symbol, 4 function.
    pub(crate) fn type_flag(&self) -> u32 {
        match self {
            Value::String(_) => 2,
            Value::Object(o) if matches!(o.kind(), Kind::Function(_)) => 4,
            Value::Object(_) => 1,
            _ => 0,
        }
    }
}

/// JavaScript's `Number.prototype.toString()`: the shortest digits that read back the same,
/// positional for exponents in [-7, 21), else `de±x`.
pub(crate) fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let sign = if n < 0.0 { "-" } else { "" };
    // The decimal point sits after digit `exp + 1`.
    let point = exp + 1;
    let body = if point > 0 && point <= 21 {
        if point >= k {
            format!("{digits}{}", "0".repeat((point - k) as usize))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    } else if point > -6 && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        format!("{first}{rest}e{}{}", if exp < 0 { "-" } else { "+" }, exp.abs())
    };
    format!("{sign}{body}")
}

/// A native function: `(ctx, this, args) -> result`, an `Err` being what it throws.
pub(crate) type Native = Arc<dyn Fn(&mut Ctx<'_>, &Value, &[Value]) -> JsResult + Send + Sync>;

/// What a function does when called and when constructed (`new`).
pub(crate) enum Function {
    /// Implemented here.
    Native { name: &'static str, call: Option<Native>, construct: Option<Native> },
    /// A Go function (`js.FuncOf`), by its id: calling it makes it Go's pending event and
    /// resumes Go (`_makeFuncWrapper`).
    Go(u32),
}

/// What an object is, beyond its properties.
pub(crate) enum Kind {
    Plain,
    Array(Mutex<Vec<Value>>),
    Bytes(Mutex<Vec<u8>>),
    Function(Function),
    /// Milliseconds since the epoch.
    Date(f64),
}

pub(crate) struct ObjData {
    kind: Kind,
    /// The constructor that made it (for `instanceof`).
    ctor: Option<Obj>,
    props: Mutex<Vec<(Arc<str>, Value)>>,
}

/// An object: shared, with identity.
#[derive(Clone)]
pub(crate) struct Obj(Arc<ObjData>);

impl std::fmt::Debug for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Obj({})", self.to_js_string())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Obj {
    pub(crate) fn new(kind: Kind, ctor: Option<Obj>) -> Obj {
        Obj(Arc::new(ObjData { kind, ctor, props: Mutex::new(Vec::new()) }))
    }

    pub(crate) fn plain() -> Obj {
        Obj::new(Kind::Plain, None)
    }

    pub(crate) fn array(items: Vec<Value>, ctor: Option<Obj>) -> Obj {
        Obj::new(Kind::Array(Mutex::new(items)), ctor)
    }

    pub(crate) fn bytes(bytes: Vec<u8>, ctor: Option<Obj>) -> Obj {
        Obj::new(Kind::Bytes(Mutex::new(bytes)), ctor)
    }

    /// A native function named `name`.
    pub(crate) fn function(
        name: &'static str,
        call: impl Fn(&mut Ctx<'_>, &Value, &[Value]) -> JsResult + Send + Sync + 'static,
    ) -> Obj {
        Obj::new(
            Kind::Function(Function::Native { name, call: Some(Arc::new(call)), construct: None }),
            None,
        )
    }

    /// A constructor named `name` (callable with `new` only, unless `call` is given).
    pub(crate) fn constructor(name: &'static str, construct: Native, call: Option<Native>) -> Obj {
        Obj::new(Kind::Function(Function::Native { name, call, construct: Some(construct) }), None)
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.0.kind
    }

    pub(crate) fn ctor(&self) -> Option<&Obj> {
        self.0.ctor.as_ref()
    }

    pub(crate) fn same(&self, other: &Obj) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Its identity, for the reference table.
    pub(crate) fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// An own property, if set.
    pub(crate) fn own(&self, key: &str) -> Option<Value> {
        lock(&self.0.props).iter().find(|(k, _)| &**k == key).map(|(_, v)| v.clone())
    }

    /// `Reflect.get(obj, key)`: own properties, then what its kind answers (`length`, indices).
    pub(crate) fn get(&self, key: &str) -> Value {
        if let Some(v) = self.own(key) {
            return v;
        }
        match &self.0.kind {
            Kind::Array(items) => {
                let items = lock(items);
                if key == "length" {
                    return Value::num(items.len() as f64);
                }
                match key.parse::<usize>() {
                    Ok(i) => items.get(i).cloned().unwrap_or(Value::Undefined),
                    Err(_) => Value::Undefined,
                }
            }
            Kind::Bytes(bytes) => {
                let bytes = lock(bytes);
                if key == "length" || key == "byteLength" {
                    return Value::num(bytes.len() as f64);
                }
                match key.parse::<usize>() {
                    Ok(i) => bytes.get(i).map_or(Value::Undefined, |b| Value::num(*b)),
                    Err(_) => Value::Undefined,
                }
            }
            Kind::Function(Function::Native { name, .. }) if key == "name" => Value::str(*name),
            _ => Value::Undefined,
        }
    }

    /// `Reflect.set(obj, key, value)`.
    pub(crate) fn set(&self, key: &str, value: Value) {
        match &self.0.kind {
            Kind::Array(items) if let Ok(i) = key.parse::<usize>() => {
                let mut items = lock(items);
                if i >= items.len() {
                    if i > 1 << 24 {
                        return; // a hostile index: not worth the memory
                    }
                    items.resize(i + 1, Value::Undefined);
                }
                items[i] = value;
                return;
            }
            Kind::Array(items) if key == "length" => {
                let n = value.to_number();
                if n >= 0.0 && n <= (1 << 24) as f64 {
                    lock(items).resize(n as usize, Value::Undefined);
                }
                return;
            }
            Kind::Bytes(bytes) if let Ok(i) = key.parse::<usize>() => {
                if let Some(b) = lock(bytes).get_mut(i) {
                    *b = value.to_number() as i64 as u8;
                }
                return;
            }
            _ => {}
        }
        let mut props = lock(&self.0.props);
        match props.iter_mut().find(|(k, _)| &**k == key) {
            Some((_, v)) => *v = value,
            None => props.push((key.into(), value)),
        }
    }

    /// `Reflect.deleteProperty(obj, key)`.
    pub(crate) fn delete(&self, key: &str) {
        lock(&self.0.props).retain(|(k, _)| &**k != key);
    }

    /// The bytes of a `Uint8Array`.
    pub(crate) fn with_bytes<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> T) -> Option<T> {
        match &self.0.kind {
            Kind::Bytes(b) => Some(f(&mut lock(b))),
            _ => None,
        }
    }

    /// The items of an array, copied.
    pub(crate) fn items(&self) -> Option<Vec<Value>> {
        match &self.0.kind {
            Kind::Array(items) => Some(lock(items).clone()),
            _ => None,
        }
    }

    /// `String(obj)`.
    pub(crate) fn to_js_string(&self) -> String {
        match &self.0.kind {
            Kind::Array(items) => {
                let items = lock(items).clone();
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        Value::Undefined | Value::Null => String::new(),
                        v => v.to_js_string(),
                    })
                    .collect();
                parts.join(",")
            }
            Kind::Bytes(b) => {
                let mut s = String::new();
                for (i, byte) in lock(b).iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{byte}");
                }
                s
            }
            Kind::Function(Function::Native { name, .. }) => {
                format!("function {name}() {{ [native code] }}")
            }
            Kind::Function(Function::Go(_)) => "function () { [native code] }".into(),
            Kind::Date(ms) => crate::builtins::date_string(*ms),
            Kind::Plain => {
                // Errors read `Name: message`, as Error.prototype.toString.
                match (self.own("name"), self.own("message")) {
                    (Some(name), Some(message)) => {
                        let (name, message) = (name.to_js_string(), message.to_js_string());
                        if message.is_empty() { name } else { format!("{name}: {message}") }
                    }
                    _ => "[object Object]".into(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (n, s) in [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (123456789.0, "123456789"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (2.5e-6, "0.0000025"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (-0.0, "0"),
            (4294967296.0, "4294967296"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number_to_string(n), s, "{n:e}");
        }
    }

    #[test]
    fn arrays_and_bytes_answer_length_and_indices() {
        let a = Obj::array(vec![Value::num(1), Value::str("x")], None);
        assert_eq!(a.get("length").to_number(), 2.0);
        assert_eq!(a.get("1").to_js_string(), "x");
        assert!(matches!(a.get("5"), Value::Undefined));
        a.set("3", Value::Bool(true));
        assert_eq!(a.to_js_string(), "1,x,,true");
        let b = Obj::bytes(vec![1, 2, 3], None);
        assert_eq!(b.get("length").to_number(), 3.0);
        b.set("0", Value::num(300));
        assert_eq!(b.to_js_string(), "44,2,3");
    }
}
