//! Shared by the PyTorch tests: fixture access, a tiny safetensors reader, a zip writer that
//! writes what `torch.save` writes (data descriptors, ZIP64 end records, 64-byte alignment),
//! and a pickle builder. Test code: panics on bad input are fine.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// The only place the fixture directory is named.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/pytorch");

pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(FIXTURES).join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------- JSON ----

#[derive(Debug, Clone)]
pub enum Json {
    Str(String),
    Num(f64),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    Other,
}

impl Json {
    pub fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    pub fn as_usizes(&self) -> Vec<usize> {
        match self {
            Json::Arr(a) => a
                .iter()
                .map(|v| match v {
                    Json::Num(n) => *n as usize,
                    _ => panic!("not a number"),
                })
                .collect(),
            _ => panic!("not an array"),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        return Json::Obj(m);
                    }
                    let Json::Str(k) = self.value() else {
                        panic!("key")
                    };
                    self.ws();
                    assert_eq!(self.s[self.i], b':');
                    self.i += 1;
                    let v = self.value();
                    m.push((k, v));
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b']' {
                        self.i += 1;
                        return Json::Arr(a);
                    }
                    a.push(self.value());
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
            }
            b'"' => {
                self.i += 1;
                let mut out = String::new();
                while self.s[self.i] != b'"' {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                        let c = self.s[self.i];
                        out.push(match c {
                            b'n' => '\n',
                            b't' => '\t',
                            b'u' => {
                                let h =
                                    std::str::from_utf8(&self.s[self.i + 1..self.i + 5]).unwrap();
                                self.i += 4;
                                char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap_or('?')
                            }
                            c => char::from(c),
                        });
                        self.i += 1;
                    } else {
                        let start = self.i;
                        while self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                            self.i += 1;
                        }
                        out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap());
                    }
                }
                self.i += 1;
                Json::Str(out)
            }
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                Json::Num(
                    std::str::from_utf8(&self.s[start..self.i])
                        .unwrap()
                        .parse()
                        .unwrap(),
                )
            }
            _ => {
                while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
                    self.i += 1;
                }
                Json::Other
            }
        }
    }
}

/// A safetensors tensor: dtype string, shape, raw little-endian bytes.
pub struct StTensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// Parses a safetensors file (header order is alphabetical; returned sorted).
pub fn read_safetensors(bytes: &[u8]) -> BTreeMap<String, StTensor> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = JsonParser {
        s: &bytes[8..8 + n],
        i: 0,
    }
    .value();
    let data = &bytes[8 + n..];
    let Json::Obj(entries) = header else {
        panic!("header")
    };
    let mut out = BTreeMap::new();
    for (name, v) in entries {
        if name == "__metadata__" {
            continue;
        }
        let off = v.get("data_offsets").unwrap().as_usizes();
        out.insert(
            name,
            StTensor {
                dtype: v.get("dtype").unwrap().as_str().to_string(),
                shape: v.get("shape").unwrap().as_usizes(),
                bytes: data[off[0]..off[1]].to_vec(),
            },
        );
    }
    out
}

// ----------------------------------------------------------------- zip ----

/// CRC-32 for the zip writer (independent of the crate's).
pub fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..256u32)
            .map(|i| {
                (0..8).fold(i, |c, _| {
                    if c & 1 != 0 {
                        (c >> 1) ^ 0xedb8_8320
                    } else {
                        c >> 1
                    }
                })
            })
            .collect()
    });
    !data.iter().fold(0xffff_ffffu32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[derive(Clone, Copy, Default)]
pub struct ZipOpts {
    /// DEFLATE-compress every entry.
    pub deflate: bool,
    /// Saturate sizes and offsets in the central directory and give them in ZIP64 extras.
    pub zip64_extras: bool,
    /// Write a ZIP64 end-of-central-directory record + locator (as torch does).
    pub zip64_eocd: bool,
    /// Flag bit 3: zero sizes in local headers + data descriptors (as torch does).
    pub descriptor: bool,
    /// Pad data to 64-byte alignment with an `FB` extra field (as torch does).
    pub align: bool,
}

impl ZipOpts {
    pub fn torch() -> Self {
        ZipOpts {
            deflate: false,
            zip64_extras: false,
            zip64_eocd: true,
            descriptor: true,
            align: true,
        }
    }
}

/// Raw deflate of `data`: the payload of a one-entry archive written by the `zip` crate.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file("x", options).expect("start_file");
    out.write_all(data).expect("write");
    let zip = out.finish().expect("finish").into_inner();
    assert_eq!(&zip[..4], b"PK\x03\x04");
    let rd16 = |p: usize| u16::from_le_bytes([zip[p], zip[p + 1]]) as usize;
    let size = u32::from_le_bytes(zip[18..22].try_into().unwrap()) as usize;
    let start = 30 + rd16(26) + rd16(28);
    zip[start..start + size].to_vec()
}

