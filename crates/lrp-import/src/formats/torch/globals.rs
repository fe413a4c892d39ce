//! The Python globals a pickle names and how each is used, found by walking its opcodes without
//! building anything.
//!
//! Written by hand because `pytorch-reader` reads a pickled `nn.Module` as its state dict by
//! design and exposes no way to tell the two apart, nor a call (`posix.system(…)`, read as an
//! opaque object) from a plain object's class. This walker decodes opcode arguments only to skip
//! over them, and keeps a model of the unpickler's stack that holds nothing but marks, strings
//! and which global each value is: enough to collect the `module.name` of every `GLOBAL`, `INST`
//! and `STACK_GLOBAL` and to see whether it was called (`REDUCE`, `INST`, `OBJ`) or only
//! instantiated (`NEWOBJ`), as the pickler writes a dataclass or an `argparse.Namespace`. It
//! creates no object and interprets nothing else. Extension codes (`EXT1/2/4`) name globals
//! indirectly and are reported as such.

use std::io::Read;
use std::rc::Rc;

/// Longest text line (protocol-0 arguments) and memo the walker accepts.
const MAX_LINE: usize = 1 << 16;
const MAX_MEMO: usize = 1 << 20;
/// Deepest stack the walker models. Picklers write containers in batches of 1,000 items, so a
/// real pickle's stack holds about 1,000 values per level of nesting.
const MAX_STACK: usize = 1 << 20;

/// Why a pickle could not be walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WalkError {
    /// The stream ends inside an opcode or before `STOP`.
    Truncated,
    /// An opcode byte pickle does not define.
    UnknownOpcode(u8),
    /// A length or line beyond the walker's limits.
    TooLong,
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkError::Truncated => f.write_str("the pickle is truncated"),
            WalkError::UnknownOpcode(op) => write!(f, "unknown pickle opcode 0x{op:02x}"),
            WalkError::TooLong => f.write_str("a pickle argument is implausibly long"),
        }
    }
}

/// A value on the walker's model of the unpickler's stack: only what telling globals apart needs.
#[derive(Clone)]
enum Slot {
    Mark,
    /// A string (the module and name `STACK_GLOBAL` pops). Shared, not copied: one long string
    /// memoized a million times must not cost a million copies.
    Str(Rc<str>),
    /// A global, by its index in [`Walker::uses`].
    Global(usize),
    /// Anything else.
    Value,
}

/// How a global's value was consumed.
#[derive(Clone, Copy)]
enum Role {
    /// Called: the callable of `REDUCE`, the class of `OBJ` or `INST`.
    Called,
    /// The class of `NEWOBJ`/`NEWOBJ_EX`: an instance made by `cls.__new__(cls, …)`, whose
    /// state `BUILD` then sets, as the pickler writes any plain object.
    Instantiated,
    /// Anything else: stored as a value, passed as an argument, left on the stack.
    Other,
}

/// One global the pickle names (one `GLOBAL`, `INST`, `STACK_GLOBAL` or `EXT`), and how its
/// value was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobalUse {
    /// `module.name`.
    pub name: String,
    /// Whether its only uses were as the class of `NEWOBJ`/`NEWOBJ_EX`: a plain object whose
    /// attributes were set from a state, with nothing called. False when it was called
    /// (`REDUCE`, `INST`, `OBJ`), used in any other way, or never used.
    pub only_instantiated: bool,
}

#[derive(Default)]
struct Uses {
    called: bool,
    instantiated: bool,
    other: bool,
}

struct Walker<R> {
    reader: R,
    stack: Vec<Slot>,
    /// Strings and globals stored in the memo, by index.
    memo: std::collections::HashMap<u64, Slot>,
    next_memo: u64,
    /// The globals named, in order, with their uses.
    uses: Vec<(String, Uses)>,
}

