"""Regenerates the small synthetic HDF5 files used by the mini-hdf5 unit tests.

Run with a Python that has h5py + numpy:  python generate.py
The Rust tests embed the expected values; they never run this script.
"""
import os
import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def p(name):
    return os.path.join(HERE, name)


def spacepad_type(n):
    t = h5py.h5t.C_S1.copy()
    t.set_size(n)
    t.set_strpad(h5py.h5t.STR_SPACEPAD)
    return t


def fixed_type(n, pad):
    t = h5py.h5t.C_S1.copy()
    t.set_size(n)
    t.set_strpad(pad)
    return t


def add_attr_lowlevel(obj, name, tid, data):
    space = h5py.h5s.create_simple(data.shape) if data.shape else h5py.h5s.create(h5py.h5s.SCALAR)
    a = h5py.h5a.create(obj.id, name.encode(), tid, space)
    a.write(data, mtype=tid)


def compact_dataset(parent, name, data):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple(data.shape)
    tid = h5py.h5t.py_create(data.dtype)
    dsid = h5py.h5d.create(parent.id, name.encode(), tid, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def early_chunked(parent, name, data, chunks):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    space = h5py.h5s.create_simple(data.shape)
    tid = h5py.h5t.py_create(data.dtype)
    dsid = h5py.h5d.create(parent.id, name.encode(), tid, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def common_content(f, latest):
    ints = f.create_group("ints")
    ints["u8"] = np.array([1, 2, 250], dtype="u1")
    ints["i16be"] = np.array([-1, 300, -32768], dtype=">i2")
    ints["u64"] = np.array([0, 2**40, 7], dtype="<u8")
    ints["i32"] = np.arange(-3, 3, dtype="<i4").reshape(2, 3)
    ints["bool"] = np.array([True, False, True])
    fl = f.create_group("floats")
    fl["f16"] = np.array([0.5, -2.0, 65504.0, 2.0**-24, np.inf], dtype="<f2")
    fl["f64be"] = np.array([1.5, -0.25, 1e300], dtype=">f8")
    fl["f32be"] = np.array([[1.5, 2.5], [-3.5, 4.5]], dtype=">f4")
    fl["scalar"] = np.float64(3.25)
    fl.create_dataset("empty", shape=(0,), dtype="f4")
    fl.create_dataset("empty2d", shape=(3, 0), dtype="f4")
    fl.create_dataset("unwritten", shape=(2, 2), dtype="f4", fillvalue=1.25)
    ch = f.create_group("chunked")
    ch.create_dataset("c2d", data=np.arange(35, dtype="f4").reshape(5, 7), chunks=(2, 3))
    ch.create_dataset("many", data=np.arange(300, dtype="<f8") * 0.5, chunks=(2,))
    ch.create_dataset("gzip", data=np.arange(20, dtype="f4"), chunks=(5,), compression="gzip")
    sp = ch.create_dataset("sparse", shape=(10,), dtype="f4", chunks=(4,), fillvalue=7.5)
    sp[0:2] = [1.0, 2.0]
    ch.create_dataset("single", data=np.arange(6, dtype="<i2").reshape(2, 3), chunks=(2, 3))
    early_chunked(ch, "early", np.arange(12, dtype="f4").reshape(3, 4), (2, 2))
    ch.create_dataset("unlimited", data=np.arange(8, dtype="f4"), chunks=(4,), maxshape=(None,))
    ch.create_dataset("unlimited2", data=np.arange(8, dtype="f4").reshape(2, 4), chunks=(1, 2), maxshape=(None, None))
    compact_dataset(f, "compact", np.array([9.0, 8.0, 7.0], dtype="<f4"))
    s = f.create_group("strings")
    s.attrs["vl_scalar"] = "héllo"
    s.attrs["vl_array"] = np.array(["a", "bc", ""], dtype=h5py.string_dtype("utf-8"))
    s.attrs["vl_ascii"] = np.array(["x", "yz"], dtype=h5py.string_dtype("ascii"))
    s.attrs["fixed_nullpad"] = np.array([b"ab", b"abcd"], dtype="S4")
    add_attr_lowlevel(s, "fixed_nullterm", fixed_type(5, h5py.h5t.STR_NULLTERM), np.array([b"xy", b"wxyz"], dtype="S5"))
    add_attr_lowlevel(s, "fixed_spacepad", spacepad_type(4), np.array([b"a   ", b"bb  "], dtype="S4"))
    s.attrs["int_attr"] = np.int32(-42)
    s.attrs["uint_arr"] = np.array([1, 2, 3], dtype="u2")
    s.attrs["float_2x2"] = np.array([[1.0, 2.0], [3.0, 4.0]], dtype="f8")
    s.attrs["f32_attr"] = np.float32(0.5)
    s.attrs["empty_f64"] = np.zeros((0,), dtype="f8")
    s.attrs["null_space"] = h5py.Empty("f8")
    s.attrs["compound"] = np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
    s["ds"] = np.array([1.0], dtype="f4")
    s["ds"].attrs["unit"] = "m"
    f["soft"] = h5py.SoftLink("/floats")
    f["ext"] = h5py.ExternalLink("other.h5", "/x")
    f["hard_alias"] = f["floats/f16"]
    # many links in one group (dense storage for new-style groups, multi-level B-tree for old-style)
    many = f.create_group("many_links")
    target = f["compact"]
    for i in range(120):
        many[f"link{i:03d}"] = target
    to = f.create_group("ordered", track_order=True)
    for name in ["zeta", "alpha", "mid"]:
        to.create_group(name)
    to2 = f.create_group("ordered_dense", track_order=True)
    for i in range(12):
        to2.create_group(f"g{(11 - i):02d}")
    a = f.create_group("many_attrs")
    for i in range(20):
        a.attrs[f"attr{i:02d}"] = np.float64(i) * 1.5
    a.attrs["vl"] = "dense string"
    ta = f.create_group("ordered_attrs", track_order=True)
    for i in range(12):
        ta.attrs[f"z{(11 - i):02d}"] = np.int64(i)
    f.attrs["root_attr"] = "root"


def make(name, libver, userblock=0, fcpl_fn=None):
    path = p(name)
    if os.path.exists(path):
        os.remove(path)
    kwargs = {"libver": libver}
    if userblock:
        kwargs["userblock_size"] = userblock
    if fcpl_fn is None:
        f = h5py.File(path, "w", **kwargs)
    else:
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl_fn(fcpl)
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
        fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
        f = h5py.File(fid)
    return f


def make_deep():
    """A new-style group whose dense link name index is a depth-2 v2 B-tree."""
    f = make("dense_deep.h5", "latest")
    f["target"] = np.array([1.0, 2.0], dtype="<f4")
    g = f.create_group("g")
    for i in range(1500):
        g[f"l{i:04d}"] = f["target"]
    f.close()


def main():
    f = make("sb0_userblock.h5", "earliest", userblock=512)
    common_content(f, False)
    f.close()

    f = make("sb3_latest.h5", "latest")
    common_content(f, True)
    f.close()

    f = make("sb2_v108.h5", ("v108", "v108"))
    common_content(f, True)
    f.close()

    def fcpl_sizes4(fcpl):
        fcpl.set_sizes(4, 4)

    f = make("sb0_sizes4.h5", ("earliest", "latest"), fcpl_fn=fcpl_sizes4)
    common_content(f, False)
    f.close()

    make_deep()


if __name__ == "__main__":
    main()

