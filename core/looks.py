"""A look you can keep: a transfer's result as a 3D colour lookup table (LUT) of the photo.

The photorealistic presets return a per-pixel affine colour map of the photo (`finish`). Where
that map is much the same everywhere, one 3D LUT (input colour → output colour) carries it: it
applies in an instant to the rest of a shoot, and any grading tool reads it (`look_files`). Where
regions were graded differently, one LUT per region, blended by the regions' masks, carries it for
this photo; `Fidelity` says how closely the look reproduces the result, so the user knows which.

`fit_look` solves a regularised least-squares problem on the lattice: every photo colour spreads
its target (the result's colour) over the 8 nodes around it (trilinear weights, the same ones
`apply_look` reads it back with), and a thin-plate penalty on the lattice's second differences
makes the nodes no photo colour reaches continue the transform smoothly (linearly, at the limit)
instead of leaving them at the identity or letting them jump.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Literal, Sequence, get_args

import numpy as np
import scipy.sparse as sparse
import torch
import torch.nn.functional as F
from scipy.ndimage import map_coordinates
from scipy.sparse.linalg import spsolve

from .errors import MaskError, OptionsError
from .images import Pixels, read_only_tensor, rebuild, split_pixels
from .progress import CancelToken, no_checkpoint
from .masks import RegionPair, as_mask, check_region_names
from .options import MAX_LOOK_SIZE, MIN_LOOK_SIZE

Interpolation = Literal["trilinear", "tetrahedral"]
INTERPOLATIONS: tuple[str, ...] = get_args(Interpolation)

# colour-science's warning, at its import, that its plots need Matplotlib (we draw none). Set once
# here: `warnings.catch_warnings` around the import is not thread-safe, and the daemon runs jobs on threads.
warnings.filterwarnings("ignore", message='"Matplotlib" related API features are not available')

DEFAULT_SIZE = 33
#: Weight of the thin-plate penalty against the data of an evenly filled cube, at the LUT's own
#: size. Measured on a channel swap with a 1/2.2 or 2.2 gamma: 1e-2 bends the fit by 0.3-0.4 of an
#: 8-bit step; 1e-1 by a whole step; 1e-3 lets the empty parts of the cube of a local result swing
#: far past [0, 1] (tests/core/test_looks.py holds the fit and the smoothness to account).
DEFAULT_SMOOTHNESS = 1e-2
#: At most this many of the photo's pixels are read for a fit (an even grid of them), and a
#: quarter as many to measure its fidelity: enough for every colour of a photo to count.
FIT_PIXELS = 1 << 21
FIDELITY_PIXELS = 1 << 17

#: A ΔE2000 of about 2 is a just-noticeable difference between two colours side by side; above
#: about 5 the difference is seen at a glance. A look carries a result when half its pixels are
#: below the first (median) and nearly all (95th percentile) below the second: the odd edge pixel
#: off, nothing a viewer would call another grade.
JUST_NOTICEABLE = 2.0
AT_A_GLANCE = 5.0

UNIT_DOMAIN = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
#: Coarsest lattice solved directly; finer ones start from the coarser solution (conjugate gradients).
_DIRECT_SIZE = 9
#: Relative residual at which a level's conjugate gradients stop: far below an 8-bit step.
_TOLERANCE, _FLOOR = 1e-4, 1e-6
_MAX_ITERATIONS = 500


@dataclass(frozen=True)
class Lut:
    """One 3D lookup table: `table[r, g, b]` is the output RGB at a lattice node (N×N×N×3 float32,
    red the first index); inputs are scaled from `domain` (min RGB, max RGB) onto the lattice."""

    table: np.ndarray
    domain: tuple[tuple[float, float, float], tuple[float, float, float]] = UNIT_DOMAIN

    @property
    def size(self) -> int:
        return self.table.shape[0]


@dataclass(frozen=True)
class RegionLut:
    """A region's own LUT and where it applies: `mask`, H×W float32 in [0, 1] at the photo's size."""

    name: str
    mask: np.ndarray
    lut: Lut


@dataclass(frozen=True)
class Fidelity:
    """How closely a look reproduces the result it was fitted to: ΔE2000 per pixel, in sRGB."""

    median: float
    p95: float

    @property
    def carried(self) -> bool:
        """Whether the look reproduces the result closely enough to stand for it."""
        return self.median <= JUST_NOTICEABLE and self.p95 <= AT_A_GLANCE

    @property
    def note(self) -> str:
        verdict = ("a LUT carries it" if self.carried else
                   "the result is local (regions graded differently); a LUT is an approximation")
        return (f"The look reproduces this result within ΔE {self.median:.1f} (median), {self.p95:.1f} (95th "
                f"percentile): {verdict}.")


@dataclass(frozen=True)
class Look:
    """A colour transform of a photo: `lut` everywhere, or, with `regions`, each region's LUT within
    its mask and `lut` (fitted on the whole photo) where no region covers. A look with regions
    applies only to an image of its masks' size; `without_regions` is the look for any photo."""

    lut: Lut
    regions: tuple[RegionLut, ...] = ()
    title: str = ""
    fidelity: Fidelity | None = None

    def without_regions(self) -> Look:
        return replace(self, regions=())


