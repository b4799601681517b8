"""numcnn.onnx.files.read_model: good models read back as onnx itself reads them; malformed and
hostile ones are refused with one clear OnnxFileError, and without a big allocation.

Oracles: `onnx.load` (onnx's own reader, external data included) for what a good file holds,
`onnx.numpy_helper` / `onnx.helper.make_tensor` (onnx's own encoders) for how every data_type
is stored, and tracemalloc's peak for "nothing was allocated from the claimed sizes".
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from numcnn.onnx import OnnxFileError
from numcnn.onnx.files import MAX_ELEMENTS, read_model

SMALL_PEAK = 2 * 2**20          # bytes: far below any of the claimed tensors below


def conv_model(initializers=None, extra_nodes=(), opset=17):
    """y = Conv(x, w, b) + c: a small valid model; `initializers` replaces w and b."""
    rng = np.random.default_rng(0)
    if initializers is None:
        initializers = [
            numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
        ]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y0"], pads=[1, 1, 1, 1]),
             helper.make_node("Constant", [], ["c"],
                              value=numpy_helper.from_array(np.float32([2.0]), "c")),
             helper.make_node("Add", ["y0", "c"], ["y"]), *extra_nodes]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def with_weight(tensor):
    """conv_model whose weight `w` is `tensor` (name forced to w), and the usual bias."""
    tensor.name = "w"
    return conv_model([tensor, numpy_helper.from_array(np.zeros(4, np.float32), "b")])


def set_external_data(tensor, location, offset, length):
    """Point `tensor` at bytes of a side file, as onnx.proto's external_data describes."""
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        tensor.external_data.add(key=key, value=str(value))


def save(model, path):
    onnx.save_model(model, str(path))
    return str(path)


def refused(source, match, **kwargs):
    """read_model(source) raises OnnxFileError matching `match`, in one line, and the
    traced Python allocations stay below SMALL_PEAK while it does."""
    tracemalloc.start()
    try:
        with pytest.raises(OnnxFileError, match=match) as info:
            read_model(source, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message
    assert peak < SMALL_PEAK, f"peak {peak} bytes while refusing: {message}"
    return message


# ---------------------------------------------------------------- good models

def test_path_bytes_and_proto_read_back_equal(tmp_path):
    model = conv_model()
    path = save(model, tmp_path / "m.onnx")
    expected = onnx.load(path)
    assert read_model(path) == expected
    assert read_model(tmp_path / "m.onnx") == expected            # os.PathLike
    with open(path, "rb") as f:
        data = f.read()
    assert read_model(data) == expected
    assert read_model(bytearray(data)) == expected
    assert read_model(model) is model


@pytest.mark.parametrize("one_file", [True, False])
def test_external_data_read_back(tmp_path, one_file):
    model = conv_model()
    arrays = {t.name: numpy_helper.to_array(t).copy() for t in model.graph.initializer}
    path = str(tmp_path / "ext.onnx")
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=one_file,
                    location="ext.data", size_threshold=0)
    on_disk = onnx.load(path, load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in on_disk.graph.initializer)
    got = read_model(path)
    assert got == onnx.load(path)                                 # onnx's own reader
    for t in got.graph.initializer:
        assert t.data_location == TensorProto.DEFAULT and not t.external_data
        np.testing.assert_array_equal(numpy_helper.to_array(t), arrays[t.name])


def test_external_data_inside_a_subfolder_and_with_dotdot_that_stays_inside(tmp_path):
    w = np.arange(4 * 3 * 3 * 3, dtype=np.float32).reshape(4, 3, 3, 3)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "w.bin").write_bytes(b"\0" * 8 + w.tobytes())
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=w.shape)
    set_external_data(t, "data/../data/w.bin", offset=8, length=w.nbytes)
    got = read_model(save(with_weight(t), tmp_path / "m.onnx"))
    np.testing.assert_array_equal(numpy_helper.to_array(got.graph.initializer[0]), w)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")       # torch's TorchScript exporter
def test_model_exported_by_torch_reads_back(tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 5))
    path = str(tmp_path / "t.onnx")
    torch.onnx.export(net.eval(), torch.zeros(1, 3, 8, 8), path, dynamo=False)
    assert read_model(path) == onnx.load(path)


