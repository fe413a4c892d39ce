//! Dataspace message (versions 1 and 2): scalar, simple and null spaces.

use crate::hdf5::error::{Result, corrupt};
use crate::hdf5::reader::{Ctx, Cursor, mul};

/// HDF5 allows at most 32 dimensions.
const MAX_RANK: u8 = 32;

/// The extent of a dataset or attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dataspace {
    /// Current dimensions; empty for scalar and null spaces.
    pub(crate) dims: Vec<u64>,
    /// A null dataspace holds no elements at all (h5py `Empty`).
    pub(crate) is_null: bool,
    /// Maximum dimensions when stored (`u64::MAX` = unlimited).
    pub(crate) max_dims: Option<Vec<u64>>,
}

impl Dataspace {
    /// Parses a dataspace message body.
    pub(crate) fn parse(ctx: &Ctx<'_>, data: &[u8]) -> Result<Self> {
        let what = "dataspace message";
        let mut c = Cursor::new(data);
        let version = c.u8(what)?;
        let rank = c.u8(what)?;
        let flags = c.u8(what)?;
        let is_null = match version {
            1 => {
                c.skip(5, what)?;
                false
            }
            2 => match c.u8(what)? {
                0 | 1 => false,
                2 => true,
                t => return Err(corrupt(format!("dataspace type {t}"))),
            },
            v => return Err(corrupt(format!("dataspace version {v}"))),
        };
        if rank > MAX_RANK {
            return Err(corrupt(format!("dataspace rank {rank}")));
        }
        let mut dims = Vec::with_capacity(usize::from(rank));
        for _ in 0..rank {
            dims.push(ctx.length(&mut c, what)?);
        }
        let mut max_dims = None;
        if flags & 0x01 != 0 {
            let mut m = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                let raw = c.bytes(ctx.length_size, what)?;
                m.push(if raw.iter().all(|&b| b == 0xff) {
                    u64::MAX
                } else {
                    crate::hdf5::reader::le_uint(raw)
                });
            }
            max_dims = Some(m);
        }
        if is_null {
            dims.clear();
            max_dims = None;
        }
        Ok(Dataspace {
            dims,
            is_null,
            max_dims,
        })
    }

    /// Number of elements (0 for a null space, 1 for a scalar).
    pub(crate) fn element_count(&self) -> Result<u64> {
        if self.is_null {
            return Ok(0);
        }
        self.dims
            .iter()
            .try_fold(1u64, |acc, &d| mul(acc, d, "number of elements"))
    }
}
