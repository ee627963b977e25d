"""Named ways to run the engine: a working size, a method with its schedule, the loss weights and
the finish. The daemon lists them in its capabilities, so the plug-ins show them without knowing
them in advance.

- `default`: the fast method (see `methods`), measured against the others by
  benchmarks/speed.py: start from a region-wise colour transfer, then most iterations at ¼ and ½
  size and a few at the working size, all with the photorealism term. On 10 DPST pairs (style
  distance ÷ the paper's, median): 1.14 at 384 px in 22 s, 1.00 at 512 px in 38 s on a 2-core
  CPU; more iterations at 384 px (100/40/10) gained little (1.13) and cost photorealism.
- `preview`: the colour transfer and the finish only, for instant feedback.
- `reference`: the paper's method and settings, for comparing quality with the paper.
- `classic`: what `default` was before the fast method (the paper's method at 384 px with
  250 + 100 iterations), kept as the speed benchmark's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import OptionsError
from .methods import Method, Stage
from .objective import LossWeights


@dataclass(frozen=True)
class Preset:
    """Everything that shapes a transfer; options may override `size` and the iteration counts."""

    name: str
    description: str
    size: int  # long side of the working resolution, px
    method: Method
    weights: LossWeights = field(default_factory=LossWeights)
    smooth_radius: int = 15  # smooth-local-affine finish: joint bilateral filter radius, px
    smooth_edge: float = 0.01  # and its range sigma

    @property
    def style_iterations(self) -> int:
        """Iterations without the photorealism term (the paper's stage 1)."""
        return self.method.iterations(photorealism=False)

    @property
    def photoreal_iterations(self) -> int:
        """Iterations with the photorealism term."""
        return self.method.iterations(photorealism=True)


def _paper_method(style_iterations: int, photoreal_iterations: int) -> Method:
    """The paper's two stages at the working size, from near-zero noise."""
    return Method("noise", (Stage("style", 1.0, style_iterations, photorealism=False),
                            Stage("photorealism", 1.0, photoreal_iterations, photorealism=True)))


PRESETS: dict[str, Preset] = {
    "default": Preset(
        name="default",
        description="Fast: starts from a region-wise colour transfer and refines it coarse to fine at 512 px "
                    "with the paper's losses (about 40 s on a 2-core CPU).",
        size=512,
        method=Method("colour transfer", (Stage("coarse", 0.25, 60, photorealism=True),
                                          Stage("medium", 0.5, 30, photorealism=True),
                                          Stage("fine", 1.0, 10, photorealism=True))),
    ),
    "preview": Preset(
        name="preview",
        description="Instant: region-wise colour statistics of the reference, no neural optimisation; for "
                    "trying references and regions.",
        size=384,
        method=Method("colour transfer"),
    ),
    "reference": Preset(
        name="reference",
        description="The paper's method and settings: 700 px, 1000 + 1000 L-BFGS iterations from noise "
                    "(very slow on a CPU; for comparing with the paper).",
        size=700,
        method=_paper_method(1000, 1000),
    ),
    "classic": Preset(
        name="classic",
        description="The paper's method at 384 px with 250 + 100 iterations from noise (the former default; "
                    "about 5 minutes on a 2-core CPU).",
        size=384,
        method=_paper_method(250, 100),
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or an OptionsError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise OptionsError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}.") from None