fn p16(v: &mut Vec<u8>, x: u16) {
    v.extend(x.to_le_bytes());
}
fn p32(v: &mut Vec<u8>, x: u32) {
    v.extend(x.to_le_bytes());
}
fn p64(v: &mut Vec<u8>, x: u64) {
    v.extend(x.to_le_bytes());
}

/// Writes a zip archive of `(name, data)` entries.
pub fn write_zip(entries: &[(String, Vec<u8>)], o: ZipOpts) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32(data);
        let (method, payload) = if o.deflate {
            (8u16, deflate(data))
        } else {
            (0u16, data.clone())
        };
        let flags: u16 = if o.descriptor { 0x0808 } else { 0x0800 };
        let offset = out.len() as u64;
        let mut extra = Vec::new();
        if o.align {
            let base = out.len() + 30 + name.len() + 4;
            let pad = (64 - base % 64) % 64;
            p16(&mut extra, 0x4246);
            p16(&mut extra, pad as u16);
            extra.extend(std::iter::repeat_n(b'Z', pad));
        }
        p32(&mut out, 0x0403_4b50);
        p16(&mut out, 45);
        p16(&mut out, flags);
        p16(&mut out, method);
        p32(&mut out, 0);
        if o.descriptor {
            p32(&mut out, 0);
            p32(&mut out, 0);
            p32(&mut out, 0);
        } else {
            p32(&mut out, crc);
            p32(&mut out, payload.len() as u32);
            p32(&mut out, data.len() as u32);
        }
        p16(&mut out, name.len() as u16);
        p16(&mut out, extra.len() as u16);
        out.extend(name.as_bytes());
        out.extend(&extra);
        if o.align {
            assert_eq!(out.len() % 64, 0);
        }
        out.extend(&payload);
        if o.descriptor {
            p32(&mut out, 0x0807_4b50);
            p32(&mut out, crc);
            p32(&mut out, payload.len() as u32);
            p32(&mut out, data.len() as u32);
        }
        // Central directory entry.
        let mut cextra = Vec::new();
        if o.zip64_extras {
            p16(&mut cextra, 0x0001);
            p16(&mut cextra, 24);
            p64(&mut cextra, data.len() as u64);
            p64(&mut cextra, payload.len() as u64);
            p64(&mut cextra, offset);
        }
        p16(&mut cextra, 0x4246); // an unknown field to skip
        p16(&mut cextra, 3);
        cextra.extend(b"xyz");
        p32(&mut central, 0x0201_4b50);
        p16(&mut central, 45);
        p16(&mut central, 45);
        p16(&mut central, flags);
        p16(&mut central, method);
        p32(&mut central, 0);
        p32(&mut central, crc);
        let sat = |x: u64| {
            if o.zip64_extras {
                0xffff_ffff
            } else {
                x as u32
            }
        };
        p32(&mut central, sat(payload.len() as u64));
        p32(&mut central, sat(data.len() as u64));
        p16(&mut central, name.len() as u16);
        p16(&mut central, cextra.len() as u16);
        p16(&mut central, 0);
        p16(&mut central, 0);
        p16(&mut central, 0);
        p32(&mut central, 0);
        p32(&mut central, sat(offset));
        central.extend(name.as_bytes());
        central.extend(&cextra);
    }
    let cd_offset = out.len() as u64;
    out.extend(&central);
    let n = entries.len() as u64;
    if o.zip64_eocd {
        let z64 = out.len() as u64;
        p32(&mut out, 0x0606_4b50);
        p64(&mut out, 44);
        p16(&mut out, 45);
        p16(&mut out, 45);
        p32(&mut out, 0);
        p32(&mut out, 0);
        p64(&mut out, n);
        p64(&mut out, n);
        p64(&mut out, central.len() as u64);
        p64(&mut out, cd_offset);
        p32(&mut out, 0x0706_4b50);
        p32(&mut out, 0);
        p64(&mut out, z64);
        p32(&mut out, 1);
    }
    p32(&mut out, 0x0605_4b50);
    p16(&mut out, 0);
    p16(&mut out, 0);
    let sat16 = if o.zip64_eocd { 0xffff } else { n as u16 };
    p16(&mut out, sat16);
    p16(&mut out, sat16);
    p32(
        &mut out,
        if o.zip64_eocd {
            0xffff_ffff
        } else {
            central.len() as u32
        },
    );
    p32(
        &mut out,
        if o.zip64_eocd {
            0xffff_ffff
        } else {
            cd_offset as u32
        },
    );
    p16(&mut out, 0);
    out
}

