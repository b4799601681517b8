"""(a) The classic MNIST training script: a two-conv net, Adadelta + StepLR, log_softmax +
nll_loss, train()/eval(), and a no_grad test loop that counts correct predictions.

Written as such scripts are (a `Net` class, `train(...)`/`test(...)` functions, a main loop over
epochs), on small synthetic digits through `DataLoader(TensorDataset(...))`.  Dropout is kept in
the model but given p=0 here, because two libraries cannot draw the same dropout masks.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from tests.compat.port import LIBS, assert_same, default_dtype_float64, load_arrays, state_arrays


def mnist_program(lib, images, labels, test_images, test_labels, init=None, epochs=2):
    torch, nn, F, optim, data = lib.torch, lib.nn, lib.F, lib.optim, lib.data
    DataLoader, TensorDataset = data.DataLoader, data.TensorDataset
    StepLR = optim.lr_scheduler.StepLR

    class Net(nn.Module):
        def __init__(self, p1=0.25, p2=0.5):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(p1)
            self.dropout2 = nn.Dropout(p2)
            self.fc1 = nn.Linear(16 * 12 * 12, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def train(model, device, train_loader, optimizer, epoch, losses):
        model.train()
        for batch_idx, (data_, target) in enumerate(train_loader):
            data_, target = data_.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data_)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if batch_idx % 2 == 0:
                log = "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(  # noqa: UP032
                    epoch, batch_idx * len(data_), len(train_loader.dataset),
                    100. * batch_idx / len(train_loader), loss.item())
                assert log.endswith(f"Loss: {loss:.6f}")       # a 0-d tensor formats as a float

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data_, target in test_loader:
                data_, target = data_.to(device), target.to(device)
                output = model(data_)
                test_loss += F.nll_loss(output, target, reduction='sum').item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)
        return test_loss, correct

    torch.manual_seed(1)
    device = torch.device("cpu")
    train_loader = DataLoader(TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)),
                              batch_size=16, shuffle=False)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(test_images),
                                           torch.from_numpy(test_labels)),
                             batch_size=20, shuffle=False)
    model = Net(0.0, 0.0).to(device)
    if init is not None:
        init(model)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses, results, lrs = [], [], []
    for epoch in range(1, epochs + 1):
        train(model, device, train_loader, optimizer, epoch, losses)
        results.append(test(model, device, test_loader))
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return model, losses, results, lrs


def _digits(n, seed, dtype):
    """Noisy synthetic 'digits': class k lights up a k-dependent band of the 28x28 image."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.int64)
    images = rng.normal(0.0, 0.3, (n, 1, 28, 28))
    for k in range(10):
        images[labels == k, 0, 2 * k + 3:2 * k + 7, 4:24] += 1.5
    return images.astype(dtype), labels


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mnist_script_runs_the_same_in_numcnn(dtype):
    images, labels = _digits(48, 0, dtype)
    test_images, test_labels = _digits(40, 1, dtype)

    init_state = {}
    with default_dtype_float64() if dtype == np.float64 else contextlib.nullcontext():
        t_model, t_losses, t_results, t_lrs = mnist_program(
            LIBS["torch"], images, labels, test_images, test_labels,
            init=lambda m: init_state.update(state_arrays(m)))
        n_model, n_losses, n_results, n_lrs = mnist_program(
            LIBS["numcnn"], images, labels, test_images, test_labels,
            init=lambda m: load_arrays(m, init_state))

    assert len(n_losses) == len(t_losses) == 6                # 3 batches x 2 epochs
    rtol = 1e-7 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(n_losses, t_losses, rtol=rtol, err_msg="training losses")
    assert n_losses[-1] < n_losses[0]                          # it learns
    np.testing.assert_allclose(n_lrs, t_lrs, rtol=1e-15)      # StepLR: 0.7, 0.49
    for (n_loss, n_correct), (t_loss, t_correct) in zip(n_results, t_results):
        np.testing.assert_allclose(n_loss, t_loss, rtol=rtol, err_msg="test loss")
        assert n_correct == t_correct and isinstance(n_correct, int)
    tol = {} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-5}
    t_state = t_model.state_dict()
    for k, v in n_model.state_dict().items():
        assert_same(v, t_state[k], f"final {k}", **tol)
