package events_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/storage/events"
)

func TestTags(t *testing.T) {
	long := strings.Repeat("é", events.MaxTagValueLen) // two bytes a rune
	for _, c := range []struct {
		name string
		ev   events.Event
		want [][2]string
	}{
		{"columns first", events.Event{Release: "app@1", Environment: "prod", Level: "fatal", Data: []byte(`{"tags":{"os":"linux"}}`)},
			[][2]string{{"release", "app@1"}, {"environment", "prod"}, {"level", "fatal"}, {"os", "linux"}}},
		{"object keys sorted", events.Event{Data: []byte(`{"tags":{"b":"2","a":"1"}}`)}, [][2]string{{"a", "1"}, {"b", "2"}}},
		{"pairs and key/value objects", events.Event{Data: []byte(`{"tags":[["os","linux"],{"key":"gpu","value":"nv"}]}`)},
			[][2]string{{"os", "linux"}, {"gpu", "nv"}}},
		{"first value of a key wins", events.Event{Level: "error", Data: []byte(`{"tags":[["level","fatal"],["os","a"],["os","b"]]}`)},
			[][2]string{{"level", "error"}, {"os", "a"}}},
		{"empty values skipped before the first", events.Event{Data: []byte(`{"tags":[["os",""],["os",null],["os","linux"]]}`)},
			[][2]string{{"os", "linux"}}},
		{"non-string values keep their JSON", events.Event{Data: []byte(`{"tags":{"cpus":8,"ok":true}}`)},
			[][2]string{{"cpus", "8"}, {"ok", "true"}}},
		{"long keys dropped", events.Event{Data: []byte(`{"tags":{"` + strings.Repeat("k", events.MaxTagKeyLen+1) + `":"v"}}`)}, nil},
		{"long values cut on a rune", events.Event{Data: []byte(`{"tags":{"k":"x` + long + `"}}`)},
			[][2]string{{"k", "x" + strings.Repeat("é", (events.MaxTagValueLen-1)/2)}}},
		{"not JSON", events.Event{Release: "r", Data: []byte(`not json "tags"`)}, [][2]string{{"release", "r"}}},
		{"no tags", events.Event{Data: []byte(`{}`)}, nil},
	} {
		if got := events.Tags(&c.ev); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Tags = %q, want %q", c.name, got, c.want)
		}
	}
	var many []string
	for i := range events.MaxTags + 10 {
		many = append(many, `["k`+strings.Repeat("x", i)+`","v"]`)
	}
	if got := events.Tags(&events.Event{Data: []byte(`{"tags":[` + strings.Join(many, ",") + `]}`)}); len(got) != events.MaxTags {
		t.Errorf("%d tags kept, want %d", len(got), events.MaxTags)
	}
}
