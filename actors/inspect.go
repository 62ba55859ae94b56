package actors

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Scrape is one read of a /metrics endpoint: value by metric name and stage.
type Scrape struct {
	At     time.Time
	Values map[string]map[string]float64 // metric{quantile} → stage → value
	Stages []string
}

// ParseMetrics reads the Prometheus text that WritePrometheus writes.
func ParseMetrics(r io.Reader) (*Scrape, error) {
	s := &Scrape{At: time.Now(), Values: map[string]map[string]float64{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %d: no value: %q", ln, line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", ln, err)
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], strings.TrimSuffix(name[i+1:], "}")
		}
		stage := ""
		for _, kv := range strings.Split(labels, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			val = strings.Trim(val, `"`)
			switch k {
			case "stage":
				stage = val
			case "quantile":
				name += "{" + val + "}"
			}
		}
		if s.Values[name] == nil {
			s.Values[name] = map[string]float64{}
		}
		s.Values[name][stage] = v
		if stage != "" && !seen[stage] {
			seen[stage] = true
			s.Stages = append(s.Stages, stage)
		}
	}
	return s, sc.Err()
}

// Fetch scrapes http://addr/metrics.
func Fetch(addr string) (*Scrape, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	if !strings.HasSuffix(addr, "/metrics") {
		addr = strings.TrimSuffix(addr, "/") + "/metrics"
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(addr)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("inspect %s: %s", addr, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// WriteTable prints one row per stage: rates and busy fractions over the
// interval between prev and cur (totals only when prev is nil).
func WriteTable(w io.Writer, prev, cur *Scrape) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tworkers\tin/s\tout/s\tmailbox\tqueue\tbusy\twait\tp50\tp99\t")
	stages := append([]string(nil), cur.Stages...)
	sort.SliceStable(stages, func(i, j int) bool { return order(stages[i]) < order(stages[j]) })
	for _, st := range stages {
		get := func(s *Scrape, m string) float64 { return s.Values[m][st] }
		rate := func(m string) string {
			if prev == nil {
				return fmt.Sprintf("%.0f", get(cur, m))
			}
			dt := cur.At.Sub(prev.At).Seconds()
			return fmt.Sprintf("%.1f", (get(cur, m)-get(prev, m))/dt)
		}
		frac := func(m string, per float64) string {
			if prev == nil || per == 0 {
				return "-"
			}
			dt := cur.At.Sub(prev.At).Seconds()
			return fmt.Sprintf("%.0f%%", 100*(get(cur, m)-get(prev, m))/dt/per)
		}
		workers := get(cur, "flowssl_actor_workers")
		q := get(cur, "flowssl_actor_queue_depth")
		qs := "-"
		if q >= 0 {
			qs = fmt.Sprintf("%.0f", q)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", st, workers,
			rate("flowssl_actor_messages_in_total"), rate("flowssl_actor_messages_out_total"),
			get(cur, "flowssl_actor_mailbox_depth"), qs,
			frac("flowssl_actor_busy_seconds_total", workers), frac("flowssl_actor_wait_seconds_total", 1),
			time.Duration(get(cur, "flowssl_actor_latency_seconds{0.5}")*1e9).Round(time.Microsecond),
			time.Duration(get(cur, "flowssl_actor_latency_seconds{0.99}")*1e9).Round(time.Microsecond))
	}
	return tw.Flush()
}

func order(stage string) int {
	for i, s := range []string{"loader", "augment", "batcher", "trainer"} {
		if s == stage {
			return i
		}
	}
	return 99
}
