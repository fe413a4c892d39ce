//! The Python globals a pickle names, found by walking its opcodes without building anything.
//!
//! Written by hand because `pytorch-reader` reads a pickled `nn.Module` as its state dict by
//! design and exposes no way to tell the two apart. This walker only decodes opcode arguments to
//! skip over them and collects the `module.name` of every `GLOBAL`, `INST` and `STACK_GLOBAL`
//! (the two strings pushed just before it, as every pickler writes them); it creates no object
//! and interprets nothing else. Extension codes (`EXT1/2/4`) name globals indirectly and are
//! reported as such.

use std::io::Read;
use std::rc::Rc;

/// Longest text line (protocol-0 arguments) and memo the walker accepts.
const MAX_LINE: usize = 1 << 16;
const MAX_MEMO: usize = 1 << 20;

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

struct Walker<R> {
    reader: R,
    /// The two most recent strings pushed, for `STACK_GLOBAL`.
    recent: [Option<Rc<str>>; 2],
    /// Strings stored in the memo (by `PUT`/`MEMOIZE` right after a string), by index. Shared,
    /// not copied: one long string memoized a million times must not cost a million copies.
    memo: std::collections::HashMap<u64, Rc<str>>,
    next_memo: u64,
    /// The last value pushed, if it was a string (what `MEMOIZE`/`PUT` would store).
    top: Option<Rc<str>>,
    globals: Vec<String>,
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

    /// A length-prefixed string argument, pushed as a string.
    fn string(&mut self, len_bytes: usize) -> Result<(), WalkError> {
        let len = self.le(len_bytes)?;
        if len > (1 << 32) {
            return Err(WalkError::TooLong);
        }
        let text = self.bytes(len)?;
        self.push_string(String::from_utf8_lossy(&text).into_owned());
        Ok(())
    }

    fn push_string(&mut self, s: impl Into<Rc<str>>) {
        let s = s.into();
        self.recent = [self.recent[1].take(), Some(Rc::clone(&s))];
        self.top = Some(s);
    }

    fn memoize(&mut self, index: u64) -> Result<(), WalkError> {
        if let Some(s) = self.top.as_ref().map(Rc::clone) {
            if self.memo.len() >= MAX_MEMO {
                return Err(WalkError::TooLong);
            }
            self.memo.insert(index, s);
        }
        Ok(())
    }

    fn get(&mut self, index: u64) {
        match self.memo.get(&index).map(Rc::clone) {
            Some(s) => self.push_string(s),
            None => self.top = None,
        }
    }

    /// Walks one pickle up to its `STOP`.
    fn walk(&mut self) -> Result<(), WalkError> {
        loop {
            let op = self.byte()?;
            let mut pushed_string = false;
            match op {
                b'.' => return Ok(()),
                // No argument.
                b'(' | b'0' | b'1' | b'2' | b'N' | b'R' | b'b' | b'd' | b'l' | b't' | b's'
                | b'a' | b')' | b']' | b'}' | b'e' | b'u' | b'Q' | b'o' | 0x81 | 0x85 | 0x86
                | 0x87 | 0x88 | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x97 | 0x98 => {}
                // A text line.
                b'I' | b'L' | b'F' | b'P' => {
                    self.line()?;
                }
                b'S' | b'V' => {
                    let s = self.line()?;
                    self.push_string(s.trim_matches(|c| c == '\'' || c == '"'));
                    pushed_string = true;
                }
                b'g' => {
                    let i = self.line()?.parse().unwrap_or(u64::MAX);
                    self.get(i);
                    pushed_string = self.top.is_some();
                }
                b'p' => {
                    let i = self.line()?.parse().unwrap_or(u64::MAX);
                    self.memoize(i)?;
                    pushed_string = self.top.is_some();
                }
                b'c' | b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.globals.push(format!("{module}.{name}"));
                }
                0x93 => {
                    let [module, name] = [self.recent[0].clone(), self.recent[1].clone()];
                    self.globals.push(match (module, name) {
                        (Some(m), Some(n)) => format!("{m}.{n}"),
                        _ => "an unnamed global (STACK_GLOBAL)".into(),
                    });
                }
                0x82..=0x84 => {
                    self.le(match op {
                        0x82 => 1,
                        0x83 => 2,
                        _ => 4,
                    })?;
                    self.globals.push("a global by extension code (EXT)".into());
                }
                // Fixed-size arguments.
                b'K' | b'h' | b'q' | 0x80 => {
                    let v = self.le(1)?;
                    match op {
                        b'h' => {
                            self.get(v);
                            pushed_string = self.top.is_some();
                        }
                        b'q' => {
                            self.memoize(v)?;
                            pushed_string = self.top.is_some();
                        }
                        _ => {}
                    }
                }
                b'M' => self.skip(2)?,
                b'J' => self.skip(4)?,
                b'j' | b'r' => {
                    let v = self.le(4)?;
                    if op == b'j' {
                        self.get(v);
                    } else {
                        self.memoize(v)?;
                    }
                    pushed_string = self.top.is_some();
                }
                b'G' => self.skip(8)?,
                0x95 => {
                    self.le(8)?;
                }
                0x94 => {
                    let index = self.next_memo;
                    self.memoize(index)?;
                    pushed_string = self.top.is_some();
                }
                // Length-prefixed strings.
                b'T' | b'X' => {
                    self.string(4)?;
                    pushed_string = true;
                }
                b'U' | 0x8c => {
                    self.string(1)?;
                    pushed_string = true;
                }
                0x8d => {
                    self.string(8)?;
                    pushed_string = true;
                }
                // Length-prefixed bytes and longs.
                0x8a | b'C' => {
                    let n = self.le(1)?;
                    self.skip(n)?;
                }
                0x8b | b'B' => {
                    let n = self.le(4)?;
                    self.skip(n)?;
                }
                0x8e | 0x96 => {
                    let n = self.le(8)?;
                    self.skip(n)?;
                }
                other => return Err(WalkError::UnknownOpcode(other)),
            }
            if op == 0x94 {
                self.next_memo += 1;
            }
            if !pushed_string {
                self.top = None;
            }
        }
    }
}

