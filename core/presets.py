"""Named ways to run the engine: a working size and a method with its settings (`methods`). The
daemon lists them, with the options each reads, in its capabilities, so the plug-ins offer them
without knowing them in advance. Their times are measured by benchmarks/speed.py (README table).

- `default`: the fast method: start from a region-wise colour transfer, then most iterations at
  ¼ and ½ size and a few at the working size, all with the photorealism term, VGG19 in bfloat16
  where the hardware has it (the Gram products too), each stage's L-BFGS started from the coarser
  stage's curvature (`methods.SCALE_GROWTH`), relu1_1 and relu5_1 left to the ¼-size stage: 0.66× the time
  on 8 DPST pairs, style distance 1.01 vs 1.02 (issue 21). Without bfloat16 units, on CPUs whose
  torch kernels are AVX2, VGG19 runs in float32 with NNPACK's Winograd convolutions
  (`vgg.WinogradVGG19`): 0.81× the time on 8 DPST pairs, torch held to AVX2 (issue 21); and
  wherever VGG19 runs in float32 on a CPU, a shorter schedule (`FLOAT32_CPU_PYRAMID`). Its finish
  projects the result onto photorealistic images (`DEFAULT_FINISH`), which keeps more of the style
  than the paper's smooth finish, so its ½- and full-size stages became half as long (15 and 5
  iterations); its stages now step through local recolourings of the photo, which made all three
  shorter again (15 + 8 + 3, `RECOLOURED_STEPS`), and lets them leave the content term to the
  ¼-size stage and relu5_1 out. The measurements below were made with the
  smooth finish and 30 and 10 iterations.
  On 10 DPST pairs (style distance ÷ the
  paper's, median): 1.14 at 384 px, 1.00 at 512 px; more iterations at 384 px (100/40/10) gained
  little (1.13) and cost photorealism. On 5 pairs (issue 21), 30 instead of 60 at ¼ size kept the style (0.96 vs 0.95),
  15 instead of 30 at ½ did not (1.01, pair 9 1.15 vs 1.07), and so did not ending at ½ size (1.32)
  or ¾ (1.10), or a full-size stage without the content term and relu4_1/relu5_1 (1.08). On 8
  pairs, 20 instead of 30 at ½ size or 7 instead of 10 at full size saved 0.07× the time each and
  raised pairs 9 and 13 by 0.05-0.07 (style ÷ paper 1.09-1.11 and 1.23-1.25).
- `preview`: the colour transfer and the finish only, for instant feedback.
- `painterly`: the default's coarse-to-fine schedule without the photorealism term and without a
  smooth finish: the paper's stage 1 alone, which repaints textures as well as colours. It keeps
  30 and 10 iterations at ½ and full size: it has no finish to keep its style with.
- `reference`: the paper's method and settings, for comparing quality with the paper.
- `classic`: the paper's method at 384 px with 250 + 100 iterations (the former default), kept as
  the speed benchmark's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

import torch

from .errors import OptionsError
from .finish import ProjectedAffine, Upscale
from .methods import ColourTransfer, Method, NeuralStyle, Stage, colour_transfer_start, noise_start, resize_carry

#: Options every transfer reads, whatever its method (the method adds its own: `Method.reads`).
COMMON_OPTIONS = frozenset({"preset", "size", "keep_brightness", "regions", "seed", "preview_every", "preview_size",
                            "look_size", "device", "weights"})
DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class Preset:
    """A working size and a method; options may override what the method reads."""

    name: str
    description: str
    size: int  # long side of the working resolution, px
    method: Method

    @property
    def iterations(self) -> int:
        """Its optimiser iterations in all (0 for a method that does not optimise)."""
        return sum(stage.iterations for stage in self.method.stages)

    @property
    def reads(self) -> frozenset[str]:
        """Every option a job with this preset may set."""
        return COMMON_OPTIONS | self.method.reads

    def configured(self, values: Mapping[str, Any]) -> "Preset":
        """This preset with checked option values applied; options it does not read are refused."""
        unread = [name for name in values if name not in self.reads]
        if unread:
            own = ", ".join(sorted(self.reads - COMMON_OPTIONS)) or "none"
            raise OptionsError(f"The '{self.name}' preset does not use {', '.join(unread)} (its own options: {own}); "
                               f"leave {'it' if len(unread) == 1 else 'them'} unset or choose a preset that uses "
                               f"{'it' if len(unread) == 1 else 'them'}.")
        size = values.get("size", self.size)
        return Preset(self.name, self.description, size, self.method.configured(values))

    def for_device(self, device: torch.device) -> tuple["Preset", str | None]:
        """This preset as it runs on `device` (`Method.for_device`), and the note saying how, if it differs."""
        method, note = self.method.for_device(device)
        return replace(self, method=method), note


def _paper(style_iterations: int, photoreal_iterations: int) -> NeuralStyle:
    """The paper's two stages at the working size, from near-zero noise."""
    return NeuralStyle(noise_start, (Stage("style", 1.0, style_iterations, photorealism=False),
                                     Stage("photorealism", 1.0, photoreal_iterations, photorealism=True)))


