"""L-BFGS that a coarse-to-fine schedule can warm-start: the fast presets' optimiser.

The paper's presets keep torch's `LBFGS` (the reference code's optimiser, bit for bit). Torch's
first step is 1/|g|₁ long, whatever the problem: at the start of every stage of a pyramid the
optimiser spends an evaluation learning its step length again, and that first tiny step's
curvature pair is small enough for bfloat16's gradient noise to spoil it (so those evaluations had
to be float32). Here a stage may start from the inverse-Hessian scale (sᵀy / yᵀy) the previous,
coarser stage ended with: its first step is already full-sized and its first pair is measured
over that step. Otherwise the arithmetic is torch's: unit steps, no line search, the two-loop
recursion over the last `history` pairs, and the last step taken but not evaluated.
"""

from __future__ import annotations

from typing import Callable

import torch

#: A curvature pair is kept when sᵀy exceeds this (torch's threshold).
CURVATURE_FLOOR = 1e-10


def minimise(x: torch.Tensor, evaluate: Callable[[], object], iterations: int, history: int = 100,
             initial_scale: float | None = None) -> float | None:
    """Take `iterations` L-BFGS steps on `x` in place; return the inverse-Hessian scale it ended with.

    `evaluate()` computes the loss at `x` and leaves its gradient in `x.grad`.
    It is called once before each step (`iterations` times): the last step is not evaluated.
    `initial_scale` sets the first step to −scale·g; without it the first step is torch's,
    −g / max(1, |g|₁). The scale returned is None when no curvature pair was kept."""
    steps: list[torch.Tensor] = []
    gradient_changes: list[torch.Tensor] = []
    inverse_curvatures: list[float] = []
    scale = initial_scale
    previous_gradient: torch.Tensor | None = None
    step: torch.Tensor | None = None
    for _ in range(iterations):
        evaluate()
        gradient = x.grad.detach().reshape(-1).clone()
        if previous_gradient is not None and step is not None:
            change = gradient - previous_gradient
            curvature = float(change.dot(step))
            if curvature > CURVATURE_FLOOR:
                if len(steps) == history:
                    steps.pop(0), gradient_changes.pop(0), inverse_curvatures.pop(0)
                steps.append(step)
                gradient_changes.append(change)
                inverse_curvatures.append(1.0 / curvature)
                scale = curvature / float(change.dot(change))
        if scale is None:
            step = gradient.neg().mul_(min(1.0, 1.0 / float(gradient.abs().sum())))
        else:
            step = _direction(gradient, steps, gradient_changes, inverse_curvatures, scale)
        with torch.no_grad():
            x.add_(step.view_as(x))
        previous_gradient = gradient
    return scale


def _direction(gradient: torch.Tensor, steps: list[torch.Tensor], gradient_changes: list[torch.Tensor],
               inverse_curvatures: list[float], scale: float) -> torch.Tensor:
    """−H·g by the two-loop recursion, H's initial diagonal `scale`."""
    direction = gradient.neg()
    alphas = []
    for step, change, rho in zip(reversed(steps), reversed(gradient_changes), reversed(inverse_curvatures)):
        alpha = float(step.dot(direction)) * rho
        direction.add_(change, alpha=-alpha)
        alphas.append(alpha)
    direction.mul_(scale)
    for step, change, rho, alpha in zip(steps, gradient_changes, inverse_curvatures, reversed(alphas)):
        beta = float(change.dot(direction)) * rho
        direction.add_(step, alpha=alpha - beta)
    return direction
