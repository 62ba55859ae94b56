// Command shapesdump writes flowssl's built-in Shapes images as raw bytes
// for bench/shapes_ref.py: per image size×size×3 RGB bytes, then the
// label byte.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/flowssl/flowssl/data"
)

func main() {
	out := flag.String("out", "shapes32.bin", "output file")
	n := flag.Int("n", 2560, "images: indices [0, n) of the dataset")
	size := flag.Int("size", 32, "image side in pixels")
	seed := flag.Uint64("seed", 0, "dataset seed")
	flag.Parse()
	if err := dump(*out, *n, *size, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "shapesdump:", err)
		os.Exit(1)
	}
}

func dump(path string, n, size int, seed uint64) error {
	if size < data.MinShapeSize || size > data.MaxShapeSize {
		return fmt.Errorf("size %d outside [%d, %d]", size, data.MinShapeSize, data.MaxShapeSize)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		im, label := data.DrawShape(seed, i, size, 3)
		w.Write(im.Pix)
		w.WriteByte(byte(label))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
