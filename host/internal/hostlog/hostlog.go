// Package hostlog sets up relay-host's go-hclog loggers: the level from
// RELAY_LOG (default warn), output to stderr or --log-file, and every line
// passed through a sanitize.Scrubber so a plugin's log line cannot print a
// secret, a state directory or this host's holder identity.
package hostlog

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/relay-host/relay-host/host/sanitize"
)

// DefaultLevel is the level when RELAY_LOG is unset.
const DefaultLevel = hclog.Warn

// Logs are the host's loggers and the scrubber their output goes through.
type Logs struct {
	Host     hclog.Logger
	Scrubber *sanitize.Scrubber
	level    hclog.Level
	out      io.Writer
	closer   io.Closer
}

// ParseLevel reads RELAY_LOG's value. "" is DefaultLevel.
func ParseLevel(s string) (hclog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return DefaultLevel, nil
	case "trace", "debug", "info", "warn", "error":
		return hclog.LevelFromString(s), nil
	}
	return DefaultLevel, fmt.Errorf("RELAY_LOG=%q is not a log level: use trace, debug, info, warn or error", s)
}

// Open returns loggers at level writing to logFile (appended, 0600) or, when
// logFile is "", to stderr.
func Open(level hclog.Level, logFile string, stderr io.Writer, s *sanitize.Scrubber) (*Logs, error) {
	l := &Logs{Scrubber: s, level: level, out: stderr}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("cannot open --log-file: %w", err)
		}
		l.out, l.closer = f, f
	}
	l.Host = hclog.New(&hclog.LoggerOptions{
		Name:   "relay-host",
		Level:  level,
		Output: s.Writer(l.out, false),
	})
	return l, nil
}

// Plugin returns the logger a plugin client logs through: go-plugin names
// each plugin's entries after its binary and keeps their level. Its lines
// are scrubbed of host identity as well.
func (l *Logs) Plugin() hclog.Logger {
	return quietExit{hclog.New(&hclog.LoggerOptions{
		Name:   "plugin",
		Level:  l.level,
		Output: l.Scrubber.Writer(l.out, true),
	})}
}

// quietExit demotes go-plugin's "plugin process exited" error to debug: the
// host stops failed plugins with SIGKILL on purpose, and the review's own
// one-line error already says what went wrong. The plugin's own log lines
// (logged through Named loggers) keep their level.
type quietExit struct{ hclog.Logger }

func (q quietExit) Error(msg string, args ...interface{}) {
	if msg == "plugin process exited" {
		q.Logger.Debug(msg, args...)
		return
	}
	q.Logger.Error(msg, args...)
}

// Level is the configured level.
func (l *Logs) Level() hclog.Level { return l.level }

// Close closes the log file, if any.
func (l *Logs) Close() error {
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}