def fit_look(photo: np.ndarray, result: np.ndarray, regions: Sequence[RegionPair] | None = None,
             size: int = DEFAULT_SIZE, smoothness: float = DEFAULT_SMOOTHNESS, title: str = "") -> Look:
    """The look that turns `photo` into `result` (H×W×C arrays of one size, any layout `transfer`
    takes), with its fidelity measured. With `regions` (their content masks, at the photo's size),
    one LUT per region is fitted on that region's pixels, weighted by its mask."""
    if not MIN_LOOK_SIZE <= size <= MAX_LOOK_SIZE:
        raise OptionsError(f"A look of size {size} cannot be fitted; choose a size from {MIN_LOOK_SIZE} to "
                           f"{MAX_LOOK_SIZE} (33 is usual).")
    if not (math.isfinite(smoothness) and smoothness > 0):
        raise OptionsError(f"Smoothness {smoothness} is not a positive number; leave it at {DEFAULT_SMOOTHNESS}.")
    photo_px, result_px = _pair(photo, result)
    masks = _region_masks(regions or [], (photo_px.height, photo_px.width))
    step = _stride(photo_px, FIT_PIXELS)
    colours, targets = _samples(photo_px, step), _samples(result_px, step)
    look = Look(_fit_lut(colours, targets, np.ones(len(colours), np.float32), size, smoothness), title=title)
    for name, mask in masks.items():
        weights = mask[::step, ::step].reshape(-1)
        if weights.sum() > 0:  # a region without pixels here has nothing to fit, and nowhere to apply
            region = RegionLut(name, mask, _fit_lut(colours, targets, weights, size, smoothness))
            look = replace(look, regions=look.regions + (region,))
    return replace(look, fidelity=measure_fidelity(look, photo_px.samples, result_px.samples))


