package actors

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
)

// TestOTelActorMetrics: with OTel on, the Prometheus endpoint carries
// protoactor's own per-actor-type receive histograms beside the stage
// metrics, and the trainer's count equals the messages it handled.
func TestOTelActorMetrics(t *testing.T) {
	ot, err := NewOTel()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	m.UseOTel(ot)
	runFake(t, 2, Options{Source: fakeSource{n: 12}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 12, BatchSize: 4, Seed: 1, World: 1}, MaxEpochs: 2, Metrics: m})
	stop, addr, err := ServeMetrics("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`flowssl_actor_messages_in_total{stage="trainer"}`)) {
		t.Fatalf("stage metrics missing:\n%s", body)
	}
	// 6 batches for the trainer; they come with a sender (the batcher's
	// replies to credits), so protoactor labels them as envelopes.
	re := regexp.MustCompile(`protoactor_actor_message_receive_duration_seconds_count\{[^}]*actortype="actors\.trainer"[^}]*messagetype="\*actor\.MessageEnvelope"[^}]*\} (\d+)`)
	got := re.FindSubmatch(body)
	if got == nil {
		t.Fatalf("no protoactor receive histogram for the trainer's batches:\n%s", body)
	}
	if n, _ := strconv.Atoi(string(got[1])); n != 6 {
		t.Fatalf("trainer handled %d batches by protoactor's count, want 6", n)
	}
	if _, err := ParseMetrics(bytes.NewReader(body)); err != nil {
		t.Fatalf("flowssl inspect cannot read the combined output: %v", err)
	}
	if !bytes.Contains(body, []byte(`le="0.0001"`)) {
		t.Fatal("receive histogram lacks the seconds buckets")
	}
}
