//! Group link storage: old-style symbol tables (v1 B-tree + "SNOD" nodes +
//! local heap), compact link messages, and dense links (fractal heap +
//! version 2 B-tree). Also the public [`Group`] handle.

use std::collections::{HashMap, HashSet};

use crate::hdf5::attribute::{self, AttrValue};
use crate::hdf5::btree::{self, HashFilter, V1_GROUP};
use crate::hdf5::checksum;
use crate::hdf5::dataset::Dataset;
use crate::hdf5::error::{Hdf5Error, Result, corrupt};
use crate::hdf5::file::File;
use crate::hdf5::heap::{FractalHeap, LocalHeap};
use crate::hdf5::object_header::{ObjectHeader, ObjectKind, msg};
use crate::hdf5::reader::{Ctx, Cursor};

/// Kind of a group member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    /// A group (old- or new-style).
    Group,
    /// A dataset.
    Dataset,
    /// Anything else: committed datatypes, external links, dangling or
    /// unresolvable soft links, unreadable objects.
    Other,
}

/// Where a link points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkTarget {
    /// Object header address.
    Hard(u64),
    /// Path (absolute or relative to the group holding the link).
    Soft(String),
    /// External or user-defined link (not followed).
    External,
}

/// One link of a group.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) name: String,
    pub(crate) target: LinkTarget,
    pub(crate) corder: Option<u64>,
}

/// All links of the group whose header is `header`: in creation order when
/// the group tracks it, otherwise in byte-wise name order.
pub(crate) fn links(ctx: &Ctx<'_>, header: &ObjectHeader<'_>) -> Result<Vec<Link>> {
    collect_links(ctx, header, None)
}

/// The link called `name`, if any. Dense storage is searched by name hash,
/// so only matching candidates are decoded.
pub(crate) fn find_link(
    ctx: &Ctx<'_>,
    header: &ObjectHeader<'_>,
    name: &str,
) -> Result<Option<Link>> {
    Ok(collect_links(ctx, header, Some(name))?
        .into_iter()
        .find(|l| l.name == name))
}

fn collect_links(
    ctx: &Ctx<'_>,
    header: &ObjectHeader<'_>,
    only: Option<&str>,
) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    let mut by_creation = false;
    if let Some(stab) = header.first(msg::SYMBOL_TABLE) {
        symbol_table_links(ctx, stab.data, only, &mut out)?;
    } else {
        for m in header.all(msg::LINK) {
            out.push(parse_link(ctx, m.data)?);
        }
        if let Some(info) = header.first(msg::LINK_INFO) {
            let what = "link info message";
            let mut c = Cursor::new(info.data);
            let version = c.u8(what)?;
            if version != 0 {
                return Err(corrupt(format!("link info version {version}")));
            }
            let flags = c.u8(what)?;
            by_creation = flags & 0x01 != 0;
            if by_creation {
                let _max_corder = c.u64(what)?;
            }
            let heap_addr = ctx.addr(&mut c, what)?;
            let name_index = ctx.addr(&mut c, what)?;
            if let (Some(heap_addr), Some(name_index)) = (heap_addr, name_index) {
                dense_links(ctx, heap_addr, name_index, only, &mut out)?;
            }
        }
    }
    if by_creation {
        out.sort_by(|a, b| {
            a.corder
                .cmp(&b.corder)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        });
    } else {
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    }
    Ok(out)
}

fn symbol_table_links(
    ctx: &Ctx<'_>,
    stab: &[u8],
    only: Option<&str>,
    out: &mut Vec<Link>,
) -> Result<()> {
    let what = "symbol table message";
    let mut c = Cursor::new(stab);
    let btree_addr = ctx.addr_required(&mut c, what)?;
    let heap_addr = ctx.addr_required(&mut c, what)?;
    let heap = LocalHeap::parse(ctx, heap_addr)?;
    let mut seen_nodes = HashSet::new();
    btree::v1_leaves(ctx, btree_addr, V1_GROUP, ctx.length_size, |_key, snod| {
        if !seen_nodes.insert(snod) {
            return Err(corrupt("symbol table node referenced twice"));
        }
        read_symbol_node(ctx, &heap, snod, only, out)
    })
}