# every data_type numcnn knows, stored as onnx's own encoders store it: raw_data via
# numpy_helper.from_array, the typed field via helper.make_tensor(raw=False)
DTYPES = [TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16,
          TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16, TensorProto.UINT16,
          TensorProto.INT32, TensorProto.INT64, TensorProto.UINT32, TensorProto.UINT64,
          TensorProto.BOOL, TensorProto.COMPLEX64, TensorProto.COMPLEX128, TensorProto.INT4,
          TensorProto.UINT4, TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2,
          TensorProto.INT2, TensorProto.UINT2, TensorProto.FLOAT4E2M1]


def tensors_of(data_type, shape):
    values = (np.arange(int(np.prod(shape))) % 3).reshape(shape)
    if data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
        values = values + 1j * values
    typed = helper.make_tensor("w", data_type, shape, values.flatten().tolist(), raw=False)
    raw = numpy_helper.from_array(
        values.astype(helper.tensor_dtype_to_np_dtype(data_type)), "w")
    return typed, raw


@pytest.mark.parametrize("data_type", DTYPES, ids=TensorProto.DataType.Name)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 3)])
def test_every_data_type_in_both_storages_is_accepted_and_one_more_element_is_refused(
        data_type, shape):
    for tensor in tensors_of(data_type, shape):
        model = with_weight(tensor)
        assert read_model(model, check=False) is model
        tensor.dims[0] += 4                    # 4 more elements: 2-bit types need a byte more
        message = refused(with_weight(tensor), r"claim \d+ elements", check=False)
        assert "'w'" in message


def test_strings_are_counted_and_cannot_use_raw_data():
    t = helper.make_tensor("w", TensorProto.STRING, [2], [b"a", b"b"])
    assert read_model(with_weight(t), check=False)
    t.dims[0] = 3
    refused(with_weight(t), r"claim 3 elements of STRING \(3 entries of string_data\) but "
                            r"it stores 2", check=False)
    raw = TensorProto(name="w", data_type=TensorProto.STRING, dims=[2], raw_data=b"ab")
    refused(with_weight(raw), "cannot use raw_data", check=False)


def test_sparse_initializer_good_and_bad():
    values = numpy_helper.from_array(np.float32([1.0, 2.0]), "s")
    indices = numpy_helper.from_array(np.int64([0, 5]), "s_indices")
    model = conv_model()
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [3, 4]))
    assert read_model(model) is model
    sparse = model.graph.sparse_initializer[0]
    sparse.values.dims[0] = 10**9
    refused(model, r"sparse initializer 's': values must be 1-D with at most prod\(dims\)=12 "
                   r"entries, got dims \[1000000000\]", check=False)
    sparse.values.dims[0] = 2
    sparse.dims[:] = [10**6, 10**6]
    refused(model, rf"sparse initializer 's': dims .* claim more than {MAX_ELEMENTS}",
            check=False)
    sparse.dims[:] = [3, 4]
    sparse.values.dims.append(1)
    refused(model, r"values must be 1-D", check=False)
    sparse.values.dims[:] = [2]
    sparse.values.raw_data = b"\0" * 4
    refused(model, r"sparse initializer 's' values: .* but it stores 4", check=False)
    sparse.values.raw_data = b"\0" * 8
    assert read_model(model, check=False) is model
    del model.graph.sparse_initializer[0].indices.dims[:]
    model.graph.sparse_initializer[0].indices.dims.extend([2, 3])
    refused(model, r"indices must have dims \[2\] or \[2, 2\], got \[2, 3\]", check=False)


# ---------------------------------------------------------------- truncated, corrupt, random

def test_truncated_files_are_refused_at_every_cut(tmp_path):
    path = save(conv_model(), tmp_path / "m.onnx")
    data = open(path, "rb").read()
    cuts = sorted({0, 1, 2, 7, 16, 40, len(data) // 3, len(data) // 2, len(data) - 30,
                   len(data) - 10, len(data) - 1})
    for cut in cuts:
        cut_path = tmp_path / f"cut{cut}.onnx"
        cut_path.write_bytes(data[:cut])
        message = refused(str(cut_path), "truncated|corrupt|no graph|onnx.checker")
        assert message.startswith(str(cut_path))
        refused(data[:cut], "truncated|corrupt|no graph|onnx.checker")
    for cut in (len(data) // 3, len(data) // 2):     # inside the graph: protobuf itself fails
        refused(data[:cut], "not a valid ONNX protobuf, truncated or corrupt", check=False)


def test_random_bytes_are_refused():
    rng = np.random.default_rng(14)
    for n in (1, 10, 100, 1000, 100_000):
        message = refused(rng.bytes(n), "not a valid ONNX protobuf|not an ONNX model")
        assert message.startswith("<bytes>: ")


def test_an_empty_file_and_a_text_file(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    refused(str(tmp_path / "empty.onnx"), "no graph")
    (tmp_path / "text.onnx").write_text("this is not a model\n" * 20)
    refused(str(tmp_path / "text.onnx"), "not a valid ONNX protobuf|not an ONNX model")


# ---------------------------------------------------------------- tensors that lie

def test_absurd_dims_with_twelve_bytes_are_refused_before_allocating():
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10**6, 10**6],
                    raw_data=b"\0" * 12)
    message = refused(with_weight(t), f"claim more than {MAX_ELEMENTS} elements")
    assert "initializer 'w'" in message
    # a claim that a naive reader could still allocate (200 MB) is refused just as cheaply
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[50_000_000],
                    raw_data=b"\0" * 12)
    refused(with_weight(t), r"claim 50000000 elements of FLOAT \(200000000 bytes of raw_data\)"
                            r" but it stores 12")


