//! Object headers (version 1 and version 2 "OHDR"/"OCHK"), including
//! continuation chunks, split into their header messages.

use std::collections::HashSet;

use crate::hdf5::checksum;
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::reader::{Ctx, Cursor};

/// Header message type numbers.
pub(crate) mod msg {
    pub(crate) const DATASPACE: u16 = 0x01;
    pub(crate) const LINK_INFO: u16 = 0x02;
    pub(crate) const DATATYPE: u16 = 0x03;
    pub(crate) const FILL_VALUE_OLD: u16 = 0x04;
    pub(crate) const FILL_VALUE: u16 = 0x05;
    pub(crate) const LINK: u16 = 0x06;
    pub(crate) const EXTERNAL_FILES: u16 = 0x07;
    pub(crate) const LAYOUT: u16 = 0x08;
    pub(crate) const FILTER_PIPELINE: u16 = 0x0B;
    pub(crate) const ATTRIBUTE: u16 = 0x0C;
    pub(crate) const CONTINUATION: u16 = 0x10;
    pub(crate) const SYMBOL_TABLE: u16 = 0x11;
    pub(crate) const ATTRIBUTE_INFO: u16 = 0x15;
    /// Highest message type this reader knows (0x00-0x17 are all defined
    /// by the format; the ones not listed above are skipped).
    pub(crate) const LAST_KNOWN: u16 = 0x17;
}

/// Message flag: the message data is a shared-message reference.
pub(crate) const FLAG_SHARED: u8 = 0x02;
/// Message flag: fail to open the object if the message type is unknown.
const FLAG_MUST_UNDERSTAND: u8 = 0x80;

/// Upper bound on continuation chunks of one header.
const MAX_CHUNKS: usize = 4096;

/// One header message.
#[derive(Clone, Debug)]
pub(crate) struct Message<'a> {
    pub(crate) mtype: u16,
    pub(crate) flags: u8,
    /// Creation order (v2 headers that track attribute creation order).
    pub(crate) corder: Option<u16>,
    pub(crate) data: &'a [u8],
}

/// What kind of object a header describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Group,
    Dataset,
    Other,
}

/// A parsed object header: its address and all its messages in file order.
#[derive(Clone, Debug)]
pub(crate) struct ObjectHeader<'a> {
    pub(crate) addr: u64,
    pub(crate) messages: Vec<Message<'a>>,
}

impl<'a> ObjectHeader<'a> {
    /// Parses the object header at file address `addr`.
    pub(crate) fn parse(ctx: &Ctx<'a>, addr: u64) -> Result<Self> {
        let what = "object header";
        let mut c = ctx.cursor_at(addr, what)?;
        let first = c.data().get(..4).ok_or(Hdf5Error::Truncated { what })?;
        let mut messages = Vec::new();
        let mut visited = HashSet::new();
        visited.insert(addr);
        let mut pending: Vec<(&'a [u8], bool)> = Vec::new();
        let v2;
        if first == b"OHDR" {
            v2 = true;
            c.skip(4, what)?;
            let version = c.u8(what)?;
            if version != 2 {
                return Err(unsupported(format!("object header version {version}")));
            }
            let flags = c.u8(what)?;
            if flags & 0x20 != 0 {
                c.skip(16, what)?; // access/modification/change/birth times
            }
            if flags & 0x10 != 0 {
                c.skip(4, what)?; // attribute phase change values
            }
            let size_len = 1usize
                .checked_shl(u32::from(flags & 0x03))
                .ok_or_else(|| corrupt("object header flags"))?;
            let chunk_len = usize::try_from(c.uint(size_len, what)?)
                .map_err(|_| Hdf5Error::Truncated { what })?;
            let body = c.bytes(chunk_len, what)?;
            let covered_len = c.pos();
            let stored = c.u32(what)?;
            let covered = c
                .data()
                .get(..covered_len)
                .ok_or(Hdf5Error::Truncated { what })?;
            checksum::verify(covered, stored, "object header")?;
            pending.push((body, flags & 0x04 != 0));
        } else {
            v2 = false;
            let version = c.u8(what)?;
            if version != 1 {
                return Err(corrupt(format!(
                    "object header version {version} (or missing OHDR signature)"
                )));
            }
            c.skip(1, what)?;
            let _nmsgs = c.u16(what)?;
            let _refcount = c.u32(what)?;
            let size = usize::try_from(c.u32(what)?).map_err(|_| Hdf5Error::Truncated { what })?;
            c.skip(4, what)?; // alignment padding of the 12-byte prefix
            pending.push((c.bytes(size, what)?, false));
        }
        let mut total_bytes: usize = 0;
        let mut chunks = 0usize;
        while let Some((body, has_corder)) = pending.pop() {
            chunks = chunks.saturating_add(1);
            total_bytes = total_bytes.saturating_add(body.len());
            if chunks > MAX_CHUNKS || total_bytes > ctx.file_len() {
                return Err(corrupt("object header continuation chunks exceed the file"));
            }
            let mut found = Vec::new();
            if v2 {
                parse_v2_messages(body, has_corder, &mut found)?;
            } else {
                parse_v1_messages(body, &mut found)?;
            }
            for m in found {
                if m.mtype == msg::CONTINUATION {
                    let mut mc = Cursor::new(m.data);
                    let caddr = ctx.addr_required(&mut mc, "continuation message")?;
                    let clen = ctx.length(&mut mc, "continuation message")?;
                    if !visited.insert(caddr) {
                        return Err(corrupt("object header continuation cycle"));
                    }
                    let chunk = ctx.slice(caddr, clen, "object header continuation chunk")?;
                    if v2 {
                        pending.push((continuation_v2(chunk)?, has_corder));
                    } else {
                        pending.push((chunk, false));
                    }
                } else if m.mtype > msg::LAST_KNOWN && m.flags & FLAG_MUST_UNDERSTAND != 0 {
                    return Err(unsupported(format!(
                        "header message type {:#x} marked must-understand",
                        m.mtype
                    )));
                } else if m.mtype != 0 {
                    messages.push(m);
                }
            }
        }
        Ok(ObjectHeader { addr, messages })
    }

    /// The first message of type `t`.
    pub(crate) fn first(&self, t: u16) -> Option<&Message<'a>> {
        self.messages.iter().find(|m| m.mtype == t)
    }

