//! One guest's JavaScript world: the values Go holds references to (wasm_exec.js's `_values`,
//! `_goRefCounts`, `_ids`, `_idPool`), the global object, Go's own object, its timers, and
//! calling functions — native ones, and Go's own (`js.FuncOf`), which re-enter the guest.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use keel::{Module, Trap};
use keel_sys::SysContext;

use crate::value::{Function, Kind, Obj, Value};

/// What a JavaScript call ends with when it does not return: a thrown value, or a trap of the
/// guest (its exit, a fault) that must unwind everything.
#[derive(Debug)]
pub(crate) enum Throw {
    Js(Value),
    Trap(Trap),
}

impl From<Trap> for Throw {
    fn from(t: Trap) -> Self {
        Throw::Trap(t)
    }
}

impl From<keel::Error> for Throw {
    fn from(e: keel::Error) -> Self {
        Throw::Trap(Trap::from(e))
    }
}

pub(crate) type JsResult = Result<Value, Throw>;

/// NaN-boxing of references, as wasm_exec.js stores them.
const NAN_HEAD: u64 = 0x7FF8_0000;

/// The ids wasm_exec.js predefines: NaN, 0, null, true, false, the global object, Go's object.
const ID_NAN: u32 = 0;
const ID_ZERO: u32 = 1;
const ID_NULL: u32 = 2;
const ID_TRUE: u32 = 3;
const ID_FALSE: u32 = 4;
const ID_GLOBAL: u32 = 5;
const ID_GO: u32 = 6;
const PREDEFINED: u32 = 7;

/// The references Go holds, each counted so that `finalizeRef` frees an id when Go drops the
/// last one (long-running guests would otherwise grow the table forever).
struct Refs {
    values: Vec<Value>,
    counts: Vec<u64>,
    by_obj: HashMap<usize, u32>,
    by_str: HashMap<Arc<str>, u32>,
    pool: Vec<u32>,
}

impl Refs {
    fn new(global: &Obj, go: &Obj) -> Refs {
        let values = vec![
            Value::Number(f64::NAN),
            Value::Number(0.0),
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Object(global.clone()),
            Value::Object(go.clone()),
        ];
        let mut by_obj = HashMap::new();
        by_obj.insert(global.addr(), ID_GLOBAL);
        by_obj.insert(go.addr(), ID_GO);
        Refs {
            counts: vec![u64::MAX; values.len()],
            values,
            by_obj,
            by_str: HashMap::new(),
            pool: Vec::new(),
        }
    }

    fn load(&self, id: u32) -> Option<Value> {
        self.values.get(id as usize).cloned()
    }

    /// The id of `v`, taking one more reference to it.
    fn take(&mut self, v: &Value) -> u32 {
        let known = match v {
            Value::Null => Some(ID_NULL),
            Value::Bool(true) => Some(ID_TRUE),
            Value::Bool(false) => Some(ID_FALSE),
            Value::Number(n) if *n == 0.0 => Some(ID_ZERO),
            Value::Number(_) => Some(ID_NAN),
            Value::Object(o) => self.by_obj.get(&o.addr()).copied(),
            Value::String(s) => self.by_str.get(s).copied(),
            Value::Undefined => unreachable!("undefined is stored as 0"),
        };
        let id = match known {
            Some(id) => id,
            None => {
                let id = match self.pool.pop() {
                    Some(id) => {
                        self.values[id as usize] = v.clone();
                        self.counts[id as usize] = 0;
                        id
                    }
                    None => {
                        self.values.push(v.clone());
                        self.counts.push(0);
                        self.values.len() as u32 - 1
                    }
                };
                match v {
                    Value::Object(o) => {
                        self.by_obj.insert(o.addr(), id);
                    }
                    Value::String(s) => {
                        self.by_str.insert(s.clone(), id);
                    }
                    _ => {}
                }
                id
            }
        };
        let c = &mut self.counts[id as usize];
        *c = c.saturating_add(1);
        id
    }

    /// `finalizeRef`: one reference fewer; the last one frees the id.
    fn release(&mut self, id: u32) {
        if id < PREDEFINED || id as usize >= self.values.len() {
            return;
        }
        let c = &mut self.counts[id as usize];
        if *c == 0 {
            return;
        }
        *c -= 1;
        if *c == 0 {
            let v = std::mem::replace(&mut self.values[id as usize], Value::Null);
            match v {
                Value::Object(o) => {
                    self.by_obj.remove(&o.addr());
                }
                Value::String(s) => {
                    self.by_str.remove(&s);
                }
                _ => {}
            }
            self.pool.push(id);
        }
    }
}

/// The constructors Go's packages look up, kept for `instanceof` and for making values.
pub(crate) struct Ctors {
    pub object: Obj,
    pub array: Obj,
    pub uint8array: Obj,
    pub error: Obj,
    pub date: Obj,
}

/// The mutable state of one guest's world.
pub(crate) struct World {
    refs: Refs,
    /// Timers of `scheduleTimeoutEvent`: id -> deadline on the guest's monotonic clock (ns).
    pub timers: BTreeMap<i32, u64>,
    pub next_timer: i32,
    /// `process.cwd()`: a guest path.
    pub cwd: String,
    pub umask: u32,
    /// The links the guest made with an absolute target, stored relative (see
    /// `fs::symlink`): (mount, path in it) -> (what was stored, the target the guest gave).
    pub links: HashMap<(usize, String), (String, String)>,
    /// Set once `runtime.wasmExit` ran.
    pub exited: Option<u32>,
}