def test_absurd_dims_in_a_constant_node_and_in_a_subgraph_are_refused():
    big = TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[50_000_000],
                      float_data=[1.0, 2.0, 3.0])
    constant = helper.make_node("Constant", [], ["k"], name="konst", value=big)
    refused(conv_model(extra_nodes=[constant]),
            r"node 'konst' attribute 'value': dims \[50000000\] claim", check=False)
    branch = helper.make_graph(
        [helper.make_node("Identity", ["v"], ["out"])], "then", [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], [big])
    cond = helper.make_node("If", ["cond"], ["r"], name="iffy", then_branch=branch,
                            else_branch=branch)
    refused(conv_model(extra_nodes=[cond]),
            r"node 'iffy' attribute '(then|else)_branch' subgraph initializer 'v'", check=False)


def test_negative_dims_are_refused():
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-1, 3], raw_data=b"")
    refused(with_weight(t), r"negative dimension in dims \[-1, 3\]")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-2, -2], raw_data=b"\0" * 16)
    refused(with_weight(t), "negative dimension")


@pytest.mark.parametrize("data_type", [0, 99, 12345])
def test_unknown_data_type_is_refused(data_type):
    t = TensorProto(name="w", data_type=data_type, dims=[3], raw_data=b"\0" * 12)
    refused(with_weight(t), rf"unknown or unsupported data_type {data_type}")


def test_typed_field_mismatches_and_data_stored_twice_are_refused():
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], float_data=[1, 2, 3])
    refused(with_weight(t), r"\(4 entries of float_data\) but it stores 3")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], int64_data=[1, 2])
    refused(with_weight(t), "stores its data in int64_data, expected raw_data or float_data")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], float_data=[1, 2],
                    raw_data=b"\0" * 8)
    refused(with_weight(t), "data stored twice")
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[7])
    refused(with_weight(t), "claim 7 elements of FLOAT but the tensor stores no data")


# ---------------------------------------------------------------- external data that escapes

def external_weight(location, offset=0, length=432, dims=(4, 3, 3, 3)):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims)
    set_external_data(t, location, offset=offset, length=length)
    return with_weight(t)


@pytest.fixture
def folders(tmp_path):
    """model/ (where the .onnx goes) and, beside it, secret.bin: 432 readable bytes."""
    (tmp_path / "model").mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\1" * 432)
    return tmp_path / "model"


def test_external_location_with_dotdot_is_refused(folders):
    path = save(external_weight("../secret.bin"), folders / "m.onnx")
    message = refused(path, r"location '../secret.bin' leaves the model's folder")
    assert message.startswith(path)
    path = save(external_weight("a/../../secret.bin"), folders / "m.onnx")
    refused(path, "leaves the model's folder")


def test_external_absolute_location_is_refused(folders):
    absolute = str(folders.parent / "secret.bin")
    path = save(external_weight(absolute), folders / "m.onnx")
    refused(path, "is an absolute path")


def test_external_symlink_leaving_the_folder_is_refused(folders):
    os.symlink(folders.parent / "secret.bin", folders / "inside.bin")
    path = save(external_weight("inside.bin"), folders / "m.onnx")
    refused(path, "location 'inside.bin' leaves the model's folder")
    os.symlink(folders.parent, folders / "up")
    path = save(external_weight("up/secret.bin"), folders / "m.onnx")
    refused(path, "leaves the model's folder")


