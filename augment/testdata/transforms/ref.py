"""Reference outputs for augment's transform parity test (transform_parity_test.go).

Usage: ref.py SPEC.json OUTDIR
SPEC: {"images": {name: {"path", "w", "h"}}, "cases": [{"name", "image", "op", ...args}]}
Each case writes OUTDIR/<name>.raw: uint8 HWC pixels, or float32 CHW for to_tensor.
Runs torchvision 0.14 / Pillow on PIL images, as MMSelfSup's pipelines do.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

INTERP = {
    "nearest": T.InterpolationMode.NEAREST,
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
    "lanczos": T.InterpolationMode.LANCZOS,
}


def run(img, c):
    op = c["op"]
    if op == "crop":
        return F.crop(img, c["top"], c["left"], c["h"], c["w"])
    if op == "resize":
        return F.resize(img, [c["h"], c["w"]], INTERP[c["interp"]])
    if op == "resize_short":
        return T.Resize(c["size"], INTERP[c["interp"]])(img)
    if op == "resized_crop":
        return F.resized_crop(img, c["top"], c["left"], c["h"], c["w"], [c["size"], c["size"]], INTERP[c["interp"]])
    if op == "hamming":
        return img.resize((c["w"], c["h"]), Image.HAMMING)
    if op == "center_crop":
        return T.CenterCrop(c["size"])(img)
    if op == "hflip":
        return F.hflip(img)
    if op == "grayscale":
        return F.rgb_to_grayscale(img, num_output_channels=3)
    if op == "solarize":  # MMSelfSup's Solarization body
        a = np.array(img)
        a = np.where(a < c["threshold"], a, 255 - a)
        return Image.fromarray(a.astype(np.uint8))
    if op == "brightness":
        return F.adjust_brightness(img, c["f"])
    if op == "contrast":
        return F.adjust_contrast(img, c["f"])
    if op == "saturation":
        return F.adjust_saturation(img, c["f"])
    if op == "hue":
        return F.adjust_hue(img, c["f"])
    if op == "blur":  # MMSelfSup's GaussianBlur body
        return img.filter(ImageFilter.GaussianBlur(radius=c["sigma"]))
    if op == "rotate":  # torchvision RandomRotation's call
        return F.rotate(img, c["angle"], T.InterpolationMode.NEAREST, False, None, 0)
    if op == "autocontrast":  # timm RandAugment ops
        return ImageOps.autocontrast(img)
    if op == "equalize":
        return ImageOps.equalize(img)
    if op == "posterize":
        return ImageOps.posterize(img, c["bits"])
    if op == "invert":
        return ImageOps.invert(img)
    if op == "sharpness":
        return ImageEnhance.Sharpness(img).enhance(c["f"])
    if op == "to_tensor":
        t = F.to_tensor(img)
        if "mean" in c:
            t = F.normalize(t, c["mean"], c["std"])
        return t
    raise ValueError("unknown op " + op)


def main():
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    images = {}
    for name, d in spec["images"].items():
        a = np.fromfile(d["path"], dtype=np.uint8).reshape(d["h"], d["w"], 3)
        images[name] = Image.fromarray(a, "RGB")
    for c in spec["cases"]:
        r = run(images[c["image"]], c)
        path = os.path.join(out, c["name"] + ".raw")
        if isinstance(r, torch.Tensor):
            r.numpy().astype(np.float32).tofile(path)
        else:
            np.asarray(r.convert("RGB"), dtype=np.uint8).tofile(path)


if __name__ == "__main__":
    main()
