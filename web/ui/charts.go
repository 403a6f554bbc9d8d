package ui

import (
	"fmt"
	"math"
	"time"

	"github.com/cairn-dev/cairn/storage/events"
)

// bar is one rectangle of a chart, in SVG user units.
type bar struct {
	X, Y, W, H float64
	// Title is the hover text: the interval and its counts.
	Title string
	// Empty bars are drawn as a thin baseline so the time axis stays
	// readable where nothing happened.
	Empty bool
}

// axisLabel is one text of an axis, in SVG user units.
type axisLabel struct {
	X, Y float64
	Text string
}

// gridLine is a horizontal guide at a labelled count.
type gridLine struct{ X1, X2, Y float64 }

// chart is a server-rendered bar chart: geometry only, the template draws
// it. Pages need no script and the CSP forbids inline styles, so all
// styling is by class in cairn.css.
type chart struct {
	W, H    float64
	Bars    []bar
	XLabels []axisLabel
	YLabels []axisLabel
	Grid    []gridLine
	// Total and Max are the sum and the largest count of the buckets.
	Total, Max int64
	// Label describes the chart for screen readers.
	Label string
}

// sparkline draws hourly counts as a small bar chart, one bar per bucket.
func sparkline(bs []events.Bucket) *chart {
	const barW, gap, h = 3.0, 1.0, 22.0
	c := &chart{W: float64(len(bs)) * (barW + gap), H: h}
	for _, b := range bs {
		c.Total += b.Events
		c.Max = max(c.Max, b.Events)
	}
	for i, b := range bs {
		bh := 1.0
		if b.Events > 0 {
			bh = math.Max(2, math.Round(float64(b.Events)/float64(c.Max)*(h-1)))
		}
		c.Bars = append(c.Bars, bar{X: float64(i) * (barW + gap), Y: h - bh, W: barW, H: bh, Empty: b.Events == 0,
			Title: fmt.Sprintf("%s: %s", b.Start.UTC().Format("Jan 2 15:00"), plural(b.Events, "event"))})
	}
	c.Label = fmt.Sprintf("%s in the last 24 hours", plural(c.Total, "event"))
	return c
}

// histogram draws counts with axes: a y axis with a rounded maximum and
// an x axis labelled every few buckets.
func histogram(bs []events.Bucket, interval time.Duration) *chart {
	const w, h, left, right, top, bottom = 800.0, 170.0, 40.0, 8.0, 10.0, 22.0
	c := &chart{W: w, H: h}
	for _, b := range bs {
		c.Total += b.Events
		c.Max = max(c.Max, b.Events)
	}
	top2 := niceCeil(c.Max)
	plotW, plotH := w-left-right, h-top-bottom
	y := func(n int64) float64 { return top + plotH - float64(n)/float64(top2)*plotH }
	for _, n := range []int64{0, top2 / 2, top2} {
		if n == top2/2 && (top2%2 != 0 || top2 < 2) {
			continue
		}
		c.YLabels = append(c.YLabels, axisLabel{X: left - 6, Y: y(n) + 4, Text: fmt.Sprint(n)})
		c.Grid = append(c.Grid, gridLine{X1: left, X2: w - right, Y: y(n)})
	}
	if len(bs) == 0 {
		return c
	}
	slot := plotW / float64(len(bs))
	every, layout, span := 1, "Jan 2", "Jan 2"
	if interval < 24*time.Hour {
		every, layout, span = max(1, len(bs)/6), "15:04", "Jan 2 15:04"
	} else if len(bs) > 10 {
		every = 2
	}
	for i, b := range bs {
		bh := float64(b.Events) / float64(top2) * plotH
		if b.Events > 0 {
			bh = math.Max(bh, 2)
		} else {
			bh = 1
		}
		end := b.Start.Add(interval)
		title := fmt.Sprintf("%s – %s UTC: %s, %s", b.Start.UTC().Format(span), end.UTC().Format(layout), plural(b.Events, "event"), plural(b.Users, "user"))
		c.Bars = append(c.Bars, bar{X: left + float64(i)*slot + slot*0.1, Y: top + plotH - bh, W: slot * 0.8, H: bh, Title: title, Empty: b.Events == 0})
		if i%every == 0 {
			c.XLabels = append(c.XLabels, axisLabel{X: left + float64(i)*slot + slot/2, Y: h - 6, Text: b.Start.UTC().Format(layout)})
		}
	}
	c.Label = fmt.Sprintf("%s from %s to %s UTC", plural(c.Total, "event"), bs[0].Start.UTC().Format("Jan 2 15:04"),
		bs[len(bs)-1].Start.Add(interval).UTC().Format("Jan 2 15:04"))
	return c
}

// niceCeil rounds a count up to 1, 2 or 5 times a power of ten, so axis
// labels are numbers people read at a glance.
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	p := int64(1)
	for p*10 < n {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