/// The entries of a known-good, all-STORED fixture archive (classic EOCD).
pub fn stored_entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let e = zip.len() - 22;
    let rd16 = |p: usize| u16::from_le_bytes([zip[p], zip[p + 1]]) as usize;
    let rd32 = |p: usize| u32::from_le_bytes(zip[p..p + 4].try_into().unwrap()) as usize;
    let count = rd16(e + 10);
    let mut p = rd32(e + 16);
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(rd32(p), 0x0201_4b50);
        let csize = rd32(p + 20);
        let (nl, el, cl) = (rd16(p + 28), rd16(p + 30), rd16(p + 32));
        let local = rd32(p + 42);
        let name = String::from_utf8(zip[p + 46..p + 46 + nl].to_vec()).unwrap();
        let data_start = local + 30 + rd16(local + 26) + rd16(local + 28);
        out.push((name, zip[data_start..data_start + csize].to_vec()));
        p += 46 + nl + el + cl;
    }
    out
}

/// A torch-style archive: `archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`...
pub fn torch_zip(
    pickle: &[u8],
    storages: &[(&str, Vec<u8>)],
    byteorder: Option<&str>,
    o: ZipOpts,
) -> Vec<u8> {
    let mut e = vec![("archive/data.pkl".to_string(), pickle.to_vec())];
    if let Some(b) = byteorder {
        e.push(("archive/byteorder".to_string(), b.as_bytes().to_vec()));
    }
    for (k, d) in storages {
        e.push((format!("archive/data/{k}"), d.clone()));
    }
    e.push(("archive/version".to_string(), b"3\n".to_vec()));
    write_zip(&e, o)
}

// -------------------------------------------------------------- pickle ----

/// A protocol-2 pickle builder (with a few protocol-4 extras).
#[derive(Default)]
pub struct Pk {
    pub b: Vec<u8>,
    memo: u32,
}

