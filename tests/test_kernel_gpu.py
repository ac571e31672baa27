"""indrnn.kernels.gpu: the Triton kernel agrees with the PyTorch reference.

Without a GPU the kernels run in Triton's interpreter, which is chosen when ``@triton.jit`` runs,
i.e. when ``indrnn.kernels.gpu`` is first imported, and only if ``TRITON_INTERPRET=1`` is in the
environment then. So the interpreted checks run in a fresh subprocess that has it set from the
start: it runs this very file as a script (``python tests/test_kernel_gpu.py``), which runs every
function registered in ``INTERPRETED_CHECKS`` and prints one JSON line of results; the test
``test_interpreted`` asserts on them one check at a time. The ``test_cuda_*`` tests run the
compiled kernels and are skipped where CUDA is not available.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from indrnn.kernels import reference

pytest.importorskip("triton")

REPO = Path(__file__).resolve().parents[1]
RESULT_MARKER = "INTERPRETED-RESULTS:"

# (T, B, N, block_size): T = 1, B = 1, N = 1, several programs with a masked tail, one program.
SHAPES = [
    (1, 1, 1, None),
    (1, 3, 4, 4),
    (6, 1, 1, None),
    (5, 1, 7, 2),
    (9, 2, 3, None),
    (13, 3, 5, 4),
]
TOLERANCE = {
    torch.float64: {"rtol": 1e-12, "atol": 1e-12},
    torch.float32: {"rtol": 2e-5, "atol": 2e-6},
}

INTERPRETED_CHECKS: dict[str, Callable[[], None]] = {}


def interpreted_check(fn: Callable[[], None]) -> Callable[[], None]:
    """Register ``fn`` to run in the interpreter subprocess."""
    INTERPRETED_CHECKS[fn.__name__] = fn
    return fn


def inputs(
    steps: int,
    batch: int,
    hidden: int,
    dtype: torch.dtype,
    seed: int = 0,
    device: str = "cpu",
    u_max: float = 1.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a``, ``u`` (in ``[-u_max, u_max]``, distinct per neuron), ``h0`` and ``grad_h``.

    Long sequences need ``u_max < 1``, or a relu state grows like ``u_max ** T``.
    """
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(steps, batch, hidden, generator=gen, dtype=torch.float64)
    u = (torch.rand(hidden, generator=gen, dtype=torch.float64) * 2 - 1) * u_max
    h0 = torch.randn(batch, hidden, generator=gen, dtype=torch.float64)
    grad_h = torch.randn(steps, batch, hidden, generator=gen, dtype=torch.float64)
    return tuple(x.to(device=device, dtype=dtype) for x in (a, u, h0, grad_h))


def assert_matches_reference(
    gpu, a, u, h0, grad_h, nonlinearity: str, block_size: int | None = None, **tolerance
) -> None:
    """Forward and backward of the Triton kernel equal the reference's."""
    h = gpu.forward(a, u, h0, nonlinearity, block_size=block_size)
    assert h.shape == a.shape and h.dtype == a.dtype and h.device == a.device
    torch.testing.assert_close(h, reference.forward(a, u, h0, nonlinearity), **tolerance)
    grads = gpu.backward(grad_h, h, u, h0, nonlinearity, block_size=block_size)
    expected = reference.backward(grad_h, h, u, h0, nonlinearity)
    for name, got, want in zip(("grad_a", "grad_u", "grad_h0"), grads, expected):
        assert got.shape == want.shape and got.dtype == want.dtype, name
        torch.testing.assert_close(got, want, **tolerance, msg=lambda m, n=name: f"{n}: {m}")


# --- checks run by the interpreter subprocess ---------------------------------------------------


