"""The warm-startable L-BFGS of the fast presets: torch's steps when started cold, a full first step
when started from a scale, and the scale it hands to the next stage."""

from __future__ import annotations

import pytest
import torch

from photostyle.core.lbfgs import minimise


def quadratic(curvatures: torch.Tensor, centre: torch.Tensor):
    """f(x) = ½ Σ c_i (x_i − centre_i)², its evaluations counted."""
    calls = []

    def evaluate(x: torch.Tensor):
        def closure() -> torch.Tensor:
            x.grad = None
            loss = 0.5 * (curvatures * (x - centre) ** 2).sum()
            loss.backward()
            calls.append(float(loss.detach()))
            return loss
        return closure
    return evaluate, calls


def problem(seed: int = 0, size: int = 50):
    generator = torch.Generator().manual_seed(seed)
    curvatures = torch.rand(size, generator=generator, dtype=torch.float64) * 9 + 1  # condition number 10
    centre = torch.randn(size, generator=generator, dtype=torch.float64)
    return curvatures, centre, torch.zeros(size, dtype=torch.float64)


@pytest.mark.parametrize("history", [100, 3])
def test_started_cold_it_takes_torchs_steps(history):
    curvatures, centre, start = problem()
    ours, theirs = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
    evaluate, our_calls = quadratic(curvatures, centre)
    minimise(ours, evaluate(ours), 12, history=history)
    evaluate, their_calls = quadratic(curvatures, centre)
    torch.optim.LBFGS([theirs], lr=1, max_iter=12, max_eval=24, tolerance_grad=-1, tolerance_change=-1,
                      history_size=history).step(evaluate(theirs))
    assert len(our_calls) == len(their_calls) == 12  # the last step is taken, not evaluated
    assert our_calls == pytest.approx(their_calls, rel=1e-9)
    assert torch.allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert float(((ours.detach() - centre) ** 2).sum()) < 1e-3 * float((centre ** 2).sum())


def test_a_cold_first_step_is_tiny_and_a_warm_one_is_not():
    curvatures, centre, start = problem()
    curvatures.fill_(4.0)  # f = 2|x − centre|²: the inverse Hessian is ¼ everywhere
    cold, warm = start.clone().requires_grad_(True), start.clone().requires_grad_(True)
    evaluate, _ = quadratic(curvatures, centre)
    minimise(cold, evaluate(cold), 1)
    gradient_norm = float((4 * centre).abs().sum())
    assert torch.allclose(cold, centre * 4 / gradient_norm)  # torch's first step: −g / |g|₁
    evaluate, calls = quadratic(curvatures, centre)
    minimise(warm, evaluate(warm), 2, initial_scale=0.25)
    assert torch.allclose(warm, centre)  # −¼g from the start lands on the minimum
    assert calls[1] < 1e-20


def test_it_returns_the_scale_to_start_the_next_stage_from():
    curvatures, centre, start = problem()
    curvatures.fill_(4.0)
    x = start.clone().requires_grad_(True)
    evaluate, _ = quadratic(curvatures, centre)
    assert minimise(x, evaluate(x), 3) == pytest.approx(0.25)  # sᵀy / yᵀy of the last pair
    y = start.clone().requires_grad_(True)
    assert minimise(y, evaluate(y), 1) is None  # no pair measured yet
    assert minimise(y, evaluate(y), 0, initial_scale=0.5) == 0.5

