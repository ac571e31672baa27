"""Kernels for the IndRNN recurrence ``h_t = σ(a_t + u ⊙ h_{t-1})``.

Every kernel module exposes the same two functions, so ``indrnn.recurrence`` can pick one:

``forward(a, u, h0, nonlinearity) -> h``
    ``a`` is ``(T, B, N)`` (the input projection of every step, bias included), ``u`` is ``(N,)``,
    ``h0`` is ``(B, N)``; returns ``h`` of shape ``(T, B, N)``.
``backward(grad_h, h, u, h0, nonlinearity) -> (grad_a, grad_u, grad_h0)``
    ``grad_h`` is the gradient of the loss with respect to every ``h_t`` (the gradient of ``h_n``
    already added to the last step). The derivative of the nonlinearity is read off ``h`` alone:
    ``1[h > 0]`` for relu (a zero gradient where ``h = 0``, even for a NaN incoming gradient),
    ``1 - h²`` for tanh, as ``torch.relu`` and ``torch.tanh`` do.

``reference`` is plain PyTorch, ``cpu`` is compiled with numba, ``gpu`` is a Triton kernel.
"""

NONLINEARITIES = ("relu", "tanh")
