"""CIFAR-10 / CIFAR-100 from tiny binary files and tarballs written here (a few records per
file, built byte by byte from the format), hostile and corrupt archives, and downloads from a
local HTTP server on 127.0.0.1. The real data is read only if it is already on this machine."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from tests.data import test_download
from tests.data.test_download import listing, md5, refused_url

from numcnn.data import CIFAR10, CIFAR100, DataLoader
from numcnn.data import transforms as T
from numcnn.data.download import DownloadError

C10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]
C100_FINE = [f"fine_{i}" for i in range(100)]
C100_COARSE = [f"coarse_{i}" for i in range(20)]
N_PER_BATCH, N_TEST = 3, 4
server = test_download.server                   # the local HTTP server fixture, reused


def record(image: np.ndarray, *labels: int) -> bytes:
    """One record: the label bytes, then the red plane, the green plane, the blue plane, each
    32 x 32 row-major (written from the format, not from the reader)."""
    return bytes(labels) + image[:, :, 0].tobytes() + image[:, :, 1].tobytes() + \
        image[:, :, 2].tobytes()


def split(rng: np.random.Generator, n: int, cifar100: bool) -> dict[str, np.ndarray]:
    out = {"images": rng.integers(0, 256, (n, 32, 32, 3)).astype(np.uint8),
           "targets": rng.integers(0, 100 if cifar100 else 10, n)}
    if cifar100:
        out["coarse"] = rng.integers(0, 20, n)
    return out


def batch_bytes(part: dict[str, np.ndarray]) -> bytes:
    labels = [part["targets"]] if "coarse" not in part else [part["coarse"], part["targets"]]
    return b"".join(record(img, *(int(lab[k]) for lab in labels))
                    for k, img in enumerate(part["images"]))


def cifar_files(cifar100: bool = False, seed: int = 0
                ) -> tuple[dict[str, bytes], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """({file name: bytes}, expected train split, expected test split)."""
    rng = np.random.default_rng(seed)
    if cifar100:
        train, test = split(rng, 7, True), split(rng, N_TEST, True)
        files = {"train.bin": batch_bytes(train), "test.bin": batch_bytes(test),
                 "fine_label_names.txt": ("\n".join(C100_FINE) + "\n").encode(),
                 "coarse_label_names.txt": ("\n".join(C100_COARSE) + "\n\n").encode()}
        return files, train, test
    parts = [split(rng, N_PER_BATCH, False) for _ in range(5)]
    test = split(rng, N_TEST, False)
    files = {f"data_batch_{i + 1}.bin": batch_bytes(p) for i, p in enumerate(parts)}
    files["test_batch.bin"] = batch_bytes(test)
    files["batches.meta.txt"] = ("\n".join(C10_CLASSES) + "\n\n").encode()   # as the real one
    train = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return files, train, test


def write_folder(root: Path, cls: type[CIFAR10], files: dict[str, bytes]) -> Path:
    folder = root / cls.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def write_archive(root: Path, cls: type[CIFAR10], files: dict[str, bytes]) -> Path:
    folder = tarfile.TarInfo(cls.base_folder)
    folder.type = tarfile.DIRTYPE
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [(folder, None)]
    members += [regular(f"{cls.base_folder}/{n}", d) for n, d in files.items()]
    root.mkdir(parents=True, exist_ok=True)
    path = root / cls.archive
    path.write_bytes(tar_bytes(members))
    return path


@pytest.fixture(autouse=True)
def no_outside_data(monkeypatch, tmp_path):
    """No $NUMCNN_DATA / $NUMCNN_MIRROR from outside; HOME (so ~/.cache) inside tmp_path."""
    monkeypatch.delenv("NUMCNN_DATA", raising=False)
    monkeypatch.delenv("NUMCNN_MIRROR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def check_split(ds: CIFAR10, expected: dict[str, np.ndarray]) -> None:
    assert ds.data.dtype == np.uint8 and ds.data.shape == (len(expected["images"]), 32, 32, 3)
    assert ds.data.flags.c_contiguous
    np.testing.assert_array_equal(ds.data, expected["images"])
    assert ds.targets.dtype == np.int64
    np.testing.assert_array_equal(ds.targets, expected["targets"])
    if "coarse" in expected:
        assert isinstance(ds, CIFAR100) and ds.coarse_targets.dtype == np.int64
        np.testing.assert_array_equal(ds.coarse_targets, expected["coarse"])


# ----------------------------------------------------------------------------- reading
@pytest.mark.parametrize("cls", [CIFAR10, CIFAR100])
def test_folder_and_archive_read_the_same(tmp_path, cls):
    files, train, test = cifar_files(cifar100=cls is CIFAR100)
    folder = write_folder(tmp_path / "extracted", cls, files)
    archive = write_archive(tmp_path / "packed", cls, files)
    for root, found in ((tmp_path / "extracted", folder), (folder, folder),
                        (tmp_path / "packed", archive), (archive, archive)):
        ds = cls(root=root)
        assert ds.root == str(found)
        check_split(ds, train)
        check_split(cls(root=root, train=False), test)
    if cls is CIFAR10:
        assert ds.classes == C10_CLASSES and ds.class_to_idx["truck"] == 9
        assert len(ds) == 5 * N_PER_BATCH
    else:
        assert isinstance(ds, CIFAR100)
        assert ds.classes == C100_FINE and ds.coarse_classes == C100_COARSE
        assert ds.class_to_idx["fine_42"] == 42 and len(ds) == 7
    img, target = ds[1]
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert isinstance(target, int) and target == train["targets"][1]
    assert "Number of datapoints" in repr(ds) and "Split: Train" in repr(ds)


def test_pixel_layout_is_planes_of_rows(tmp_path):
    rec = bytearray(1 + 3072)
    rec[0] = 7                                              # the label
    rec[1:1025] = bytes([10]) * 1024                       # red plane
    rec[1025:2049] = bytes([20]) * 1024                    # green plane
    rec[2049:3073] = bytes([30]) * 1024                    # blue plane
    rec[1 + 1 * 32 + 2] = 200                              # red at row 1, column 2
    rec[1 + 1024 + 31 * 32 + 0] = 99                       # green at row 31, column 0
    rec[1 + 2048 + 0 * 32 + 31] = 250                      # blue at row 0, column 31
    files, _, _ = cifar_files()
    files["test_batch.bin"] = bytes(rec)
    write_folder(tmp_path, CIFAR10, files)
    ds = CIFAR10(root=tmp_path, train=False)
    img, target = ds[0]
    assert target == 7 and ds.classes[target] == "horse"
    assert img[1, 2].tolist() == [200, 20, 30]
    assert img[31, 0].tolist() == [10, 99, 30]
    assert img[0, 31].tolist() == [10, 20, 250]
    assert img[5, 5].tolist() == [10, 20, 30]
    x, _ = CIFAR10(root=tmp_path, train=False, transform=T.ToTensor())[0]   # (C, H, W)
    assert x.shape == (3, 32, 32)
    np.testing.assert_allclose(x.numpy()[:, 1, 2], np.array([200, 20, 30]) / 255, rtol=1e-6)


def test_dataloader_batches_with_transforms(tmp_path):
    files, train, _ = cifar_files()
    write_archive(tmp_path, CIFAR10, files)
    tf = T.Compose([T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])
    ds = CIFAR10(root=tmp_path, transform=tf, target_transform=lambda t: t + 100)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 32, 32) and x.dtype == np.float32
    expected = (train["images"][:4].transpose(0, 3, 1, 2) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(y), train["targets"][:4] + 100)


# ----------------------------------------------------------------------------- bad files
def cut(data: bytes) -> bytes:
    return data[:-5]


C10_BAD = {
    # name: (file, new content (a function of the old), expected message)
    "truncated": ("data_batch_2.bin", cut, "not a whole number of 3073-byte records"),
    "empty": ("test_batch.bin", lambda d: b"", "empty file"),
    "label 10": ("data_batch_5.bin", lambda d: d[:3073] + b"\x0a" + d[3074:],
                 "record 1 has label 10, out of range 0..9"),
    "short batch": ("data_batch_4.bin", lambda d: d[:-3073],
                    "holds 2 records but .*data_batch_1.bin holds 3"),
    "9 names": ("batches.meta.txt", lambda d: b"\n".join(d.split(b"\n")[:9]),
                "9 class names, expected 10"),
    "binary names": ("batches.meta.txt", lambda d: b"\xff\xfe" * 8, "not a text file"),
}


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("case", list(C10_BAD))
def test_bad_cifar10_files_name_the_file(tmp_path, case, packed):
    name, change, message = C10_BAD[case]
    files, _, _ = cifar_files()
    files[name] = change(files[name])
    root = write_archive(tmp_path, CIFAR10, files) if packed else \
        write_folder(tmp_path, CIFAR10, files)
    with pytest.raises(ValueError, match=message) as info:
        CIFAR10(root=root, train=name != "test_batch.bin")
    assert name in str(info.value)
    if packed:
        assert str(root) in str(info.value)


def test_bad_cifar100_labels(tmp_path):
    files, _, _ = cifar_files(cifar100=True)
    good = files["train.bin"]
    for offset, value, message in ((0, 20, "record 0 has coarse label 20, out of range 0..19"),
                                   (3074 * 2 + 1, 100,
                                    "record 2 has fine label 100, out of range 0..99")):
        files["train.bin"] = good[:offset] + bytes([value]) + good[offset + 1:]
        write_folder(tmp_path, CIFAR100, files)
        with pytest.raises(ValueError, match=message):
            CIFAR100(root=tmp_path)
    files["train.bin"] = good + b"\x00" * 3073          # a CIFAR-10 record in a CIFAR-100 file
    write_folder(tmp_path, CIFAR100, files)
    with pytest.raises(ValueError, match="3074-byte records"):
        CIFAR100(root=tmp_path)


def test_missing_batch_file_is_named(tmp_path):
    files, _, _ = cifar_files()
    del files["data_batch_3.bin"]
    folder = write_folder(tmp_path / "f", CIFAR10, files)
    with pytest.raises(ValueError, match=r"missing data_batch_3\.bin") as info:
        CIFAR10(root=folder)
    assert str(folder) in str(info.value)
    assert len(CIFAR10(root=folder, train=False)) == N_TEST      # the test split is whole
    archive = write_archive(tmp_path / "a", CIFAR10, files)
    with pytest.raises(ValueError, match=r"no file cifar-10-batches-bin/data_batch_3\.bin"):
        CIFAR10(root=archive)
    del files["batches.meta.txt"]
    write_folder(tmp_path / "g", CIFAR10, files)
    with pytest.raises(ValueError, match=r"missing batches\.meta\.txt"):
        CIFAR10(root=tmp_path / "g", train=False)


def test_corrupt_archives(tmp_path):
    files, _, _ = cifar_files()
    whole = write_archive(tmp_path, CIFAR10, files).read_bytes()
    path = tmp_path / CIFAR10.archive
    for data in (whole[: len(whole) // 2], whole[:40] + b"\x00" * 200 + whole[240:],
                 b"not a tarball at all"):
        path.write_bytes(data)
        with pytest.raises(ValueError, match="corrupt or truncated archive") as info:
            CIFAR10(root=tmp_path, train=False)
        assert str(path) in str(info.value)


def hostile(kind: str) -> tarfile.TarInfo:
    base = CIFAR10.base_folder
    if kind == "symlink":
        info = tarfile.TarInfo(f"{base}/data_batch_1.bin")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        info = tarfile.TarInfo(f"{base}/test_batch.bin")
        info.type, info.linkname = tarfile.LNKTYPE, "/etc/passwd"
    elif kind == "device":
        info = tarfile.TarInfo(f"{base}/test_batch.bin")
        info.type = tarfile.CHRTYPE
    elif kind == "dotdot":
        info = tarfile.TarInfo(f"{base}/../../evil.bin")
    else:
        info = tarfile.TarInfo("/tmp/numcnn-evil.bin")
    return info


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "device", "dotdot", "absolute"])
def test_hostile_archives_are_refused(tmp_path, kind):
    files, _, _ = cifar_files()
    info = hostile(kind)
    payload = b"x" * 3073 if kind in ("dotdot", "absolute") else None
    members = [(info, payload)] + [regular(f"{CIFAR10.base_folder}/{n}", d)
                                   for n, d in files.items()]
    root = tmp_path / "data"
    root.mkdir()
    (root / CIFAR10.archive).write_bytes(tar_bytes(members))
    message = {"symlink": "is a symbolic link", "hardlink": "is a hard link",
               "device": "is a special file", "dotdot": r"'\.\.' component",
               "absolute": "absolute path"}[kind]
    for train in (True, False):
        with pytest.raises(ValueError, match=message):
            CIFAR10(root=root, train=train)
    assert listing(root) == [CIFAR10.archive]             # nothing extracted anywhere
    assert not (tmp_path / "evil.bin").exists()


# ----------------------------------------------------------------------------- lookup
def test_lookup_order_and_not_found_message(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError) as info:
        CIFAR10()
    msg = str(info.value)
    assert "CIFAR10 dataset not found" in msg and "download=True" in msg and "root=" in msg
    assert "cifar-10-binary.tar.gz" in msg and "not the python one" in msg
    assert str(tmp_path / "home" / ".cache" / "numcnn" / "cifar-10-batches-bin") in msg
    with pytest.raises(RuntimeError, match="CIFAR100 dataset not found"):
        CIFAR100(root=tmp_path / "nowhere")
    files, _, _ = cifar_files()
    write_archive(tmp_path / "home" / ".cache" / "numcnn", CIFAR10, files)      # the cache
    assert CIFAR10().root == str(tmp_path / "home" / ".cache" / "numcnn" / CIFAR10.archive)
    write_folder(tmp_path / "env", CIFAR10, files)                             # $NUMCNN_DATA
    monkeypatch.setenv("NUMCNN_DATA", str(tmp_path / "env"))
    assert CIFAR10().root == str(tmp_path / "env" / CIFAR10.base_folder)
    with pytest.raises(RuntimeError):                      # CIFAR-100 never takes CIFAR-10's
        CIFAR100()
    assert len(CIFAR10(download=True)) == 5 * N_PER_BATCH  # found: nothing downloaded


def real_cifar10() -> Path | None:
    """The data home ($NUMCNN_DATA, else ~/.cache/numcnn) if CIFAR-10 is there, else None."""
    for d in (os.environ.get("NUMCNN_DATA"), "~/.cache/numcnn"):
        home = Path(d).expanduser() if d else None
        if home and ((home / CIFAR10.archive).is_file() or (home / CIFAR10.base_folder).is_dir()):
            return home
    return None


REAL_CIFAR10 = real_cifar10()          # looked up before the fixtures move HOME


@pytest.mark.skipif(REAL_CIFAR10 is None,
                    reason="CIFAR-10 is not on this machine ($NUMCNN_DATA or ~/.cache/numcnn)")
def test_real_cifar10():
    train, test = CIFAR10(root=REAL_CIFAR10), CIFAR10(root=REAL_CIFAR10, train=False)
    assert train.data.shape == (50000, 32, 32, 3) and test.data.shape == (10000, 32, 32, 3)
    assert np.bincount(train.targets).tolist() == [5000] * 10
    assert np.bincount(test.targets).tolist() == [1000] * 10
    assert train.classes == C10_CLASSES


# ----------------------------------------------------------------------------- download
@pytest.fixture(scope="module")
def cifar_server(server):
    """test_download's server, serving the tiny archives too: (base URL, list of request
    paths, {class: archive bytes}); good/<archive>, corrupt/<archive> (one byte flipped),
    truncated/<archive> (closes early)."""
    base, folder, requests, _ = server
    archives = {}
    for cls in (CIFAR10, CIFAR100):
        files, _, _ = cifar_files(cifar100=cls is CIFAR100, seed=3)
        archives[cls] = write_archive(folder / "good", cls, files).read_bytes()
    return base, requests, archives


@pytest.fixture
def srv(cifar_server, monkeypatch):
    base, requests, archives = cifar_server
    requests.clear()
    for cls in (CIFAR10, CIFAR100):
        monkeypatch.setattr(cls, "resources", [(cls.archive, md5(archives[cls]))])
        monkeypatch.setattr(cls, "mirrors", [f"{base}/nowhere/"])     # never the internet
    return base, requests, archives


@pytest.mark.parametrize("cls", [CIFAR10, CIFAR100])
def test_download_then_read(srv, tmp_path, monkeypatch, cls):
    base, requests, archives = srv
    monkeypatch.setattr(cls, "mirrors", [f"{base}/missing/", f"{base}/good/"])
    ds = cls(root=tmp_path / "data", download=True)
    assert listing(tmp_path / "data") == [cls.archive]         # the archive, not extracted
    assert (tmp_path / "data" / cls.archive).read_bytes() == archives[cls]
    _, train, test = cifar_files(cifar100=cls is CIFAR100, seed=3)
    check_split(ds, train)
    n = len(requests)
    check_split(cls(root=tmp_path / "data", train=False, download=True), test)
    assert len(requests) == n                                 # the test split came along


def test_download_into_the_default_root_with_numcnn_mirror(srv, tmp_path, monkeypatch):
    base, requests, _ = srv
    monkeypatch.setenv("NUMCNN_MIRROR", f"{refused_url()}, {base}/good/")
    ds = CIFAR10(download=True)
    cache = tmp_path / "home" / ".cache" / "numcnn"
    assert ds.root == str(cache / CIFAR10.archive)
    assert not any(r.startswith("/nowhere/") for r in requests)
    monkeypatch.setenv("NUMCNN_DATA", str(tmp_path / "env"))
    assert CIFAR100(download=True).root == str(tmp_path / "env" / CIFAR100.archive)


def test_download_rejects_a_corrupt_or_truncated_archive(srv, tmp_path, monkeypatch):
    base, _, _ = srv
    for mirror, problem in (("corrupt", "md5 checksum mismatch"), ("truncated", "truncated")):
        monkeypatch.setattr(CIFAR10, "mirrors", [f"{base}/{mirror}/"])
        with pytest.raises(DownloadError, match=problem):
            CIFAR10(root=tmp_path, download=True)
        assert listing(tmp_path) == []                        # no file, no partial file
