"""Local-forward throughput of the C++ MDA network against the same model and weights run by
PyTorch in Python, in the same run on the same machine (issue: network benchmark).

For each backbone (-R50 and MobileNetV1 at stride 16) it writes a model file with `mda
import-weights`, loads that file's weights into an equivalent PyTorch model, checks that both give
the same local features on a small image, then times extraction of the top 1000 features over the
7 HOW scales of a WIDTH x HEIGHT image in both.

  python3 bench/local_forward.py BUILD_DIR [--width 1024 --height 768 --images 2 --threads N --repeats 2 --warmup 3]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from cpu_info import cpu_flags, cpu_model

SCALES = [2.0, 1.414, 1.0, 0.707, 0.5, 0.353, 0.25]
DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
          "uint8": np.uint8, "float16": np.float16, "uint16": np.uint16}


def read_model_file(path):
    """The tensors and header of an mda model file (docs/formats.md)."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"MDATENSR", path
    (length,) = struct.unpack("<Q", raw[12:20])
    header = json.loads(raw[20:20 + length])
    start = 20 + length
    tensors = {}
    for t in header["tensors"]:
        data = np.frombuffer(raw, DTYPES[t["dtype"]], count=int(np.prod(t["shape"])) if t["shape"] else 1,
                             offset=start + t["offset"])
        tensors[t["name"]] = torch.from_numpy(data.reshape(t["shape"]).copy())
    return header["meta"]["architecture"], tensors


class TfConv(torch.nn.Module):
    def __init__(self, cin, cout, k, stride, depthwise, relu6):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, stride, 0, groups=cin if depthwise else 1, bias=True)
        self.k, self.stride, self.relu6 = k, stride, relu6

    def forward(self, x):
        if self.k > 1 or self.stride > 1:
            pads = []
            for size in (x.shape[3], x.shape[2]):
                out = (size + self.stride - 1) // self.stride
                total = max((out - 1) * self.stride + self.k - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        x = self.conv(x)
        return x.clamp(0, 6) if self.relu6 else x


class MobileNetV1Stride16(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module("Conv2d_0", TfConv(3, 32, 3, 2, False, True))
        outs = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512]
        strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1]
        cin = 32
        for i, (cout, s) in enumerate(zip(outs, strides), start=1):
            self.add_module("Conv2d_%d_depthwise" % i, TfConv(cin, cin, 3, s, True, True))
            self.add_module("Conv2d_%d_pointwise" % i, TfConv(cin, cout, 1, 1, False, True))
            cin = cout

    def forward(self, x):
        x = x * (255.0 / 128.0) - 1.0
        for module in self.children():
            x = module(x)
        return x


class ResNetBackbone(torch.nn.Module):
    def __init__(self, name, skip_layer):
        super().__init__()
        model = getattr(torchvision.models, name)()
        children = list(model.named_children())[:-2]
        if skip_layer:
            children = children[:-skip_layer]
        for n, m in children:
            self.add_module(n, m)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        for module in self.children():
            x = module(x)
        return x


