"""The autograd hooks DistributedDataParallel is built on, and `numcnn.distributed`'s process group.

Oracles: PyTorch's own hooks and engine callback run on the same graphs (what each hook sees,
how often, in what order relative to the gradients), the values each rank computes for itself
with NumPy (for the collectives under `mpirun -n 2`), and the identity (world size 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numcnn
from numcnn import autograd as nc_autograd


def _queue_torch(fn):
    torch.autograd.Variable._execution_engine.queue_callback(fn)


def _graph(lib, queue, use_callback=True):
    """w1 used three times, w2 twice, b once; every hook records what it saw.

    Returns (events, leaves, loss): events is a list of (kind, name, grad-at-that-time copy).
    """
    rng = np.random.default_rng(0)
    arrays = {"w1": rng.standard_normal((3, 4)), "w2": rng.standard_normal((3, 4)),
              "b": rng.standard_normal(4)}
    leaves = {k: lib.tensor(v, requires_grad=True) for k, v in arrays.items()}
    x = lib.tensor(rng.standard_normal((3, 4)))
    events: list = []

    def snap(t):
        return None if t.grad is None else np.array(t.grad.detach().numpy(), copy=True)

    for name, t in leaves.items():
        t.register_hook(lambda g, name=name: events.append(("pre", name, None)))

        def post(p, name=name):
            events.append(("post", name, snap(p)))
            if use_callback and name == "w1":
                queue(lambda: events.append(
                    ("callback", "all", {k: snap(v) for k, v in leaves.items()})))
        t.register_post_accumulate_grad_hook(post)
    w1, w2, b = leaves["w1"], leaves["w2"], leaves["b"]
    h = (x * w1 + w1 * w1).tanh() * w2 + b
    loss = (h * w1).sum() + (w2 * w2).sum()
    return events, leaves, loss


def test_post_accumulate_hook_and_callback_match_torch():
    nc_events, nc_leaves, nc_loss = _graph(numcnn, nc_autograd.queue_callback)
    t_events, t_leaves, t_loss = _graph(torch, _queue_torch)
    for _ in range(2):          # the second pass accumulates onto the first's .grad
        del nc_events[:], t_events[:]
        nc_loss.backward(retain_graph=True)
        t_loss.backward(retain_graph=True)
        # each leaf: its gradient hook, then once its post-accumulate hook seeing the final .grad
        for name in ("w1", "w2", "b"):
            nc_seq = [(k, g) for k, n, g in nc_events if n == name]
            t_seq = [(k, g) for k, n, g in t_events if n == name]
            assert [k for k, _ in nc_seq] == [k for k, _ in t_seq] == ["pre", "post"]
            np.testing.assert_allclose(nc_seq[1][1], t_seq[1][1], rtol=1e-7, atol=1e-12)
            np.testing.assert_allclose(nc_seq[1][1], nc_leaves[name].grad.numpy(), rtol=0)
        # the callback runs once, last, when every gradient is in
        for events, leaves in ((nc_events, nc_leaves), (t_events, t_leaves)):
            assert [e[0] for e in events].count("callback") == 1
            assert events[-1][0] == "callback"
            for name, g in events[-1][2].items():
                np.testing.assert_array_equal(g, leaves[name].grad.detach().numpy())


def _chain(lib, nn):
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(),
                          nn.Linear(3, 2)).double()
    return model


def test_post_accumulate_hooks_fire_during_the_pass_as_in_torch():
    """A late layer's parameters are complete (and their hooks run) before an early layer's
    gradient exists: the order DDP's overlap of communication with backward relies on."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    seen = {}
    for lib, nn in ((numcnn, numcnn.nn), (torch, torch.nn)):
        model = _chain(lib, nn)
        params = dict(model.named_parameters())
        order: list = []
        for name, p in params.items():
            def hook(t, name=name, params=params, order=order):
                order.append((name, tuple(sorted(k for k, q in params.items()
                                                 if q.grad is not None))))
            p.register_post_accumulate_grad_hook(hook)
        model(lib.tensor(x)).sum().backward()
        seen[lib.__name__] = order
    nc, tt = seen["numcnn"], seen["torch"]
    assert len(nc) == len(tt) == 6
    # when the first layer's weight hook runs, which grads existed (torch decides the order
    # among a layer's own weight and bias; the layers' order is the graph's)
    nc_layers = [name.split(".")[0] for name, _ in nc]
    t_layers = [name.split(".")[0] for name, _ in tt]
    assert nc_layers == t_layers == ["4", "4", "2", "2", "0", "0"]
    for (n1, before1), (n2, before2) in zip(sorted(nc), sorted(tt)):
        assert n1 == n2
        layer = n1.split(".")[0]
        assert {b for b in before1 if not b.startswith(layer)} == \
            {b for b in before2 if not b.startswith(layer)}


def test_post_accumulate_hook_errors_and_remove_as_torch():
    for lib in (numcnn, torch):
        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(3).register_post_accumulate_grad_hook(lambda t: None)
        calls: list = []
        h = x.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append(1))
        x.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append(2))
        (x * x).sum().backward()
        assert calls == [1, 2]
        h.remove()
        (x * x).sum().backward()
        assert calls == [1, 2, 2]
        np.testing.assert_allclose(np.asarray(x.grad.detach().numpy()), [4.0, 4.0, 4.0])


def test_post_accumulate_hook_with_inputs_and_autograd_grad_as_torch():
    counts = {}
    for lib in (numcnn, torch):
        a = lib.ones(2, requires_grad=True)
        b = lib.ones(2, requires_grad=True)
        calls: list = []
        a.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append("a"))
        b.register_post_accumulate_grad_hook(lambda t, calls=calls: calls.append("b"))
        (a * b).sum().backward(inputs=[a])        # only a's .grad is accumulated
        lib.autograd.grad((a * b).sum(), [a, b])  # .grad untouched: no post hooks
        counts[lib.__name__] = calls
    assert counts["numcnn"] == counts["torch"] == ["a"]


def test_queue_callback_outside_backward_raises_as_torch():
    for queue in (nc_autograd.queue_callback, _queue_torch):
        with pytest.raises(RuntimeError, match="during backward pass"):
            queue(lambda: None)


def test_queue_callback_chained_and_in_autograd_grad():
    for lib, queue in ((numcnn, nc_autograd.queue_callback), (torch, _queue_torch)):
        log: list = []
        a = lib.ones(2, requires_grad=True)

        def hook(g, queue=queue, log=log):
            queue(lambda: (log.append("first"), queue(lambda: log.append("second"))))
            return None
        m = a * 3
        m.register_hook(hook)
        m.sum().backward(retain_graph=True)
        assert log == ["first", "second"], lib.__name__
        log.clear()
        lib.autograd.grad(m.sum(), [a])   # callbacks run at the end of autograd.grad too
        assert log == ["first", "second"], lib.__name__
    # a callback that raises propagates, and the next backward has a clean queue
    a = numcnn.ones(2, requires_grad=True)
    h = a.register_hook(lambda g: nc_autograd.queue_callback(lambda: 1 / 0))
    with pytest.raises(ZeroDivisionError):
        (a * 3).sum().backward()
    h.remove()
    (a * 3).sum().backward()
    with pytest.raises(RuntimeError):
        nc_autograd.queue_callback(lambda: None)
