package dist

import (
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchmarkAllReduce all-reduces a buffer of elems float32 between two
// nodes on loopback (one process, two actor systems, real gRPC).
func benchmarkAllReduce(b *testing.B, elems int) {
	nodes := group(b, 2, withCoordinator(freeAddr(b), func(_ int, c *Config) { c.BucketElems = DefaultBucketElems }))
	bufs := [][]float32{inputs(0, elems), inputs(1, elems)}
	b.SetBytes(int64(4 * elems))
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for r, n := range nodes {
			wg.Add(1)
			go func(r int, n *Node) {
				defer wg.Done()
				if err := n.AllReduceMean(bufs[r]); err != nil {
					b.Error(err)
				}
			}(r, n)
		}
		wg.Wait()
	}
	b.StopTimer()
	// CPU seconds of both nodes together: on a shared machine wall time
	// mostly measures the neighbours.
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
	s := nodes[0].Stats()
	b.ReportMetric(float64(s.BytesSent)/float64(b.N)/1e6, "MB_sent/op/node")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Parameter counts of MMSelfSup's ResNet-18 and ResNet-50 backbones
// (torchvision's, without the fc layer).
func BenchmarkAllReduceResNet18(b *testing.B) { benchmarkAllReduce(b, 11_176_512) }
func BenchmarkAllReduceResNet50(b *testing.B) { benchmarkAllReduce(b, 23_508_032) }