class MdaModel(torch.nn.Module):
    """The MDA head of method.md 1.2-1.5, as the C++ MdaNet computes it."""

    def __init__(self, arch, tensors):
        super().__init__()
        if arch["backbone"] == "mobilenet_v1":
            self.backbone = MobileNetV1Stride16()
        else:
            self.backbone = ResNetBackbone(arch["backbone"], arch["skip_layer"])
        cs = tensors["reduction.weight"].shape[1]
        self.n, self.g = arch["heads"], cs // arch["heads"]
        self.arch = arch
        self.channel_mapping = torch.nn.Conv2d(cs, cs, 1) if arch["channel_mapping"] else None
        self.reduction = torch.nn.Conv2d(cs, arch["dim"], 1)
        self.indicator_weight = torch.nn.Parameter(torch.zeros(self.n, self.g, self.g))
        self.indicator_bias = torch.nn.Parameter(torch.zeros(self.n, self.g))
        missing, unexpected = self.load_state_dict(tensors, strict=False)
        assert not unexpected, unexpected
        assert not [m for m in missing if "num_batches" not in m], missing

    def maps(self, images):
        s = self.backbone(images)
        b, _, h, w = s.shape
        branch = s.detach()
        if self.channel_mapping is not None:
            branch = self.channel_mapping(branch)
        groups = branch[:, : self.n * self.g].reshape(b, self.n, self.g, h, w)
        context = groups.mean((3, 4))
        indicator = torch.relu(torch.einsum("bnk,njk->bnj", context, self.indicator_weight) + self.indicator_bias)
        attention = F.softplus(torch.einsum("bnkhw,bnk->bnhw", groups, indicator))
        local = F.avg_pool2d(s, 3, 1, 1, count_include_pad=False) if self.arch["smoothing"] else s
        return attention, self.reduction(local)

    def extract_local(self, image, scales, count):
        scores, descriptors = [], []
        for s in scales:
            x = image if s == 1.0 else F.interpolate(image, scale_factor=s, mode="bilinear", align_corners=False)
            attention, local = self.maps(x)
            scores.append(attention[0].max(0)[0].reshape(-1))
            descriptors.append(local[0].reshape(local.shape[1], -1).t())
        score = torch.cat(scores)
        score = score / score.max()
        order = torch.sort(score, stable=True, descending=True)[1][:count]
        return score[order], torch.cat(descriptors)[order]


