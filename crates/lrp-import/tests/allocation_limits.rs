//! Files that claim far more data than they hold are refused without allocating what they
//! claim: this test binary counts the largest single allocation while each is read.
//!
//! One test function, so that nothing else allocates in parallel while a step is measured.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{TempDir, fixture, zip_archive};
use lrp_import::formats::hdf5::{Hdf5ErrorKind, Hdf5File};
use lrp_import::formats::npy::{self, NpyError};
use lrp_import::formats::zip::{Archive, ZipError};

/// The system allocator, remembering the largest request.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest allocation made by `f`.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let out = f();
    (out, LARGEST.load(Ordering::Relaxed))
}

const MB: usize = 1 << 20;

#[test]
fn claimed_sizes_are_refused_before_they_are_allocated() {
    let tmp = TempDir::new("allocation-limits");
    // The counter sees allocations (a control).
    let (v, largest) = largest_allocation(|| vec![1u8; 2 * MB]);
    assert!(largest >= 2 * MB && v.len() == 2 * MB, "{largest}");

    // A zip entry declaring 4 GB for ~100 compressed bytes.
    let mut zip = zip_archive(&[("model.weights.h5", &[0u8; 100_000])], true);
    let n = b"model.weights.h5";
    for i in 0..zip.len() - 46 {
        let (size_at, len_at, name_at) = match &zip[i..i + 4] {
            b"PK\x03\x04" => (22, 26, 30),
            b"PK\x01\x02" => (24, 28, 46),
            _ => continue,
        };
        let len = usize::from(u16::from_le_bytes([zip[i + len_at], zip[i + len_at + 1]]));
        if zip.get(i + name_at..i + name_at + len) == Some(&n[..]) {
            zip[i + size_at..i + size_at + 4].copy_from_slice(&0xffff_0000u32.to_le_bytes());
        }
    }
    let (result, largest) = largest_allocation(|| {
        Archive::new(std::io::Cursor::new(&zip[..]))
            .unwrap()
            .read("model.weights.h5")
    });
    assert!(
        matches!(
            result,
            Err(ZipError::EntryTooLarge {
                declared: 0xffff_0000,
                ..
            })
        ),
        "{result:?}"
    );
    assert!(largest < MB, "the zip entry: {largest} bytes allocated");

    // An HDF5 dataset dimension corrupted from 24 to ~805 M rows (3.2 GB of float32).
    let mut h5 = fixture("keras3/a_bilstm_dense.weights.h5");
    let dims: Vec<u8> = [24u64, 3].iter().flat_map(|d| d.to_le_bytes()).collect();
    let at = h5.windows(16).position(|w| w == dims.as_slice()).unwrap();
    h5[at + 1..at + 4].copy_from_slice(&[0xff, 0xff, 0x0f]);
    let file = Hdf5File::from_bytes(h5).unwrap();
    let (result, largest) = largest_allocation(|| file.read_floats("/layers/dense/vars/0"));
    let err = result.unwrap_err();
    assert!(
        matches!(
            err.kind,
            Hdf5ErrorKind::Reader(hdf5_reader::error::Error::ResourceLimit(_))
        ),
        "{err:?}"
    );
    assert!(largest < MB, "the HDF5 dataset: {largest} bytes allocated");

    // A PyTorch view repeating one stored float 10^9 times (4 GB as float32).
    let pt = broadcast_checkpoint();
    let path = tmp.file("pt", &pt);
    let (result, largest) =
        largest_allocation(|| lrp_import::formats::torch::read_state_dict(&path));
    assert!(
        matches!(
            result,
            Err(lrp_import::formats::torch::TorchError::TooLarge { .. })
        ),
        "{result:?}"
    );
    assert!(largest < MB, "the PyTorch view: {largest} bytes allocated");

    // A .npy header declaring 2^40 float64 values, with none present.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    let (result, largest) = largest_allocation(|| npy::read_f64(&bytes));
    assert!(
        matches!(result, Err(NpyError::Truncated { .. })),
        "{result:?}"
    );
    assert!(largest < MB, "the .npy array: {largest} bytes allocated");
}

/// A zip checkpoint `{"x": tensor}` whose one-float storage is viewed with stride 0 as 10^9
/// elements.
fn broadcast_checkpoint() -> Vec<u8> {
    let mut p = b"\x80\x02}X\x01\x00\x00\x00x".to_vec();
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage");
    p.extend(b"ctorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ");
    p.extend(b"K\x00(J\x00\xca\x9a\x3bt(K\x00t\x89ccollections\nOrderedDict\n)RtR");
    p.extend(b"s.");
    zip_archive(
        &[
            ("archive/data.pkl", &p),
            ("archive/byteorder", b"little"),
            ("archive/data/0", &1.0f32.to_le_bytes()),
            ("archive/version", b"3\n"),
        ],
        false,
    )
}