@interpreted_check
def forward_backward_match_reference() -> None:
    from indrnn.kernels import gpu

    for i, (steps, batch, hidden, block) in enumerate(SHAPES):
        for dtype in (torch.float32, torch.float64):
            for nonlinearity in ("relu", "tanh"):
                a, u, h0, grad_h = inputs(steps, batch, hidden, dtype, seed=i)
                assert_matches_reference(
                    gpu, a, u, h0, grad_h, nonlinearity, block, **TOLERANCE[dtype]
                )


@interpreted_check
def neurons_use_their_own_weight() -> None:
    # u is indexed by column % N: with one neuron's weight set to zero only that neuron forgets.
    from indrnn.kernels import gpu

    a = torch.zeros(3, 2, 3, dtype=torch.float64)
    u = torch.tensor([0.5, 0.0, -2.0], dtype=torch.float64)
    h0 = torch.tensor([[1.0, 1.0, -1.0], [2.0, 3.0, 0.25]], dtype=torch.float64)
    h = gpu.forward(a, u, h0, "relu", block_size=2)
    expected_first = torch.relu(u * h0)
    torch.testing.assert_close(h[0], expected_first, rtol=0, atol=0)
    torch.testing.assert_close(h[1], torch.relu(u * expected_first), rtol=0, atol=0)
    assert h[0, 0].tolist() == [0.5, 0.0, 2.0]


@interpreted_check
def long_sequence_matches_reference() -> None:
    from indrnn.kernels import gpu

    a, u, h0, grad_h = inputs(300, 2, 3, torch.float64, seed=7)
    u = torch.tensor([0.999, -0.99, 1.001], dtype=torch.float64)
    for nonlinearity in ("relu", "tanh"):
        assert_matches_reference(
            gpu, a * 0.1, u, h0, grad_h, nonlinearity, **TOLERANCE[torch.float64]
        )


@interpreted_check
def half_precision_close_to_float64() -> None:
    from indrnn.kernels import gpu

    for dtype, tol in ((torch.float16, 2e-2), (torch.bfloat16, 8e-2)):
        for nonlinearity in ("relu", "tanh"):
            a, u, h0, grad_h = inputs(12, 2, 3, torch.float64, seed=3)
            u = u * 0.8
            low = [x.to(dtype) for x in (a, u, h0, grad_h)]
            exact = [x.double() for x in low]
            h = gpu.forward(*low[:3], nonlinearity, block_size=4)
            assert h.dtype == dtype
            torch.testing.assert_close(
                h.double(), reference.forward(*exact[:3], nonlinearity), rtol=tol, atol=tol
            )
            # Backward through the same states, so both see the same relu mask.
            grads = gpu.backward(low[3], h, low[1], low[2], nonlinearity, block_size=4)
            expected = reference.backward(exact[3], h.double(), *exact[1:3], nonlinearity)
            for got, want in zip(grads, expected):
                assert got.dtype == dtype
                torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


@interpreted_check
def tanh_is_accurate() -> None:
    # One step with u = 0 and h0 = 0 evaluates tanh(a) elementwise, over both branches of the
    # kernel's tanh (switch at |x| = 0.625), tiny and huge arguments and the infinities.
    from indrnn.kernels import gpu

    grid = torch.cat(
        [
            torch.linspace(-25, 25, 4001, dtype=torch.float64),
            torch.linspace(0.6, 0.65, 101, dtype=torch.float64),
            torch.logspace(-30, 3, 200, dtype=torch.float64),
            torch.tensor([0.625, float("inf")], dtype=torch.float64),
        ]
    )
    grid = torch.cat([grid, -grid])
    for dtype, rtol in ((torch.float64, 1e-15), (torch.float32, 5e-7)):
        x = grid.to(dtype)
        y = gpu.forward(
            x.view(1, 1, -1), torch.zeros(x.numel(), dtype=dtype),
            torch.zeros(1, x.numel(), dtype=dtype), "tanh",
        ).flatten()
        torch.testing.assert_close(y, torch.tanh(x), rtol=rtol, atol=0)