def test_external_offset_or_length_past_the_end_is_refused(folders):
    (folders / "w.bin").write_bytes(b"\0" * 432)
    assert read_model(save(external_weight("w.bin"), folders / "m.onnx"))
    path = save(external_weight("w.bin", offset=4), folders / "m.onnx")
    refused(path, r"external data \[4, 436\) runs past the end of w.bin \(432 bytes\)")
    path = save(external_weight("w.bin", offset=10**15), folders / "m.onnx")
    refused(path, "runs past the end")
    big = 4 * 10**8
    path = save(external_weight("w.bin", length=big, dims=(10**8,)), folders / "m.onnx")
    refused(path, "runs past the end of w.bin")


def test_external_length_disagreeing_with_dims_is_refused(folders):
    (folders / "w.bin").write_bytes(b"\0" * 1000)
    path = save(external_weight("w.bin", length=400), folders / "m.onnx")
    refused(path, r"external data length 400 disagrees with dims \[4, 3, 3, 3\] \(432 bytes\)")


def test_external_claims_cannot_read_one_file_many_times(folders):
    (folders / "w.bin").write_bytes(b"\0" * 432)
    model = external_weight("w.bin")
    for i in range(3):
        t = TensorProto(name=f"copy{i}", data_type=TensorProto.FLOAT, dims=[108])
        set_external_data(t, "w.bin", offset=0, length=432)
        model.graph.initializer.append(t)
    refused(save(model, folders / "m.onnx"), "claim more bytes of w.bin than its 432")


def test_external_missing_file_directory_and_bad_fields_are_refused(folders):
    refused(save(external_weight("nope.bin"), folders / "m.onnx"), "'nope.bin' does not exist")
    (folders / "adir").mkdir()
    refused(save(external_weight("adir"), folders / "m.onnx"), "is not a regular file")
    model = external_weight("w.bin")
    model.graph.initializer[0].external_data[1].value = "-5"
    refused(save(model, folders / "m.onnx"), "offset must be a non-negative integer")
    model = external_weight("w.bin")
    model.graph.initializer[0].external_data.add(key="evil", value="1")
    refused(save(model, folders / "m.onnx"), "unknown external_data key 'evil'")
    model = external_weight("")
    refused(save(model, folders / "m.onnx"), "no valid location")


def test_external_data_without_a_folder_is_refused(folders):
    (folders / "w.bin").write_bytes(b"\0" * 432)
    model = external_weight("w.bin")
    refused(model, "^<ModelProto>: .*external file, which needs a model read from a path")
    refused(model.SerializeToString(), "^<bytes>: .*needs a model read from a path")


# ---------------------------------------------------------------- size, checker, arguments

def test_a_file_above_max_bytes_is_refused_before_reading(tmp_path):
    path = save(conv_model(), tmp_path / "m.onnx")
    size = os.path.getsize(path)
    assert read_model(path, max_bytes=size)
    refused(path, rf"{size} bytes is more than max_bytes={size - 1}", max_bytes=size - 1)
    huge = tmp_path / "huge.onnx"            # 3 GiB, sparse: stat says so, nothing is read
    with open(huge, "wb") as f:
        f.truncate(3 * 2**30)
    refused(str(huge), rf"{3 * 2**30} bytes is more than max_bytes={2**31 - 1}")
    refused(b"\0" * 1000, "1000 bytes is more than max_bytes=999", max_bytes=999)


def test_checker_errors_become_one_line_and_check_false_skips_them(tmp_path):
    model = conv_model(extra_nodes=[helper.make_node("NoSuchOp", ["y"], ["z"])])
    path = save(model, tmp_path / "m.onnx")
    message = refused(path, r"onnx.checker: .*NoSuchOp")
    assert message.startswith(path)
    assert read_model(path, check=False).graph.node[-1].op_type == "NoSuchOp"


def test_missing_file_a_directory_and_a_fifo(tmp_path):
    refused(str(tmp_path / "absent.onnx"), "absent.onnx: cannot read the file")
    refused(str(tmp_path), "not a regular file")
    os.mkfifo(tmp_path / "pipe.onnx")                 # opening it would wait for a writer
    refused(str(tmp_path / "pipe.onnx"), "pipe.onnx: not a regular file")


def test_argument_errors():
    with pytest.raises(TypeError, match="source must be a path .* got int"):
        read_model(3)
    with pytest.raises(TypeError, match="max_bytes must be an int, got float"):
        read_model(b"", max_bytes=1.5)
    with pytest.raises(ValueError, match="max_bytes must be a positive number of bytes, got 0"):
        read_model(b"", max_bytes=0)
