// Package logx sets up flowssl's logging: a human console on stderr and
// JSON lines in the work dir, both through zerolog, with protoactor's slog
// output routed into the same logger.
package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Options configures New.
type Options struct {
	Console io.Writer // human-readable; nil = os.Stderr
	JSONDir string    // when set, JSON lines go to <JSONDir>/<stamp>.log.json
	Debug   bool      // include debug lines
	NoColor bool
}

// Logger bundles the zerolog logger and the JSON file it writes, if any.
type Logger struct {
	zerolog.Logger
	file *os.File
	Path string // the JSON log file, or ""
}

// New builds the logger. Close it to flush the JSON file.
func New(o Options) (*Logger, error) {
	console := o.Console
	if console == nil {
		console = os.Stderr
	}
	// The JSON lines keep mmcv's "time" (seconds per iteration) for the
	// runner's log, so the event timestamp needs another name; zerolog
	// only has a process-wide setting for it (the console reads it too).
	zerolog.TimestampFieldName = "timestamp"
	cw := zerolog.ConsoleWriter{Out: console, TimeFormat: "15:04:05", NoColor: o.NoColor}
	writers := []io.Writer{cw}
	l := &Logger{}
	if o.JSONDir != "" {
		if err := os.MkdirAll(o.JSONDir, 0o755); err != nil {
			return nil, fmt.Errorf("log dir %s: %w", o.JSONDir, err)
		}
		l.Path = filepath.Join(o.JSONDir, time.Now().Format("20060102_150405")+".log.json")
		f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open log %s: %w", l.Path, err)
		}
		l.file = f
		writers = append(writers, f)
	}
	level := zerolog.InfoLevel
	if o.Debug {
		level = zerolog.DebugLevel
	}
	l.Logger = zerolog.New(zerolog.MultiLevelWriter(writers...)).Level(level).With().Timestamp().Logger()
	return l, nil
}

// Close flushes and closes the JSON file.
func (l *Logger) Close() error {
	if l.file == nil {
		return nil
	}
	if err := l.file.Sync(); err != nil {
		l.file.Close()
		return err
	}
	return l.file.Close()
}

// Slog returns an slog.Logger whose records land in z; protoactor-go logs
// through slog, and this keeps its lines in the same console and JSON file.
func Slog(z zerolog.Logger) *slog.Logger { return slog.New(&handler{z: z}) }

type handler struct {
	z      zerolog.Logger
	attrs  []slog.Attr
	groups string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return h.z.GetLevel() <= zlevel(l)
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	ev := h.z.WithLevel(zlevel(r.Level))
	add := func(a slog.Attr) bool {
		ev = ev.Interface(h.groups+a.Key, a.Value.Resolve().Any())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	ev.Msg(r.Message)
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

func (h *handler) WithGroup(name string) slog.Handler {
	n := *h
	n.groups = h.groups + name + "."
	return &n
}

func zlevel(l slog.Level) zerolog.Level {
	switch {
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	case l >= slog.LevelInfo:
		return zerolog.InfoLevel
	default:
		return zerolog.DebugLevel
	}
}
