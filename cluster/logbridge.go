package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger (what raft wants) whose JSON lines are
// re-emitted through slog, so the agent has one log stream in one format.
func newHCLogger(name string, l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Info,
		JSONFormat: true,
		Output:     &hclogWriter{l: l.With("component", name)},
	})
}

type hclogWriter struct{ l *slog.Logger }

func (w *hclogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			w.l.Info(string(line))
			continue
		}
		level := slog.LevelInfo
		switch rec["@level"] {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg, _ := rec["@message"].(string)
		attrs := make([]any, 0, 2*len(rec))
		for k, v := range rec {
			if !strings.HasPrefix(k, "@") {
				attrs = append(attrs, k, v)
			}
		}
		w.l.Log(context.Background(), level, msg, attrs...)
	}
	return len(p), nil
}

// newStdLogger returns a *log.Logger (what serf and memberlist want) that
// maps their "[LEVEL] component: message" lines onto slog levels.
func newStdLogger(name string, l *slog.Logger) *log.Logger {
	return log.New(&stdWriter{l: l.With("component", name)}, "", 0)
}

type stdWriter struct{ l *slog.Logger }

func (w *stdWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, lv := range map[string]slog.Level{
		"[DEBUG]": slog.LevelDebug, "[TRACE]": slog.LevelDebug, "[INFO]": slog.LevelInfo,
		"[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError, "[ERROR]": slog.LevelError,
	} {
		if strings.HasPrefix(line, prefix) {
			level = lv
			line = strings.TrimSpace(strings.TrimPrefix(line, prefix))
			break
		}
	}
	w.l.Log(context.Background(), level, line)
	return len(p), nil
}