@interpreted_check
def nan_and_inf_propagate_as_in_reference() -> None:
    from indrnn.kernels import gpu

    for nonlinearity in ("relu", "tanh"):
        a, u, h0, grad_h = inputs(6, 2, 3, torch.float32, seed=5)
        u = u.abs() + 0.1  # nonzero: NaN must carry on through the recurrent weight
        a[2, 1, 0] = float("nan")
        a[1, 0, 2] = float("inf")
        a[3, 0, 1] = -float("inf")
        h = gpu.forward(a, u, h0, nonlinearity, block_size=2)
        # relu(NaN) = NaN (not 0), and it stays in that column from step 2 on, nowhere else.
        assert torch.isnan(h[2:, 1, 0]).all() and not torch.isnan(h[:2, 1, 0]).any()
        assert torch.isnan(h).sum() == h.shape[0] - 2
        want = reference.forward(a, u, h0, nonlinearity)
        torch.testing.assert_close(h, want, equal_nan=True, **TOLERANCE[torch.float32])
        # A NaN upstream gradient passes where the neuron is active; where relu's output is 0
        # the gradient is 0, as torch.relu's backward gives.
        grad_h[4, 0, :] = float("nan")
        grads = gpu.backward(grad_h, h, u, h0, nonlinearity, block_size=2)
        expected = reference.backward(grad_h, h, u, h0, nonlinearity)
        if nonlinearity == "relu":
            silent = h[4, 0] == 0
            assert silent.any() and (~silent).any()
            assert (grads[0][4, 0][silent] == 0).all()
            assert torch.isnan(grads[0][4, 0][~silent]).all()
        else:
            assert torch.isnan(grads[0][:5, 0]).all()
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want, equal_nan=True, **TOLERANCE[torch.float32])


@interpreted_check
def gradcheck_through_recurrence() -> None:
    from indrnn.recurrence import indrnn_recurrence

    for nonlinearity in ("relu", "tanh"):
        a, u, h0, _ = inputs(3, 2, 2, torch.float64, seed=11)
        args = tuple(x.requires_grad_() for x in (a, u, h0))
        assert torch.autograd.gradcheck(
            lambda a, u, h0, nl=nonlinearity: indrnn_recurrence(a, u, h0, nl, backend="gpu"),
            args,
        )


@interpreted_check
def recurrence_autograd_matches_reference_backend() -> None:
    # Non-contiguous `a` (batch-first data transposed) and the stride-0 gradient of `.sum()`.
    from indrnn.recurrence import indrnn_recurrence

    a, u, h0, _ = inputs(4, 3, 5, torch.float64, seed=2)
    a = a.transpose(0, 1).contiguous().transpose(0, 1)
    assert not a.is_contiguous()
    results = []
    for backend in ("gpu", "reference"):
        leaves = [x.detach().clone().requires_grad_() for x in (a, u, h0)]
        h = indrnn_recurrence(leaves[0], *leaves[1:], "tanh", backend=backend)
        (h.sum() + h[-1].pow(2).sum()).backward()
        results.append([h.detach(), *(x.grad for x in leaves)])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, **TOLERANCE[torch.float64])


