"""The recurrence kernels against the plain per-step PyTorch reference."""

import pytest
import torch

from indrnn.kernels import reference
from indrnn.recurrence import indrnn_recurrence, select_backend

CPU_BACKENDS = ["reference", "cpu"]
SHAPES = [(1, 1, 1), (1, 4, 3), (5, 1, 1), (37, 3, 5), (200, 2, 17)]


def _inputs(shape, dtype=torch.float64, seed=0, negative_u=True):
    generator = torch.Generator().manual_seed(seed)
    steps, batch, hidden = shape
    a = torch.randn(steps, batch, hidden, dtype=dtype, generator=generator)
    low = -1.0 if negative_u else 0.0
    u = (torch.rand(hidden, dtype=dtype, generator=generator) * (1.1 - low) + low)
    h0 = torch.rand(batch, hidden, dtype=dtype, generator=generator)
    return a, u, h0


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_gradcheck(backend, nonlinearity):
    a, u, h0 = (t.requires_grad_() for t in _inputs((6, 2, 3)))
    assert torch.autograd.gradcheck(
        lambda a, u, h0: indrnn_recurrence(a, u, h0, nonlinearity, backend), (a, u, h0)
    )


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_per_step_autograd(backend, nonlinearity, shape, dtype):
    a, u, h0 = _inputs(shape, dtype, seed=sum(shape))
    # float32: grad of u sums T·B terms whose order differs between kernels.
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {}
    leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
    expected = reference.recurrence_loop(*leaves, nonlinearity)
    grad_out = torch.randn(expected.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    expected_grads = torch.autograd.grad(expected, leaves, grad_out)

    leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
    got = indrnn_recurrence(*leaves, nonlinearity, backend)
    got_grads = torch.autograd.grad(got, leaves, grad_out)
    torch.testing.assert_close(got, expected, **tol)
    for name, g, e in zip(("a", "u", "h0"), got_grads, expected_grads):
        torch.testing.assert_close(g, e, **tol, msg=f"grad of {name}")


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_long_sequence_t5000(nonlinearity):
    a, u, h0 = _inputs((5000, 2, 3), torch.float64, seed=5)
    u = u.abs().clamp(max=1.0)  # long relu runs with |u| > 1 overflow, in every kernel alike
    leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
    expected = reference.recurrence_loop(*leaves, nonlinearity)
    expected.sum().backward()
    got_leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
    got = indrnn_recurrence(*got_leaves, nonlinearity, "cpu")
    got.sum().backward()
    torch.testing.assert_close(got, expected)
    for g, e in zip(got_leaves, leaves):
        torch.testing.assert_close(g.grad, e.grad)


def test_gradient_of_last_state_only():
    # Loss on h_n alone: the classic use; grad of a at step t is u^(T-1-t) while active.
    steps = 30
    a = torch.ones(steps, 1, 1, dtype=torch.float64, requires_grad=True)
    u = torch.tensor([0.9], dtype=torch.float64)
    h = indrnn_recurrence(a, u, None, "relu", "cpu")
    h[-1].sum().backward()
    lags = torch.arange(steps - 1, -1, -1, dtype=torch.float64)
    torch.testing.assert_close(a.grad.view(-1), 0.9**lags)


def test_nan_stays_in_its_own_neuron():
    a, u, h0 = _inputs((20, 2, 4), torch.float32, negative_u=False)
    a[5, 0, 1] = float("nan")
    for backend in CPU_BACKENDS:
        h = indrnn_recurrence(a, u, h0, "relu", backend)
        assert torch.isnan(h[5:, 0, 1]).all(), backend
        assert torch.isfinite(h[:5]).all() and torch.isfinite(h[:, 1]).all(), backend
        others = [n for n in range(4) if n != 1]
        assert torch.isfinite(h[:, 0, others]).all(), backend


def test_cpu_kernel_flushes_subnormals():
    # A lone impulse decaying by 0.5 per step passes through the subnormal range.
    a = torch.zeros(400, 1, 1)
    a[0] = 1.0
    h = indrnn_recurrence(a, torch.tensor([0.5]), None, "relu", "cpu")
    tiny = torch.finfo(torch.float32).tiny
    assert not ((h != 0) & (h.abs() < tiny)).any()
    assert h[-1].item() == 0.0 and h[100].item() > 0


def test_auto_backend_choice():
    assert select_backend(torch.zeros(1, 1, 1)) == "cpu"
    assert select_backend(torch.zeros(1, 1, 1, dtype=torch.float16)) == "reference"
    with pytest.raises(ValueError, match="backend must be one of"):
        select_backend(torch.zeros(1, 1, 1), "cuda")


@pytest.mark.parametrize(
    ("a", "u", "h0", "message"),
    [
        (torch.zeros(3, 4), torch.zeros(4), None, r"a must have shape \(T, B, N\)"),
        (torch.zeros(0, 2, 4), torch.zeros(4), None, "T >= 1"),
        (torch.zeros(3, 2, 4), torch.zeros(5), None, r"u must have shape \(4,\)"),
        (torch.zeros(3, 2, 4), torch.zeros(4), torch.zeros(3, 4), r"h0 must have shape \(2, 4\)"),
        (torch.zeros(3, 2, 4), torch.zeros(4, dtype=torch.float64), None, "dtype and device"),
    ],
)
def test_bad_input(a, u, h0, message):
    with pytest.raises(ValueError, match=message):
        indrnn_recurrence(a, u, h0)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        indrnn_recurrence(torch.zeros(1, 1, 1), torch.zeros(1), nonlinearity="sigmoid")


def test_nan_gradient_where_relu_is_silent_is_zero_as_in_torch():
    a, u, h0 = _inputs((6, 2, 4), torch.float64, negative_u=False)
    a[3, 0] = torch.tensor([-50.0, -50.0, 50.0, 50.0], dtype=torch.float64)
    grad_h = torch.zeros(6, 2, 4, dtype=torch.float64)
    grad_h[3, 0] = float("nan")
    leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
    expected = torch.autograd.grad(reference.recurrence_loop(*leaves), leaves[0], grad_h)[0]
    for backend in CPU_BACKENDS:
        leaves = [t.clone().requires_grad_() for t in (a, u, h0)]
        got = torch.autograd.grad(indrnn_recurrence(*leaves, backend=backend), leaves[0], grad_h)
        assert (got[0][3, 0, :2] == 0).all() and torch.isnan(got[0][3, 0, 2:]).all(), backend
        torch.testing.assert_close(got[0], expected, equal_nan=True)


def test_cpu_kernel_splits_columns_per_thread_and_agrees_with_one_thread():
    numba = pytest.importorskip("numba")
    from indrnn.kernels import cpu

    a, u, h0 = _inputs((60, 3, 100), torch.float32, seed=3)  # 300 columns: chunks of 160 + 140
    grad = torch.randn(a.shape, generator=torch.Generator().manual_seed(4))
    threads = torch.get_num_threads()
    try:
        results = []
        for count in sorted({1, min(threads, numba.config.NUMBA_NUM_THREADS)}):
            torch.set_num_threads(count)  # the kernel follows torch's thread count
            h = cpu.forward(a, u, h0, "relu")
            assert numba.get_num_threads() == count and torch.get_num_threads() == count
            assert -(-300 // cpu._chunk_width(300)) == count  # one chunk per thread
            results.append((h, *cpu.backward(grad, h, u, h0, "relu")))
    finally:
        torch.set_num_threads(threads)
    expected = reference.recurrence_loop(a, u, h0)
    for h, grad_a, grad_u, grad_h0 in results:
        torch.testing.assert_close(h, expected)
        torch.testing.assert_close(grad_a, results[0][1])
        torch.testing.assert_close(grad_u, results[0][2])
        torch.testing.assert_close(grad_h0, results[0][3])

