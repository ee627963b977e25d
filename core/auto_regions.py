"""Automatic semantic regions: corresponding regions of the photo and the reference, found from
the images alone, for `TransferOptions(regions="auto")`.

Deep Photo Style Transfer needs regions (sky to sky) or the style of one part of the reference
spills onto another; almost nobody paints them. Here both images are described on a coarse grid
by what the engine already computes (VGG19 features) plus colour and height in the frame, each
standardised per image so that a night sky and a day sky describe alike. The grid cells of
*both* images are clustered together, so every cluster is a region in each image; the number of
clusters is chosen from the data. Clusters that one image barely has are merged into their
nearest neighbour, a few mean-field steps make the regions spatially coherent, and the soft
masks are snapped to the photo's edges by a guided filter. When the two images share no usable
cluster, one region (the whole image) is returned with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .images import resize_image, working_shape
from .vgg import VGG19Features, to_caffe

#: Long side at which the images are analysed (the clusters are coarse; the masks are refined later).
ANALYSIS_SIZE = 256
#: The most regions found; hand-made DPST masks have 1 to 5 sizeable ones.
MAX_REGIONS = 6
#: The names of the regions found, in order ("auto: 1", "auto: 2"...): a shell that saves them can
#: know every name before the job runs.
REGION_NAMES = tuple(f"auto: {index}" for index in range(1, MAX_REGIONS + 1))
FEATURE_LAYERS = ("relu4_1", "relu5_1")
#: Weights of the three descriptions after standardisation (deep features count as one unit).
COLOUR_WEIGHT = 0.25
HEIGHT_WEIGHT = 0.5
WIDTH_WEIGHT = 0.1
#: One more cluster is kept only when it removes this share of the one-cluster spread.
MIN_GAIN = 0.15
#: A cluster covering less than this share of either image is merged into its nearest neighbour.
MIN_SHARE = 0.05
MEAN_FIELD_STEPS = 5
MEAN_FIELD_COUPLING = 4.0
#: Guided filter that snaps mask borders to the photo's edges, at the working size.
GUIDED_RADIUS_FRACTION = 1 / 64
GUIDED_EPSILON = 1e-3


@dataclass
class FoundRegions:
    """K soft masks per image (K×H×W, summing to 1 at each pixel) and what the user should know."""

    content_masks: torch.Tensor
    style_masks: torch.Tensor
    notes: list[str]

    @property
    def count(self) -> int:
        return self.content_masks.shape[0]


@dataclass
class _Grid:
    """One image described on its analysis grid: N = h·w cells, each a row of `features`."""

    image: torch.Tensor  # 3×H×W at the analysis size
    shape: tuple[int, int]  # grid h, w
    deep: torch.Tensor  # D×N
    colour: torch.Tensor  # 3×N
    position: torch.Tensor  # 2×N (height, width in [0, 1])


def find_regions(content: torch.Tensor, style: torch.Tensor, net: VGG19Features, seed: int = 0) -> FoundRegions:
    """Corresponding regions of `content` and `style` (3×H×W in [0, 1]), masks at their sizes."""
    grids = [_describe(image, net) for image in (content, style)]
    points = _joint_points(grids)
    split = grids[0].deep.shape[1]
    centres = _choose_clusters(points, split, seed)
    notes: list[str] = []
    if centres.shape[0] == 1:
        notes.append("Automatic regions: the photo and the reference have no parts clearly in common, so the whole "
                     "photo was styled by the whole reference (one region).")
    else:
        notes.append(f"Automatic regions: {centres.shape[0]} regions were found and paired between the photo and "
                     "the reference.")
    masks = []
    for grid, cells, image in ((grids[0], points[:split], content), (grids[1], points[split:], style)):
        posterior = _coherent_posterior(cells, centres, grid.shape)
        masks.append(_refine(posterior, image))
    return FoundRegions(masks[0], masks[1], notes)


def _describe(image: torch.Tensor, net: VGG19Features) -> _Grid:
    small = resize_image(image, working_shape(*image.shape[-2:], ANALYSIS_SIZE)).clamp(0, 1)
    with torch.no_grad():
        activations = net(to_caffe(small), FEATURE_LAYERS)
    shape = tuple(activations[FEATURE_LAYERS[0]].shape[-2:])
    deep = []
    for layer in FEATURE_LAYERS:
        features = F.interpolate(activations[layer], size=shape, mode="bilinear", align_corners=False)[0]
        deep.append((features / (features.norm(dim=0, keepdim=True) + 1e-6)).flatten(1))
    red, green, blue = small
    opponent = torch.stack([0.299 * red + 0.587 * green + 0.114 * blue, red - green, (red + green) / 2 - blue])
    colour = F.interpolate(opponent[None], size=shape, mode="area")[0].flatten(1)
    rows = torch.linspace(0, 1, shape[0], device=image.device)
    columns = torch.linspace(0, 1, shape[1], device=image.device)
    position = torch.stack(torch.meshgrid(rows, columns, indexing="ij")).flatten(1)
    return _Grid(small, shape, torch.cat(deep) / len(FEATURE_LAYERS) ** 0.5, colour, position)


def _standardised(values: torch.Tensor) -> torch.Tensor:
    """Centred on the image's mean, scaled by its mean spread: describes parts relative to the image."""
    centred = values - values.mean(dim=1, keepdim=True)
    return centred / (centred.std(dim=1).mean() + 1e-6)