def cpp_extract(build, model, width, height, images, threads, count, dump, scales, precision="float",
                device="cpu", warmup=1):
    out = subprocess.run([os.path.join(build, "bench", "mda_bench_local_forward"), model, str(width), str(height),
                          str(images), str(threads), str(count), dump, ",".join(str(s) for s in scales),
                          precision, device, str(warmup)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3,
                        help="extractions before each timing, on both sides (a process's first ones are "
                             "slower while its heap grows)")
    parser.add_argument("--scales", default=",".join(str(s) for s in SCALES),
                        help="comma-separated extraction scales (default: HOW's seven)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where both sides run (cuda: PyTorch eager on the GPU against mda on the GPU)")
    parser.add_argument("--float-only", action="store_true",
                        help="skip the bf16 and int8 runs (evaluation.precision)")
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    args = parser.parse_args()
    if args.warmup < 1:
        parser.error("--warmup must be at least 1 (the C++ side always warms up once)")
    scales = [float(s) for s in args.scales.split(",")]
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    mda = os.path.join(args.build, "mda")
    work = tempfile.mkdtemp()
    rows = []
    configs = [("resnet50", 1, None), ("mobilenet_v1", 1,
               os.path.join(args.shared, "weights", "coral", "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite"))]
    for backbone, skip, weights in configs:
        if weights is None:
            torch.manual_seed(0)
            weights = os.path.join(work, backbone + ".pth")
            torch.save(getattr(torchvision.models, backbone)().state_dict(), weights)
        elif not os.path.exists(weights):
            print("SKIPPED %s: %s is absent" % (backbone, weights))
            continue
        model_path = os.path.join(work, backbone + ".mdam")
        subprocess.run([mda, "import-weights", "--weights", weights, "--out", model_path, "--quiet",
                        "--set", "model.backbone=" + backbone, "--set", "model.skip_layer=%d" % skip], check=True)
        arch, tensors = read_model_file(model_path)
        model = MdaModel(arch, {k[len(""):]: v for k, v in tensors.items()}).eval().to(device)
        torch.manual_seed(0)
        image = torch.rand(1, 3, args.height, args.width).to(device)
        dump = os.path.join(work, backbone + "_")
        # PyTorch's own best layout too: the model converted to channels-last (as mda loads it).
        channels_last = MdaModel(arch, tensors).eval().to(device).to(memory_format=torch.channels_last)

        def python_timing(m):
            """img/s of m after --warmup extractions, timed as the C++ side times itself."""
            with torch.inference_mode():
                for _ in range(args.warmup):
                    features = m.extract_local(image, scales, args.features)
                sync()
                start = time.perf_counter()
                for _ in range(args.images):
                    m.extract_local(image, scales, args.features)
                sync()
                return args.images / (time.perf_counter() - start), features

        # All sides alternate, best of --repeats each, so that machine noise hits them alike; each
        # C++ run is a fresh process with the same warm-up as the Python side.
        python_rate, channels_last_rate, cpp_rate = 0.0, 0.0, 0.0
        # evaluation.precision variants of the same model file: bf16 on CUDA and on CPUs with
        # bfloat16 instructions (else mda refuses it), int8 for MobileNetV1 on the CPU.
        int8 = backbone == "mobilenet_v1" and args.device == "cpu"
        variants = [] if args.float_only else (["bf16"] + (["int8"] if int8 else []))
        variant_rates = {v: 0.0 for v in variants}
        for _ in range(args.repeats):
            rate, (strengths, descriptors) = python_timing(model)
            python_rate = max(python_rate, rate)
            channels_last_rate = max(channels_last_rate, python_timing(channels_last)[0])
            cpp = cpp_extract(args.build, model_path, args.width, args.height, args.images, args.threads,
                              args.features, dump, scales, "float", args.device, args.warmup)
            cpp_rate = max(cpp_rate, cpp["images_per_second"])
            for v in list(variant_rates):
                try:
                    cpp = cpp_extract(args.build, model_path, args.width, args.height, args.images, args.threads,
                                      args.features, dump + v + "_", scales, v, args.device, args.warmup)
                    variant_rates[v] = max(variant_rates[v], cpp["images_per_second"])
                except subprocess.CalledProcessError as error:
                    print("SKIPPED %s %s: %s" % (backbone, v, error.stderr.strip().splitlines()[-1]))
                    del variant_rates[v]
        # Same input (both seed torch's CPU generator with 0), same weights: same features.
        cpp_strengths = np.load(dump + "strengths.npy")
        cpp_descriptors = np.load(dump + "descriptors.npy")
        strength_error = np.abs(cpp_strengths - strengths.cpu().numpy()).max()
        # Features whose strengths tie within float rounding may come in either order: each C++
        # row is compared with the PyTorch rows within three places of it.
        theirs = descriptors.cpu().numpy()
        descriptor_error = max(
            min(np.abs(cpp_descriptors[i] - theirs[j]).max() for j in range(max(0, i - 3), min(len(theirs), i + 4)))
            for i in range(len(cpp_descriptors))) / np.abs(theirs).max()
        same = strength_error < 1e-3 and descriptor_error < 1e-3
        print("%s: C++ and PyTorch features agree: %s (strength error %.2e, relative descriptor error %.2e)"
              % (backbone, same, strength_error, descriptor_error))
        rows.append((backbone, cpp_rate, python_rate, channels_last_rate))
        for v, rate in variant_rates.items():
            # Their features are not the float ones: how close, as the cosine of each descriptor to
            # the nearest float descriptor of the same image.
            theirs = np.load(dump + v + "_descriptors.npy")
            a = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
            b = cpp_descriptors / np.linalg.norm(cpp_descriptors, axis=1, keepdims=True)
            nearest = (a @ b.T).max(axis=1)
            print("%s %s: cosine of each descriptor to its nearest float one: mean %.4f, 5th percentile %.4f"
                  % (backbone, v, nearest.mean(), np.percentile(nearest, 5)))
            rows.append((backbone + " " + v, rate, python_rate, channels_last_rate))
    print("\ncpu: %s (%s)" % (cpu_model(), cpu_flags()))
    print("local forward, %d scales, %dx%d, top %d, %d threads, %s" % (len(scales), args.width, args.height,
                                                                         args.features, args.threads,
                                                                         args.device.upper()))
    print("%-14s %10s %14s %8s %26s %8s" % ("backbone", "C++ img/s", "PyTorch img/s", "ratio",
                                            "PyTorch channels-last img/s", "ratio"))
    for backbone, cpp_rate, python_rate, channels_last_rate in rows:
        print("%-14s %10.4f %14.4f %8.2f %26.4f %8.2f" % (backbone, cpp_rate, python_rate, cpp_rate / python_rate,
                                                       channels_last_rate, cpp_rate / channels_last_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
