//! A restricted unpickler: a small stack machine over a whitelist of
//! opcodes and globals, enough for `torch.save` state dicts (pickle
//! protocols 2 to 5). It never executes anything: the few whitelisted
//! callables (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
//! `torch._utils._rebuild_parameter[_with_state]`) are interpreted here,
//! and any other global is refused at the `GLOBAL`/`STACK_GLOBAL` opcode.
//!
//! Objects live in an arena (`Vec<Obj>`) and values refer to them by
//! index, so memo references are cheap to copy, shared objects stay
//! shared, and dropping or walking deeply nested data never recurses.

use std::collections::HashMap;
use std::rc::Rc;

use crate::pytorch::dtype::DType;
use crate::pytorch::error::{PtError, layout, too_large, truncated};

/// Index of an object in [`Unpickled::objs`].
pub(crate) type ObjId = usize;

/// Most dimensions a tensor may have.
pub(crate) const MAX_DIMS: usize = 64;
/// Widest integer accepted from `LONG1` (bytes).
const MAX_LONG_BYTES: usize = 16;
/// Longest `GLOBAL` module or name line.
const MAX_GLOBAL_LINE: usize = 1024;
/// Most arguments any whitelisted callable takes.
const MAX_ARGS: usize = 7;
/// Highest pickle protocol understood.
const MAX_PROTOCOL: u8 = 5;

/// A value on the pickle stack or in the memo.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i128),
    /// Read for completeness (e.g. `param_groups` learning rates); never used.
    #[allow(dead_code)]
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Global(Global),
    Obj(ObjId),
}