fn read_symbol_node(
    ctx: &Ctx<'_>,
    heap: &LocalHeap<'_>,
    addr: u64,
    only: Option<&str>,
    out: &mut Vec<Link>,
) -> Result<()> {
    let what = "symbol table node";
    let mut c = ctx.cursor_at(addr, what)?;
    c.signature(b"SNOD", what)?;
    let version = c.u8(what)?;
    if version != 1 {
        return Err(corrupt(format!("symbol table node version {version}")));
    }
    c.skip(1, what)?;
    let n = c.u16(what)?;
    for _ in 0..n {
        let name_off = c.uint(ctx.offset_size, what)?;
        let header = ctx.addr(&mut c, what)?;
        let cache_type = c.u32(what)?;
        c.skip(4, what)?;
        let scratch = c.bytes(16, what)?;
        let raw_name = heap.string_at(name_off)?;
        if only.is_some_and(|n| n.as_bytes() != raw_name) {
            continue;
        }
        let name = String::from_utf8_lossy(raw_name).into_owned();
        let target = if cache_type == 2 {
            let mut s = Cursor::new(scratch);
            let value_off = u64::from(s.u32(what)?);
            LinkTarget::Soft(String::from_utf8_lossy(heap.string_at(value_off)?).into_owned())
        } else {
            LinkTarget::Hard(header.ok_or_else(|| corrupt("symbol table entry without object"))?)
        };
        out.push(Link {
            name,
            target,
            corder: None,
        });
    }
    Ok(())
}

fn dense_links(
    ctx: &Ctx<'_>,
    heap_addr: u64,
    name_index: u64,
    only: Option<&str>,
    out: &mut Vec<Link>,
) -> Result<()> {
    let heap = FractalHeap::parse(ctx, heap_addr)?;
    // record: name hash (4) + heap ID
    let filter = only.map(|n| HashFilter {
        hash: checksum::lookup3(n.as_bytes()),
        offset: 0,
    });
    let records = btree::v2_records(ctx, name_index, 5, filter)?;
    let id_len = heap.id_len();
    for rec in records {
        let id = rec
            .get(4..4usize.saturating_add(id_len))
            .ok_or(Hdf5Error::Truncated {
                what: "link name index record",
            })?;
        out.push(parse_link(ctx, heap.get(id)?)?);
    }
    Ok(())
}

/// Parses a link message (header message 0x06 or a dense-storage object).
pub(crate) fn parse_link(ctx: &Ctx<'_>, data: &[u8]) -> Result<Link> {
    let what = "link message";
    let mut c = Cursor::new(data);
    let version = c.u8(what)?;
    if version != 1 {
        return Err(corrupt(format!("link message version {version}")));
    }
    let flags = c.u8(what)?;
    let link_type = if flags & 0x08 != 0 { c.u8(what)? } else { 0 };
    let corder = if flags & 0x04 != 0 {
        Some(c.u64(what)?)
    } else {
        None
    };
    if flags & 0x10 != 0 {
        let _charset = c.u8(what)?;
    }
    let len_size = 1usize
        .checked_shl(u32::from(flags & 0x03))
        .ok_or_else(|| corrupt(what))?;
    let name_len = usize::try_from(c.uint(len_size, what)?).map_err(|_| corrupt(what))?;
    let name = String::from_utf8_lossy(c.bytes(name_len, what)?).into_owned();
    let target = match link_type {
        0 => LinkTarget::Hard(ctx.addr_required(&mut c, what)?),
        1 => {
            let n = usize::from(c.u16(what)?);
            LinkTarget::Soft(String::from_utf8_lossy(c.bytes(n, what)?).into_owned())
        }
        _ => LinkTarget::External,
    };
    Ok(Link {
        name,
        target,
        corder,
    })
}

