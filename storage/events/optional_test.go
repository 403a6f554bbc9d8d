package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// store answers histograms; wrapper wraps stores as a view cache does.
type (
	store struct{ events.Store }
	hist  struct {
		events.Store
		events.Histogrammer
	}
	wrapper struct {
		events.Store
		events.Histogrammer
		inner []events.Store
	}
)

func (w wrapper) Unwrap() []events.Store { return w.inner }

type nopHistogrammer struct{}

func (nopHistogrammer) CountsByInterval(context.Context, int64, int64, time.Time, time.Time, time.Duration) ([]events.Bucket, error) {
	return nil, nil
}

func TestOptional(t *testing.T) {
	plain, h := store{}, hist{Histogrammer: nopHistogrammer{}}
	for _, c := range []struct {
		name string
		s    events.Store
		want bool
	}{
		{"a store without", plain, false},
		{"a store with", h, true},
		{"a wrapper of a store without", wrapper{Histogrammer: nopHistogrammer{}, inner: []events.Store{plain, nil}}, false},
		{"a wrapper of a store with", wrapper{Histogrammer: nopHistogrammer{}, inner: []events.Store{nil, plain, h}}, true},
		{"a wrapper of a wrapper", wrapper{Histogrammer: nopHistogrammer{}, inner: []events.Store{
			wrapper{Histogrammer: nopHistogrammer{}, inner: []events.Store{plain}}}}, false},
	} {
		if _, ok := events.Optional[events.Histogrammer](c.s); ok != c.want {
			t.Errorf("%s: Optional = %v, want %v", c.name, ok, c.want)
		}
	}
}