#: The ½- and full-size stages' style layers: relu5_1's statistics (16×10 px at ½ size) are matched
#: at ¼ size already (by the painterly preset; the default's recoloured steps match them nowhere,
#: `COARSE_STYLE_LAYERS`). Leaving it out at full size saves conv4_3 to conv5_1 (13 % of a 512 px
#: evaluation; style distance on 8 DPST pairs 1.013 either way), and at ½ size as well 0.93× the
#: default's time (2-core "Intel(R) Xeon(R) Processor"), style ÷ paper 0.97 against 0.98 on 8 pairs,
#: each pair within 0.02 (issue 21). relu1_1's (each pixel's colour with its neighbours') are
#: matched at ¼ size too, and the photorealism term keeps them from there: leaving its Gram
#: products out of the finer stages (the largest layer's gather and products, and its gradient's
#: scatter) gave 0.96× the time and 0.93× the peak memory, every pair's style distance within 0.01
#: (same machine, 8 pairs); leaving relu2_1 out at full size as well gave 0.91×, but pair 13's
#: style 1.22 against 1.19.
FINER_STYLE_LAYERS = ("relu2_1", "relu3_1", "relu4_1")


def _pyramid(photorealism: bool) -> tuple[Stage, ...]:
    """The fast schedule: most iterations at ¼ and ½ of the working size, a few at full size."""
    return (Stage("coarse", 0.25, 30, photorealism),
            Stage("medium", 0.5, 30, photorealism, FINER_STYLE_LAYERS),
            Stage("fine", 1.0, 10, photorealism, FINER_STYLE_LAYERS))


#: The ¼-size stage's style layers with recoloured steps: relu5_1 left out as well (its statistics
#: at ¼ size are those of a 8×5 px layer), which stops that stage's VGG19 at the content layer,
#: relu4_2. On the speed table's 8 DPST pairs (2-core "Intel(R) Xeon(R) Processor", medians of one
#: run; style ÷ paper at 384 and 512 px, measured with all five layers): 0.91× the time in
#: bfloat16, 0.628 and 0.717 against 0.633 and 0.722; with torch held to AVX2 0.94×, 0.818 and
#: 0.927 against 0.808 and 0.924 (issue 21).
COARSE_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def _recoloured_pyramid(coarse: int, medium: int, fine: int) -> tuple[Stage, ...]:
    """The default's schedule, for recoloured steps: the photorealism term at every size, the content
    term and relu1_1 at ¼ size only."""
    return (Stage("coarse", 0.25, coarse, True, COARSE_STYLE_LAYERS),
            Stage("medium", 0.5, medium, True, FINER_STYLE_LAYERS, content=False),
            Stage("fine", 1.0, fine, True, FINER_STYLE_LAYERS, content=False))


#: The default's finish and its shorter ½- and full-size stages. The smooth finish gave back half
#: the style the optimisation found (its bilateral filter averages colours over 31×31 px); the
#: projected one keeps most of it (`ProjectedAffine`), and fewer iterations spend the difference:
#: on 16 DPST pairs (style, photo energy, edges ÷ the paper's, medians; 2-core "Intel(R) Xeon(R)
#: Processor", bfloat16) 0.87, 0.81, 1.11 with 15 and 5 iterations at ½ and full size against
#: 1.02, 0.88, 1.10 for 30 and 10 with the smooth finish, style better on 15 of the 16 pairs, the
#: largest 1.58 against 1.67; 0.68× the time on the speed table's 8 pairs, 0.62× with torch held to
#: AVX2, and on 12 pairs not tuned on 0.69×, style 0.81 against 1.00 (benchmarks/HISTORY.md, seventh round). Strength 3 instead of 2: 0.98, 0.71; 10 iterations at ½
#: size: 0.91, 0.78, the largest 1.72; 20 at ¼ size as well: 0.94, the largest 1.99; no full-size
#: stage (any strength): 1.12-1.33 (issue 21). Strength 1 since each finer stage starts from a
#: projection too (`methods.projected_carry`, which lists the measurements).
DEFAULT_FINISH = ProjectedAffine(strength=1.0)