/// One guest's JavaScript world.
pub(crate) struct GoState {
    world: Mutex<World>,
    pub go: Obj,
    pub ctors: Ctors,
}

impl GoState {
    pub(crate) fn new(global: Obj, go: Obj, ctors: Ctors) -> GoState {
        GoState {
            world: Mutex::new(World {
                refs: Refs::new(&global, &go),
                timers: BTreeMap::new(),
                next_timer: 1,
                cwd: "/".into(),
                umask: 0o022,
                links: HashMap::new(),
                exited: None,
            }),
            go,
            ctors,
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The global object (`globalThis`).
    pub(crate) fn global(&self) -> Obj {
        match self.world().refs.load(ID_GLOBAL) {
            Some(Value::Object(o)) => o,
            _ => unreachable!("the global object is predefined"),
        }
    }

    /// The value a NaN-boxed reference names; `None` for an id that names nothing (a guest
    /// handing over garbage).
    pub(crate) fn load(&self, bits: u64) -> Option<Value> {
        let f = f64::from_bits(bits);
        if f == 0.0 {
            return Some(Value::Undefined);
        }
        if !f.is_nan() {
            return Some(Value::Number(f));
        }
        self.world().refs.load(bits as u32)
    }

    /// `v` as a NaN-boxed reference, counted.
    pub(crate) fn store(&self, v: &Value) -> u64 {
        match v {
            Value::Undefined => 0,
            Value::Number(n) if n.is_nan() => NAN_HEAD << 32,
            Value::Number(n) if *n != 0.0 => n.to_bits(),
            v => {
                let id = self.world().refs.take(v);
                ((NAN_HEAD | v.type_flag() as u64) << 32) | id as u64
            }
        }
    }

    pub(crate) fn release(&self, id: u32) {
        self.world().refs.release(id);
    }

    /// A `TypeError` with `message`, thrown.
    pub(crate) fn type_error(&self, message: impl Into<String>) -> Throw {
        Throw::Js(Value::Object(self.error("TypeError", message.into())))
    }

    /// An `Error` object named `name`.
    pub(crate) fn error(&self, name: &str, message: String) -> Obj {
        let e = Obj::new(Kind::Plain, Some(self.ctors.error.clone()));
        e.set("name", Value::str(name));
        e.set("message", Value::str(message));
        e
    }
}

/// What a native function may reach: the world, the guest (to call Go back), and the guest's
/// view of the system.
pub(crate) struct Ctx<'a> {
    pub state: &'a GoState,
    pub module: &'a Module,
    pub sys: &'a SysContext,
}

impl Ctx<'_> {
    /// `Reflect.apply(f, this, args)`.
    pub(crate) fn apply(&mut self, f: &Value, this: &Value, args: &[Value]) -> JsResult {
        let Some(obj) = f.as_obj() else {
            return Err(self.state.type_error(format!("{} is not a function", f.to_js_string())));
        };
        match obj.kind() {
            Kind::Function(Function::Native { call: Some(call), .. }) => {
                let call = call.clone();
                call(self, this, args)
            }
            Kind::Function(Function::Native { name, call: None, .. }) => Err(self
                .state
                .type_error(format!("Class constructor {name} cannot be invoked without 'new'"))),
            Kind::Function(Function::Go(id)) => self.call_go(*id, this, args),
            _ => Err(self.state.type_error(format!("{} is not a function", f.to_js_string()))),
        }
    }

    /// `Reflect.construct(f, args)`.
    pub(crate) fn construct(&mut self, f: &Value, args: &[Value]) -> JsResult {
        match f.as_obj().map(Obj::kind) {
            Some(Kind::Function(Function::Native { construct: Some(construct), .. })) => {
                let construct = construct.clone();
                construct(self, &Value::Undefined, args)
            }
            _ => Err(self.state.type_error(format!("{} is not a constructor", f.to_js_string()))),
        }
    }

    /// A call of a Go function (`_makeFuncWrapper(id)`): the call becomes Go's pending event and
    /// Go runs it when resumed; its result is the event's `result`.
    fn call_go(&mut self, id: u32, this: &Value, args: &[Value]) -> JsResult {
        let event = Obj::plain();
        event.set("id", Value::num(id));
        event.set("this", this.clone());
        event.set(
            "args",
            Value::Object(Obj::array(args.to_vec(), Some(self.state.ctors.array.clone()))),
        );
        self.state.go.set("_pendingEvent", Value::Object(event.clone()));
        self.resume()?;
        Ok(event.get("result"))
    }

    /// Runs Go until it is idle again (its export `resume`).
    pub(crate) fn resume(&mut self) -> Result<(), Throw> {
        if let Some(code) = self.state.world().exited {
            return Err(Throw::Trap(Trap::exit(code)));
        }
        let resume = self
            .module
            .func("resume")
            .ok_or_else(|| Throw::Trap(Trap::host("the Go guest exports no resume")))?;
        resume.call(&[])?;
        Ok(())
    }

    /// Go's stack pointer now (its export `getsp`): it moves when Go ran in between.
    pub(crate) fn sp(&self) -> Result<u32, Trap> {
        let getsp =
            self.module.func("getsp").ok_or_else(|| Trap::host("the Go guest exports no getsp"))?;
        match getsp.call(&[])?.first() {
            Some(keel::Val::I32(sp)) => Ok(*sp as u32),
            _ => Err(Trap::host("getsp returned no i32")),
        }
    }
}
