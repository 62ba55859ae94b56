"""Reference decoder for augment's decode tests: PIL as torchvision sees it.

Usage: pil_decode.py OUT_DIR FILE...   For each FILE writes OUT_DIR/<basename>.raw
(8-bit RGB, HWC) after ImageOps.exif_transpose(...).convert('RGB'), and prints
"<basename> <width> <height>" per file. Pillow 9.4 (Debian bookworm python3-pil).
"""
import os
import sys

from PIL import Image, ImageOps


def main():
    out_dir = sys.argv[1]
    for path in sys.argv[2:]:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            name = os.path.basename(path)
            with open(os.path.join(out_dir, name + ".raw"), "wb") as f:
                f.write(im.tobytes())
            print(name, im.width, im.height)


if __name__ == "__main__":
    main()
