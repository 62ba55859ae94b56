package actors

import (
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// OTel carries protoactor's own OpenTelemetry metrics (per actor type:
// message receive-time histograms, mailbox lengths, spawns, stops,
// failures, dead letters) into a Prometheus registry that
// Metrics.WritePrometheus appends to flowssl's stage metrics.
type OTel struct {
	provider *sdkmetric.MeterProvider
	reg      *prometheus.Registry
}

// NewOTel builds the exporter and meter provider. protoactor creates its
// instruments from otel's global meter provider when an actor system
// starts, so NewOTel also installs the provider there: the latest OTel
// built in the process is the one new actor systems report to.
func NewOTel() (*OTel, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("otel prometheus exporter: %w", err)
	}
	// otel's default buckets (0…10000) suit milliseconds; protoactor
	// records seconds, and a step or a decode takes 10 µs to seconds.
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Name: "protoactor_actor_message_receive_duration_seconds"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{
			Boundaries: []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 30}}})
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(seconds))
	otel.SetMeterProvider(p)
	return &OTel{provider: p, reg: reg}, nil
}

// MeterProvider is what the actor system is configured with.
func (o *OTel) MeterProvider() metric.MeterProvider { return o.provider }

// WritePrometheus writes the registry in the text exposition format.
func (o *OTel) WritePrometheus(w io.Writer) error {
	fams, err := o.reg.Gather()
	if err != nil {
		return fmt.Errorf("gather otel metrics: %w", err)
	}
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
			return err
		}
	}
	return nil
}

// UseOTel makes runs with m report protoactor's metrics to o and m's
// Prometheus output include them.
func (m *Metrics) UseOTel(o *OTel) {
	m.mu.Lock()
	m.otel = o
	m.mu.Unlock()
}

func (m *Metrics) otelBridge() *OTel {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.otel
}