/// The whitelisted globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    /// `collections.OrderedDict`
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter`
    RebuildParameter,
    /// `torch._utils._rebuild_parameter_with_state`
    RebuildParameterWithState,
    /// `torch.<Type>Storage` / `torch.UntypedStorage` (as bytes)
    Storage(DType),
    /// `torch.<dtype>` such as `torch.float32`
    DType(DType),
}

/// A hashable dictionary key (Python `True`/`False` compare equal to 1/0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum DictKey {
    None,
    Int(i128),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
}

/// An insertion-ordered dictionary.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    pub entries: Vec<(DictKey, Value)>,
    index: HashMap<DictKey, usize>,
}

impl Dict {
    fn set(&mut self, key: DictKey, value: Value) {
        if let Some(slot) = self.index.get(&key).and_then(|&i| self.entries.get_mut(i)) {
            slot.1 = value;
            return;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
    }

    /// The value stored under a string key.
    #[cfg(test)]
    pub(crate) fn get_str(&self, key: &str) -> Option<&Value> {
        let k = DictKey::Str(Rc::from(key));
        self.index
            .get(&k)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, v)| v)
    }
}

/// A storage (or a legacy view of one) as named by a persistent id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    /// Zip: entry `data/<key>`; legacy: the root storage key.
    pub key: Rc<str>,
    pub dtype: DType,
    /// Elements of the root storage.
    pub root_numel: usize,
    /// First element of this (view of the) storage in the root storage.
    pub view_offset: usize,
    /// Elements of this (view of the) storage.
    pub numel: usize,
}

/// A tensor: a strided view of a storage, validated against its bounds.
#[derive(Debug, Clone)]
pub(crate) struct TensorSpec {
    pub storage: StorageRef,
    pub offset: usize,
    pub size: Vec<usize>,
    pub stride: Vec<usize>,
    /// Product of `size`.
    pub numel: usize,
}

/// An object in the arena.
#[derive(Debug)]
pub(crate) enum Obj {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    Storage(StorageRef),
    Tensor(TensorSpec),
}

/// The result of unpickling one pickle.
#[derive(Debug)]
pub(crate) struct Unpickled {
    pub objs: Vec<Obj>,
    pub root: Value,
    /// Offset just past the `STOP` opcode.
    pub end: usize,
}

impl Unpickled {
    /// The object a value refers to, if it is an arena object.
    pub(crate) fn obj(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Obj(id) => self.objs.get(*id),
            _ => None,
        }
    }
}

/// Unpickles one pickle starting at the beginning of `data`.
pub(crate) fn unpickle(data: &[u8]) -> Result<Unpickled, PtError> {
    let mut m = Machine {
        data,
        pos: 0,
        op_start: 0,
        op: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        objs: Vec::new(),
        copied: 0,
    };
    let root = m.run()?;
    Ok(Unpickled {
        objs: m.objs,
        root,
        end: m.pos,
    })
}

// Opcodes.
const MARK: u8 = b'(';
const STOP: u8 = b'.';
const POP: u8 = b'0';
const POP_MARK: u8 = b'1';
const DUP: u8 = b'2';
const BINFLOAT: u8 = b'G';
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const NONE: u8 = b'N';
const BINPERSID: u8 = b'Q';
const REDUCE: u8 = b'R';
const BINSTRING: u8 = b'T';
const SHORT_BINSTRING: u8 = b'U';
const BINUNICODE: u8 = b'X';
const APPEND: u8 = b'a';
const BUILD: u8 = b'b';
const GLOBAL: u8 = b'c';
const APPENDS: u8 = b'e';
const BINGET: u8 = b'h';
const LONG_BINGET: u8 = b'j';
const EMPTY_LIST: u8 = b']';
const BINPUT: u8 = b'q';
const LONG_BINPUT: u8 = b'r';
const SETITEM: u8 = b's';
const TUPLE: u8 = b't';
const SETITEMS: u8 = b'u';
const EMPTY_DICT: u8 = b'}';
const EMPTY_TUPLE: u8 = b')';
const BINBYTES: u8 = b'B';
const SHORT_BINBYTES: u8 = b'C';
const PROTO: u8 = 0x80;
const NEWOBJ: u8 = 0x81;
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const LONG1: u8 = 0x8a;
const SHORT_BINUNICODE: u8 = 0x8c;
const BINUNICODE8: u8 = 0x8d;
const BINBYTES8: u8 = 0x8e;
const STACK_GLOBAL: u8 = 0x93;
const MEMOIZE: u8 = 0x94;
const FRAME: u8 = 0x95;

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    op: u8,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    objs: Vec<Obj>,
    /// Items copied out of shared containers so far (bounded by the input size).
    copied: usize,
}

impl<'a> Machine<'a> {
    fn err(&self, what: impl Into<String>) -> PtError {
        PtError::Pickle {
            offset: self.op_start,
            opcode: Some(self.op),
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PtError> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or_else(|| {
                truncated(format!(
                    "pickle opcode 0x{:02x} at offset {} needs {n} more bytes",
                    self.op, self.op_start
                ))
            })?;
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PtError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PtError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&mut self) -> Result<u32, PtError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> Result<u64, PtError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }

    /// A length prefix, checked against the bytes left before anything is allocated.
    fn len_checked(&self, n: u64) -> Result<usize, PtError> {
        let left = self.data.len().saturating_sub(self.pos);
        match usize::try_from(n) {
            Ok(n) if n <= left => Ok(n),
            _ => Err(truncated(format!(
                "pickle opcode 0x{:02x} at offset {} announces {n} bytes, {left} left",
                self.op, self.op_start
            ))),
        }
    }

    fn line(&mut self) -> Result<&'a str, PtError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let window = &rest[..rest.len().min(MAX_GLOBAL_LINE + 1)];
        let Some(nl) = window.iter().position(|&b| b == b'\n') else {
            return Err(if rest.len() <= MAX_GLOBAL_LINE {
                truncated(format!(
                    "GLOBAL at pickle offset {} has no newline",
                    self.op_start
                ))
            } else {
                self.err("GLOBAL name too long")
            });
        };
        let s = self.take(nl + 1)?;
        std::str::from_utf8(&s[..nl]).map_err(|_| self.err("GLOBAL name is not UTF-8"))
    }

    fn utf8(&self, b: &[u8]) -> Result<Value, PtError> {
        let s = std::str::from_utf8(b).map_err(|_| self.err("string is not valid UTF-8"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn new_obj(&mut self, o: Obj) -> Value {
        self.objs.push(o);
        Value::Obj(self.objs.len() - 1)
    }

    /// Number of stack items above the innermost mark.
    fn above_mark(&self) -> usize {
        self.stack
            .len()
            .saturating_sub(self.marks.last().copied().unwrap_or(0))
    }

    fn pop(&mut self) -> Result<Value, PtError> {
        if self.above_mark() == 0 {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<Value>, PtError> {
        if self.above_mark() < n {
            return Err(self.err("stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PtError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        Ok(self.stack.split_off(m.min(self.stack.len())))
    }

    fn top(&self) -> Result<&Value, PtError> {
        if self.above_mark() == 0 {
            return Err(self.err("stack underflow"));
        }
        self.stack.last().ok_or_else(|| self.err("stack underflow"))
    }

    fn memo_put(&mut self, idx: u32) -> Result<(), PtError> {
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> Result<(), PtError> {
        let v = self
            .memo
            .get(&idx)
            .cloned()
            .ok_or_else(|| self.err(format!("memo index {idx} was never stored")))?;
        self.push(v);
        Ok(())
    }

    fn run(&mut self) -> Result<Value, PtError> {
        loop {
            self.op_start = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return Err(truncated(format!(
                    "pickle ends at offset {} without STOP",
                    self.pos
                )));
            };
            self.op = op;
            self.pos += 1;
            match op {
                PROTO => {
                    let v = self.u8()?;
                    if v > MAX_PROTOCOL {
                        return Err(self.err(format!("unsupported pickle protocol {v}")));
                    }
                }
                FRAME => {
                    let n = self.u64()?;
                    self.len_checked(n)?;
                }
                STOP => return self.pop(),
                MARK => self.marks.push(self.stack.len()),
                POP => {
                    if self.above_mark() > 0 {
                        self.pop()?;
                    } else {
                        self.pop_mark()?;
                    }
                }
                POP_MARK => {
                    self.pop_mark()?;
                }
                DUP => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                NONE => self.push(Value::None),
                NEWTRUE => self.push(Value::Bool(true)),
                NEWFALSE => self.push(Value::Bool(false)),
                BININT => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(i128::from(v)));
                }
                BININT1 => {
                    let v = self.u8()?;
                    self.push(Value::Int(i128::from(v)));
                }
                BININT2 => {
                    let v = self.u16()?;
                    self.push(Value::Int(i128::from(v)));
                }
                LONG1 => {
                    let n = usize::from(self.u8()?);
                    if n > MAX_LONG_BYTES {
                        return Err(self.err(format!("LONG1 of {n} bytes is too wide")));
                    }
                    let b = self.take(n)?;
                    self.push(Value::Int(long_from_le(b)));
                }
                BINFLOAT => {
                    let s = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    self.push(Value::Float(f64::from_be_bytes(a)));
                }
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                    let n = match op {
                        SHORT_BINUNICODE => u64::from(self.u8()?),
                        BINUNICODE => u64::from(self.u32()?),
                        _ => self.u64()?,
                    };
                    let n = self.len_checked(n)?;
                    let b = self.take(n)?;
                    let v = self.utf8(b)?;
                    self.push(v);
                }
                SHORT_BINSTRING | BINSTRING => {
                    let n = if op == SHORT_BINSTRING {
                        i64::from(self.u8()?)
                    } else {
                        i64::from(self.u32()? as i32)
                    };
                    let n = u64::try_from(n).map_err(|_| self.err("negative string length"))?;
                    let n = self.len_checked(n)?;
                    let b = self.take(n)?;
                    let v = self.utf8(b)?;
                    self.push(v);
                }
                SHORT_BINBYTES | BINBYTES | BINBYTES8 => {
                    let n = match op {
                        SHORT_BINBYTES => u64::from(self.u8()?),
                        BINBYTES => u64::from(self.u32()?),
                        _ => self.u64()?,
                    };
                    let n = self.len_checked(n)?;
                    let b = self.take(n)?;
                    self.push(Value::Bytes(Rc::from(b)));
                }
                EMPTY_TUPLE => {
                    let v = self.new_obj(Obj::Tuple(Vec::new()));
                    self.push(v);
                }
                EMPTY_LIST => {
                    let v = self.new_obj(Obj::List(Vec::new()));
                    self.push(v);
                }
                EMPTY_DICT => {
                    let v = self.new_obj(Obj::Dict(Dict::default()));
                    self.push(v);
                }
                TUPLE => {
                    let items = self.pop_mark()?;
                    let v = self.new_obj(Obj::Tuple(items));
                    self.push(v);
                }
                TUPLE1 | TUPLE2 | TUPLE3 => {
                    let items = self.pop_n(usize::from(op - TUPLE1 + 1))?;
                    let v = self.new_obj(Obj::Tuple(items));
                    self.push(v);
                }
                APPEND => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                APPENDS => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                SETITEM => {
                    let mut kv = self.pop_n(2)?;
                    let v = kv.pop().unwrap_or(Value::None);
                    let k = kv.pop().unwrap_or(Value::None);
                    self.set_items(vec![k, v])?;
                }
                SETITEMS => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err(self.err("SETITEMS with an odd number of items"));
                    }
                    self.set_items(items)?;
                }
                BINPUT => {
                    let i = self.u8()?;
                    self.memo_put(u32::from(i))?;
                }
                LONG_BINPUT => {
                    let i = self.u32()?;
                    self.memo_put(i)?;
                }
                MEMOIZE => {
                    let i = u32::try_from(self.memo.len()).map_err(|_| too_large("pickle memo"))?;
                    self.memo_put(i)?;
                }
                BINGET => {
                    let i = self.u8()?;
                    self.memo_get(u32::from(i))?;
                }
                LONG_BINGET => {
                    let i = self.u32()?;
                    self.memo_get(i)?;
                }
                GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = resolve_global(module, name)?;
                    self.push(Value::Global(g));
                }
                STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    let g = resolve_global(&module, &name)?;
                    self.push(Value::Global(g));
                }
                REDUCE => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.reduce(func, args)?;
                    self.push(v);
                }
                NEWOBJ => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.tuple_items(&args, MAX_ARGS)?;
                    if !matches!(cls, Value::Global(Global::OrderedDict)) {
                        return Err(
                            self.err("NEWOBJ is only supported for collections.OrderedDict")
                        );
                    }
                    // OrderedDict.__new__ ignores its arguments.
                    let v = self.new_obj(Obj::Dict(Dict::default()));
                    self.push(v);
                }
                BUILD => {
                    let _state = self.pop()?;
                    // Only dicts: an OrderedDict's `_metadata` attribute is accepted and ignored.
                    if !matches!(self.obj_of(self.top()?), Some(Obj::Dict(_))) {
                        return Err(
                            self.err("BUILD is only supported on a dict (state-dict metadata)")
                        );
                    }
                }
                BINPERSID => {
                    let pid = self.pop()?;
                    let v = self.persistent_load(&pid)?;
                    self.push(v);
                }
                _ => return Err(self.err("unsupported pickle opcode")),
            }
        }
    }

    fn obj_of(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Obj(id) => self.objs.get(*id),
            _ => None,
        }
    }

    /// The items of a tuple of at most `max` items (checked before copying).
    fn tuple_items(&self, v: &Value, max: usize) -> Result<Vec<Value>, PtError> {
        match self.obj_of(v) {
            Some(Obj::Tuple(items)) if items.len() <= max => Ok(items.clone()),
            Some(Obj::Tuple(items)) => Err(self.err(format!(
                "tuple of {} items where at most {max} are expected",
                items.len()
            ))),
            _ => Err(self.err("expected a tuple")),
        }
    }

    fn extend_list(&mut self, items: Vec<Value>) -> Result<(), PtError> {
        let Value::Obj(id) = *self.top()? else {
            return Err(self.err("APPEND(S) target is not a list"));
        };
        match self.objs.get_mut(id) {
            Some(Obj::List(list)) => {
                list.extend(items);
                Ok(())
            }
            _ => Err(self.err("APPEND(S) target is not a list")),
        }
    }

    fn dict_key(&self, v: Value) -> Result<DictKey, PtError> {
        Ok(match v {
            Value::None => DictKey::None,
            Value::Bool(b) => DictKey::Int(i128::from(b)),
            Value::Int(i) => DictKey::Int(i),
            Value::Str(s) => DictKey::Str(s),
            Value::Bytes(b) => DictKey::Bytes(b),
            _ => return Err(self.err("unsupported dict key type")),
        })
    }

    /// Sets alternating key/value `items` on the dict at the top of the stack.
    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PtError> {
        let Value::Obj(id) = *self.top()? else {
            return Err(self.err("SETITEM(S) target is not a dict"));
        };
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            pairs.push((self.dict_key(k)?, v));
        }
        match self.objs.get_mut(id) {
            Some(Obj::Dict(d)) => {
                for (k, v) in pairs {
                    d.set(k, v);
                }
                Ok(())
            }
            _ => Err(self.err("SETITEM(S) target is not a dict")),
        }
    }

    fn int(&self, v: &Value, what: &str) -> Result<usize, PtError> {
        match v {
            Value::Int(i) => usize::try_from(*i)
                .map_err(|_| self.err(format!("{what} {i} is negative or too large"))),
            _ => Err(self.err(format!("{what} is not an integer"))),
        }
    }

    fn string(&self, v: &Value, what: &str) -> Result<Rc<str>, PtError> {
        match v {
            Value::Str(s) => Ok(s.clone()),
            Value::Bytes(b) => std::str::from_utf8(b)
                .map(Rc::from)
                .map_err(|_| self.err(format!("{what} is not UTF-8"))),
            _ => Err(self.err(format!("{what} is not a string"))),
        }
    }

    fn int_tuple(&self, v: &Value, what: &str) -> Result<Vec<usize>, PtError> {
        let items = match self.obj_of(v) {
            Some(Obj::Tuple(items)) | Some(Obj::List(items)) => items,
            _ => return Err(self.err(format!("tensor {what} is not a tuple"))),
        };
        if items.len() > MAX_DIMS {
            return Err(self.err(format!("tensor {what} has more than {MAX_DIMS} dimensions")));
        }
        items.iter().map(|i| self.int(i, what)).collect()
    }

    fn reduce(&mut self, func: Value, args: Value) -> Result<Value, PtError> {
        let Value::Global(g) = func else {
            return Err(self.err("REDUCE on something that is not a whitelisted callable"));
        };
        let args = self.tuple_items(&args, MAX_ARGS)?;
        match g {
            Global::OrderedDict => self.make_ordered_dict(&args),
            Global::RebuildTensorV2 => self.rebuild_tensor(&args),
            Global::RebuildParameter | Global::RebuildParameterWithState => {
                let want = if g == Global::RebuildParameter { 3 } else { 4 };
                if args.len() != want {
                    return Err(self.err(format!(
                        "_rebuild_parameter expects {want} arguments, got {}",
                        args.len()
                    )));
                }
                match (&args[0], self.obj_of(&args[0])) {
                    (v, Some(Obj::Tensor(_))) => Ok(v.clone()),
                    _ => Err(self.err("_rebuild_parameter argument is not a tensor")),
                }
            }
            Global::Storage(_) | Global::DType(_) => {
                Err(self.err("calling a storage class or dtype is not supported"))
            }
        }
    }

    fn make_ordered_dict(&mut self, args: &[Value]) -> Result<Value, PtError> {
        let mut dict = Dict::default();
        match args {
            [] => {}
            [items] => {
                let pairs = match self.obj_of(items) {
                    Some(Obj::List(p)) | Some(Obj::Tuple(p)) => p.clone(),
                    _ => return Err(self.err("OrderedDict argument is not a list of pairs")),
                };
                // Copying a (possibly memo-shared) list: bounded by the input size.
                self.copied = self.copied.saturating_add(pairs.len());
                if self.copied > self.data.len() {
                    return Err(too_large(
                        "OrderedDict(...) arguments copied more often than the pickle could hold",
                    ));
                }
                for p in pairs {
                    let (k, v) = match self.obj_of(&p) {
                        Some(Obj::List(kv)) | Some(Obj::Tuple(kv)) if kv.len() == 2 => {
                            (kv[0].clone(), kv[1].clone())
                        }
                        _ => return Err(self.err("OrderedDict item is not a pair")),
                    };
                    dict.set(self.dict_key(k)?, v);
                }
            }
            _ => return Err(self.err("OrderedDict takes at most one argument")),
        }
        Ok(self.new_obj(Obj::Dict(dict)))
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`
    fn rebuild_tensor(&mut self, args: &[Value]) -> Result<Value, PtError> {
        if !(6..=7).contains(&args.len()) {
            return Err(self.err(format!(
                "_rebuild_tensor_v2 expects 6 or 7 arguments, got {}",
                args.len()
            )));
        }
        let storage = match self.obj_of(&args[0]) {
            Some(Obj::Storage(s)) => s.clone(),
            _ => return Err(self.err("_rebuild_tensor_v2: first argument is not a storage")),
        };
        let offset = self.int(&args[1], "storage offset")?;
        let size = self.int_tuple(&args[2], "size")?;
        let stride = self.int_tuple(&args[3], "stride")?;
        if !matches!(args[4], Value::Bool(_)) {
            return Err(self.err("_rebuild_tensor_v2: requires_grad is not a bool"));
        }
        if !matches!(self.obj_of(&args[5]), Some(Obj::Dict(_))) {
            return Err(self.err("_rebuild_tensor_v2: backward_hooks is not a dict"));
        }
        let spec = validate_tensor(storage, offset, size, stride)?;
        Ok(self.new_obj(Obj::Tensor(spec)))
    }

    /// `('storage', storage_type, key, location, numel[, view_metadata])`
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, PtError> {
        let items = self.tuple_items(pid, 6)?;
        if items.len() < 5 {
            return Err(self.err("persistent id is not a storage tuple"));
        }
        if &*self.string(&items[0], "persistent id tag")? != "storage" {
            return Err(self.err("persistent id is not a storage"));
        }
        let Value::Global(Global::Storage(dtype)) = items[1] else {
            return Err(self.err("persistent id does not name a storage class"));
        };
        let key = self.string(&items[2], "storage key")?;
        self.string(&items[3], "storage location")?;
        let root_numel = self.int(&items[4], "storage size")?;
        let (view_offset, numel) = match items.get(5) {
            None | Some(Value::None) => (0, root_numel),
            Some(v) => {
                let view = match self.obj_of(v) {
                    Some(Obj::Tuple(view)) if view.len() == 3 => view.clone(),
                    _ => return Err(self.err("storage view metadata is not a 3-tuple")),
                };
                self.string(&view[0], "storage view key")?;
                let off = self.int(&view[1], "storage view offset")?;
                let n = self.int(&view[2], "storage view size")?;
                if off.checked_add(n).is_none_or(|end| end > root_numel) {
                    return Err(layout(format!(
                        "storage view [{off}, {off}+{n}) is outside storage `{key}` of {root_numel} elements"
                    )));
                }
                (off, n)
            }
        };
        // A storage never holds more bytes than the whole address space.
        root_numel
            .checked_mul(dtype.size())
            .ok_or_else(|| too_large(format!("storage `{key}` of {root_numel} elements")))?;
        Ok(self.new_obj(Obj::Storage(StorageRef {
            key,
            dtype,
            root_numel,
            view_offset,
            numel,
        })))
    }
}