impl<R: Read> Walker<R> {
    fn byte(&mut self) -> Result<u8, WalkError> {
        let mut b = [0u8; 1];
        self.reader
            .read_exact(&mut b)
            .map_err(|_| WalkError::Truncated)?;
        Ok(b[0])
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, WalkError> {
        let mut out = Vec::new();
        (&mut self.reader)
            .take(n)
            .read_to_end(&mut out)
            .map_err(|_| WalkError::Truncated)?;
        if out.len() as u64 != n {
            return Err(WalkError::Truncated);
        }
        Ok(out)
    }

    fn skip(&mut self, n: u64) -> Result<(), WalkError> {
        let copied = std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink())
            .map_err(|_| WalkError::Truncated)?;
        if copied != n {
            return Err(WalkError::Truncated);
        }
        Ok(())
    }

    fn le(&mut self, n: usize) -> Result<u64, WalkError> {
        let b = self.bytes(n as u64)?;
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&b);
        Ok(u64::from_le_bytes(w))
    }

    fn line(&mut self) -> Result<String, WalkError> {
        let mut out = Vec::new();
        loop {
            match self.byte()? {
                b'\n' => break,
                b => out.push(b),
            }
            if out.len() > MAX_LINE {
                return Err(WalkError::TooLong);
            }
        }
        Ok(String::from_utf8_lossy(&out)
            .trim_end_matches('\r')
            .to_string())
    }

    fn push(&mut self, slot: Slot) -> Result<(), WalkError> {
        if self.stack.len() >= MAX_STACK {
            return Err(WalkError::TooLong);
        }
        self.stack.push(slot);
        Ok(())
    }

    /// A length-prefixed string argument, pushed as a string.
    fn string(&mut self, len_bytes: usize) -> Result<(), WalkError> {
        let len = self.le(len_bytes)?;
        if len > (1 << 32) {
            return Err(WalkError::TooLong);
        }
        let text = self.bytes(len)?;
        self.push(Slot::Str(String::from_utf8_lossy(&text).into()))
    }

    fn global(&mut self, name: String) -> Result<(), WalkError> {
        self.uses.push((name, Uses::default()));
        self.push(Slot::Global(self.uses.len() - 1))
    }

    /// A global called where it is named (`INST`), never on the stack.
    fn called_global(&mut self, name: String) {
        let uses = Uses {
            called: true,
            ..Uses::default()
        };
        self.uses.push((name, uses));
    }

    /// Records that `slot` was consumed in `role`.
    fn consume(&mut self, slot: &Slot, role: Role) {
        if let Slot::Global(i) = slot {
            let uses = &mut self.uses[*i].1;
            match role {
                Role::Called => uses.called = true,
                Role::Instantiated => uses.instantiated = true,
                Role::Other => uses.other = true,
            }
        }
    }

    /// Pops one value (a value, even if the stack is empty or at a mark: a malformed pickle is
    /// the reader's to report).
    fn pop(&mut self, role: Role) -> Slot {
        let slot = match self.stack.last() {
            Some(Slot::Mark) | None => Slot::Value,
            Some(_) => self.stack.pop().unwrap_or(Slot::Value),
        };
        self.consume(&slot, role);
        slot
    }

    /// Pops the values down to the topmost mark and the mark, returning the values in order.
    fn pop_mark(&mut self) -> Vec<Slot> {
        let at = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .unwrap_or(0);
        let mut items = self.stack.split_off(at);
        if matches!(items.first(), Some(Slot::Mark)) {
            items.remove(0);
        }
        items
    }

    fn consume_all(&mut self, items: &[Slot], role: Role) {
        for item in items {
            self.consume(item, role);
        }
    }

    fn memoize(&mut self, index: u64) -> Result<(), WalkError> {
        if let Some(slot @ (Slot::Str(_) | Slot::Global(_))) = self.stack.last().cloned() {
            if self.memo.len() >= MAX_MEMO {
                return Err(WalkError::TooLong);
            }
            self.memo.insert(index, slot);
        }
        Ok(())
    }

    fn get(&mut self, index: u64) -> Result<(), WalkError> {
        let slot = self.memo.get(&index).cloned().unwrap_or(Slot::Value);
        self.push(slot)
    }

    fn memo_line(&mut self) -> Result<u64, WalkError> {
        Ok(self.line()?.parse().unwrap_or(u64::MAX))
    }

    /// Walks one pickle up to its `STOP`.
    fn walk(&mut self) -> Result<(), WalkError> {
        loop {
            let op = self.byte()?;
            match op {
                b'.' => {
                    // The pickled object, and anything a malformed pickle left below it.
                    let rest = std::mem::take(&mut self.stack);
                    self.consume_all(&rest, Role::Other);
                    return Ok(());
                }
                b'(' => self.push(Slot::Mark)?,
                // Values with no argument.
                b'N' | b')' | b']' | b'}' | 0x88 | 0x89 | 0x8f | 0x97 => self.push(Slot::Value)?,
                b'0' => {
                    self.pop(Role::Other);
                }
                b'1' => {
                    let items = self.pop_mark();
                    self.consume_all(&items, Role::Other);
                }
                b'2' => {
                    let top = self.stack.last().cloned().unwrap_or(Slot::Value);
                    self.push(top)?;
                }
                // Containers from the values above the mark.
                b'd' | b'l' | b't' | 0x91 => {
                    let items = self.pop_mark();
                    self.consume_all(&items, Role::Other);
                    self.push(Slot::Value)?;
                }
                // Items added to the container below them.
                b's' => {
                    self.pop(Role::Other);
                    self.pop(Role::Other);
                }
                b'a' => {
                    self.pop(Role::Other);
                }
                b'u' | b'e' | 0x90 => {
                    let items = self.pop_mark();
                    self.consume_all(&items, Role::Other);
                }
                // BUILD: the state is consumed, the object stays.
                b'b' => {
                    self.pop(Role::Other);
                }
                // Tuples of the top one to three values.
                0x85..=0x87 => {
                    for _ in 0..(op - 0x84) {
                        self.pop(Role::Other);
                    }
                    self.push(Slot::Value)?;
                }
                b'R' => {
                    self.pop(Role::Other);
                    self.pop(Role::Called);
                    self.push(Slot::Value)?;
                }
                0x81 => {
                    self.pop(Role::Other);
                    self.pop(Role::Instantiated);
                    self.push(Slot::Value)?;
                }
                0x92 => {
                    self.pop(Role::Other);
                    self.pop(Role::Other);
                    self.pop(Role::Instantiated);
                    self.push(Slot::Value)?;
                }
                // OBJ: the class and its arguments above the mark; the class is called.
                b'o' => {
                    let items = self.pop_mark();
                    if let Some((class, args)) = items.split_first() {
                        self.consume(class, Role::Called);
                        self.consume_all(args, Role::Other);
                    }
                    self.push(Slot::Value)?;
                }
                // BINPERSID and READONLY_BUFFER replace the top value.
                b'Q' | 0x98 => {
                    self.pop(Role::Other);
                    self.push(Slot::Value)?;
                }
                // Values from a text line.
                b'I' | b'L' | b'F' | b'P' => {
                    self.line()?;
                    self.push(Slot::Value)?;
                }
                b'S' | b'V' => {
                    let s = self.line()?;
                    self.push(Slot::Str(s.trim_matches(|c| c == '\'' || c == '"').into()))?;
                }
                b'g' => {
                    let i = self.memo_line()?;
                    self.get(i)?;
                }
                b'p' => {
                    let i = self.memo_line()?;
                    self.memoize(i)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(format!("{module}.{name}"))?;
                }
                // INST: `module\nname\n`, called with the values above the mark.
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let args = self.pop_mark();
                    self.consume_all(&args, Role::Other);
                    self.called_global(format!("{module}.{name}"));
                    self.push(Slot::Value)?;
                }
                0x93 => {
                    let name = self.pop(Role::Other);
                    let module = self.pop(Role::Other);
                    self.global(match (module, name) {
                        (Slot::Str(m), Slot::Str(n)) => format!("{m}.{n}"),
                        _ => "an unnamed global (STACK_GLOBAL)".into(),
                    })?;
                }
                0x82..=0x84 => {
                    self.le(match op {
                        0x82 => 1,
                        0x83 => 2,
                        _ => 4,
                    })?;
                    self.global("a global by extension code (EXT)".into())?;
                }
                0x80 => {
                    self.le(1)?;
                }
                b'K' => {
                    self.le(1)?;
                    self.push(Slot::Value)?;
                }
                b'h' => {
                    let i = self.le(1)?;
                    self.get(i)?;
                }
                b'q' => {
                    let i = self.le(1)?;
                    self.memoize(i)?;
                }
                b'M' => {
                    self.skip(2)?;
                    self.push(Slot::Value)?;
                }
                b'J' => {
                    self.skip(4)?;
                    self.push(Slot::Value)?;
                }
                b'j' => {
                    let i = self.le(4)?;
                    self.get(i)?;
                }
                b'r' => {
                    let i = self.le(4)?;
                    self.memoize(i)?;
                }
                b'G' => {
                    self.skip(8)?;
                    self.push(Slot::Value)?;
                }
                0x95 => {
                    self.le(8)?;
                }
                0x94 => {
                    let index = self.next_memo;
                    self.memoize(index)?;
                    self.next_memo += 1;
                }
                // Length-prefixed strings.
                b'T' | b'X' => self.string(4)?,
                b'U' | 0x8c => self.string(1)?,
                0x8d => self.string(8)?,
                // Length-prefixed bytes and longs.
                0x8a | b'C' => {
                    let n = self.le(1)?;
                    self.skip(n)?;
                    self.push(Slot::Value)?;
                }
                0x8b | b'B' => {
                    let n = self.le(4)?;
                    self.skip(n)?;
                    self.push(Slot::Value)?;
                }
                0x8e | 0x96 => {
                    let n = self.le(8)?;
                    self.skip(n)?;
                    self.push(Slot::Value)?;
                }
                other => return Err(WalkError::UnknownOpcode(other)),
            }
        }
    }
}

