//! The public [`File`] handle and path resolution.

use std::collections::VecDeque;

use crate::hdf5::dataset::Dataset;
use crate::hdf5::error::{Hdf5Error, Result, corrupt, unsupported};
use crate::hdf5::group::{self, Group, LinkTarget, join};
use crate::hdf5::object_header::{ObjectHeader, ObjectKind};
use crate::hdf5::reader::Ctx;
use crate::hdf5::superblock::{self, Superblock};

/// Soft links followed while resolving one path (HDF5's default limit).
const MAX_SOFT_LINKS: usize = 16;
/// Path components walked while resolving one path (soft links included).
const MAX_STEPS: usize = 4096;

/// An HDF5 file held in memory. All handles borrow from it.
#[derive(Debug)]
pub struct File {
    bytes: Vec<u8>,
    superblock: Superblock,
}

impl File {
    /// Parses the superblock of an in-memory HDF5 file (a user block in
    /// front of it is allowed). Objects are parsed lazily when opened.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<File> {
        let superblock = superblock::find(&bytes)?;
        Ok(File { bytes, superblock })
    }

    /// Superblock version (0-3).
    pub fn superblock_version(&self) -> u8 {
        self.superblock.version
    }

    /// The root group `/`.
    pub fn root(&self) -> Result<Group<'_>> {
        let header = self.root_header()?;
        Group::from_header(self, "/".to_string(), header)
    }

    /// The group at absolute `path` (e.g. `/model_weights/dense`; a missing
    /// leading `/` is accepted, `/` is the root).
    pub fn group(&self, path: &str) -> Result<Group<'_>> {
        let root = self.root_header()?;
        let (p, header) = self.open("/", &root, path)?;
        Group::from_header(self, p, header)
    }

    /// The dataset at absolute `path`.
    pub fn dataset(&self, path: &str) -> Result<Dataset<'_>> {
        let root = self.root_header()?;
        let (p, header) = self.open("/", &root, path)?;
        Dataset::from_header(self, p, header)
    }

    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            data: &self.bytes,
            base: self.superblock.base,
            offset_size: self.superblock.offset_size,
            length_size: self.superblock.length_size,
        }
    }

    fn root_header(&self) -> Result<ObjectHeader<'_>> {
        ObjectHeader::parse(&self.ctx(), self.superblock.root_addr).map_err(|e| e.in_object("/"))
    }

    /// Resolves `rel` (absolute if it starts with `/`) starting from the
    /// group `start` at `start_path`. Returns the requested path (normalized)
    /// and the object's header. Soft links are followed (at most 16).
    pub(crate) fn open<'f>(
        &'f self,
        start_path: &str,
        start: &ObjectHeader<'f>,
        rel: &str,
    ) -> Result<(String, ObjectHeader<'f>)> {
        let ctx = self.ctx();
        let absolute = rel.starts_with('/');
        let mut requested = if absolute {
            "/".to_string()
        } else {
            start_path.to_string()
        };
        for comp in components(rel) {
            requested = join(&requested, &comp);
        }
        let mut queue: VecDeque<String> = components(rel).collect();
        let (mut cur_path, mut cur) = if absolute {
            ("/".to_string(), self.root_header()?)
        } else {
            (start_path.to_string(), start.clone())
        };
        let mut soft_hops = 0usize;
        let mut steps = 0usize;
        while let Some(comp) = queue.pop_front() {
            steps = steps.saturating_add(1);
            if steps > MAX_STEPS {
                return Err(corrupt(format!(
                    "path '{requested}' has too many components"
                )));
            }
            if cur.kind() != ObjectKind::Group {
                return Err(Hdf5Error::WrongKind {
                    path: cur_path,
                    expected: "group",
                });
            }
            let child_path = join(&cur_path, &comp);
            let link = group::find_link(&ctx, &cur, &comp)
                .map_err(|e| e.in_object(&cur_path))?
                .ok_or_else(|| Hdf5Error::NotFound {
                    path: child_path.clone(),
                })?;
            match link.target {
                LinkTarget::Hard(addr) => {
                    cur = ObjectHeader::parse(&ctx, addr).map_err(|e| e.in_object(&child_path))?;
                    cur_path = child_path;
                }
                LinkTarget::Soft(target) => {
                    soft_hops = soft_hops.saturating_add(1);
                    if soft_hops > MAX_SOFT_LINKS {
                        return Err(corrupt(format!(
                            "too many soft links resolving '{requested}'"
                        )));
                    }
                    let mut expanded: VecDeque<String> = components(&target).collect();
                    expanded.extend(queue);
                    queue = expanded;
                    if target.starts_with('/') {
                        cur = self.root_header()?;
                        cur_path = "/".to_string();
                    }
                }
                LinkTarget::External => {
                    return Err(unsupported(format!("external link '{child_path}'")));
                }
            }
        }
        Ok((requested, cur))
    }
}

/// Non-empty path components, `.` removed.
fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}
