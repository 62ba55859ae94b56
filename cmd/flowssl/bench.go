package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/augment"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/internal/jpegset"
)

func init() { extraCommands = append(extraCommands, benchCmd) }

// benchPipelines maps --pipeline to the shipped dataset config whose
// data.train it runs.
var benchPipelines = map[string]string{
	"mocov2": "selfsup/_base_/datasets/imagenet_mocov2.yaml",
	"simclr": "selfsup/_base_/datasets/imagenet_simclr.yaml",
	"swav":   "selfsup/_base_/datasets/imagenet_swav_mcrop-2-6.yaml",
}

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Measure parts of the pipeline"}
	var dir, pipe string
	var workers, generate int
	var seconds float64
	var decodeOnly, baseline bool
	aug := &cobra.Command{
		Use:   "augment",
		Short: "Source images per second through decode and a pipeline's views (images_per_s=X)",
		Long: "bench augment decodes and augments the JPEGs under --data with --workers goroutines for --seconds\n" +
			"and prints images_per_s (all views of an image done) and images_per_cpu_s (per second of CPU time\n" +
			"used by the process, which on a shared machine varies less than wall time). --generate N first\n" +
			"writes N ImageNet-like JPEGs into --data; --baseline also runs bench/augment_baseline.py\n" +
			"(torchvision + PIL + DataLoader, same pipeline and workers) with /usr/bin/python3 and prints\n" +
			"both ratios.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return fmt.Errorf("--data is required")
			}
			if generate > 0 {
				if err := jpegset.Generate(dir, generate, jpegset.Options{Seed: 1}); err != nil {
					return err
				}
			}
			rate, cpuRate, err := benchAugment(dir, pipe, workers, seconds, decodeOnly)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "images_per_s=%.1f images_per_cpu_s=%.1f pipeline=%s workers=%d decode_only=%v\n",
				rate, cpuRate, pipe, workers, decodeOnly)
			if !baseline {
				return nil
			}
			script, err := baselineScript()
			if err != nil {
				return err
			}
			args := []string{script, "--data", dir, "--pipeline", pipe,
				"--workers", fmt.Sprint(workers), "--seconds", fmt.Sprint(seconds)}
			if decodeOnly {
				args = append(args, "--decode-only")
			}
			py := exec.Command("/usr/bin/python3", args...)
			py.Stderr = os.Stderr
			out, err := py.Output()
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			var base, baseCPU float64
			if _, err := fmt.Sscanf(string(out), "images_per_s=%f images_per_cpu_s=%f", &base, &baseCPU); err != nil {
				return fmt.Errorf("baseline printed %q", out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%sratio=%.2f cpu_ratio=%.2f\n", out, rate/base, cpuRate/baseCPU)
			return nil
		},
	}
	f := aug.Flags()
	f.StringVar(&dir, "data", "", "folder of images (ImageNet layout: class subfolders)")
	f.StringVar(&pipe, "pipeline", "mocov2", "mocov2, simclr or swav")
	f.IntVar(&workers, "workers", 2, "decode/augment goroutines (and DataLoader workers for --baseline)")
	f.IntVar(&generate, "generate", 0, "first write this many JPEGs into --data")
	f.Float64Var(&seconds, "seconds", 20, "how long to measure")
	f.BoolVar(&decodeOnly, "decode-only", false, "decode only (the ceiling for the pipeline)")
	f.BoolVar(&baseline, "baseline", false, "also run the torchvision baseline and print the ratio")
	c.AddCommand(aug)
	return c
}

// baselineScript finds bench/augment_baseline.py in the working directory
// or one of its parents (go test runs in the package folder), or beside the
// executable's folder (bin/flowssl).
func baselineScript() (string, error) {
	rel := filepath.Join("bench", "augment_baseline.py")
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(filepath.Dir(exe)))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, rel); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("--baseline: %s not found in the working directory, its parents or beside the executable", rel)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// processCPU returns the CPU time (user + system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAugment returns source images per second of wall time and per
// second of the process's CPU time.
func benchAugment(dir, pipe string, workers int, seconds float64, decodeOnly bool) (float64, float64, error) {
	name, ok := benchPipelines[pipe]
	if !ok {
		return 0, 0, fmt.Errorf("--pipeline %q: want mocov2, simclr or swav", pipe)
	}
	cfg, err := configs.Load(name, configs.LoadOptions{})
	if err != nil {
		return 0, 0, err
	}
	dv, err := tree.Lookup(cfg.Tree, "data.train")
	if err != nil {
		return 0, 0, err
	}
	ds := tree.ToPlain(dv).(map[string]any)
	src, err := data.NewImageNet(data.ImageNetConfig{DataPrefix: dir})
	if err != nil {
		return 0, 0, err
	}
	vb, err := augment.BuildViews(ds)
	if err != nil {
		return 0, 0, err
	}
	// Read the files once so the measurement is decode + augment, not disk.
	n := src.Len()
	bufs := make([][]byte, n)
	for i := range bufs {
		s, err := src.Get(i)
		if err != nil {
			return 0, 0, err
		}
		bufs[i] = s.Bytes
	}
	var done atomic.Int64
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	var t0 time.Time
	warm := make(chan struct{})
	var once sync.Once
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(next.Add(1)-1) % n
				var err error
				if decodeOnly {
					_, err = augment.Decode(bufs[i], augment.DecodeOptions{})
				} else {
					_, err = vb.Make(augment.Input{Bytes: bufs[i]}, 1, 0, i)
				}
				if err != nil {
					errc <- err
					return
				}
				once.Do(func() { close(warm) })
				done.Add(1)
			}
		}()
	}
	select {
	case <-warm:
	case err := <-errc:
		close(stop)
		wg.Wait()
		return 0, 0, err
	}
	t0 = time.Now()
	c0 := processCPU()
	start := done.Load()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	end := done.Load()
	dt := time.Since(t0).Seconds()
	dc := (processCPU() - c0).Seconds()
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		return 0, 0, err
	default:
	}
	return float64(end-start) / dt, float64(end-start) / dc, nil
}