/// The globals named by the next `count` pickles of `reader`, in order, with how each was used.
pub(crate) fn pickle_globals(reader: impl Read, count: usize) -> Result<Vec<GlobalUse>, WalkError> {
    let mut walker = Walker {
        reader: std::io::BufReader::new(reader),
        stack: Vec::new(),
        memo: std::collections::HashMap::new(),
        next_memo: 0,
        uses: Vec::new(),
    };
    for _ in 0..count {
        walker.walk()?;
    }
    Ok(walker
        .uses
        .into_iter()
        .map(|(name, uses)| GlobalUse {
            name,
            only_instantiated: uses.instantiated && !uses.called && !uses.other,
        })
        .collect())
}

/// Whether `global` is one that `torch.save` writes for a state dict of tensors.
pub(crate) fn is_state_dict_global(global: &str) -> bool {
    let Some((module, name)) = global.rsplit_once('.') else {
        return false;
    };
    match module {
        "collections" => name == "OrderedDict",
        "torch._utils" => matches!(
            name,
            "_rebuild_tensor"
                | "_rebuild_tensor_v2"
                | "_rebuild_parameter"
                | "_rebuild_parameter_with_state"
        ),
        "torch.storage" => name == "UntypedStorage",
        // Storage classes (FloatStorage, …) and dtypes (float32, …), no module classes.
        "torch" => {
            name.ends_with("Storage")
                || matches!(
                    name,
                    "float64"
                        | "float32"
                        | "float16"
                        | "bfloat16"
                        | "int64"
                        | "int32"
                        | "int16"
                        | "int8"
                        | "uint8"
                        | "bool"
                        | "double"
                        | "float"
                        | "half"
                        | "long"
                        | "int"
                        | "short"
                )
        }
        // Protocol 2 pickles bytes through `_codecs.encode`.
        "_codecs" => name == "encode",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pickle: &[u8], count: usize) -> Result<Vec<String>, WalkError> {
        Ok(pickle_globals(pickle, count)?
            .into_iter()
            .map(|g| g.name)
            .collect())
    }

    /// Each global's name and whether it was only instantiated.
    fn uses(pickle: &[u8]) -> Vec<(String, bool)> {
        pickle_globals(pickle, 1)
            .unwrap()
            .into_iter()
            .map(|g| (g.name, g.only_instantiated))
            .collect()
    }

    #[test]
    fn protocol_2_globals_are_listed() {
        // OrderedDict() then a class instance: c__main__\nNet\n ) NEWOBJ
        let pickle =
            b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01c__main__\nNet\nq\x02)\x81q\x03.";
        let globals = names(&pickle[..], 1).unwrap();
        assert_eq!(globals, ["collections.OrderedDict", "__main__.Net"]);
        assert!(is_state_dict_global(&globals[0]));
        assert!(!is_state_dict_global(&globals[1]));
    }

    #[test]
    fn calls_are_told_from_instances() {
        // {"cfg": Config.__new__(Config) with state {"h": 3}, "run": posix.system("id")}:
        // `c__main__\nConfig\n ) NEWOBJ } ... BUILD`, then `cposix\nsystem\n (S'id' t REDUCE`.
        let pickle = b"\x80\x02}(U\x03cfgc__main__\nConfig\nq\x01)\x81}U\x01hK\x03sb\
                       U\x03runcposix\nsystem\n(U\x02idtRu.";
        assert_eq!(
            uses(pickle),
            [
                ("__main__.Config".into(), true),
                ("posix.system".into(), false)
            ]
        );
        // The class again through the memo, instantiated: still only instantiated.
        let pickle = b"\x80\x02]q\x00(c__main__\nC\nq\x01)\x81h\x01)\x81e.";
        assert_eq!(uses(pickle), [("__main__.C".into(), true)]);
        // ... but called through the memo once, or stored as a value, it is not.
        let pickle = b"\x80\x02]q\x00(c__main__\nC\nq\x01)\x81h\x01)Re.";
        assert_eq!(uses(pickle), [("__main__.C".into(), false)]);
        let pickle = b"\x80\x02]q\x00c__main__\nC\nq\x01a.";
        assert_eq!(uses(pickle), [("__main__.C".into(), false)]);
        // NEWOBJ_EX (protocol 4), OBJ and INST (protocol 0/1), and the root itself.
        let pickle = b"\x80\x04\x8c\x01m\x8c\x01C\x93)}\x92.";
        assert_eq!(uses(pickle), [("m.C".into(), true)]);
        assert_eq!(uses(b"(cm\nC\no."), [("m.C".into(), false)]);
        assert_eq!(uses(b"(im\nC\n."), [("m.C".into(), false)]);
        assert_eq!(uses(b"cm\nC\n."), [("m.C".into(), false)]);
    }

    #[test]
    fn protocol_4_stack_globals_through_the_memo() {
        // \x8c "mod" MEMOIZE \x8c "Cls" MEMOIZE STACK_GLOBAL, then the same names via BINGET.
        let mut p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        p.extend(b"\x8c\x03mod\x94\x8c\x03Cls\x94\x93\x94");
        p.extend(b"h\x00h\x01\x93.");
        let globals = names(&p[..], 1).unwrap();
        assert_eq!(globals, ["mod.Cls", "mod.Cls"]);
    }

    #[test]
    fn protocol_0_text_globals_inst_and_memo_lines() {
        // GLOBAL and INST take `module\nname\n` lines; S strings and the text memo (p/g).
        let pickle = b"(S'torch'\np0\nS'FloatStorage'\np1\ng0\ng1\n\x93\
                       (iposix\nsystem\np2\nccollections\nOrderedDict\np3\n.";
        let globals = names(&pickle[..], 1).unwrap();
        assert_eq!(
            globals,
            [
                "torch.FloatStorage",
                "posix.system",
                "collections.OrderedDict"
            ]
        );
        // Windows line ends are tolerated.
        let globals = names(&b"cos\r\nsystem\r\n."[..], 1).unwrap();
        assert_eq!(globals, ["os.system"]);
    }

    #[test]
    fn extension_codes_are_reported() {
        for ext in [&[0x82u8, 7][..], &[0x83, 7, 0], &[0x84, 7, 0, 0, 0]] {
            let mut p = b"\x80\x02".to_vec();
            p.extend(ext);
            p.extend(b").");
            let globals = names(&p[..], 1).unwrap();
            assert_eq!(globals.len(), 1, "{ext:?}");
            assert!(globals[0].contains("EXT"), "{globals:?}");
            assert!(!is_state_dict_global(&globals[0]));
        }
    }

    #[test]
    fn arguments_are_skipped_not_read_as_opcodes() {
        // Bytes and numbers whose payload looks like opcodes: BINBYTES holding `cos\nsystem\n`,
        // SHORT_BINBYTES, BINBYTES8, BYTEARRAY8, LONG1/LONG4, BININT*, BINFLOAT, FRAME.
        let mut p = b"\x80\x04\x95\x40\x00\x00\x00\x00\x00\x00\x00".to_vec();
        p.extend(b"B\x0b\x00\x00\x00cos\nsystem\n");
        p.extend(b"C\x03c..");
        p.extend(b"\x8e\x02\x00\x00\x00\x00\x00\x00\x00c.");
        p.extend(b"\x96\x01\x00\x00\x00\x00\x00\x00\x00c");
        p.extend(b"\x8a\x02c.\x8b\x01\x00\x00\x00c");
        p.extend(b"K.M..J....G........");
        p.extend(b"\x8d\x03\x00\x00\x00\x00\x00\x00\x00abc");
        p.extend(b"0.");
        assert_eq!(names(&p[..], 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn consecutive_pickles_are_walked_in_order() {
        // The legacy format: magic, protocol version, system info, then the object.
        let stream = b"\x80\x02\x8a\x0alsomebytes.\x80\x02M\xe9\x03.}q\x00.\x80\x02cm\nC\n.";
        assert_eq!(names(&stream[..], 4).unwrap(), ["m.C"]);
        assert_eq!(names(&stream[..], 5), Err(WalkError::Truncated));
    }

    #[test]
    fn a_stack_global_without_two_strings_is_named_as_such() {
        let globals = names(&b"\x80\x04N\x93."[..], 1).unwrap();
        assert_eq!(globals, ["an unnamed global (STACK_GLOBAL)"]);
        assert!(!is_state_dict_global(&globals[0]));
    }

    #[test]
    fn a_long_string_memoized_many_times_is_not_copied() {
        // A 1 MB string stored in the memo 500,000 times: 500 GB if each entry were a copy.
        let mut p = b"\x80\x04X\x00\x00\x10\x00".to_vec();
        p.extend(std::iter::repeat_n(b'a', 1 << 20));
        p.extend(std::iter::repeat_n(0x94u8, 500_000));
        p.push(b'.');
        let start = std::time::Instant::now();
        assert_eq!(names(&p[..], 1).unwrap(), Vec::<String>::new());
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
        // The memo itself is bounded.
        let mut p = b"\x80\x04\x8c\x01a".to_vec();
        p.extend(std::iter::repeat_n(0x94u8, MAX_MEMO + 1));
        p.push(b'.');
        assert_eq!(names(&p[..], 1), Err(WalkError::TooLong));
    }

    #[test]
    fn state_dict_globals() {
        for g in [
            "collections.OrderedDict",
            "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter",
            "torch.FloatStorage",
            "torch.BFloat16Storage",
            "torch.storage.UntypedStorage",
            "torch.float16",
            "_codecs.encode",
        ] {
            assert!(is_state_dict_global(g), "{g}");
        }
        for g in [
            "posix.system",
            "builtins.eval",
            "torch.nn.modules.linear.Linear",
            "torch.load",
            "torch._utils._rebuild_qtensor",
            "collections.defaultdict",
            "__main__.Net",
            "nodot",
        ] {
            assert!(!is_state_dict_global(g), "{g}");
        }
    }

    #[test]
    fn broken_pickles_are_errors() {
        assert_eq!(names(&b"\x80\x02"[..], 1), Err(WalkError::Truncated));
        assert_eq!(names(&b"\xff"[..], 1), Err(WalkError::UnknownOpcode(0xff)));
        assert_eq!(
            names(&b"X\xff\xff\xff\x7f"[..], 1),
            Err(WalkError::Truncated)
        );
        assert_eq!(
            names(&b"\x8d\xff\xff\xff\xff\xff\x00\x00\x00"[..], 1),
            Err(WalkError::TooLong)
        );
        let mut line = b"c".to_vec();
        line.extend(std::iter::repeat_n(b'm', MAX_LINE + 2));
        assert_eq!(names(&line[..], 1), Err(WalkError::TooLong));
    }
}
