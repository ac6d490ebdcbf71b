"""Writes a torchvision ResNet with random weights (and random batch-norm statistics) as .pth and
.safetensors, an input image batch and the reference output of the truncated backbone, so that the
C++ ResNet can be compared with torchvision.

  torchvision_reference.py OUT_DIR ARCH SKIP_LAYER
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision


def write_safetensors(path, state):
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        data = tensor.detach().cpu().contiguous().numpy()
        code = {np.float32: "F32", np.int64: "I64"}[data.dtype.type]
        raw = data.tobytes()
        header[name] = {"dtype": code, "shape": list(data.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def main():
    out, arch, skip = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, arch + ".pth"))
    write_safetensors(os.path.join(out, arch + ".safetensors"), model.state_dict())
    children = list(model.children())[:-2]  # drop avgpool and fc
    if skip:
        children = children[:-skip]
    backbone = torch.nn.Sequential(*children)
    x = torch.rand(2, 3, 70, 90)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        y = backbone((x - mean) / std)
    np.save(os.path.join(out, "input.npy"), x.numpy())
    np.save(os.path.join(out, "output.npy"), y.numpy())
    return 0


if __name__ == "__main__":
    sys.exit(main())