def apply_look(look: Look, image: np.ndarray, interpolation: Interpolation = "trilinear",
               cancel: CancelToken | None = None) -> np.ndarray:
    """`image` (H×W×C, 8/16-bit or float32, 1-4 channels) recoloured by `look`, in `transfer`'s
    layout: same size and sample type, RGB (grey gains colour), the image's alpha untouched.
    `cancel` is checked between strips (`Cancelled`): a 24 MP image takes seconds."""
    pixels = split_pixels(image, "image", min_side=1)
    lookup = lookup_function(interpolation)
    _check_fits(look, pixels.height, pixels.width)

    def render(rows: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        colours = rows.permute(1, 2, 0).numpy().reshape(-1, 3)  # the strip's own channels-last samples
        weights = [region.mask[start:stop].reshape(-1) for region in look.regions]
        out = _blend(look, colours, weights, lookup)
        return torch.from_numpy(out.reshape(stop - start, pixels.width, 3)).permute(2, 0, 1)

    return rebuild(pixels, render, checkpoint=cancel.raise_if_cancelled if cancel else no_checkpoint)


def measure_fidelity(look: Look, photo: np.ndarray, result: np.ndarray) -> Fidelity:
    """ΔE2000 between the look applied to `photo` and `result`, on an even grid of at most
    `FIDELITY_PIXELS` pixels (in float: no rounding to the photo's depth)."""
    photo_px, result_px = _pair(photo, result)
    _check_fits(look, photo_px.height, photo_px.width)
    step = _stride(photo_px, FIDELITY_PIXELS)
    weights = [region.mask[::step, ::step].reshape(-1) for region in look.regions]
    reproduced = np.clip(_blend(look, _samples(photo_px, step), weights, trilinear), 0, 1)
    differences = _delta_e(reproduced, _samples(result_px, step))
    return Fidelity(float(np.median(differences)), float(np.percentile(differences, 95)))


def _delta_e(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIEDE2000 between n×3 sRGB colours in [0, 1] (D65 Lab)."""
    colour = import_colour()
    labs = [colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb)) for rgb in (first, second)]
    return colour.delta_E(*labs, method="CIE 2000")


def import_colour():
    """colour-science, imported on first use: it takes most of a second, and without Matplotlib it
    warns and stands mocks in for it in `sys.modules` (colour.plotting does), so only commands
    that measure or read and write LUTs should pay for it."""
    import colour

    return colour


def _pair(photo: np.ndarray, result: np.ndarray) -> tuple[Pixels, Pixels]:
    photo_px, result_px = split_pixels(photo, "photo", min_side=1), split_pixels(result, "result", min_side=1)
    if (photo_px.height, photo_px.width) != (result_px.height, result_px.width):
        raise OptionsError(f"The result is {result_px.width}×{result_px.height} but the photo is "
                           f"{photo_px.width}×{photo_px.height}; a look is fitted to a photo and its own result.")
    return photo_px, result_px


def _region_masks(regions: Sequence[RegionPair], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The regions' content masks as float32 in [0, 1], by name, checked against the photo's size."""
    check_region_names([region.name for region in regions])
    masks = {}
    for region in regions:
        mask = as_mask(region.content_mask, f"The mask of region '{region.name}'")
        if mask.shape != shape:
            raise MaskError(f"The mask of region '{region.name}' is {mask.shape[1]}×{mask.shape[0]} but the photo is "
                            f"{shape[1]}×{shape[0]}; masks must match the photo's size.")
        masks[region.name] = mask
    return masks


def _check_fits(look: Look, height: int, width: int) -> None:
    for region in look.regions:
        if region.mask.shape != (height, width):
            raise MaskError(f"This look's region '{region.name}' is a mask of a {region.mask.shape[1]}×"
                            f"{region.mask.shape[0]} photo, but the image is {width}×{height}; apply the look "
                            "without its regions (its global LUT) to other photos.")


def _stride(pixels: Pixels, most: int) -> int:
    """The step of an even grid of at most `most` of the image's pixels."""
    return max(1, math.ceil(math.sqrt(pixels.height * pixels.width / most)))


def _samples(pixels: Pixels, step: int) -> np.ndarray:
    """Every `step`-th pixel of every `step`-th row, as n×3 float32 RGB in [0, 1]."""
    return Pixels(pixels.samples[::step, ::step]).rgb.reshape(-1, 3)


# --- fitting -------------------------------------------------------------------------------------

def _fit_lut(colours: np.ndarray, targets: np.ndarray, weights: np.ndarray, size: int, smoothness: float) -> Lut:
    """The LUT of `size` minimising the weighted squared error at the samples plus `smoothness` times
    the lattice's thin-plate energy, solved coarse to fine as a correction to the identity."""
    points, values, counts = _bin_samples(colours, targets, weights, size)
    sizes = [size]
    while sizes[-1] > _DIRECT_SIZE:
        sizes.append((sizes[-1] + 1) // 2)
    correction = None
    for level, lattice in enumerate(reversed(sizes)):
        system, right = _normal_equations(points, values, counts, lattice, smoothness * lattice ** 3 * (lattice - 1)
                                          / (size ** 3 * max(size - 1, 1)))
        if correction is None:
            correction = spsolve(system.tocsc(), right).reshape(-1, 3)
        else:
            correction = _conjugate_gradients(system, right, _resample(correction, sizes[-level], lattice))
    table = np.clip(lattice_colours(size) + correction, 0.0, 1.0)
    return Lut(table.reshape(size, size, size, 3).astype(np.float32))


def _bin_samples(colours: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                 size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples gathered into small bins of colour (4 a lattice cell across, at most 129 in
    all): each bin's weighted mean colour and target and its weight. A photo has far fewer
    distinct bins than pixels, so the fit costs little more for a 24 MP photo than a small one."""
    bins = min(4 * (size - 1) + 1, 129)
    index = np.minimum(colours * (bins - 1) + 0.5, bins - 1).astype(np.int64) @ np.array([bins * bins, bins, 1])
    counts = np.bincount(index, weights, minlength=bins ** 3)
    used = np.flatnonzero(counts > 1e-6 * max(counts.max(), 1e-30))
    weight = counts[used]
    means = [np.stack([np.bincount(index, weights * data[:, channel], minlength=bins ** 3)[used]
                       for channel in range(3)], axis=1) / weight[:, None] for data in (colours, targets)]
    return means[0], means[1], weight


def _trilinear_matrix(points: np.ndarray, size: int) -> sparse.csr_matrix:
    """n × size³: each point's trilinear weights on the 8 nodes around it (C order: r, g, b)."""
    scaled = points * (size - 1)
    corner = np.minimum(scaled.astype(np.int64), max(size - 2, 0))
    fraction = scaled - corner
    base = corner @ np.array([size * size, size, 1])
    columns, values = [], []
    for step_r in (0, 1):
        for step_g in (0, 1):
            for step_b in (0, 1):
                columns.append(base + (step_r * size + step_g) * size + step_b)
                values.append(np.prod(np.where((step_r, step_g, step_b), fraction, 1 - fraction), axis=1))
    count = len(points)
    return sparse.csr_matrix((np.stack(values, 1).ravel(), np.stack(columns, 1).ravel(),
                              np.arange(0, 8 * count + 1, 8)), shape=(count, size ** 3))


def _normal_equations(points: np.ndarray, values: np.ndarray, counts: np.ndarray, size: int,
                      smoothness: float) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The system for the correction to the identity at one lattice size: data scaled so an evenly
    filled cube weighs one per node, plus the thin-plate penalty, plus a trace of ridge so that
    colours the photo never spans (a grey photo has no hue) stay as they are."""
    spread = _trilinear_matrix(points, size)
    weighted = spread.T.multiply(counts * (size ** 3 / counts.sum())).tocsr()
    data = weighted @ spread
    system = data + smoothness * _thin_plate(size) + 1e-6 * sparse.identity(size ** 3)
    return system.tocsr(), weighted @ values - data @ lattice_colours(size)


def _thin_plate(size: int) -> sparse.csr_matrix:
    """Σ over the lattice of its squared second differences, the mixed ones twice (the thin-plate
    energy, blind to rotations of the colour cube; zero exactly for affine maps)."""
    one = sparse.identity(size)
    first = sparse.diags([-np.ones(size - 1), np.ones(size - 1)], [0, 1], shape=(size - 1, size), format="csr")
    second = first[1:, 1:] @ first if size > 2 else sparse.csr_matrix((0, size))

    def along(*factors):
        matrix = factors[0]
        for factor in factors[1:]:
            matrix = sparse.kron(matrix, factor)
        return matrix

    parts = [along(second, one, one), along(one, second, one), along(one, one, second),
             along(first, first, one), along(first, one, first), along(one, first, first)]
    return sum(part.T @ part * (1 if number < 3 else 2) for number, part in enumerate(parts)).tocsr()


def lattice_colours(size: int) -> np.ndarray:
    """The colours at the nodes of a size³ lattice on the unit cube, size³×3 (red the first index):
    an identity LUT's table, flattened."""
    axis = np.linspace(0.0, 1.0, size)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def _resample(correction: np.ndarray, size: int, new_size: int) -> np.ndarray:
    """A size³×3 lattice of values at new_size³ nodes (trilinear)."""
    grid = np.meshgrid(*[np.linspace(0, size - 1, new_size)] * 3, indexing="ij")
    lattice = correction.reshape(size, size, size, 3)
    return np.stack([map_coordinates(lattice[..., channel], grid, order=1) for channel in range(3)],
                    axis=-1).reshape(-1, 3)


def _conjugate_gradients(system: sparse.csr_matrix, right: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Solve system · x = right for its three columns at once, from `start` (Jacobi-preconditioned)."""
    inverse_diagonal = 1.0 / system.diagonal()[:, None]
    solution = start.copy()
    residual = right - system @ solution
    # Relative to the right-hand side, and absolute where that is nearly zero (a look close to the identity).
    goal = np.maximum(_TOLERANCE * np.linalg.norm(right, axis=0), _FLOOR * math.sqrt(len(right)))
    direction = inverse_diagonal * residual
    product = (residual * direction).sum(axis=0)
    for _ in range(_MAX_ITERATIONS):
        if (np.linalg.norm(residual, axis=0) <= goal).all():
            break
        image = system @ direction
        step = product / np.maximum((direction * image).sum(axis=0), 1e-300)
        solution += step * direction
        residual -= step * image
        preconditioned = inverse_diagonal * residual
        next_product = (residual * preconditioned).sum(axis=0)
        direction = preconditioned + next_product / np.maximum(product, 1e-300) * direction
        product = next_product
    return solution


# --- applying ------------------------------------------------------------------------------------

def _blend(look: Look, colours: np.ndarray, weights: list[np.ndarray], lookup) -> np.ndarray:
    """n×3 colours through the look: each region's LUT by its mask, the global LUT where the masks
    leave room (overlapping masks share a pixel in proportion)."""
    out = lookup(look.lut, colours)
    if not look.regions:
        return out
    covered = np.sum(weights, axis=0, dtype=np.float32)
    scale = 1.0 / np.maximum(covered, 1.0)
    out *= (1.0 - np.minimum(covered, 1.0))[:, None]
    for region, weight in zip(look.regions, weights):
        out += lookup(region.lut, colours) * (weight * scale)[:, None]
    return out


def _scaled(lut: Lut, colours: np.ndarray) -> np.ndarray:
    """n×3 colours scaled from the LUT's domain onto its lattice, 0 … size − 1, clamped."""
    low, high = (np.asarray(bound, np.float32) for bound in lut.domain)
    return np.clip((colours - low) * ((lut.size - 1) / (high - low)), 0, lut.size - 1, dtype=np.float32)


#: Lattices up to this size are read in float32: the slices' row coordinate then keeps its error
#: under 3e-6 (measured), below half a 16-bit level (7.6e-6); larger ones are read in float64.
_FLOAT32_SIZE = 33


def trilinear(lut: Lut, colours: np.ndarray) -> np.ndarray:
    """n×3 float32 colours through `lut`, interpolating the cube's 8 nodes around each: bilinearly
    in the lattice's two red slices around the colour, then between them. torch's 2D `grid_sample`
    reads the slices (vectorised: about 10× faster than its 3D one); colours outside the domain
    are clamped to its faces."""
    size = lut.size
    dtype = torch.float32 if size <= _FLOAT32_SIZE else torch.float64
    low, high = (torch.tensor(bound, dtype=dtype) for bound in lut.domain)
    scaled = read_only_tensor(colours).to(dtype).sub(low).mul_((size - 1) / (high - low))
    red, green, blue = scaled.clamp_(0, size - 1).unbind(1)
    lower = red.floor().clamp_(max=size - 2)
    grid = torch.empty((2, len(red), 2), dtype=dtype)  # (x, y) in [-1, 1] in the slices of `lower` and the next
    torch.add(blue.mul(2 / (size - 1)), -1, out=grid[0, :, 0])
    grid[1, :, 0] = grid[0, :, 0]
    row_step = 2 / (size * size - 1)
    torch.add(lower.mul(size).add_(green).mul_(row_step), -1, out=grid[0, :, 1])  # green's row in its slice
    torch.add(grid[0, :, 1], size * row_step, out=grid[1, :, 1])
    slices = torch.from_numpy(lut.table).to(dtype).reshape(size * size, size, 3).permute(2, 0, 1)[None]
    both = F.grid_sample(slices, grid[None], mode="bilinear", padding_mode="border", align_corners=True)[0]
    return torch.lerp(both[:, 0], both[:, 1], red.sub_(lower)).T.to(torch.float32).numpy()


def tetrahedral(lut: Lut, colours: np.ndarray) -> np.ndarray:
    """n×3 float32 colours through `lut`, interpolating the 4 nodes around each of the tetrahedron (of
    the 6 a cell splits into along its grey diagonal) that holds it: keeps greys grey, as graders'
    tools do. The path from the cell's low corner to its high one steps first along the axis of
    the largest fraction, then along the middle one."""
    size = lut.size
    scaled = _scaled(lut, colours)
    corner = np.minimum(scaled.astype(np.int32), size - 2)
    red, green, blue = (scaled - corner.astype(np.float32)).T
    high = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    middle = red + green + blue - high - low
    # Strides of the axes of the largest and the smallest fraction (never the same axis, ties included).
    first = np.where((red >= green) & (red >= blue), size * size, np.where(green >= blue, size, 1))
    last = np.where((red < green) & (red < blue), size * size, np.where(green < blue, size, 1))
    base = corner @ np.array([size * size, size, 1], np.int32)
    diagonal = size * size + size + 1
    table = lut.table.reshape(-1, 3)
    out = np.take(table, base, axis=0) * (1 - high)[:, None]
    for nodes, weight in ((base + first, high - middle), (base + diagonal - last, middle - low), (base + diagonal, low)):
        out += np.take(table, nodes, axis=0) * weight[:, None]
    return out


def lookup_function(interpolation: str):
    """The function reading a LUT at n×3 colours (`trilinear` or `tetrahedral`), by its name."""
    try:
        return {"trilinear": trilinear, "tetrahedral": tetrahedral}[interpolation]
    except KeyError:
        raise OptionsError(f"Unknown interpolation '{interpolation}'; use one of {', '.join(INTERPOLATIONS)}.") from None