/// Two's-complement little-endian integer of at most 16 bytes.
fn long_from_le(b: &[u8]) -> i128 {
    let mut buf = [0u8; 16];
    let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
        0xff
    } else {
        0
    };
    buf.fill(fill);
    for (d, s) in buf.iter_mut().zip(b) {
        *d = *s;
    }
    i128::from_le_bytes(buf)
}

/// Maps a global to the whitelist, or refuses it.
fn resolve_global(module: &str, name: &str) -> Result<Global, PtError> {
    let g = match (module, name) {
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch._utils", "_rebuild_parameter_with_state") => {
            Some(Global::RebuildParameterWithState)
        }
        ("torch.storage", "UntypedStorage") => Some(Global::Storage(DType::U8)),
        ("torch", _) => match DType::from_storage_class(name)? {
            Some(dt) => Some(Global::Storage(dt)),
            None => DType::from_torch_attr(name)?.map(Global::DType),
        },
        _ => None,
    };
    g.ok_or_else(|| PtError::ForbiddenGlobal {
        module: module.to_string(),
        name: name.to_string(),
    })
}

/// Checks a strided view against its storage: every element index
/// `offset + sum(i_k * stride_k)` must lie inside the storage (view).
pub(crate) fn validate_tensor(
    storage: StorageRef,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
) -> Result<TensorSpec, PtError> {
    if size.len() != stride.len() {
        return Err(layout(format!(
            "tensor has {} sizes but {} strides",
            size.len(),
            stride.len()
        )));
    }
    let mut numel: usize = 1;
    for &s in &size {
        numel = numel
            .checked_mul(s)
            .ok_or_else(|| too_large(format!("tensor of shape {size:?}")))?;
    }
    if numel > 0 {
        let mut last = offset;
        for (&s, &st) in size.iter().zip(&stride) {
            last = (s - 1)
                .checked_mul(st)
                .and_then(|x| last.checked_add(x))
                .ok_or_else(|| too_large(format!("tensor of shape {size:?} strides {stride:?}")))?;
        }
        if last >= storage.numel {
            return Err(layout(format!(
                "tensor (offset {offset}, shape {size:?}, strides {stride:?}) reaches element {last} \
                 but storage `{}` has only {} elements",
                storage.key, storage.numel
            )));
        }
    }
    Ok(TensorSpec {
        storage,
        offset,
        size,
        stride,
        numel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &[u8]) -> Result<Unpickled, PtError> {
        unpickle(p)
    }

    #[test]
    fn scalars_and_containers_protocol4() {
        // PROTO 4, FRAME, EMPTY_DICT, MEMOIZE, MARK, SHORT_BINUNICODE 'a',
        // MEMOIZE, BININT -5, SHORT_BINUNICODE 'b', LONG1 2**40, SETITEMS, STOP
        let mut p = vec![PROTO, 4, FRAME, 0, 0, 0, 0, 0, 0, 0, 0];
        p.extend([
            EMPTY_DICT,
            MEMOIZE,
            MARK,
            SHORT_BINUNICODE,
            1,
            b'a',
            MEMOIZE,
        ]);
        p.push(BININT);
        p.extend((-5i32).to_le_bytes());
        p.extend([SHORT_BINUNICODE, 1, b'b', LONG1, 6, 0, 0, 0, 0, 0, 1]);
        p.extend([SETITEMS, BINGET, 1, BUILD, STOP]);
        // BUILD with state 'a' on the dict: accepted and ignored.
        let u = run(&p).expect("unpickle");
        let Some(Obj::Dict(d)) = u.obj(&u.root) else {
            panic!("not a dict")
        };
        assert!(matches!(d.get_str("a"), Some(Value::Int(-5))));
        assert!(matches!(d.get_str("b"), Some(Value::Int(v)) if *v == 1 << 40));
        assert_eq!(u.end, p.len());
    }

    #[test]
    fn stack_global_whitelist() {
        let mut p = vec![PROTO, 4, SHORT_BINUNICODE, 11];
        p.extend(b"collections");
        p.extend([SHORT_BINUNICODE, 11]);
        p.extend(b"OrderedDict");
        p.extend([STACK_GLOBAL, EMPTY_TUPLE, REDUCE, STOP]);
        let u = run(&p).expect("unpickle");
        assert!(matches!(u.obj(&u.root), Some(Obj::Dict(_))));

        let mut p = vec![PROTO, 4, SHORT_BINUNICODE, 8];
        p.extend(b"builtins");
        p.extend([SHORT_BINUNICODE, 4]);
        p.extend(b"eval");
        p.extend([STACK_GLOBAL, STOP]);
        assert_eq!(
            run(&p).unwrap_err(),
            PtError::ForbiddenGlobal {
                module: "builtins".into(),
                name: "eval".into()
            }
        );
    }

    #[test]
    fn global_refused_before_anything_else() {
        // GLOBAL os.system followed by garbage: refusal happens at GLOBAL.
        let mut p = vec![PROTO, 2, GLOBAL];
        p.extend(b"os\nsystem\n");
        p.extend([0xff, 0xff]);
        assert_eq!(
            run(&p).unwrap_err(),
            PtError::ForbiddenGlobal {
                module: "os".into(),
                name: "system".into()
            }
        );
        let mut p = vec![PROTO, 2, GLOBAL];
        p.extend(b"torch\nload\n");
        assert!(matches!(run(&p), Err(PtError::ForbiddenGlobal { .. })));
        let mut p = vec![PROTO, 2, GLOBAL];
        p.extend(b"torch\nComplexFloatStorage\n");
        assert!(matches!(run(&p), Err(PtError::UnsupportedDType { .. })));
    }

    #[test]
    fn misc_opcodes() {
        // MARK NONE NEWTRUE NEWFALSE BINFLOAT SHORT_BINBYTES TUPLE DUP POP TUPLE1 STOP
        let mut p = vec![PROTO, 2, MARK, NONE, NEWTRUE, NEWFALSE, BINFLOAT];
        p.extend(2.5f64.to_be_bytes());
        p.extend([SHORT_BINBYTES, 2, 1, 2, TUPLE, DUP, POP, TUPLE1]);
        p.extend([
            EMPTY_LIST,
            BININT2,
            1,
            1,
            APPEND,
            MARK,
            SHORT_BINSTRING,
            1,
            b'x',
            APPENDS,
        ]);
        p.extend([TUPLE2, STOP]);
        let u = run(&p).expect("unpickle");
        let Some(Obj::Tuple(t)) = u.obj(&u.root) else {
            panic!()
        };
        assert_eq!(t.len(), 2);
        let Some(Obj::List(l)) = u.obj(&t[1]) else {
            panic!()
        };
        assert!(matches!(l[0], Value::Int(257)));
        assert!(matches!(&l[1], Value::Str(s) if &**s == "x"));
    }

    #[test]
    fn errors_not_panics() {
        for p in [
            &[][..],
            &[PROTO],
            &[PROTO, 9, STOP],
            &[STOP],
            &[TUPLE2, STOP],
            &[MARK, MARK, TUPLE1],
            &[BINGET, 3, STOP],
            &[BINUNICODE, 0xff, 0xff, 0xff, 0x7f],
            &[EMPTY_LIST, NONE, NONE, SETITEM],
            &[NONE, NONE, REDUCE],
            &[0x00],
            &[LONG1, 40],
            &[EMPTY_DICT, EMPTY_LIST, NONE, SETITEM],
            &[EMPTY_TUPLE, NONE, BUILD],
        ] {
            assert!(run(p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn long_values() {
        assert_eq!(long_from_le(&[]), 0);
        assert_eq!(long_from_le(&[0xff]), -1);
        assert_eq!(long_from_le(&[0x00, 0x80]), -32768);
        assert_eq!(long_from_le(&[0xff, 0x00]), 255);
    }

    #[test]
    fn tensor_bounds() {
        let st = StorageRef {
            key: Rc::from("0"),
            dtype: DType::F32,
            root_numel: 6,
            view_offset: 0,
            numel: 6,
        };
        assert!(validate_tensor(st.clone(), 0, vec![2, 3], vec![3, 1]).is_ok());
        assert!(validate_tensor(st.clone(), 1, vec![2, 3], vec![3, 1]).is_err());
        assert!(validate_tensor(st.clone(), 0, vec![3, 2], vec![1, 3]).is_ok());
        assert!(validate_tensor(st.clone(), 99, vec![0, 2], vec![2, 1]).is_ok());
        assert!(validate_tensor(st.clone(), 0, vec![1], vec![usize::MAX]).is_ok());
        assert!(validate_tensor(st.clone(), 0, vec![2], vec![usize::MAX]).is_err());
        assert!(validate_tensor(st, 0, vec![2], vec![1, 1]).is_err());
    }
}
