package dist

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// remoteLog passes protoactor's own log lines at Error and above (its Info
// lines narrate every connection) and none once the node is closing,
// when lost connections are expected.
type remoteLog struct {
	slog.Handler
	closing *atomic.Bool
}

func (h remoteLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && !h.closing.Load() && h.Handler.Enabled(ctx, l)
}

func (h remoteLog) WithAttrs(a []slog.Attr) slog.Handler {
	return remoteLog{h.Handler.WithAttrs(a), h.closing}
}

func (h remoteLog) WithGroup(g string) slog.Handler {
	return remoteLog{h.Handler.WithGroup(g), h.closing}
}