def _joint_points(grids: list[_Grid]) -> torch.Tensor:
    """N_content + N_style points × dims: deep features in a shared 16-d PCA, colour and position."""
    deep = torch.cat([g.deep for g in grids], dim=1)
    deep = deep - deep.mean(dim=1, keepdim=True)
    basis = torch.linalg.svd(deep, full_matrices=False)[0][:, :16]
    projected = basis.T @ deep
    projected = projected / projected.var(dim=1).sum().sqrt()
    colour = torch.cat([_standardised(g.colour) for g in grids], dim=1)
    position = torch.cat([g.position for g in grids], dim=1)
    return torch.cat([projected, colour * COLOUR_WEIGHT, position[:1] * HEIGHT_WEIGHT,
                      position[1:] * WIDTH_WEIGHT]).T.contiguous()


def _kmeans(points: torch.Tensor, count: int, generator: torch.Generator, steps: int = 30) -> tuple[torch.Tensor, float]:
    """Lloyd's k-means from a k-means++ start; (centres, sum of squared distances)."""
    first = torch.randint(points.shape[0], (1,), generator=generator, device="cpu").item()
    centres = points[first:first + 1]
    for _ in range(count - 1):
        distance = torch.cdist(points, centres).min(dim=1).values ** 2
        pick = torch.multinomial((distance / distance.sum()).cpu(), 1, generator=generator).item()
        centres = torch.cat([centres, points[pick:pick + 1]])
    for _ in range(steps):
        labels = torch.cdist(points, centres).argmin(dim=1)
        members = F.one_hot(labels, count).to(points.dtype)
        sizes = members.sum(dim=0)
        centres = torch.where(sizes[:, None] > 0, members.T @ points / sizes.clamp(min=1)[:, None], centres)
    spread = float((torch.cdist(points, centres).min(dim=1).values ** 2).sum())
    return centres, spread


def _choose_clusters(points: torch.Tensor, split: int, seed: int) -> torch.Tensor:
    """Centres of the clusters both images share; their number chosen by the gain of one more."""
    generator = torch.Generator().manual_seed(seed)
    best: dict[int, tuple[torch.Tensor, float]] = {}
    for count in range(1, MAX_REGIONS + 1):
        best[count] = min((_kmeans(points, count, generator) for _ in range(3)), key=lambda run: run[1])
    total = best[1][1]
    chosen = 1
    for count in range(2, MAX_REGIONS + 1):
        if (best[count - 1][1] - best[count][1]) / total <= MIN_GAIN:
            break
        chosen = count
    return _merge_unshared(points, split, best[chosen][0])