def run_interpreted_checks() -> dict[str, str]:
    """Run every registered check; ``"ok"`` or the traceback of its failure, by name."""
    from indrnn.kernels import gpu

    if not gpu.INTERPRETED:
        return dict.fromkeys(INTERPRETED_CHECKS, "indrnn.kernels.gpu was not interpreted")
    results = {}
    for name, check in INTERPRETED_CHECKS.items():
        try:
            check()
        except Exception:
            results[name] = traceback.format_exc()
        else:
            results[name] = "ok"
    return results


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def interpreted_results() -> dict[str, str]:
    env = {
        **os.environ,
        "TRITON_INTERPRET": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    assert proc.returncode == 0 and lines, f"interpreter subprocess failed:\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len(RESULT_MARKER):])


@pytest.mark.parametrize("name", list(INTERPRETED_CHECKS))
def test_interpreted(name: str, interpreted_results: dict[str, str]) -> None:
    assert interpreted_results[name] == "ok", interpreted_results[name]


def test_compiled_kernel_rejects_cpu_tensors() -> None:
    from indrnn.kernels import gpu

    if gpu.INTERPRETED:
        pytest.skip("TRITON_INTERPRET=1 in this process: CPU tensors are accepted")
    a, u, h0, _ = inputs(2, 1, 3, torch.float32)
    with pytest.raises(ValueError, match="CUDA tensors"):
        gpu.forward(a, u, h0, "relu")


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
@pytest.mark.parametrize("shape", [(5000, 4, 64), (700, 3, 77), (1, 1, 1), (64, 50, 128)])
def test_cuda_float32_matches_float64_reference(nonlinearity: str, shape: tuple) -> None:
    from indrnn.kernels import gpu

    a, u, h0, grad_h = inputs(*shape, torch.float32, seed=1, device="cuda", u_max=0.99)
    h = gpu.forward(a, u, h0, nonlinearity)
    want = reference.forward(*(x.double() for x in (a, u, h0)), nonlinearity)
    torch.testing.assert_close(h.double(), want, rtol=1e-4, atol=1e-4)
    # Backward through the kernel's own states, so both sides see the same relu mask.
    grads = gpu.backward(grad_h, h, u, h0, nonlinearity)
    expected = reference.backward(*(x.double() for x in (grad_h, h, u, h0)), nonlinearity)
    for got, want in zip(grads, expected):
        assert got.dtype == torch.float32 and got.is_cuda
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-3)


@cuda
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_cuda_float64_matches_reference(nonlinearity: str) -> None:
    from indrnn.kernels import gpu

    a, u, h0, grad_h = inputs(5000, 3, 33, torch.float64, seed=4, device="cuda", u_max=0.99)
    assert_matches_reference(gpu, a, u, h0, grad_h, nonlinearity, rtol=1e-10, atol=1e-10)


@cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_cuda_half_precision(dtype: torch.dtype, nonlinearity: str) -> None:
    from indrnn.kernels import gpu

    a, u, h0, grad_h = inputs(1000, 8, 96, dtype, seed=6, device="cuda", u_max=0.95)
    h = gpu.forward(a, u, h0, nonlinearity)
    assert h.dtype == dtype
    want = reference.forward(*(x.double() for x in (a, u, h0)), nonlinearity)
    tol = 2e-2 if dtype == torch.float16 else 8e-2
    torch.testing.assert_close(h.double(), want, rtol=tol, atol=tol)
    grads = gpu.backward(grad_h, h, u, h0, nonlinearity)
    expected = reference.backward(*(x.double() for x in (grad_h, h, u, h0)), nonlinearity)
    for got, want in zip(grads, expected):
        assert got.dtype == dtype
        torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol * 10)


@cuda
def test_cuda_recurrence_picks_triton_and_matches_reference() -> None:
    from indrnn.recurrence import indrnn_recurrence, select_backend

    a, u, h0, _ = inputs(2000, 5, 40, torch.float64, seed=8, device="cuda", u_max=0.99)
    assert select_backend(a) == "gpu"
    results = []
    for backend in ("auto", "reference"):
        leaves = [x.detach().clone().requires_grad_() for x in (a, u, h0)]
        h = indrnn_recurrence(leaves[0], *leaves[1:], "relu", backend=backend)
        (h * torch.linspace(-1, 1, h.shape[-1], device="cuda", dtype=h.dtype)).sum().backward()
        results.append([h.detach(), *(x.grad for x in leaves)])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


if __name__ == "__main__":
    # The interpreter subprocess started by `interpreted_results`.
    if os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("run with TRITON_INTERPRET=1 in the environment")
    warnings.simplefilter("ignore", RuntimeWarning)  # NumPy on NaN/Inf inside the interpreter
    print(RESULT_MARKER + json.dumps(run_interpreted_checks()))