    /// All messages of type `t`, in file order.
    pub(crate) fn all(&self, t: u16) -> impl Iterator<Item = &Message<'a>> {
        self.messages.iter().filter(move |m| m.mtype == t)
    }

    /// Classifies the object by the messages it carries.
    pub(crate) fn kind(&self) -> ObjectKind {
        if self.first(msg::LAYOUT).is_some() {
            ObjectKind::Dataset
        } else if self.first(msg::SYMBOL_TABLE).is_some()
            || self.first(msg::LINK_INFO).is_some()
            || self.first(msg::LINK).is_some()
        {
            ObjectKind::Group
        } else {
            ObjectKind::Other
        }
    }
}

/// Messages of a version-1 chunk: type(2) size(2) flags(1) reserved(3) data.
fn parse_v1_messages<'a>(body: &'a [u8], out: &mut Vec<Message<'a>>) -> Result<()> {
    let what = "object header message";
    let mut c = Cursor::new(body);
    while c.remaining() >= 8 {
        let mtype = c.u16(what)?;
        let size = usize::from(c.u16(what)?);
        let flags = c.u8(what)?;
        c.skip(3, what)?;
        let data = c.bytes(size, what)?;
        out.push(Message {
            mtype,
            flags,
            corder: None,
            data,
        });
        c.align(8, what).or_else(|_| c.seek(body.len(), what))?;
    }
    Ok(())
}

/// Messages of a version-2 chunk: type(1) size(2) flags(1) [corder(2)] data.
fn parse_v2_messages<'a>(
    body: &'a [u8],
    has_corder: bool,
    out: &mut Vec<Message<'a>>,
) -> Result<()> {
    let what = "object header message";
    let header_len = if has_corder { 6 } else { 4 };
    let mut c = Cursor::new(body);
    while c.remaining() >= header_len {
        let mtype = u16::from(c.u8(what)?);
        let size = usize::from(c.u16(what)?);
        let flags = c.u8(what)?;
        let corder = if has_corder { Some(c.u16(what)?) } else { None };
        let data = c.bytes(size, what)?;
        out.push(Message {
            mtype,
            flags,
            corder,
            data,
        });
    }
    Ok(())
}

/// Strips and checks the "OCHK" signature and checksum of a v2 continuation chunk.
fn continuation_v2(chunk: &[u8]) -> Result<&[u8]> {
    let what = "object header continuation chunk";
    let mut c = Cursor::new(chunk);
    c.signature(b"OCHK", what)?;
    let body_len = chunk
        .len()
        .checked_sub(8)
        .ok_or(Hdf5Error::Truncated { what })?;
    let body = c.bytes(body_len, what)?;
    let covered_len = c.pos();
    let stored = c.u32(what)?;
    let covered = chunk
        .get(..covered_len)
        .ok_or(Hdf5Error::Truncated { what })?;
    checksum::verify(covered, stored, what)?;
    Ok(body)
}

/// Resolves a shared-message reference (message flag bit 1) to the object
/// header it points at, returning that header. Messages stored in the
/// shared-object-header-message heap are not supported.
pub(crate) fn shared_target<'a>(ctx: &Ctx<'a>, data: &'a [u8]) -> Result<ObjectHeader<'a>> {
    let what = "shared message";
    let mut c = Cursor::new(data);
    let version = c.u8(what)?;
    let stype = c.u8(what)?;
    match version {
        1 => c.skip(6, what)?,
        2 => {}
        3 => {
            if stype == 1 {
                return Err(unsupported("shared object header message table (SOHM)"));
            }
        }
        v => return Err(corrupt(format!("shared message version {v}"))),
    }
    let addr = ctx.addr_required(&mut c, what)?;
    ObjectHeader::parse(ctx, addr)
}