/// A group of an open [`File`].
#[derive(Clone, Debug)]
pub struct Group<'f> {
    pub(crate) file: &'f File,
    pub(crate) path: String,
    pub(crate) header: ObjectHeader<'f>,
}

impl<'f> Group<'f> {
    /// Absolute path of this group as it was opened (e.g. `/model_weights/dense`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// File address of the group's object header. Hard links to the same
    /// object give the same id (useful to detect cycles when walking).
    pub fn object_id(&self) -> u64 {
        self.header.addr
    }

    /// Names and kinds of the members. Order: link creation order when the
    /// group tracks it (h5py `track_order=True`), otherwise byte-wise name
    /// order (what h5py and HDF5 iterate by default). Soft links report
    /// the kind of their target; external links are [`MemberKind::Other`].
    pub fn members(&self) -> Result<Vec<(String, MemberKind)>> {
        let ctx = self.file.ctx();
        let list = links(&ctx, &self.header).map_err(|e| e.in_object(&self.path))?;
        let mut out = Vec::with_capacity(list.len());
        // Many links may share one target: parse each header once.
        let mut kinds: HashMap<u64, MemberKind> = HashMap::new();
        for link in list {
            let kind = match &link.target {
                LinkTarget::Hard(addr) => match kinds.get(addr) {
                    Some(k) => *k,
                    None => match ObjectHeader::parse(&ctx, *addr) {
                        Ok(h) => *kinds.entry(*addr).or_insert(public_kind(h.kind())),
                        Err(e) => return Err(e.in_object(&join(&self.path, &link.name))),
                    },
                },
                LinkTarget::Soft(_) => self
                    .file
                    .open(&self.path, &self.header, &link.name)
                    .map(|(_, h)| public_kind(h.kind()))
                    .unwrap_or(MemberKind::Other),
                LinkTarget::External => MemberKind::Other,
            };
            out.push((link.name, kind));
        }
        Ok(out)
    }

    /// Opens the group at `name`: a member name, a relative path (`a/b`),
    /// or an absolute path when it starts with `/`.
    pub fn group(&self, name: &str) -> Result<Group<'f>> {
        let (path, header) = self.file.open(&self.path, &self.header, name)?;
        Group::from_header(self.file, path, header)
    }

    /// Opens the dataset at `name`: a member name, a relative path (`a/b`),
    /// or an absolute path when it starts with `/`.
    pub fn dataset(&self, name: &str) -> Result<Dataset<'f>> {
        let (path, header) = self.file.open(&self.path, &self.header, name)?;
        Dataset::from_header(self.file, path, header)
    }

    /// The value of attribute `name`, `Ok(None)` if there is none.
    pub fn attribute(&self, name: &str) -> Result<Option<AttrValue>> {
        attribute::read(&self.file.ctx(), &self.header, name)
            .map_err(|e| e.in_object(&format!("{}@{name}", self.path)))
    }

    /// Attribute names: in creation order when the object tracks it,
    /// otherwise in byte-wise name order (h5py's default order).
    pub fn attribute_names(&self) -> Result<Vec<String>> {
        attribute::names(&self.file.ctx(), &self.header).map_err(|e| e.in_object(&self.path))
    }

    pub(crate) fn from_header(
        file: &'f File,
        path: String,
        header: ObjectHeader<'f>,
    ) -> Result<Self> {
        if header.kind() != ObjectKind::Group {
            return Err(Hdf5Error::WrongKind {
                path,
                expected: "group",
            });
        }
        Ok(Group { file, path, header })
    }
}

fn public_kind(k: ObjectKind) -> MemberKind {
    match k {
        ObjectKind::Group => MemberKind::Group,
        ObjectKind::Dataset => MemberKind::Dataset,
        ObjectKind::Other => MemberKind::Other,
    }
}

/// `parent` + `/` + `name` without doubling the root slash.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}