def _merge_unshared(points: torch.Tensor, split: int, centres: torch.Tensor) -> torch.Tensor:
    """Drop, one at a time, the cluster one image has least of, until every cluster is shared."""
    while centres.shape[0] > 1:
        labels = torch.cdist(points, centres).argmin(dim=1)
        shares = torch.stack([torch.bincount(labels[:split], minlength=centres.shape[0]) / split,
                              torch.bincount(labels[split:], minlength=centres.shape[0]) / (points.shape[0] - split)])
        smallest = shares.min(dim=0).values
        weakest = int(smallest.argmin())
        if smallest[weakest] >= MIN_SHARE:
            break
        centres = torch.cat([centres[:weakest], centres[weakest + 1:]])
    return centres


def _coherent_posterior(cells: torch.Tensor, centres: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """K×h×w soft assignments: distances to the centres, smoothed by mean-field steps so that a cell
    leans towards its neighbours' regions (a Potts prior)."""
    distance = torch.cdist(cells, centres) ** 2
    unary = (-distance / distance.min(dim=1).values.mean().clamp(min=1e-6)).T.reshape(-1, *shape)
    posterior = torch.softmax(unary, dim=0)
    for _ in range(MEAN_FIELD_STEPS):
        neighbours = F.avg_pool2d(posterior[None], 5, stride=1, padding=2, count_include_pad=False)[0]
        posterior = torch.softmax(unary + MEAN_FIELD_COUPLING * neighbours, dim=0)
    return posterior


def _refine(posterior: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Hard regions at the image's size with soft borders snapped to its edges (guided filter)."""
    height, width = image.shape[-2:]
    hard = F.one_hot(posterior.argmax(dim=0), posterior.shape[0]).permute(2, 0, 1).to(image.dtype)
    upsampled = F.interpolate(hard[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    radius = max(1, round(max(height, width) * GUIDED_RADIUS_FRACTION))
    masks = guided_filter(image, upsampled, radius, GUIDED_EPSILON).clamp(0, 1)
    return masks / masks.sum(dim=0, keepdim=True).clamp(min=1e-6)


def _box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    return F.avg_pool2d(x[None], 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)[0]


def guided_filter(guide: torch.Tensor, maps: torch.Tensor, radius: int, epsilon: float) -> torch.Tensor:
    """He et al.'s guided filter with a colour guide (3×H×W): each of the K maps (K×H×W) becomes a
    locally affine function of the guide's colour, so its edges move onto the guide's."""
    height, width = guide.shape[-2:]
    mean_guide = _box_mean(guide, radius)  # 3×H×W
    second = _box_mean((guide[:, None] * guide[None]).flatten(0, 1), radius).reshape(3, 3, height, width)
    covariance = (second - mean_guide[:, None] * mean_guide[None]).permute(2, 3, 0, 1)  # H×W×3×3
    covariance = covariance + epsilon * torch.eye(3, device=guide.device, dtype=guide.dtype)
    mean_maps = _box_mean(maps, radius)  # K×H×W
    products = _box_mean((guide[None] * maps[:, None]).flatten(0, 1), radius).reshape(-1, 3, height, width)
    cross = (products - mean_guide[None] * mean_maps[:, None]).permute(2, 3, 1, 0)  # H×W×3×K
    slopes = torch.linalg.solve(covariance, cross).permute(3, 2, 0, 1)  # K×3×H×W
    offsets = mean_maps - (slopes * mean_guide[None]).sum(dim=1)
    smooth_slopes = _box_mean(slopes.flatten(0, 1), radius).reshape(slopes.shape)
    return (smooth_slopes * guide[None]).sum(dim=1) + _box_mean(offsets, radius)
