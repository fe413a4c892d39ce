//! B-trees: version 1 ("TREE": group nodes and raw-data chunk nodes) and
//! version 2 ("BTHD"/"BTIN"/"BTLF": dense link and attribute name indexes).
//! Traversals use an explicit stack, refuse revisited nodes and are bounded
//! by the file size.

use std::collections::HashSet;

use crate::hdf5::checksum;
use crate::hdf5::error::{Hdf5Error, Result, corrupt};
use crate::hdf5::reader::{Ctx, Cursor, limit_enc_size, mul_usize, to_usize};

/// Version 1 B-tree node type: group (symbol table) nodes.
pub(crate) const V1_GROUP: u8 = 0;
/// Version 1 B-tree node type: raw data chunk nodes.
pub(crate) const V1_CHUNK: u8 = 1;

/// Calls `f(left_key, child_address)` for every leaf entry of the version 1
/// B-tree rooted at `root`, left to right. `key_len` is the size of one key.
pub(crate) fn v1_leaves<'a>(
    ctx: &Ctx<'a>,
    root: u64,
    node_type: u8,
    key_len: usize,
    mut f: impl FnMut(&'a [u8], u64) -> Result<()>,
) -> Result<()> {
    let what = "version 1 B-tree node";
    let max_nodes = ctx
        .file_len()
        .checked_div(24)
        .unwrap_or(0)
        .saturating_add(1);
    let mut visited = HashSet::new();
    // (address, expected level or None for the root)
    let mut stack: Vec<(u64, Option<u8>)> = vec![(root, None)];
    while let Some((addr, expected_level)) = stack.pop() {
        if !visited.insert(addr) || visited.len() > max_nodes {
            return Err(corrupt("version 1 B-tree cycle"));
        }
        let mut c = ctx.cursor_at(addr, what)?;
        c.signature(b"TREE", what)?;
        let t = c.u8(what)?;
        if t != node_type {
            return Err(corrupt(format!("version 1 B-tree node type {t}")));
        }
        let level = c.u8(what)?;
        if expected_level.is_some_and(|l| l != level) {
            return Err(corrupt("version 1 B-tree level mismatch"));
        }
        let entries = usize::from(c.u16(what)?);
        let _left = ctx.addr(&mut c, what)?;
        let _right = ctx.addr(&mut c, what)?;
        // Check the whole node exists before walking it.
        let entry_len = key_len.saturating_add(ctx.offset_size);
        c.bytes(mul_usize(entries, entry_len, what)?, what)?;
        c.seek(
            c.pos().saturating_sub(entries.saturating_mul(entry_len)),
            what,
        )?;
        let mut children = Vec::with_capacity(entries);
        for _ in 0..entries {
            let key = c.bytes(key_len, what)?;
            let child = ctx.addr_required(&mut c, what)?;
            children.push((key, child));
        }
        if level == 0 {
            for (key, child) in children {
                f(key, child)?;
            }
        } else {
            let child_level = level.saturating_sub(1);
            // Push in reverse so the leftmost child is visited first.
            for (_, child) in children.into_iter().rev() {
                stack.push((child, Some(child_level)));
            }
        }
    }
    Ok(())
}

/// Header of a version 2 B-tree and derived node geometry.
struct V2Tree {
    node_size: usize,
    record_size: usize,
    /// Bytes of the "number of records in child" field.
    nrec_size: usize,
    /// Bytes of the "total records in child subtree" field, by child depth.
    total_size: Vec<usize>,
}

const V2_PREFIX: usize = 10; // signature, version, type, checksum
const V2_MAX_DEPTH: u16 = 32;

/// Restricts a version 2 B-tree walk to records whose 32-bit hash (at byte
/// `offset` of the record; the tree is ordered by it) equals `hash`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HashFilter {
    pub(crate) hash: u32,
    pub(crate) offset: usize,
}

impl HashFilter {
    fn hash_of(&self, rec: &[u8]) -> Result<u32> {
        let mut c = Cursor::new(rec);
        c.skip(self.offset, "version 2 B-tree record")?;
        c.u32("version 2 B-tree record")
    }
}

/// Returns the records of the version 2 B-tree whose header is at `addr`
/// (all of them, or only those matching `filter`, visiting only the
/// subtrees that can hold them), checking that its type is
/// `expected_type`. Records are in tree order.
pub(crate) fn v2_records<'a>(
    ctx: &Ctx<'a>,
    addr: u64,
    expected_type: u8,
    filter: Option<HashFilter>,
) -> Result<Vec<&'a [u8]>> {
    let what = "version 2 B-tree header";
    let mut c = ctx.cursor_at(addr, what)?;
    c.signature(b"BTHD", what)?;
    let version = c.u8(what)?;
    if version != 0 {
        return Err(corrupt(format!("version 2 B-tree version {version}")));
    }
    let btype = c.u8(what)?;
    if btype != expected_type {
        return Err(corrupt(format!(
            "version 2 B-tree type {btype}, expected {expected_type}"
        )));
    }
    let node_size = to_usize(u64::from(c.u32(what)?), what)?;
    let record_size = usize::from(c.u16(what)?);
    let depth = c.u16(what)?;
    let _split = c.u8(what)?;
    let _merge = c.u8(what)?;
    let root = ctx.addr(&mut c, what)?;
    let root_nrec = u64::from(c.u16(what)?);
    let _total = ctx.length(&mut c, what)?;
    let covered_len = c.pos();
    let stored = c.u32(what)?;
    let covered = c
        .data()
        .get(..covered_len)
        .ok_or(Hdf5Error::Truncated { what })?;
    checksum::verify(covered, stored, what)?;
    if record_size == 0 || node_size <= V2_PREFIX || depth > V2_MAX_DEPTH {
        return Err(corrupt("version 2 B-tree geometry"));
    }
    let tree = geometry(ctx, node_size, record_size, depth)?;
    let Some(root) = root else {
        return Ok(Vec::new());
    };
    let max_nodes = ctx
        .file_len()
        .checked_div(V2_PREFIX)
        .unwrap_or(0)
        .saturating_add(1);
    let mut visited = HashSet::new();
    let mut records = Vec::new();
    let mut stack = vec![(root, root_nrec, depth)];
    while let Some((node, nrec, d)) = stack.pop() {
        if !visited.insert(node) || visited.len() > max_nodes {
            return Err(corrupt("version 2 B-tree cycle"));
        }
        read_v2_node(
            ctx,
            &tree,
            (node, nrec, d),
            btype,
            filter,
            &mut records,
            &mut stack,
        )?;
    }
    Ok(records)
}