#: The default's stages step in images that `local_affine.local_affine_view` turns into local
#: recolourings of the photo (`NeuralStyle.recoloured_steps`): L-BFGS's steps in pixels otherwise
#: spend most of their length on changes the photorealism term then takes back. Measured on the
#: speed table's 8 DPST pairs (2-core "Intel(R) Xeon(R) Processor", medians; style, photo energy
#: and edges ÷ the paper's at 384 px, then the style at 512 px, which a smaller working size cannot
#: flatter): in bfloat16, 15 + 8 + 3 iterations 3.27 s, 0.67, 0.65, 1.11, 0.74 against 3.78 s,
#: 0.81, 0.65, 1.13, 0.94 for 30 + 15 + 5 pixel steps (the largest at 512 px 1.03 against 1.02);
#: 10 + 5 + 2 2.55 s, 0.82, 0.50, 1.14, 0.95, but the largest 1.48. With torch held to AVX2
#: (float32), 10 + 5 + 2 6.53 s, 0.83, 0.50, 1.13, 0.96 (the largest 1.47) against 9.08 s, 0.93,
#: 0.55, 1.14, 1.06 (1.47) for 20 + 10 + 3 pixel steps; 12 + 6 + 2 7.29 s, 0.78, 0.57, 1.12, 0.85.
#: Recoloured steps at ½ and full size only: 20 + 10 + 3 0.68 at 384 px against 0.67 at every size
#: (issue 21).
#: Their ½- and full-size stages leave out the content term: a recolouring of the photo keeps its
#: structure by construction, and the photo's pass for the content target and each evaluation's
#: conv4_2 are saved. Same 8 pairs and machine, one run each: in bfloat16 3.06 s, 0.633, 0.67, 1.107,
#: 0.722 against 3.29 s, 0.665, 0.65, 1.116, 0.738 with it at every size; torch held to AVX2 (the
#: `FLOAT32_CPU_PYRAMID` schedule) 6.23 s, 0.808, 0.55, 1.126, 0.924 against 7.17 s, 0.830, 0.53,
#: 1.130, 0.964. Without it at full size only: 6.44 s, 0.818, 0.54, 1.129, 0.940; at ¼ size too,
#: the edges kept less (bfloat16 2.91 s, edges 1.089; AVX2 6.60 s, 1.111).
RECOLOURED_STEPS = _recoloured_pyramid(coarse=15, medium=8, fine=3)

#: The default's schedule where VGG19 runs in float32 on a CPU (`NeuralStyle.float32_cpu_stages`:
#: there an evaluation costs several times a bfloat16 one; measurements at `RECOLOURED_STEPS`).
#: Shorter pixel-step schedules, before recoloured steps, cost more style than time (float32, torch
#: held to AVX2, 8 pairs, style ÷ paper at 384 px): 15 + 8 + 3 8.16 s, 1.02 against 20 + 10 + 3
#: 9.08 s, 0.93; a full-size stage at ¾ size, 20 + 10 + 4, 8.26 s, 0.89 at 384 px but 1.28 at 512
#: px against 1.06 (it looks better only at the size it is measured at); no content term at ½ and
#: full size 0.89 at 384 px and 1.05 at 512 px in the same time, with pixel steps (with recoloured
#: steps it is left out there, and its passes saved: `RECOLOURED_STEPS`) (issue 21).
FLOAT32_CPU_PYRAMID = _recoloured_pyramid(coarse=10, medium=5, fine=2)


PRESETS: dict[str, Preset] = {
    "default": Preset(
        "default", "Fast: starts from a region-wise colour transfer and refines it coarse to fine at 512 px "
                   "with the paper's losses, then keeps the result's colours as photorealistic local recolourings.",
        512, NeuralStyle(colour_transfer_start, RECOLOURED_STEPS, finish=DEFAULT_FINISH,
                         bfloat16=True, winograd=True, keep_best=True, warm_start=True,
                         float32_cpu_stages=FLOAT32_CPU_PYRAMID, recoloured_steps=True)),
    "preview": Preset(
        "preview", "Instant: region-wise colour statistics of the reference, no neural optimisation; for trying "
                   "references and regions.",
        384, ColourTransfer()),
    "painterly": Preset(
        "painterly", "Painterly: the default's coarse-to-fine schedule without the photorealism term or the smooth finish, so "
                     "textures and strokes change too, as in the painterly apps.",
        512, NeuralStyle(colour_transfer_start, _pyramid(photorealism=False), carry=resize_carry, finish=Upscale(),
                             bfloat16=True, winograd=True, keep_best=True, warm_start=True)),
    "reference": Preset(
        "reference", "The paper's method and settings: 700 px, 1000 + 1000 L-BFGS iterations from noise (very slow "
                     "on a CPU; for comparing with the paper).",
        700, _paper(1000, 1000)),
    "classic": Preset(
        "classic", "The paper's method at 384 px with 250 + 100 iterations from noise (the former default).",
        384, _paper(250, 100)),
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or an OptionsError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise OptionsError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}.") from None
