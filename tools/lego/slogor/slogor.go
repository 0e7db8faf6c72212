// Package slogor stands in for gitlab.com/greyxor/slogor, which the Go
// module proxy does not serve: lego's command only uses it for its default
// log format, which this provides as plain slog text lines.
package slogor

import (
	"io"
	"log/slog"
)

// options is what lego configures: a level and a time layout. Colour is
// never written, so DisableColor has nothing to change.
type options struct {
	level      slog.Leveler
	timeFormat string
}

// OptionFn configures NewHandler.
type OptionFn func(*options)

// SetLevel sets the lowest level logged.
func SetLevel(l slog.Leveler) OptionFn { return func(o *options) { o.level = l } }

// SetTimeFormat sets the layout of each record's time.
func SetTimeFormat(layout string) OptionFn { return func(o *options) { o.timeFormat = layout } }

// DisableColor is accepted for compatibility; output is never coloured.
func DisableColor() OptionFn { return func(*options) {} }

// NewHandler returns a text handler writing to w.
func NewHandler(w io.Writer, fns ...OptionFn) slog.Handler {
	o := options{level: slog.LevelInfo}
	for _, fn := range fns {
		fn(&o)
	}
	return slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: o.level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if o.timeFormat != "" && len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				return slog.String(slog.TimeKey, a.Value.Time().Format(o.timeFormat))
			}
			return a
		},
	})
}
