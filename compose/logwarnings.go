package compose

import (
	"io"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
)

// logMu serializes the loads that take over logrus's standard logger.
var logMu sync.Mutex

// captureLogWarnings runs fn with compose-go's logrus warnings (unset
// variables, an obsolete `version`, several compose files found...) taken
// from the standard logger instead of printed, and returns them once each,
// in order, as sentences for Output.Warnings.
func captureLogWarnings(fn func() error) ([]string, error) {
	logMu.Lock()
	defer logMu.Unlock()
	l := logrus.StandardLogger()
	h := &warnHook{seen: map[string]bool{}}
	hooks := l.ReplaceHooks(logrus.LevelHooks{})
	out, level := l.Out, l.GetLevel()
	l.AddHook(h)
	l.SetOutput(io.Discard)
	if level < logrus.WarnLevel {
		l.SetLevel(logrus.WarnLevel)
	}
	defer func() {
		l.ReplaceHooks(hooks)
		l.SetOutput(out)
		l.SetLevel(level)
	}()
	err := fn()
	return h.msgs, err
}

type warnHook struct {
	msgs []string
	seen map[string]bool
}

func (h *warnHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *warnHook) Fire(e *logrus.Entry) error {
	msg := strings.Join(strings.Fields(e.Message), " ") // one line
	if msg != "" && !h.seen[msg] {
		h.seen[msg] = true
		h.msgs = append(h.msgs, msg)
	}
	return nil
}