/// The globals named by the next `count` pickles of `reader`, in order.
pub(crate) fn pickle_globals(reader: impl Read, count: usize) -> Result<Vec<String>, WalkError> {
    let mut walker = Walker {
        reader: std::io::BufReader::new(reader),
        recent: [None, None],
        memo: std::collections::HashMap::new(),
        next_memo: 0,
        top: None,
        globals: Vec::new(),
    };
    for _ in 0..count {
        walker.walk()?;
    }
    Ok(walker.globals)
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

    #[test]
    fn protocol_2_globals_are_listed() {
        // OrderedDict() then a class instance: c__main__\nNet\n ) NEWOBJ
        let pickle =
            b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01c__main__\nNet\nq\x02)\x81q\x03.";
        let globals = pickle_globals(&pickle[..], 1).unwrap();
        assert_eq!(globals, ["collections.OrderedDict", "__main__.Net"]);
        assert!(is_state_dict_global(&globals[0]));
        assert!(!is_state_dict_global(&globals[1]));
    }

    #[test]
    fn protocol_4_stack_globals_through_the_memo() {
        // \x8c "mod" MEMOIZE \x8c "Cls" MEMOIZE STACK_GLOBAL, then the same names via BINGET.
        let mut p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        p.extend(b"\x8c\x03mod\x94\x8c\x03Cls\x94\x93\x94");
        p.extend(b"h\x00h\x01\x93.");
        let globals = pickle_globals(&p[..], 1).unwrap();
        assert_eq!(globals, ["mod.Cls", "mod.Cls"]);
    }

    #[test]
    fn protocol_0_text_globals_inst_and_memo_lines() {
        // GLOBAL and INST take `module\nname\n` lines; S strings and the text memo (p/g).
        let pickle = b"(S'torch'\np0\nS'FloatStorage'\np1\ng0\ng1\n\x93\
                       (iposix\nsystem\np2\nccollections\nOrderedDict\np3\n.";
        let globals = pickle_globals(&pickle[..], 1).unwrap();
        assert_eq!(
            globals,
            [
                "torch.FloatStorage",
                "posix.system",
                "collections.OrderedDict"
            ]
        );
        // Windows line ends are tolerated.
        let globals = pickle_globals(&b"cos\r\nsystem\r\n."[..], 1).unwrap();
        assert_eq!(globals, ["os.system"]);
    }

    #[test]
    fn extension_codes_are_reported() {
        for ext in [&[0x82u8, 7][..], &[0x83, 7, 0], &[0x84, 7, 0, 0, 0]] {
            let mut p = b"\x80\x02".to_vec();
            p.extend(ext);
            p.extend(b").");
            let globals = pickle_globals(&p[..], 1).unwrap();
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
        assert_eq!(pickle_globals(&p[..], 1).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn consecutive_pickles_are_walked_in_order() {
        // The legacy format: magic, protocol version, system info, then the object.
        let stream = b"\x80\x02\x8a\x0alsomebytes.\x80\x02M\xe9\x03.}q\x00.\x80\x02cm\nC\n.";
        assert_eq!(pickle_globals(&stream[..], 4).unwrap(), ["m.C"]);
        assert_eq!(pickle_globals(&stream[..], 5), Err(WalkError::Truncated));
    }

    #[test]
    fn a_stack_global_without_two_strings_is_named_as_such() {
        let globals = pickle_globals(&b"\x80\x04N\x93."[..], 1).unwrap();
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
        assert_eq!(pickle_globals(&p[..], 1).unwrap(), Vec::<String>::new());
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
        // The memo itself is bounded.
        let mut p = b"\x80\x04\x8c\x01a".to_vec();
        p.extend(std::iter::repeat_n(0x94u8, MAX_MEMO + 1));
        p.push(b'.');
        assert_eq!(pickle_globals(&p[..], 1), Err(WalkError::TooLong));
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
        assert_eq!(
            pickle_globals(&b"\x80\x02"[..], 1),
            Err(WalkError::Truncated)
        );
        assert_eq!(
            pickle_globals(&b"\xff"[..], 1),
            Err(WalkError::UnknownOpcode(0xff))
        );
        assert_eq!(
            pickle_globals(&b"X\xff\xff\xff\x7f"[..], 1),
            Err(WalkError::Truncated)
        );
        assert_eq!(
            pickle_globals(&b"\x8d\xff\xff\xff\xff\xff\x00\x00\x00"[..], 1),
            Err(WalkError::TooLong)
        );
        let mut line = b"c".to_vec();
        line.extend(std::iter::repeat_n(b'm', MAX_LINE + 2));
        assert_eq!(pickle_globals(&line[..], 1), Err(WalkError::TooLong));
    }
}