impl Pk {
    pub fn new(proto: u8) -> Self {
        Pk {
            b: vec![0x80, proto],
            memo: 0,
        }
    }
    pub fn op(&mut self, o: u8) -> &mut Self {
        self.b.push(o);
        self
    }
    pub fn global(&mut self, m: &str, n: &str) -> &mut Self {
        self.b.push(b'c');
        self.b.extend(format!("{m}\n{n}\n").as_bytes());
        self
    }
    pub fn stack_global(&mut self, m: &str, n: &str) -> &mut Self {
        self.short_str(m).short_str(n).op(0x93)
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.b.push(b'X');
        self.b.extend((s.len() as u32).to_le_bytes());
        self.b.extend(s.as_bytes());
        self
    }
    pub fn short_str(&mut self, s: &str) -> &mut Self {
        self.b.push(0x8c);
        self.b.push(s.len() as u8);
        self.b.extend(s.as_bytes());
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        if (0..256).contains(&v) {
            self.b.extend([b'K', v as u8]);
        } else if (0..65536).contains(&v) {
            self.b.push(b'M');
            self.b.extend((v as u16).to_le_bytes());
        } else if i32::try_from(v).is_ok() {
            self.b.push(b'J');
            self.b.extend((v as i32).to_le_bytes());
        } else {
            self.b.extend([0x8a, 8]);
            self.b.extend(v.to_le_bytes());
        }
        self
    }
    pub fn put(&mut self) -> u32 {
        let i = self.memo;
        self.memo += 1;
        if i < 256 {
            self.b.extend([b'q', i as u8]);
        } else {
            self.b.push(b'r');
            self.b.extend(i.to_le_bytes());
        }
        i
    }
    pub fn get(&mut self, i: u32) -> &mut Self {
        if i < 256 {
            self.b.extend([b'h', i as u8]);
        } else {
            self.b.push(b'j');
            self.b.extend(i.to_le_bytes());
        }
        self
    }
    pub fn mark(&mut self) -> &mut Self {
        self.op(b'(')
    }
    pub fn tuple(&mut self) -> &mut Self {
        self.op(b't')
    }
    pub fn int_tuple(&mut self, v: &[usize]) -> &mut Self {
        self.mark();
        for &x in v {
            self.int(x as i64);
        }
        self.tuple()
    }
    pub fn empty_ordered_dict(&mut self) -> &mut Self {
        self.global("collections", "OrderedDict").op(b')').op(b'R')
    }
    /// `_rebuild_tensor_v2(('storage', torch.<class>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`
    pub fn tensor(
        &mut self,
        class: &str,
        key: &str,
        numel: usize,
        offset: usize,
        size: &[usize],
        stride: &[usize],
    ) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.mark();
        self.mark()
            .str("storage")
            .global("torch", class)
            .str(key)
            .str("cpu")
            .int(numel as i64)
            .tuple();
        self.op(b'Q');
        self.int(offset as i64)
            .int_tuple(size)
            .int_tuple(stride)
            .op(0x89);
        self.empty_ordered_dict();
        self.tuple().op(b'R')
    }
    pub fn stop(&mut self) -> Vec<u8> {
        self.b.push(b'.');
        std::mem::take(&mut self.b)
    }
}

/// A state-dict pickle: OrderedDict of `(name, class, key, numel, offset, size, stride)`.
pub type TensorDesc<'a> = (
    &'a str,
    &'a str,
    &'a str,
    usize,
    usize,
    &'a [usize],
    &'a [usize],
);

pub fn state_dict_pickle(tensors: &[TensorDesc<'_>]) -> Vec<u8> {
    let mut p = Pk::new(2);
    p.empty_ordered_dict();
    p.put();
    p.mark();
    for &(name, class, key, numel, off, size, stride) in tensors {
        p.str(name);
        p.tensor(class, key, numel, off, size, stride);
    }
    p.op(b'u');
    p.stop()
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A legacy-format file around `main` (a pickle) with storages `(key, numel, elem bytes)`.
pub fn legacy_file(main: &[u8], storages: &[(&str, usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend([0x80, 2, 0x8a, 10]);
    out.extend(&0x1950_a86a_20f9_469c_fc6cu128.to_le_bytes()[..10]);
    out.push(b'.');
    out.extend(Pk::new(2).int(1001).stop());
    let mut p = Pk::new(2);
    p.op(b'}').mark().str("little_endian").op(0x88).op(b'u');
    out.extend(p.stop());
    out.extend(main);
    let mut p = Pk::new(2);
    p.op(b']').mark();
    for (k, _, _) in storages {
        p.str(k);
    }
    p.op(b'e');
    out.extend(p.stop());
    for (_, n, data) in storages {
        out.extend((*n as u64).to_le_bytes());
        out.extend(data);
    }
    out
}

// ------------------------------------------------------ reading bytes ----

/// A state dict as `read_state_dict` returns it.
pub type Tensors = Vec<(String, lrp_import::HostArray<f64>)>;

/// Writes `bytes` to a fresh file in `tmp` and reads it with `read_state_dict`.
pub fn read_bytes(
    tmp: &crate::common::TempDir,
    bytes: &[u8],
) -> Result<Tensors, lrp_import::formats::torch::TorchError> {
    lrp_import::formats::torch::read_state_dict(tmp.file("pt", bytes))
}

/// The tensor called `name`.
pub fn get<'a>(tensors: &'a Tensors, name: &str) -> &'a lrp_import::HostArray<f64> {
    tensors
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

/// The tensors' names, in the order returned.
pub fn names(tensors: &Tensors) -> Vec<&str> {
    tensors.iter().map(|(n, _)| n.as_str()).collect()
}