fn geometry(ctx: &Ctx<'_>, node_size: usize, record_size: usize, depth: u16) -> Result<V2Tree> {
    let leaf_max = node_size
        .saturating_sub(V2_PREFIX)
        .checked_div(record_size)
        .unwrap_or(0);
    let nrec_size = limit_enc_size(u64::try_from(leaf_max).unwrap_or(u64::MAX));
    // cumulative max records and their encoded size, per depth
    let mut cum_max: Vec<u64> = vec![u64::try_from(leaf_max).unwrap_or(u64::MAX)];
    let mut total_size: Vec<usize> = vec![0];
    for d in 1..=usize::from(depth) {
        let prev_total = if d > 1 {
            total_size.get(d.saturating_sub(1)).copied().unwrap_or(0)
        } else {
            0
        };
        let ptr = ctx
            .offset_size
            .saturating_add(nrec_size)
            .saturating_add(prev_total);
        let max = node_size
            .saturating_sub(V2_PREFIX.saturating_add(ptr))
            .checked_div(record_size.saturating_add(ptr))
            .unwrap_or(0);
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        let prev = cum_max.get(d.saturating_sub(1)).copied().unwrap_or(0);
        let cum = max
            .saturating_add(1)
            .saturating_mul(prev)
            .saturating_add(max);
        cum_max.push(cum);
        total_size.push(limit_enc_size(cum));
    }
    Ok(V2Tree {
        node_size,
        record_size,
        nrec_size,
        total_size,
    })
}

fn read_v2_node<'a>(
    ctx: &Ctx<'a>,
    tree: &V2Tree,
    (node, nrec, depth): (u64, u64, u16),
    btype: u8,
    filter: Option<HashFilter>,
    records: &mut Vec<&'a [u8]>,
    stack: &mut Vec<(u64, u64, u16)>,
) -> Result<()> {
    let what = "version 2 B-tree node";
    let block = ctx.slice(node, crate::hdf5::reader::to_u64(tree.node_size), what)?;
    let mut c = Cursor::new(block);
    let leaf = depth == 0;
    c.signature(if leaf { b"BTLF" } else { b"BTIN" }, what)?;
    let version = c.u8(what)?;
    let t = c.u8(what)?;
    if version != 0 || t != btype {
        return Err(corrupt("version 2 B-tree node version/type"));
    }
    let nrec = to_usize(nrec, what)?;
    let mut node_records = Vec::new();
    for _ in 0..nrec {
        let rec = c.bytes(tree.record_size, what)?;
        node_records.push(rec);
        match filter {
            Some(f) if f.hash_of(rec)? != f.hash => {}
            _ => records.push(rec),
        }
    }
    if !leaf {
        let child_depth = depth.saturating_sub(1);
        let total_size = if child_depth > 0 {
            tree.total_size
                .get(usize::from(child_depth))
                .copied()
                .ok_or_else(|| corrupt("version 2 B-tree depth"))?
        } else {
            0
        };
        let mut children = Vec::new();
        for i in 0..=nrec {
            let child = ctx.addr_required(&mut c, what)?;
            let child_nrec = c.uint(tree.nrec_size, what)?;
            if total_size > 0 {
                let _total = c.uint(total_size, what)?;
            }
            // Child i holds hashes between records i-1 and i.
            let wanted = match filter {
                None => true,
                Some(f) => {
                    let lo_ok = match i.checked_sub(1).and_then(|j| node_records.get(j)) {
                        Some(r) => f.hash_of(r)? <= f.hash,
                        None => true,
                    };
                    let hi_ok = match node_records.get(i) {
                        Some(r) => f.hash <= f.hash_of(r)?,
                        None => true,
                    };
                    lo_ok && hi_ok
                }
            };
            if wanted {
                children.push((child, child_nrec, child_depth));
            }
        }
        stack.extend(children.into_iter().rev());
    }
    let covered_len = c.pos();
    let stored = c.u32(what)?;
    let covered = block
        .get(..covered_len)
        .ok_or(Hdf5Error::Truncated { what })?;
    checksum::verify(covered, stored, what)?;
    Ok(())
}
