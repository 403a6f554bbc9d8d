package msgpack_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/ingest/internal/msgpack"
)

func TestRoundTrip(t *testing.T) {
	v := map[string]any{
		"event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
		"level":    "fatal",
		"n":        int64(-5),
		"big":      uint64(math.MaxUint64),
		"pi":       3.25,
		"ok":       true,
		"nothing":  nil,
		"tags":     []any{[]any{"a", "b"}, int64(7)},
		"user":     map[string]any{"id": "42"},
	}
	got, rest, err := msgpack.Decode(msgpack.Append(nil, v))
	if err != nil || len(rest) != 0 {
		t.Fatalf("Decode: %v, %d bytes left", err, len(rest))
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("got %#v\nwant %#v", got, v)
	}
}

func TestCompactForms(t *testing.T) {
	tests := []struct {
		in   []byte
		want any
	}{
		{[]byte{0x05}, int64(5)},
		{[]byte{0xff}, int64(-1)},
		{[]byte{0xa2, 'h', 'i'}, "hi"},
		{[]byte{0x92, 0x01, 0xc0}, []any{int64(1), nil}},
		{[]byte{0x81, 0x01, 0xc2}, map[string]any{"1": false}},
		{[]byte{0xcc, 0xff}, int64(255)},
		{[]byte{0xd0, 0x80}, int64(-128)},
		{[]byte{0xd1, 0xff, 0x00}, int64(-256)},
		{[]byte{0xc4, 0x01, 'x'}, "x"},
		{[]byte{0xca, 0x7f, 0xc0, 0x00, 0x00}, nil},               // NaN
		{[]byte{0xd6, 0xff, 0x00, 0x00, 0x00, 0x10}, float64(16)}, // timestamp 32
		{[]byte{0xd4, 0x01, 0x00}, nil},                           // unknown fixext
	}
	for _, tt := range tests {
		got, _, err := msgpack.Decode(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(% x) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestHostile(t *testing.T) {
	tests := [][]byte{
		{},
		{0xdd, 0xff, 0xff, 0xff, 0xff},       // array claiming 4G elements
		{0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01}, // map claiming 2G entries
		{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},  // string claiming 4 GiB
		{0xc1},                               // never used
		{0xcb, 0x00},                         // truncated float
	}
	for _, in := range tests {
		if _, _, err := msgpack.Decode(in); err == nil {
			t.Errorf("Decode(% x) succeeded", in)
		}
	}
	deep := make([]byte, 0, 200)
	for i := 0; i < 200; i++ {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0xc0)
	if _, _, err := msgpack.Decode(deep); err == nil {
		t.Error("nesting 200 deep accepted")
	}
	if _, _, err := msgpack.Decode([]byte{0x92, 0x01}); !errors.Is(err, msgpack.ErrTruncated) {
		t.Errorf("truncated array: %v", err)
	}
}

func TestDecodeAll(t *testing.T) {
	var b []byte
	for i := 0; i < 3; i++ {
		b = msgpack.Append(b, map[string]any{"message": "m", "i": int64(i)})
	}
	vals, err := msgpack.DecodeAll(b, 10)
	if err != nil || len(vals) != 3 {
		t.Fatalf("%d values, %v", len(vals), err)
	}
	if _, err := msgpack.DecodeAll(b, 2); err == nil {
		t.Fatal("limit not enforced")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(msgpack.Append(nil, map[string]any{"a": []any{int64(1), "x", 2.5, nil, true}}))
	f.Add([]byte{0xdd, 0x00, 0x00, 0x00, 0x02, 0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := msgpack.Decode(b)
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatal("rest longer than input")
		}
		// Whatever decodes re-encodes and decodes to the same value.
		again, _, err := msgpack.Decode(msgpack.Append(nil, v))
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("re-decode: %#v vs %#v (%v)", again, v, err)
		}
	})
}
